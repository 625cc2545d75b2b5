"""Security sweep: login brute force. Every sign-in form (worker site /login, /console/login, /admin/login) stops
answering password guesses after 10 failures for a username in 15 minutes, then refuses even the right password
(429, no session cookie), without locking out other usernames; and 50 failures from one address block that
address on every form. Counts live in the database (domain/login_limits.py), so they hold across processes."""

from __future__ import annotations

import secrets

import pytest

from hitkit.server.domain.login_limits import PER_IP, PER_USERNAME, WINDOW, record_failure
from tests.security.support import bare_client, cookie_header, csrf_of, set_cookie_value
from tests.server.web.staff_support import PASSWORD, admin_login, requester_login

FORMS = {"worker": ("/login", "hitkit_session"), "console": ("/console/login", "hitkit_console"),
         "admin": ("/admin/login", "hitkit_admin")}


def _account(server, kind: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    if kind == "worker":
        _, username, password = server.web_worker()
        return username, password
    if kind == "console":
        return requester_login(server)[1], PASSWORD
    return admin_login(server)[1], PASSWORD


class Form:
    def __init__(self, server, kind: str) -> None:  # type: ignore[no-untyped-def]
        self.path, self.cookie = FORMS[kind]
        self.http = bare_client(server)
        self.anon = secrets.token_urlsafe(24)
        self.csrf = csrf_of(self.http.get(self.path, headers=cookie_header(hitkit_anon=self.anon)).text)

    def attempt(self, username: str, password: str):  # type: ignore[no-untyped-def]
        return self.http.post(self.path, data={"csrf_token": self.csrf, "username": username, "password": password},
                              headers=cookie_header(hitkit_anon=self.anon))


def _seed_failures(server, form: str, usernames: list[str], now: float) -> None:  # type: ignore[no-untyped-def]
    """Earlier failed sign-ins from this client's address, written as the login form writes them (set-up only:
    each failure over HTTP costs an argon2 hash, and the sweep must stay quick)."""
    with server._engine.begin() as conn:
        for name in usernames:
            record_failure(conn, form, name, "127.0.0.1", now)


@pytest.mark.parametrize("kind", ["worker", "console", "admin"])
def test_per_username_limit(server, kind):
    username, password = _account(server, kind)
    other_user, other_password = _account(server, kind)
    form = Form(server, kind)
    # the worker form takes all its failures over HTTP; the others start with PER_USERNAME - 2 already recorded
    over_http = PER_USERNAME if kind == "worker" else 2
    now = server.advance(0)["now"]
    _seed_failures(server, {"console": "requester"}.get(kind, kind), [username] * (PER_USERNAME - over_http), now)
    for i in range(over_http):
        r = form.attempt(username, f"guess {i}")
        assert r.status_code == 401, (i, r.status_code)
        assert set_cookie_value(r, form.cookie) in (None, "")
    # the 11th try is refused before the password is looked at, even with the right password
    for pw in ("guess again", password, username.upper() and password):
        r = form.attempt(username, pw)
        assert r.status_code == 429, r.status_code
        assert "Too many failed sign-ins" in r.text
        assert set_cookie_value(r, form.cookie) in (None, "")
    r = form.attempt(username.upper(), password)  # the count is per username, whatever its case
    assert r.status_code == 429
    # another username on the same form is not locked out by it
    r = form.attempt(other_user, other_password)
    assert r.status_code == 303 and set_cookie_value(r, form.cookie), r.status_code


def test_per_address_limit_across_forms(server):
    """Failures with many usernames (credential stuffing) from one address block that address on all forms."""
    server.advance(WINDOW + 1)  # earlier tests' failures age out; the window counts on the marketplace clock
    username, password = _account(server, "worker")
    forms = [Form(server, k) for k in ("worker", "console", "admin")]
    now = server.advance(0)["now"]
    _seed_failures(server, "worker", [f"stuffed-{i}" for i in range(PER_IP - 3)], now)
    for i, form in enumerate(forms):  # three more failures, one on each form, with three new usernames
        r = form.attempt(f"nobody-{i}-{secrets.token_hex(3)}", "wrong password")
        assert r.status_code == 401, r.status_code
    for form in forms:  # now every form refuses, even a real account with its right password
        r = form.attempt(username, password)
        assert r.status_code == 429, (form.path, r.status_code)
    server.advance(WINDOW + 1)  # and the block ends with the window
    r = forms[0].attempt(username, password)
    assert r.status_code == 303, r.status_code
