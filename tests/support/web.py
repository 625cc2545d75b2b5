"""A cookie-keeping HTTP client for the worker site, as a browser without JavaScript would use it: it reads the
CSRF token from the pages it fetched and sends it with every form post."""

from __future__ import annotations

import re

import httpx

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class SiteClient:
    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, follow_redirects=False, timeout=30)
        self.csrf = ""

    def get(self, path: str, **kw) -> httpx.Response:  # type: ignore[no-untyped-def]
        r = self.http.get(path, **kw)
        m = _CSRF.search(r.text)
        if m:
            self.csrf = m.group(1)
        return r

    def post(self, path: str, data: dict | None = None, *, csrf: bool = True, **kw) -> httpx.Response:  # type: ignore[no-untyped-def]
        if not self.csrf and csrf:
            self.get("/")
        body = dict(data or {})
        if csrf:
            body.setdefault("csrf_token", self.csrf)
        return self.http.post(path, data=body, **kw)

    def login(self, username: str, password: str) -> httpx.Response:
        self.get("/login")
        r = self.post("/login", {"username": username, "password": password})
        assert r.status_code == 303, r.text
        self.get("/")  # the signed-in page carries the session's CSRF token
        return r

    def accept(self, hit_id: str) -> str:
        """Accept a HIT through the site; the new assignment id."""
        r = self.post(f"/hits/{hit_id}/accept")
        assert r.status_code == 303 and r.headers["location"].startswith("/work/"), (r.status_code, r.text[:500])
        return r.headers["location"].rsplit("/", 1)[1]

    def close(self) -> None:
        self.http.close()
