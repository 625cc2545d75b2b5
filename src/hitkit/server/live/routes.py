"""The live routes: `/live/v1/requester/{run_id}` (the requester's process, SigV4-signed handshake checked by the
MTurk API's own `authenticate`), `/live/v1/worker/{run_id}` (a worker's browser: the live page's token, or a
worker bearer token for scripts and simulated workers) and `GET /live/{run_id}`, the page an ExternalQuestion HIT
points at (MTurk's assignmentId, hitId, workerId and turkSubmitTo in the query string).

Refusals are error frames followed by a close code (4401 not signed in, 4403 not allowed, 4404 unknown), never
a server error.
"""

from __future__ import annotations

import contextlib
import re
import time

from sqlalchemy import Connection
from sqlalchemy.exc import DataError
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketState

from hitkit.server.api.errors import AuthError
from hitkit.server.domain.accounts import token_subject
from hitkit.server.domain.web_accounts import web_secret
from hitkit.server.live import store
from hitkit.server.live.hub import hub_for
from hitkit.server.live.protocol import RUN_ID, dumps, error_frame
from hitkit.server.live.tokens import check_token, make_token
from hitkit.server.runtime import Runtime
from hitkit.server.web.site import environment, visitor

PREVIEW_ID = "ASSIGNMENT_ID_NOT_AVAILABLE"
MOBILE = re.compile(r"Mobi|Android|iPhone|iPad|iPod|Windows Phone", re.IGNORECASE)
LIVE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: https: http:; "
    "connect-src 'self' ws: wss:; form-action 'self' http: https:; frame-ancestors 'self'; base-uri 'none'"
)
PAGE_HEADERS = {"Content-Security-Policy": LIVE_CSP, "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store",
                "Referrer-Policy": "no-referrer"}


async def refuse(ws: WebSocket, code: int, error: str, message: str) -> None:
    """An error frame, then close with `code`; accepted first if it was not (a refused handshake would reach the
    browser as a bare HTTP status). Nothing to do if the socket is closed already."""
    if ws.application_state == WebSocketState.DISCONNECTED:
        return
    with contextlib.suppress(Exception):  # the peer may be gone
        if ws.application_state == WebSocketState.CONNECTING:
            await ws.accept()
        await ws.send_text(dumps(error_frame(error, message)))
        await ws.close(code, error)


async def requester_socket(ws: WebSocket) -> None:
    runtime: Runtime = ws.app.state.runtime
    run_id = ws.path_params["run_id"]
    if not RUN_ID.match(run_id):
        await refuse(ws, 4404, "bad_run_id", "A run id is 1-64 letters, digits, '_', '-' or '.'.")
        return
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in ws.scope["headers"]}
    try:
        requester_id = await runtime.run(lambda: runtime.service.authenticate(headers, b"", ws.url.path, method="GET"))
    except AuthError as e:
        await refuse(ws, 4401, e.type_name, e.message)
        return
    await ws.accept()
    await hub_for(ws.app).requester_session(ws, run_id, requester_id)


def _secret(app, conn: Connection) -> str:  # type: ignore[no-untyped-def]
    secret = getattr(app.state, "web_secret", None)
    if secret is None:
        secret = app.state.web_secret = web_secret(conn)
    return secret


def _bearer(headers) -> str | None:  # type: ignore[no-untyped-def]
    scheme, _, token = (headers.get("authorization") or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _points_at(question: str, run_id: str) -> bool:
    """Whether a HIT's ExternalQuestion URL is this run's live page (`.../live/RUN`, with or without a query)."""
    return re.search(r"/live/" + re.escape(run_id) + r"(?:[?#<\s]|$)", question) is not None


def _claim_problem(row, run, worker_id: str, hit_id: str | None, now: float) -> str | None:  # type: ignore[no-untyped-def]
    """Why this worker may not take part with this assignment, or None."""
    if run is None:
        return "This live task does not exist (or the requester's program has not started it yet)."
    if row is None or row.worker_id != worker_id:
        return "This assignment is not yours."
    if hit_id and row.hit_id != hit_id:
        return "This assignment belongs to another HIT."
    if row.requester_id != run.requester_id or not _points_at(row.question or "", run.id):
        return "This assignment's HIT is not part of this live task."
    if row.status != "Accepted" or row.deadline <= now:
        return "This assignment is no longer open for work."
    return None


async def worker_socket(ws: WebSocket) -> None:
    runtime: Runtime = ws.app.state.runtime
    run_id = ws.path_params["run_id"]
    q = ws.query_params
    assignment_id, worker_id = q.get("assignmentId", ""), q.get("workerId", "")
    if not RUN_ID.match(run_id) or not assignment_id or not worker_id or len(assignment_id) > 64 or len(worker_id) > 64:
        await refuse(ws, 4404, "bad_parameters", "Connect with the live page's run id, assignmentId and workerId.")
        return
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in ws.scope["headers"]}
    bearer = _bearer(headers)
    token = q.get("token", "")
    now = runtime.clock.now()

    def check(conn: Connection):  # type: ignore[no-untyped-def]
        if bearer is not None:
            if token_subject(conn, bearer, "worker") != worker_id:
                return None, "The worker token is not valid for this worker."
        elif not check_token(_secret(ws.app, conn), token, run_id, assignment_id, worker_id):
            return None, "The live page's token is missing or expired: reload the page."
        row = store.worker_assignment(conn, assignment_id)
        run = store.get_run(conn, run_id)
        return row, _claim_problem(row, run, worker_id, q.get("hitId"), now)

    try:
        row, problem = await runtime.transaction(check, read_only=True)
    except DataError:
        row, problem = None, "This assignment does not exist."
    if problem is not None:
        code = 4401 if "token" in problem else 4403
        await refuse(ws, code, "not_allowed", problem)
        return
    await ws.accept()
    await hub_for(ws.app).worker_session(ws, run_id, assignment_id, worker_id, row.hit_id)


