"""Signing in and joining: `/login`, `/logout`, `/join/{code}` (invitation links), `/signup` (when the server
allows open sign-up) and `/p/{code}` (participant links for studies: a worker identity bound to a cookie).

Every login starts a new session id (the visitor's old cookie is never promoted), and a failed login says
only that the username or password is wrong, after the same argon2 work either way. Failed logins are rate
limited per username and per client address (`domain/login_limits.py`, shared with the console and admin).
"""

from __future__ import annotations

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hitkit.server.domain.accounts import AccountError
from hitkit.server.domain.login_limits import WINDOW, clear_failures, login_blocked, record_failure
from hitkit.server.domain.web_accounts import (
    LOGIN_SESSION_SECONDS, PARTICIPANT_SESSION_SECONDS, active_link, check_password_rules, check_username_rules,
    create_worker_login, end_session, hash_password, invitation_problem, join_as_participant, login_record,
    open_signup, password_matches, start_session, use_invitation,
)
from hitkit.server.runtime import Runtime
from hitkit.server.web.staff import client_ip
from hitkit.server.web.site import (
    SESSION_COOKIE, PageError, Visitor, field_text, page_route, read_form, redirect, render, set_cookie, visitor,
)


def _local_next(value: str) -> str:
    return value if value.startswith("/") and not value.startswith("//") and "\\" not in value else "/"


async def _visitor(runtime: Runtime, request: Request) -> Visitor:
    v = request.state.visitor = await runtime.transaction(
        lambda conn: visitor(conn, request, runtime.clock.now()), read_only=True)
    return v


def _signed_in_response(request: Request, v: Visitor, sid: str, kind: str, to: str, message: str | None = None) -> Response:
    response = redirect(request, v, to, message=message)
    lifetime = PARTICIPANT_SESSION_SECONDS if kind == "participant" else LOGIN_SESSION_SECONDS
    set_cookie(response, request, SESSION_COOKIE, sid, lifetime)
    return response


@page_route
async def login_form(runtime: Runtime, request: Request) -> Response:
    v = await _visitor(runtime, request)
    signup = await runtime.transaction(open_signup, read_only=True)
    return render(request, v, "login.html", next=_local_next(request.query_params.get("next", "/")), open_signup=signup)


@page_route
async def login(runtime: Runtime, request: Request) -> Response:
    v = await _visitor(runtime, request)
    form = await read_form(request, v)
    username, password = field_text(form, "username", limit=64).strip(), field_text(form, "password", limit=2048)
    nxt = _local_next(field_text(form, "next"))
    ip, now = client_ip(request), runtime.clock.now()
    if await runtime.transaction(lambda conn: login_blocked(conn, "worker", username, ip, now), read_only=True):
        return render(request, v, "login.html", status=429, username=username, next=nxt,
                      error=f"Too many failed sign-ins. Wait {WINDOW // 60} minutes and try again.")
    record = await runtime.transaction(lambda conn: login_record(conn, username), read_only=True) if username else None
    ok = await runtime.run(lambda: password_matches(record.password_hash if record else None, password))
    if not ok or record is None:
        await runtime.transaction(lambda conn: record_failure(conn, "worker", username, ip, now))
        signup = await runtime.transaction(open_signup, read_only=True)
        return render(request, v, "login.html", status=401, error="The username or password is wrong.",
                      username=username, next=nxt, open_signup=signup)
    if not record.active:
        return render(request, v, "login.html", status=403, error="This account is deactivated.", username=username, next=nxt)

    def work(conn: Connection) -> str:
        clear_failures(conn, "worker", username)
        if v.session is not None:
            end_session(conn, request.cookies[SESSION_COOKIE])
        return start_session(conn, record.worker_id, "login", runtime.clock.now())

    sid = await runtime.transaction(work)
    return _signed_in_response(request, v, sid, "login", nxt)


@page_route
async def logout(runtime: Runtime, request: Request) -> Response:
    v = await _visitor(runtime, request)
    await read_form(request, v)
    if v.session is not None:
        await runtime.transaction(lambda conn: end_session(conn, request.cookies[SESSION_COOKIE]))
    response = redirect(request, v, "/login", message="You are signed out.")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def _signup(runtime: Runtime, request: Request, invitation: str | None) -> Response:
    """The sign-up form (GET) and account creation (POST), by invitation or open sign-up."""
    v = await _visitor(runtime, request)
    now = runtime.clock.now()
    if invitation is not None:
        problem = await runtime.transaction(lambda conn: invitation_problem(conn, invitation, now), read_only=True)
        if problem:
            raise PageError(410, "Invitation not valid", problem)
    elif not await runtime.transaction(open_signup, read_only=True):
        raise PageError(403, "Sign-up is closed", "This server takes new workers by invitation only. Ask its administrator or a requester for an invitation link.")
    action = f"/join/{invitation}" if invitation else "/signup"
    if request.method == "GET":
        return render(request, v, "signup.html", action=action)
    form = await read_form(request, v)
    username = field_text(form, "username", limit=200).strip()
    password, again = field_text(form, "password", limit=2048), field_text(form, "password_again", limit=2048)
    try:
        check_username_rules(username)
        check_password_rules(password)
        if password != again:
            raise AccountError("The two passwords differ.")
    except AccountError as e:
        return render(request, v, "signup.html", status=400, action=action, error=str(e), username=username)
    password_hash = await runtime.run(lambda: hash_password(password))

    def work(conn: Connection) -> str:
        if invitation is not None:
            use_invitation(conn, invitation, runtime.clock.now())
        worker_id = create_worker_login(conn, username, password_hash, runtime.clock.now())
        return start_session(conn, worker_id, "login", runtime.clock.now())

    try:
        sid = await runtime.transaction(work)
    except AccountError as e:
        return render(request, v, "signup.html", status=400, action=action, error=str(e), username=username)
    return _signed_in_response(request, v, sid, "login", "/", message=f"Welcome, {username}. Your account is ready.")


@page_route
async def join(runtime: Runtime, request: Request) -> Response:
    return await _signup(runtime, request, request.path_params["code"])


@page_route
async def signup(runtime: Runtime, request: Request) -> Response:
    return await _signup(runtime, request, None)


@page_route
async def participant_link(runtime: Runtime, request: Request) -> Response:
    """GET: a welcome page with a Start button (link previews and crawlers create nobody); a visitor who already
    joined through this link goes straight to the study. POST: a new participant identity and its cookie."""
    code = request.path_params["code"]
    v = await _visitor(runtime, request)
    link = await runtime.transaction(lambda conn: active_link(conn, code), read_only=True)
    if link is None:
        raise PageError(404, "Study link not valid", "This study link is not valid or the study has closed.")
    target = f"/groups/{link.hit_type_id}"
    if v.session is not None and v.session.kind == "participant" and v.session.link is not None and v.session.link.code == code:
        return redirect(request, v, target)
    if request.method == "GET":
        return render(request, v, "participant_start.html", link=link, action=f"/p/{code}")
    await read_form(request, v)

    def work(conn: Connection) -> str:
        worker_id = join_as_participant(conn, link, runtime.clock.now())
        return start_session(conn, worker_id, "participant", runtime.clock.now())

    sid = await runtime.transaction(work)
    return _signed_in_response(request, v, sid, "participant", target)


routes = [
    Route("/login", login_form, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/join/{code}", join, methods=["GET", "POST"]),
    Route("/signup", signup, methods=["GET", "POST"]),
    Route("/p/{code}", participant_link, methods=["GET", "POST"]),
]
