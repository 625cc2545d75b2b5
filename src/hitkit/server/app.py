"""The ASGI application: the MTurk API at `POST /`, the worker API, externalSubmit and admin routes, and the
background sweeper and notification delivery."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid

import httpx
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout  # no pooled connection came free
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from hitkit import __version__
from hitkit.server.clock import Clock
from hitkit.server.config import ServerConfig
from hitkit.server.domain.leases import take_lease
from hitkit.server.domain.sweeper import sweep
from hitkit.server.notification_delivery import deliver_pending
from hitkit.server.runtime import Runtime
from hitkit.server.store.db import current_revision, head_revision, make_engine
from hitkit.server.web import account_pages, admin_api, external_submit, invitation_api, marketplace_pages, task_content, worker_api
from hitkit.server.web import admin_pages, console_pages, console_project_pages, site, worker_home_pages
from hitkit.server.web.worker_api import error_response
from hitkit.server.live import routes as live_routes
from hitkit.server.web import console_live_pages
from hitkit.server.api.dispatch import encode
from hitkit.server.api.errors import database_unavailable

log = logging.getLogger("hitkit.server")
MAX_API_BODY = 1024 * 1024  # a 64 KiB question, escaped, fits many times over


class NotInitialized(RuntimeError):
    pass


class MTurkFrontDoor:
    """`POST /` (the MTurk API) answered as plain ASGI, ahead of Starlette's routing and middleware, which cost
    more CPU per call than a typical operation; every other request goes on to the Starlette app."""

    def __init__(self, app: Starlette, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime
        self.state = app.state  # so callers can reach app.state as on a Starlette app

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        if scope["type"] != "http" or scope["path"] != "/" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        status, body = await self._answer(headers, receive)
        await send({
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/x-amz-json-1.1"),
                (b"content-length", str(len(body)).encode()),
                (b"x-amzn-requestid", str(uuid.uuid4()).encode()),
            ],
        })
        await send({"type": "http.response.body", "body": body})

    async def _answer(self, headers: dict[str, str], receive) -> tuple[int, bytes]:  # type: ignore[no-untyped-def]
        too_large = (413, encode({"__type": "RequestEntityTooLargeException", "Message": "Request body is larger than 1 MiB."}))
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_API_BODY:
            return too_large
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return 400, b""
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_API_BODY:
                return too_large
            chunks.append(chunk)
            more = message.get("more_body", False)
        raw = b"".join(chunks)
        runtime = self.runtime
        answer = await runtime.run(lambda: runtime.service.handle(headers.get("x-amz-target"), headers, raw, "/"))
        return answer.status, encode(answer.body)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    """Unknown routes and methods: JSON in the worker API's error shape under /api/, plain text elsewhere."""
    if request.url.path.startswith("/api/"):
        code = "not_found" if exc.status_code == 404 else "method_not_allowed"
        message = f"No such route: {request.method} {request.url.path}" if exc.status_code == 404 else (
            f"{request.method} is not allowed on {request.url.path}")
        return error_response(exc.status_code, code, message)
    if request.method == "GET" and exc.status_code == 404:
        return site.render(request, None, "error.html", status=404, title="Page not found",
                           message=f"There is no page at {request.url.path}.")
    return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=getattr(exc, "headers", None))


async def _database_error(request: Request | WebSocket, exc: Exception) -> Response | None:
    """A database that is down, full or out of connections answers 503 (retry later; nothing was stored), never a
    bare 500; a live socket gets an error frame and close code 1013 (try again later) instead of a failed
    handshake."""
    unavailable = database_unavailable(exc)
    where = f"{request.scope.get('method', 'WEBSOCKET')} {request.url.path}"
    if unavailable is None:
        log.error("internal database error on %s", where, exc_info=exc)
        status, code, message = 500, "InternalError", "An internal error in hitkit; it was logged."
    else:
        log.error("database unavailable on %s: %s", where, getattr(exc, "orig", exc))
        status, code, message = 503, unavailable.type_name, unavailable.message
    if isinstance(request, WebSocket):
        await live_routes.refuse(request, 1013 if unavailable else 1011,
                                 "service_unavailable" if unavailable else "internal_error", message)
        return None
    if request.url.path.startswith("/api/") or request.url.path.startswith("/mturk/"):
        return error_response(status, code, message)
    return site.render(request, None, "error.html", status=status, title="Try again shortly", message=message)


