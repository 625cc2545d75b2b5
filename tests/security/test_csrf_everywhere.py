"""Security sweep: CSRF on every state-changing form. Every POST route of the running app (enumerated from its
router, so a new form is covered the day it is added) is either a cookie-authenticated form, which must refuse a
post without its CSRF token, with another session's token, or from another site's Origin, and change nothing;
or is listed in EXEMPT with the reason it cannot be forged cross-site (no ambient credentials: bearer tokens or
SigV4 signatures that a browser never adds by itself). GET routes change nothing (the participant link and
invitation pages only show a form). Session cookies are HttpOnly and SameSite=Lax as a second line.

Forms are posted by the identity that may use them (worker A on the worker site, requester A on /console,
the admin on /admin, a signed-out visitor on sign-in forms), with the fields a real post would carry, so a
missing check would show as a change."""

from __future__ import annotations

import pytest

from tests.security.support import app_routes, build_world, close_world, fill_path

EXEMPT = {
    ("POST", "/"): "MTurk API: SigV4 signature over the body; no cookies",
    ("POST", "/mturk/externalSubmit"): "MTurk protocol: the unguessable assignment id is the capability (ExternalQuestion "
                                       "pages on other origins post here without hitkit's cookies); a bearer token, when "
                                       "sent, must be the assignment's worker's",
}
BEARER_PREFIXES = ("/api/worker/", "/api/admin/", "/api/requester/")  # Authorization header only: no ambient credential


def _who(path: str) -> tuple[str, str]:
    """(identity, area) that may post to `path`."""
    if path in ("/login", "/signup", "/console/login", "/admin/login") or path.startswith(("/join/", "/p/")):
        area = "/console" if path.startswith("/console") else "/admin" if path.startswith("/admin") else ""
        return "anonymous", area
    if path.startswith("/console"):
        return "requester_a", "/console"
    if path.startswith("/admin"):
        return "admin", "/admin"
    return "worker_a", ""


FIELDS = {  # what a real post would send (without a CSRF check, these would take effect)
    "/login": {"username": "someone", "password": "long enough password"},
    "/signup": {"username": "csrf-user", "password": "long enough password", "password_again": "long enough password"},
    "/join/{code}": {"username": "csrf-joined", "password": "long enough password", "password_again": "long enough password"},
    "/console/projects": {"name": "forged project", "start": "text-classification"},
    "/console/qualifications": {"name": "forged qual", "description": "d", "status": "Active"},
    "/console/workers/{id}/{action}": {"reason": "forged"},
    "/admin/requesters": {"name": "forged", "username": "forged-req", "password": "long enough password", "funds": "5"},
    "/admin/invitations": {"uses": "1", "expires_days": "1", "note": "forged"},
    "/settings/auto-accept": {"on": "1"},
    "/hits/{hit_id}/skip": {"next": "/"},
}


@pytest.fixture(scope="module")
def world(server):  # type: ignore[no-untyped-def]
    w = build_world(server)
    yield w
    close_world(w)


def _form_routes(server) -> list[str]:  # type: ignore[no-untyped-def]
    posts = sorted(path for method, path in app_routes(server) if method == "POST")
    forms = [p for p in posts if ("POST", p) not in EXEMPT and not p.startswith(BEARER_PREFIXES)]
    assert len(forms) >= 30, forms  # the enumeration found the app's forms
    return forms


def _state(server, world) -> dict:  # type: ignore[no-untyped-def]
    """What the forged posts would change, read back."""
    a = server.client(world.ids["requester_a"].requester)
    wa = world.ids["worker_a"]
    r = server.http.get(f"/api/worker/v1/assignments/{world.obj['assignment_id']}", headers={"Authorization": f"Bearer {wa.bearer}"})
    with server._engine.connect() as conn:
        counts = {t: conn.exec_driver_sql(f"SELECT COUNT(*) FROM {t}").scalar() for t in (
            "access_keys", "console_projects", "console_batches", "qualification_types", "worker_logins", "requesters",
            "invitations", "worker_blocks", "web_sessions", "staff_sessions", "assignments", "qualification_requests",
            "worker_skips", "participants", "participant_links", "qualifications", "console_batch_rows")}
    return {"assignment": r.json().get("Status"), "hit": a.get_hit(HITId=world.obj["hit_id"])["HIT"]["HITStatus"],
            "counts": counts}


