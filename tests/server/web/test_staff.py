"""Signing in to the console and administration (web/staff.py): argon2 logins with the same answer for unknown
users, a fresh session id per login, cookie flags and paths, sign-out, and that the three kinds of sessions never
open each other's pages (worker site, /console/, /admin/)."""

from __future__ import annotations

import pytest

from hitkit.server.domain import staff_accounts
from tests.server.web.staff_support import PASSWORD, admin, admin_login, console, requester_login, signed_in
from tests.support.web import SiteClient

CONSOLE_PAGES = ["/console/", "/console/keys", "/console/funds", "/console/workers", "/console/qualifications",
                 "/console/funds/earnings.csv"]
ADMIN_PAGES = ["/admin/", "/admin/requesters", "/admin/workers", "/admin/invitations", "/admin/settings", "/admin/health"]


@pytest.fixture()
def site(server):  # type: ignore[no-untyped-def]
    client = SiteClient(server.url)
    yield client
    client.close()


@pytest.mark.parametrize("area", ["/console", "/admin"])
def test_login_wrong_password_unknown_user_and_success(server, site, area):
    username = requester_login(server)[1] if area == "/console" else admin_login(server)[1]
    r = site.get(f"{area}/login")
    assert r.status_code == 200 and 'name="csrf_token"' in r.text
    r = site.post(f"{area}/login", {"username": username, "password": "wrong password"})
    assert r.status_code == 401 and "username or password is wrong" in r.text
    r = site.post(f"{area}/login", {"username": "nobody-at-all", "password": "wrong password"})
    assert r.status_code == 401 and "username or password is wrong" in r.text
    site.http.cookies.set("hitkit_console" if area == "/console" else "hitkit_admin", "planted-0123456789abcdef", path=area)
    r = site.post(f"{area}/login", {"username": username.upper(), "password": PASSWORD, "next": f"{area}/workers"
                                    if area == "/console" else f"{area}/health"})
    assert r.status_code == 303 and r.headers["location"].startswith(area + "/")
    cookie = r.headers["set-cookie"].lower()
    name = "hitkit_console" if area == "/console" else "hitkit_admin"
    assert cookie.startswith(name + "=") and "httponly" in cookie and "samesite=lax" in cookie and f"path={area}" in cookie
    assert "secure" not in cookie  # plain http here; Secure over https (below)
    assert "planted-0123456789abcdef" not in cookie  # a fresh session id, never the planted one


def test_secure_cookie_behind_https_proxy(server, site):
    _, username = requester_login(server)
    site.get("/console/login")
    r = site.post("/console/login", {"username": username, "password": PASSWORD}, headers={"X-Forwarded-Proto": "https"})
    assert r.status_code == 303 and "secure" in r.headers["set-cookie"].lower()


def test_next_is_kept_within_the_area(server):
    _, username = requester_login(server)
    for nxt in ("https://evil.example/", "//evil.example/", "/admin/", "/console/login", "/console/\\evil"):
        client = SiteClient(server.url)
        client.get("/console/login")
        r = client.post("/console/login", {"username": username, "password": PASSWORD, "next": nxt})
        assert r.status_code == 303 and r.headers["location"] == "/console/", nxt
        client.close()


def test_signed_out_visitors_are_sent_to_login_and_posts_refused(server, site):
    for path in CONSOLE_PAGES + ADMIN_PAGES:
        r = site.get(path)
        area = "/console" if path.startswith("/console") else "/admin"
        assert r.status_code == 303 and r.headers["location"].startswith(f"{area}/login?next="), path
    site.get("/console/login")
    for path in ("/console/keys", "/admin/requesters", "/admin/settings", "/console/qualifications"):
        r = site.post(path, {"name": "x"})
        assert r.status_code == 401, path
    assert site.get("/console").status_code == 307


def test_logout_ends_the_session(server):
    client, _ = console(server)
    assert client.get("/console/keys").status_code == 200
    r = client.post("/console/logout", csrf=False)
    assert r.status_code == 403  # sign-out needs the token too
    r = client.post("/console/logout")
    assert r.status_code == 303
    assert client.get("/console/keys").status_code == 303  # back to the login page


def test_worker_session_opens_no_console_or_admin_page(server):
    _, username, password = server.web_worker()
    worker = SiteClient(server.url)
    worker.login(username, password)
    sid = worker.http.cookies["hitkit_session"]
    for path in CONSOLE_PAGES + ADMIN_PAGES:
        assert worker.get(path).status_code == 303, path
    # The worker's session id presented as a console or admin cookie is no session there either.
    worker.http.cookies.set("hitkit_console", sid, path="/console")
    worker.http.cookies.set("hitkit_admin", sid, path="/admin")
    for path in CONSOLE_PAGES + ADMIN_PAGES:
        assert worker.get(path).status_code == 303, path
    worker.close()


def test_requester_and_admin_sessions_open_only_their_own_area(server):
    req, _ = console(server)
    adm = admin(server)
    req_sid, adm_sid = req.http.cookies["hitkit_console"], adm.http.cookies["hitkit_admin"]
    # A requester's session id sent as the admin cookie (and the reverse) is refused.
    req.http.cookies.set("hitkit_admin", req_sid, path="/admin")
    adm.http.cookies.set("hitkit_console", adm_sid, path="/console")
    for path in ADMIN_PAGES:
        assert req.get(path).status_code == 303, path
    for path in CONSOLE_PAGES:
        assert adm.get(path).status_code == 303, path
    # Neither is a worker on the worker site.
    for client in (req, adm):
        client.http.cookies.set("hitkit_session", req_sid)
        assert client.get("/me/assignments").status_code == 401
    req.close()
    adm.close()


def test_deactivated_requester_cannot_sign_in_and_its_sessions_end(server):
    client, requester = console(server)
    with server._engine.begin() as conn:
        staff_accounts.set_requester_active(conn, requester.requester_id, False)
    assert client.get("/console/keys").status_code == 303
    with server._engine.begin() as conn:
        username = staff_accounts.login_username(conn, "requester", requester.requester_id)
    other = SiteClient(server.url)
    other.get("/console/login")
    r = other.post("/console/login", {"username": username, "password": PASSWORD})
    assert r.status_code == 403 and "deactivated" in r.text
    other.close()


def test_login_forms_need_the_csrf_token(server, site):
    _, username = requester_login(server)
    _, admin_name = admin_login(server)
    site.get("/console/login")
    for area, user in (("/console", username), ("/admin", admin_name)):
        r = site.post(f"{area}/login", {"username": user, "password": PASSWORD}, csrf=False)
        assert r.status_code == 403 and "security token" in r.text
        r = site.post(f"{area}/login", {"username": user, "password": PASSWORD},
                      headers={"Origin": "https://evil.example"})
        assert r.status_code == 403 and "another site" in r.text


def test_changing_a_login_ends_other_sessions(server):
    client, requester = console(server)
    from hitkit.server.domain import web_accounts

    with server._engine.begin() as conn:
        staff_accounts.set_staff_login(conn, "requester", requester.requester_id, "renamed-" + requester.requester_id[-6:].lower(),
                                       web_accounts.hash_password("a new password"), 0)
    assert client.get("/console/keys").status_code == 303
    fresh = signed_in(server, "/console", "renamed-" + requester.requester_id[-6:].lower(), "a new password")
    assert fresh.get("/console/keys").status_code == 200
    fresh.close()