async def root_info(request: Request) -> JSONResponse:
    return JSONResponse({"service": "hitkit", "version": __version__, "mturk_api": "POST / (AWS JSON 1.1, SigV4)"})


async def _background(app: Starlette) -> None:
    runtime: Runtime = app.state.runtime
    interval = runtime.config.sweep_interval
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    lease_ttl = max(10.0, 5 * interval)
    async with httpx.AsyncClient() as client:
        while True:
            try:
                offset = await runtime.transaction(admin_api.load_offset, read_only=True)
                runtime.clock.set_offset(offset)
                schedule = await runtime.transaction(admin_pages.load_fee_schedule, read_only=True)
                if schedule is not None:  # the admin's choice on /admin/settings, shared by every process
                    runtime.config.fee_schedule = schedule
                # With several server processes (or hosts) one at a time sweeps and delivers notifications.
                leader = await runtime.run(lambda: runtime.service.in_transaction(
                    lambda conn: take_lease(conn, "background", holder, time.time(), lease_ttl)))
                app.state.sweeper_status = {**app.state.sweeper_status, "leader": leader}
                if not leader:
                    await asyncio.sleep(interval)
                    continue
                report = await runtime.run(
                    lambda: sweep(runtime.service.in_transaction, runtime.clock.now(), runtime.config.fee_schedule)
                )
                app.state.sweeper_status = {"last_run": runtime.clock.now(), "last_report": report.__dict__, "leader": True}
                await deliver_pending(runtime, client)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # keep sweeping; the error is in the log and on the health page
                if database_unavailable(e) is not None:
                    log.warning("sweeper pass skipped: the database is unavailable (%s)", getattr(e, "orig", e))
                else:
                    log.exception("sweeper pass failed")
                app.state.sweeper_status = {**app.state.sweeper_status, "last_error": "see server log"}
            await asyncio.sleep(interval)


def create_app(config: ServerConfig, clock: Clock | None = None) -> "MTurkFrontDoor":
    """The hitkit server for `config`'s database, which must have been initialised (`hitkit server init`)."""
    engine = make_engine(config.database_url)
    try:
        current = current_revision(engine)
    except OperationalError as e:
        raise NotInitialized(
            f"Cannot reach the database at {engine.url.render_as_string(hide_password=True)}: {e.orig}".strip()
        ) from None
    if current is None:
        raise NotInitialized(
            f"The database at {engine.url.render_as_string(hide_password=True)} has no hitkit tables: "
            f"run `hitkit server init --data-dir {config.data_dir}` first."
        )
    if current != head_revision():
        raise NotInitialized(
            f"The database schema is at revision {current} but this hitkit needs {head_revision()}: "
            "run `hitkit server db upgrade`."
        )
    with engine.connect() as conn:  # the admin's fee schedule (/admin/settings) wins over server.json from the start
        schedule = admin_pages.load_fee_schedule(conn.execution_options(hitkit_read_only=True))
    if schedule is not None:
        config.fee_schedule = schedule
    runtime = Runtime(engine, config, clock or Clock())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):  # type: ignore[no-untyped-def]
        task = asyncio.create_task(_background(app))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            engine.dispose()

    # Routing tries routes in order: the worker API and externalSubmit (the busiest paths) come first.
    routes = [
        *worker_api.routes,
        *external_submit.routes,
        *marketplace_pages.routes,
        *account_pages.routes,
        *worker_home_pages.routes,
        *task_content.routes,
        Mount("/static", app=StaticFiles(packages=[("hitkit.server.web", "static")]), name="static"),
        Route("/api/", root_info, methods=["GET"]),
        *admin_api.routes,
        *invitation_api.routes,
        *console_pages.routes,
        *console_project_pages.routes,
        *admin_pages.routes,
        *live_routes.routes,
        *console_live_pages.routes,
    ]
    handlers = {404: _http_error, 405: _http_error, DBAPIError: _database_error, PoolTimeout: _database_error}
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers=handlers)
    app.state.runtime = runtime
    app.state.sweeper_status = {}
    return MTurkFrontDoor(app, runtime)  # type: ignore[return-value]
