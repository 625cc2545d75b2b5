"""What the requester console (`/console/`) and administration (`/admin/`) share: their sessions, sign-in and
sign-out pages, the login rate limit, and the page wrapper that refuses visitors of any other kind.

Each role has its own cookie, scoped to its own path: `hitkit_console` (Path=/console) and `hitkit_admin`
(Path=/admin), both HttpOnly, SameSite=Lax and Secure over https. Their sessions live in `staff_sessions`, apart
from workers' sessions, so a worker's session opens no console or admin page and a requester's opens no admin
page (or the reverse). Forms carry site.py's CSRF token, bound to the role's session (or, signed out, to the
`hitkit_anon` cookie), and `read_form` refuses a post without it.

Sign-in works as the worker site's: argon2id, the same work for unknown usernames, a fresh session id, and the
rate limit of `domain/login_limits.py` (which the worker login uses too).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from sqlalchemy import Connection
from sqlalchemy.exc import DataError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hitkit.mturk.model import ValidationFailure, validator_for
from hitkit.server.api.errors import ApiError
from hitkit.server.api.operations import HANDLERS, Ctx
from hitkit.server.domain.login_limits import WINDOW, clear_failures, login_blocked, record_failure
from hitkit.server.domain.staff_accounts import (
    STAFF_SESSION_SECONDS, StaffSession, end_staff_session, staff_login_record, staff_session_for, start_staff_session,
)
from hitkit.server.domain.web_accounts import password_matches
from hitkit.server.runtime import Runtime
from hitkit.server.web.site import (
    ANON_COOKIE, PageError, Visitor, _cached_secret, field_text, read_form, redirect, render,
)

COOKIES = {"requester": ("hitkit_console", "/console"), "admin": ("hitkit_admin", "/admin")}
TITLES = {"requester": "Requester console", "admin": "Administration"}


@dataclass
class StaffVisitor(Visitor):
    """A console or admin visitor: `staff` is their session (None when signed out); `session` (a worker's) is
    always None here."""

    role: str = "requester"
    staff: StaffSession | None = None


def client_ip(request: Request) -> str:
    """The peer address (X-Forwarded-For is not trusted: a client could make up any address)."""
    return (request.client.host if request.client else "") or "unknown"


def staff_visitor(conn: Connection, request: Request, role: str, now: float) -> StaffVisitor:
    secret = _cached_secret(request, conn)
    cookie, _ = COOKIES[role]
    sid = request.cookies.get(cookie)
    staff = staff_session_for(conn, sid, role, now) if sid else None
    if staff is not None:
        return StaffVisitor(secret, None, f"{role}|{sid}", role=role, staff=staff)
    anon = request.cookies.get(ANON_COOKIE)
    if anon and 16 <= len(anon) <= 64:
        return StaffVisitor(secret, None, anon, role=role)
    anon = secrets.token_urlsafe(24)
    return StaffVisitor(secret, None, anon, new_anon=anon, role=role)


def staff_render(request: Request, v: StaffVisitor, template: str, status: int = 200, **ctx: Any) -> Response:
    return render(request, v, template, status=status, staff=v.staff, role=v.role, area=COOKIES[v.role][1],
                  area_title=TITLES[v.role], **ctx)


class Refused(Exception):
    """An action refused for a reason the visitor can fix; shown as a message on the page they return to."""


def _validate(op: str, params: dict) -> None:
    try:
        validator_for(op)(params)
    except ValidationFailure as e:
        raise Refused(e.message) from None


async def mturk_op(runtime: Runtime, requester_id: str, op: str, params: dict) -> dict:
    """Run MTurk operation `op` as the requester, with the API's own validation and rules (the console does
    exactly what a boto3 call would). Refusals become `Refused` with the API's message."""
    _validate(op, params)
    try:
        return await runtime.run(lambda: runtime.service._run(op, requester_id, params))
    except ApiError as e:
        raise Refused(e.message) from None
    except DataError:
        raise Refused("A field holds characters that cannot be stored (such as NUL).") from None


def mturk_op_in(conn: Connection, runtime: Runtime, requester_id: str, op: str, params: dict) -> dict:
    """`mturk_op` inside the caller's transaction, so the console's own rows change atomically with the
    operation (a refusal raises `Refused`, and the caller's transaction rolls back)."""
    _validate(op, params)
    try:
        return HANDLERS[op](Ctx(conn, requester_id, runtime.clock.now(), runtime.config), params)
    except ApiError as e:
        raise Refused(e.message) from None


Page = Callable[[Runtime, Request, StaffVisitor], Awaitable[Response]]