def _page(template: str, status: int = 200, **ctx) -> Response:  # type: ignore[no-untyped-def]
    body = environment().get_template(template).render(**ctx)
    return HTMLResponse(body, status_code=status, headers=PAGE_HEADERS)


async def live_page(request: Request) -> Response:
    """The worker's live page (in the work page's frame), or a preview before the HIT is accepted."""
    runtime: Runtime = request.app.state.runtime
    run_id = request.path_params["run_id"]
    q = request.query_params
    assignment_id, worker_id, hit_id = q.get("assignmentId", ""), q.get("workerId", ""), q.get("hitId", "")
    hub = hub_for(request.app)
    config = await hub.run_config(run_id) if RUN_ID.match(run_id) else None
    if config is None:
        return _page("live_message.html", 404, title="Live task", message="This live task does not exist.")
    if not assignment_id or assignment_id == PREVIEW_ID:
        return _page("live_preview.html", title=config["title"], description=config["description"])
    if config["refuse_mobile"] and MOBILE.search(request.headers.get("user-agent", "")):
        return _page("live_message.html", 403, title=config["title"], message=(
            "This task needs a desktop or laptop browser (it is a live conversation that a phone's browser tends to "
            "drop). Please return the HIT; it will not count against you."))
    now = runtime.clock.now()
    bearer = _bearer(request.headers)

    def work(conn: Connection):  # type: ignore[no-untyped-def]
        if bearer is not None:
            signed_in = token_subject(conn, bearer, "worker")
        else:
            v = visitor(conn, request, now)
            signed_in = v.worker.id if v.worker is not None else None
        if signed_in is None:
            return None, "Sign in to the worker site to do this HIT.", ""
        if signed_in != worker_id:
            return None, "This HIT was accepted by another worker than the one signed in.", ""
        row = store.worker_assignment(conn, assignment_id)
        problem = _claim_problem(row, store.get_run(conn, run_id), worker_id, hit_id or None, now)
        return row, problem, _secret(request.app, conn)

    try:
        row, problem, secret = await runtime.transaction(work, read_only=True)
    except DataError:
        row, problem, secret = None, "This assignment does not exist.", ""
    if problem is not None:
        return _page("live_message.html", 403, title=config["title"], message=problem)
    submit_to = q.get("turkSubmitTo") or str(request.base_url).rstrip("/")
    if not submit_to.startswith(("http://", "https://")):
        submit_to = str(request.base_url).rstrip("/")
    return _page("live.html", title=config["title"], description=config["description"], run_id=run_id,
                 assignment_id=assignment_id, worker_id=worker_id, hit_id=row.hit_id,
                 token=make_token(secret, run_id, assignment_id, worker_id, time.time()),
                 submit_url=submit_to.rstrip("/") + "/mturk/externalSubmit",
                 heartbeat=max(1.0, min(20.0, config["heartbeat_timeout"] / 3)))


EXPORT_PAGE = 5000


async def run_events(request: Request) -> Response:
    """`GET /live/v1/runs/{run_id}/events/{after}`: the run's agents and its events after seq `after` (a page of
    5000; `next` is the `after` of the next page, null at the end). SigV4-signed as the MTurk API (GET, no query)."""
    runtime: Runtime = request.app.state.runtime
    run_id, after = request.path_params["run_id"], request.path_params["after"]
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        requester_id = await runtime.run(lambda: runtime.service.authenticate(headers, b"", request.url.path, method="GET"))
    except AuthError as e:
        return JSONResponse({"error": {"code": e.type_name, "message": e.message}}, status_code=403)
    if not RUN_ID.match(run_id) or not after.isdigit() or len(after) > 18:
        return JSONResponse({"error": {"code": "not_found", "message": "No such run."}}, status_code=404)

    def work(conn: Connection):  # type: ignore[no-untyped-def]
        run = store.get_run(conn, run_id)
        if run is None or run.requester_id != requester_id:
            return None
        events = store.run_events(conn, run_id, after=int(after), limit=EXPORT_PAGE)
        return {"run": {"id": run.id, "name": run.name, "created_at": run.created_at,
                        "config": store.loads(run.config), "requester_connected": bool(run.requester_connected)},
                "agents": [a.public() for a in store.agents_of_run(conn, run_id)], "events": events,
                "next": events[-1]["seq"] if len(events) == EXPORT_PAGE else None}

    body = await runtime.transaction(work, read_only=True)
    if body is None:
        return JSONResponse({"error": {"code": "not_found", "message": f"You have no live run {run_id}."}}, status_code=404)
    return JSONResponse(body)


routes = [
    Route("/live/v1/runs/{run_id}/events/{after}", run_events, methods=["GET"]),
    WebSocketRoute("/live/v1/requester/{run_id}", requester_socket),
    WebSocketRoute("/live/v1/worker/{run_id}", worker_socket),
    Route("/live/{run_id}", live_page, methods=["GET"]),
]
