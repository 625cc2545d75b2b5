"""Security sweep: no open redirects. Every `next` a sign-in form takes (worker site, console, admin; from the
query string of the GET and from the posted form), the skip button's `next`, and any other redirect the server
makes lands on this server: a Location header is a local path (or this server's own origin), never another host,
whatever tricks the value uses (scheme-relative //, backslashes, tabs and newlines that browsers strip, encoded
slashes, javascript: URLs, userinfo)."""

from __future__ import annotations

import http.client
import re
import secrets
from urllib.parse import urlsplit

from tests.conftest import hit_params
from tests.security.support import bare_client, cookie_header, csrf_of
from tests.server.web.staff_support import PASSWORD, admin_login, requester_login

EVIL = [
    "//evil.example/", "///evil.example/", "////evil.example", "https://evil.example/", "http:evil.example",
    "/\\evil.example", "\\\\evil.example", "/\\/evil.example", "\\/evil.example", "/\t/evil.example",
    "/\n/evil.example", " //evil.example", "/%2F%2Fevil.example", "/%5C%5Cevil.example", "javascript:alert(1)",
    "https:/\\evil.example", "//evil.example@127.0.0.1/", "/console/\\..\\..//evil.example",
    "/console//evil.example", "/admin/../\\evil.example",
]


def _browser_target(location: str) -> str:
    """What a browser would make of the Location (it strips tabs and newlines and treats \\ as /)."""
    return re.sub(r"[\t\n\r]", "", location).strip().replace("\\", "/")


def assert_local(server, location: str | None) -> None:  # type: ignore[no-untyped-def]
    if location is None:
        return
    target = _browser_target(location)
    parts = urlsplit(target)
    own = urlsplit(server.url).netloc
    assert parts.scheme in ("", "http", "https"), location
    assert parts.netloc in ("", own), location
    assert not target.startswith("//"), location


def test_login_next_is_always_local(server):
    http = bare_client(server)
    accounts = {"": server.web_worker()[1:], "/console": (requester_login(server)[1], PASSWORD),
                "/admin": (admin_login(server)[1], PASSWORD)}
    for prefix, (username, password) in accounts.items():
        # each sign-in costs an argon2 hash: the whole list on the worker form, the trickiest on the others
        # (console and admin share one `_local_next`)
        for nxt in EVIL if not prefix else EVIL[:2] + EVIL[5:10] + EVIL[-3:]:
            anon = secrets.token_urlsafe(24)
            page = http.get(f"{prefix}/login", params={"next": nxt}, headers=cookie_header(hitkit_anon=anon))
            assert page.status_code == 200
            shown = re.search(r'name="next" value="([^"]*)"', page.text)
            if shown:  # the form carries a local path back (the Location below is what a browser follows)
                value = shown.group(1)
                assert value.startswith("/") and not value.startswith("//") and "\\" not in value, value
            r = http.post(f"{prefix}/login", headers=cookie_header(hitkit_anon=anon), data={
                "csrf_token": csrf_of(page.text), "username": username, "password": password, "next": nxt})
            assert r.status_code == 303, (prefix, nxt, r.status_code)
            assert_local(server, r.headers["location"])
            if prefix:
                assert r.headers["location"].startswith(prefix + "/"), (nxt, r.headers["location"])
    http.close()


def test_skip_next_is_local(server, mturk):
    from tests.support.web import SiteClient
    hit = mturk.create_hit(**hit_params())["HIT"]
    _, username, password = server.web_worker()
    worker = SiteClient(server.url)
    worker.login(username, password)
    for nxt in EVIL:
        r = worker.post(f"/hits/{hit['HITId']}/skip", {"next": nxt})
        assert r.status_code == 303, (nxt, r.status_code)
        assert_local(server, r.headers["location"])
    worker.close()


def _raw(server, method: str, path: str, headers: dict | None = None) -> http.client.HTTPResponse:  # type: ignore[no-untyped-def]
    parts = urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.request(method, path, headers=headers or {})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def test_no_redirect_leaves_the_server(server):
    """Paths that routers like to "fix" with a redirect (missing or doubled slashes) and the areas' sign-in
    redirects with crafted paths: every Location stays on this server, even with a forged Host header."""
    paths = ["//evil.example", "//evil.example/", "///evil.example/%2e%2e", "/api", "/console", "/admin",
             "/console//evil.example", "/console/%2F%2Fevil.example", "/admin//evil.example/x",
             "/console/workers/%5C%5Cevil.example", "/\\evil.example/", "/me/assignments", "/work/x/done",
             "/live/x?turkSubmitTo=https://evil.example"]
    for path in paths:
        for extra in ({}, {"Host": "evil.example"}):
            r = _raw(server, "GET", path, extra)
            location = r.getheader("location")
            if extra and location:  # the Host header is the client's own; a redirect may use it, but only as a path
                parts = urlsplit(_browser_target(location))
                assert parts.netloc in ("", "evil.example") and not parts.path.startswith("//"), (path, location)
                continue
            assert_local(server, location)