def staff_page(role: str, *, public: bool = False) -> Callable[[Page], Callable[[Request], Awaitable[Response]]]:
    """Wrap `async fn(runtime, request, visitor)` as a route of `role`'s area: visitors without a session of that
    role are sent to its sign-in page (GET) or refused (other methods); POSTs are CSRF-checked by the page with
    `read_form`; PageErrors and bad ids become error pages, never a 500."""

    def wrap(fn: Page) -> Callable[[Request], Awaitable[Response]]:
        async def route(request: Request) -> Response:
            runtime: Runtime = request.app.state.runtime
            v: StaffVisitor | None = None
            try:
                v = request.state.visitor = await runtime.transaction(
                    lambda conn: staff_visitor(conn, request, role, runtime.clock.now()), read_only=True)
                if v.staff is None and not public:
                    area = COOKIES[role][1]
                    if request.method == "GET":
                        return redirect(request, v, f"{area}/login?next={request.url.path}")
                    raise PageError(401, "Sign in first", "Your session has ended; sign in again. Nothing was changed.")
                return await fn(runtime, request, v)
            except DataError:  # e.g. a NUL character, which PostgreSQL text cannot hold
                e = (PageError(404, "Not found", "Nothing here has that id.") if request.method == "GET" else
                     PageError(400, "Bad input", "The form holds characters that cannot be stored (such as NUL); "
                                                 "nothing was changed."))
            except PageError as caught:
                e = caught
            if v is None:
                raise RuntimeError("visitor not loaded")  # only reachable if the database itself fails
            return staff_render(request, v, "staff_error.html", status=e.status, title=e.title, message=e.message)

        route.__name__ = fn.__name__
        route.__doc__ = fn.__doc__
        return route

    return wrap


# ---------------------------------------------------------------- signing in and out


def _local_next(value: str, area: str) -> str:
    ok = value.startswith(area + "/") and not value.startswith("//") and "\\" not in value and "/login" not in value
    return value if ok else area + "/"


def login_routes(role: str) -> list[Route]:
    area = COOKIES[role][1]
    cookie = COOKIES[role][0]

    @staff_page(role, public=True)
    async def login_form(runtime: Runtime, request: Request, v: StaffVisitor) -> Response:
        if v.staff is not None:
            return redirect(request, v, area + "/")
        return staff_render(request, v, "staff_login.html", next=_local_next(request.query_params.get("next", ""), area))

    @staff_page(role, public=True)
    async def login(runtime: Runtime, request: Request, v: StaffVisitor) -> Response:
        form = await read_form(request, v)
        username, password = field_text(form, "username", limit=64).strip(), field_text(form, "password", limit=2048)
        nxt = _local_next(field_text(form, "next"), area)
        ip = client_ip(request)
        now = runtime.clock.now()
        if await runtime.transaction(lambda conn: login_blocked(conn, role, username, ip, now), read_only=True):
            return staff_render(request, v, "staff_login.html", status=429, username=username, next=nxt,
                                error=f"Too many failed sign-ins. Wait {WINDOW // 60} minutes and try again.")
        record = await runtime.transaction(lambda conn: staff_login_record(conn, role, username), read_only=True) if username else None
        ok = await runtime.run(lambda: password_matches(record.password_hash if record else None, password))
        if not ok or record is None:
            await runtime.transaction(lambda conn: record_failure(conn, role, username, ip, now))
            return staff_render(request, v, "staff_login.html", status=401, username=username, next=nxt,
                                error="The username or password is wrong.")
        if not record.active:
            return staff_render(request, v, "staff_login.html", status=403, username=username, next=nxt,
                                error="This account is deactivated.")

        def work(conn: Connection) -> str:
            clear_failures(conn, role, username)
            old = request.cookies.get(cookie)
            if old:
                end_staff_session(conn, old)
            return start_staff_session(conn, role, record.subject_id, runtime.clock.now())

        sid = await runtime.transaction(work)
        response = redirect(request, v, nxt)
        secure = request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
        response.set_cookie(cookie, sid, max_age=STAFF_SESSION_SECONDS, httponly=True, samesite="lax", secure=secure, path=area)
        return response

    @staff_page(role, public=True)
    async def logout(runtime: Runtime, request: Request, v: StaffVisitor) -> Response:
        await read_form(request, v)
        sid = request.cookies.get(cookie)
        if sid:
            await runtime.transaction(lambda conn: end_staff_session(conn, sid))
        response = redirect(request, v, area + "/login", message="You are signed out.")
        response.delete_cookie(cookie, path=area)
        return response

    return [
        Route(f"{area}/login", login_form, methods=["GET"]),
        Route(f"{area}/login", login, methods=["POST"]),
        Route(f"{area}/logout", logout, methods=["POST"]),
    ]
