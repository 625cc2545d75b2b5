"""Security sweep: session fixation. Signing in (worker site, console, admin, invitation sign-up, participant
links) always issues a new, server-made session id: a session id planted in the victim's browser beforehand (made
up, or the attacker's own real session) is never promoted, the attacker's session is ended when the victim signs
in over it, CSRF tokens change with the session, and signing out ends the session on the server."""

from __future__ import annotations

import secrets

from tests.security.support import bare_client, cookie_header, csrf_of, set_cookie_value
from tests.server.web.staff_support import PASSWORD, admin_login, requester_login

AREAS = {"worker": ("", "hitkit_session", "/me/assignments"),
         "console": ("/console", "hitkit_console", "/console/"),
         "admin": ("/admin", "hitkit_admin", "/admin/")}


def _signed_in(http, area: str, cookie: str, sid: str) -> bool:  # type: ignore[no-untyped-def]
    probe = AREAS[area][2]
    r = http.get(probe, headers=cookie_header(**{cookie: sid}))
    return r.status_code == 200


def _login(http, area: str, username: str, password: str, cookies: dict):  # type: ignore[no-untyped-def]
    prefix = AREAS[area][0]
    page = http.get(f"{prefix}/login", headers=cookie_header(**cookies))
    if page.status_code == 303:  # console and admin send a signed-in visitor on; the form's token is on any page
        page = http.get(AREAS[area][2], headers=cookie_header(**cookies))
    assert page.status_code == 200, page.status_code
    token = csrf_of(page.text)
    return http.post(f"{prefix}/login", data={"csrf_token": token, "username": username, "password": password},
                     headers=cookie_header(**cookies)), token


def _account(server, area):  # type: ignore[no-untyped-def]
    if area == "worker":
        return server.web_worker()[1:]
    if area == "console":
        return requester_login(server)[1], PASSWORD
    return admin_login(server)[1], PASSWORD


def _check_area(server, area: str) -> None:  # type: ignore[no-untyped-def]
    _, cookie, _ = AREAS[area]
    prefix = AREAS[area][0]
    http = bare_client(server)
    victim, victim_pw = _account(server, area)
    attacker, attacker_pw = _account(server, area)
    anon = secrets.token_urlsafe(24)

    # 1. a made-up id planted before sign-in is not adopted
    planted = "fixated-" + secrets.token_urlsafe(24)
    r, anon_token = _login(http, area, victim, victim_pw, {"hitkit_anon": anon, cookie: planted})
    assert r.status_code == 303, r.text[:300]
    issued = set_cookie_value(r, cookie)
    assert issued and issued != planted
    assert not _signed_in(http, area, cookie, planted)
    assert _signed_in(http, area, cookie, issued)
    # the CSRF token of the signed-in session is not the signed-out one
    signed_in_page = http.get(AREAS[area][2], headers=cookie_header(**{cookie: issued, "hitkit_anon": anon}))
    assert csrf_of(signed_in_page.text) != anon_token

    # 2. the attacker's own real session planted in the victim's browser: the victim gets a new one, the
    #    attacker's is ended (so the attacker cannot ride along)
    r, _ = _login(http, area, attacker, attacker_pw, {"hitkit_anon": anon})
    attacker_sid = set_cookie_value(r, cookie)
    assert attacker_sid and _signed_in(http, area, cookie, attacker_sid)
    r, _ = _login(http, area, victim, victim_pw, {"hitkit_anon": anon, cookie: attacker_sid})
    victim_sid = set_cookie_value(r, cookie)
    assert r.status_code == 303 and victim_sid and victim_sid not in (attacker_sid, issued)
    assert not _signed_in(http, area, cookie, attacker_sid)
    assert _signed_in(http, area, cookie, victim_sid)

    # 3. signing out ends the session on the server, not only in the browser
    page = http.get(AREAS[area][2], headers=cookie_header(**{cookie: victim_sid}))
    r = http.post(f"{prefix}/logout", data={"csrf_token": csrf_of(page.text)}, headers=cookie_header(**{cookie: victim_sid}))
    assert r.status_code == 303
    assert not _signed_in(http, area, cookie, victim_sid)
    http.close()


def test_worker_login(server):
    _check_area(server, "worker")


def test_console_login(server):
    _check_area(server, "console")


def test_admin_login(server):
    _check_area(server, "admin")


def test_signup_and_participant_link_issue_fresh_sessions(server, requester, mturk):
    from tests.conftest import hit_params
    http = bare_client(server)
    anon = secrets.token_urlsafe(24)
    planted = "fixated-" + secrets.token_urlsafe(24)
    cookies = {"hitkit_anon": anon, "hitkit_session": planted}
    join = server.invite().replace(server.url, "")
    token = csrf_of(http.get(join, headers=cookie_header(**cookies)).text)
    username = "fix-" + secrets.token_hex(4)
    r = http.post(join, data={"csrf_token": token, "username": username, "password": "long enough password",
                              "password_again": "long enough password"}, headers=cookie_header(**cookies))
    assert r.status_code == 303, r.text[:500]
    sid = set_cookie_value(r, "hitkit_session")
    assert sid and sid != planted and _signed_in(http, "worker", "hitkit_session", sid)
    assert not _signed_in(http, "worker", "hitkit_session", planted)

    hit = mturk.create_hit(**hit_params())["HIT"]
    link = server.participant_link(requester, hit["HITTypeId"]).replace(server.url, "")
    token = csrf_of(http.get(link, headers=cookie_header(**cookies)).text)
    r = http.post(link, data={"csrf_token": token}, headers=cookie_header(**cookies))
    assert r.status_code == 303, r.text[:500]
    sid = set_cookie_value(r, "hitkit_session")
    assert sid and sid != planted
    http.close()