def test_every_form_refuses_forged_posts(server, world):
    forms = _form_routes(server)
    before = _state(server, world)
    other = world.ids["worker_b"].client  # a real token of another session, to replay
    other.get("/")
    problems = []
    for template in forms:
        who, area = _who(template)
        ident = world.ids[who]
        path = fill_path(world, template)
        fields = dict(FIELDS.get(template, {}))
        http = ident.client.http
        page = http.get(f"{area}/login") if who == "anonymous" else None
        cases = {
            "no token": (fields, {}),
            "another session's token": ({**fields, "csrf_token": other.csrf}, {}),
            "empty token": ({**fields, "csrf_token": ""}, {}),
        }
        own = _own_token(world, who, area)
        cases["cross-site Origin"] = ({**fields, "csrf_token": own}, {"Origin": "https://evil.example"})
        assert page is None or page.status_code == 200
        for case, (data, headers) in cases.items():
            r = http.post(path, data=data, headers=headers)
            if r.status_code != 403:
                problems.append(f"POST {path} as {who}, {case}: {r.status_code} {r.headers.get('location', '')}")
    assert not problems, "\n".join(problems)
    assert _state(server, world) == before
    # the signed-in sessions survived the forged sign-outs
    assert world.ids["worker_a"].client.get("/me/assignments").status_code == 200
    assert world.ids["requester_a"].client.get("/console/").status_code == 200
    assert world.ids["admin"].client.get("/admin/").status_code == 200


def _own_token(world, who: str, area: str) -> str:  # type: ignore[no-untyped-def]
    http = world.ids[who].client.http
    page = http.get(f"{area}/login")
    if page.status_code != 200:
        page = http.get(f"{area}/")
    import re
    m = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert m, (who, area)
    return m.group(1)


def test_the_right_token_works(server, world):
    """The refusals above are about the token: the same posts with the session's own token go through."""
    wa = world.ids["worker_a"]
    r = wa.client.post("/settings/auto-accept", {"on": "1"})
    assert r.status_code == 303, r.status_code
    ra = world.ids["requester_a"]
    ra.client.get("/console/keys")
    r = ra.client.post("/console/keys")
    assert r.status_code == 200 and "new-key-secret" in r.text


def test_state_changing_gets_do_nothing(server, world):
    before = _state(server, world)
    anon = world.ids["anonymous"].client
    for template in ("/join/{code}", "/p/{code}", "/signup", "/logout", "/console/keys", "/admin/invitations"):
        anon.http.get(fill_path(world, template))
    world.ids["requester_a"].client.get("/console/keys")
    world.ids["admin"].client.get("/admin/invitations")
    assert _state(server, world) == before


def test_session_cookies_are_httponly_and_samesite(server):
    from tests.security.support import bare_client, cookie_header, csrf_of
    from tests.server.web.staff_support import PASSWORD, admin_login, requester_login
    http = bare_client(server)
    for prefix, (username, password), cookie in (
        ("", server.web_worker()[1:], "hitkit_session"),
        ("/console", (requester_login(server)[1], PASSWORD), "hitkit_console"),
        ("/admin", (admin_login(server)[1], PASSWORD), "hitkit_admin"),
    ):
        anon = "a" * 32
        token = csrf_of(http.get(f"{prefix}/login", headers=cookie_header(hitkit_anon=anon)).text)
        r = http.post(f"{prefix}/login", data={"csrf_token": token, "username": username, "password": password},
                      headers=cookie_header(hitkit_anon=anon))
        header = next(h for h in r.headers.get_list("set-cookie") if h.startswith(cookie + "="))
        flags = header.lower()
        assert "httponly" in flags and "samesite=lax" in flags, header
    http.close()
