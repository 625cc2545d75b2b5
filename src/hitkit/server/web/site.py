"""What every page of the worker site shares: who the visitor is (session cookie), CSRF tokens, rendering a
Jinja2 template (autoescaped) with the security headers, and the form-post guard.

Cookies: `hitkit_session` (HttpOnly, SameSite=Lax, Secure on https) names a server-side session;
`hitkit_anon` (same flags) is a random value that CSRF tokens of signed-out forms (login, sign-up) are bound to.
A CSRF token is HMAC(server secret, cookie value), so it needs no storage and dies with the session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable
from urllib.parse import quote, urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import Connection
from sqlalchemy.exc import DataError
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from hitkit.mturk.fees import format_cents
from hitkit.server.domain.web_accounts import WebSession, session_for, web_secret
from hitkit.server.runtime import Runtime
from hitkit.server.web.bodies import BodyTooLarge, read_body

SESSION_COOKIE = "hitkit_session"
ANON_COOKIE = "hitkit_anon"
MAX_FORM_BYTES = 256 * 1024

# hitkit's own pages run only hitkit's scripts; task content is framed from the same origin (sandboxed) or,
# for ExternalQuestion, from the requester's site.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: https: http:; "
    "frame-src 'self' https: http:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": PAGE_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


class PageError(Exception):
    """A refusal shown to the visitor as a page with this status and message."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


@dataclass
class Visitor:
    """The person behind a request: their session (None when signed out) and what CSRF tokens bind to."""

    secret: str
    session: WebSession | None
    cookie_basis: str
    new_anon: str | None = None  # an anon cookie to set on the response
    flash: list[str] = field(default_factory=list)

    @property
    def worker(self):  # type: ignore[no-untyped-def]
        return self.session.worker if self.session else None

    @property
    def csrf(self) -> str:
        return hmac.new(self.secret.encode(), b"csrf|" + self.cookie_basis.encode(), hashlib.sha256).hexdigest()


def visitor(conn: Connection, request: Request, now: float) -> Visitor:
    """Read the cookies of `request` (inside a transaction)."""
    secret = _cached_secret(request, conn)
    sid = request.cookies.get(SESSION_COOKIE)
    session = session_for(conn, sid, now) if sid else None
    if session is not None:
        return Visitor(secret, session, sid)  # type: ignore[arg-type]
    anon = request.cookies.get(ANON_COOKIE)
    if anon and 16 <= len(anon) <= 64:
        return Visitor(secret, None, anon)
    anon = secrets.token_urlsafe(24)
    return Visitor(secret, None, anon, new_anon=anon)


def _cached_secret(request: Request, conn: Connection) -> str:
    state = request.app.state
    secret = getattr(state, "web_secret", None)
    if secret is None:
        secret = state.web_secret = web_secret(conn)
    return secret


async def read_form(request: Request, v: Visitor, *, max_files: int = 0, max_bytes: int = MAX_FORM_BYTES) -> FormData:
    """The posted form, after the CSRF token (and the Origin header, when the browser sends one) are checked.
    `max_files` > 0 accepts that many uploaded files (multipart), the whole body at most `max_bytes`."""
    too_large = PageError(413, "Form too large", f"The form is larger than {max_bytes // 1024:,} KiB; nothing was changed.")
    length = request.headers.get("content-length") or "0"
    if length.isdigit() and int(length) > max_bytes:
        raise too_large
    origin = request.headers.get("origin")
    if origin and origin != "null":
        host = urlsplit(origin).netloc
        if host != request.headers.get("host", ""):
            raise PageError(403, "Refused", "This form was sent from another site; nothing was changed.")
    try:
        await read_body(request, max_bytes)  # a chunked body, with no Content-Length, stops at the limit too
    except BodyTooLarge:
        raise too_large from None
    try:
        form = await request.form(max_files=max_files, max_fields=2000, max_part_size=MAX_FORM_BYTES)
    except Exception as e:  # malformed multipart and the like: bad input, not a server error
        raise PageError(400, "Bad form", f"The form could not be read ({e}); nothing was changed.") from None
    sent = form.get("csrf_token")
    if not isinstance(sent, str) or not hmac.compare_digest(sent, v.csrf):
        raise PageError(
            403, "Form expired",
            "This form's security token is missing or out of date (the page may be old, or you signed in or out "
            "in another tab). Go back, reload the page and try again; nothing was changed.",
        )
    return form


def field_text(form: FormData, name: str, *, limit: int = 1024) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


# ---------------------------------------------------------------- rendering


def _fmt_duration(seconds: float | int | None) -> str:
    if seconds is None:
        return ""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min" + (f" {seconds % 60} s" if seconds % 60 and seconds < 600 else "")
    if seconds < 86400:
        h, m = divmod(seconds // 60, 60)
        return f"{h} h" + (f" {m} min" if m else "")
    d, h = divmod(seconds // 3600, 24)
    return f"{d} d" + (f" {h} h" if h else "")


def _fmt_time(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts)) if ts else ""


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=PackageLoader("hitkit.server.web", "templates"), autoescape=select_autoescape(default=True))
    env.filters["money"] = lambda cents: "$" + format_cents(int(cents or 0))
    env.filters["duration"] = _fmt_duration
    env.filters["when"] = _fmt_time
    return env


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int | None) -> None:
    secure = request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="lax", secure=secure, path="/")


def _finish(response: Response, request: Request, v: Visitor | None) -> Response:
    for k, val in SECURITY_HEADERS.items():
        response.headers.setdefault(k, val)
    if v is not None and v.new_anon:
        set_cookie(response, request, ANON_COOKIE, v.new_anon, None)
    return response


def render(request: Request, v: Visitor | None, template: str, status: int = 200, **ctx: Any) -> Response:
    """An HTML page from `template` with the visitor, its CSRF token and flash messages in the context."""
    body = environment().get_template(template).render(
        visitor=v, worker=v.worker if v else None, session=v.session if v else None, csrf=v.csrf if v else "",
        flash=(v.flash if v else []) + request.query_params.getlist("msg")[:3], request_path=request.url.path,
        request_query=request.url.query, **ctx,
    )
    return _finish(HTMLResponse(body, status_code=status), request, v)


def redirect(request: Request, v: Visitor | None, url: str, *, message: str | None = None) -> Response:
    """303 to a local path (never another site), with an optional one-line message for the next page."""
    if not url.startswith("/") or url.startswith("//") or "\\" in url:
        url = "/"
    if message:
        url, hash_, fragment = url.partition("#")
        url += ("&" if "?" in url else "?") + "msg=" + quote(message[:300], safe="") + hash_ + fragment
    return _finish(RedirectResponse(url, status_code=303), request, v)


def page_route(fn: Callable) -> Callable:
    """Wrap `async fn(runtime, request) -> Response`: PageErrors become error pages, never a 500 for bad input."""

    async def route(request: Request) -> Response:
        runtime: Runtime = request.app.state.runtime
        try:
            return await fn(runtime, request)
        except DataError:  # e.g. a NUL character in an id, which PostgreSQL text cannot hold
            e = PageError(404, "Not found", "Nothing here has that id.")
        except PageError as caught:
            e = caught
        v = getattr(request.state, "visitor", None)
        return render(request, v, "error.html", status=e.status, title=e.title, message=e.message)

    route.__name__ = fn.__name__
    route.__doc__ = fn.__doc__
    return route
