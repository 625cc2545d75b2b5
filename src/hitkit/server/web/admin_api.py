"""Admin HTTP routes (`Authorization: Bearer ADMIN_TOKEN`): health, and the test clock when the server runs
with --allow-clock-control."""

from __future__ import annotations

import orjson
from sqlalchemy import Connection, insert, select, update
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hitkit import __version__
from hitkit.server.domain.accounts import AccountError, token_subject, worker_token
from hitkit.server.domain.sweeper import sweep
from hitkit.server.runtime import Runtime
from hitkit.server.store.tables import settings
from hitkit.server.web.bodies import BodyTooLarge, read_body
from hitkit.server.web.worker_api import error_response

CLOCK_KEY = "clock.offset"
MAX_BODY = 64 * 1024


def _is_admin(conn: Connection, request: Request) -> bool:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and token_subject(conn, token.strip(), "admin") is not None


def save_offset(conn: Connection, offset: float) -> None:
    if conn.execute(select(settings.c.key).where(settings.c.key == CLOCK_KEY)).first():
        conn.execute(update(settings).where(settings.c.key == CLOCK_KEY).values(value=repr(offset)))
    else:
        conn.execute(insert(settings).values(key=CLOCK_KEY, value=repr(offset)))


def load_offset(conn: Connection) -> float:
    value = conn.execute(select(settings.c.value).where(settings.c.key == CLOCK_KEY)).scalar()
    return float(value) if value else 0.0


async def clock(request: Request) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    if not runtime.config.allow_clock_control:
        return error_response(404, "not_found", "Clock control is off; start the server with --allow-clock-control.")
    if not await runtime.transaction(lambda conn: _is_admin(conn, request), read_only=True):
        return error_response(401, "unauthenticated", "Send the admin token as 'Authorization: Bearer TOKEN'.")
    try:
        body = orjson.loads(await read_body(request, MAX_BODY) or b"{}")
        advance = float(body.get("advance", 0)) if isinstance(body, dict) else None
    except BodyTooLarge:
        return error_response(413, "too_large", "The request body is larger than 64 KiB.")
    except (ValueError, TypeError):
        advance = None
    if advance is None or advance < 0 or advance != advance or advance > 10 * 365 * 86400:
        return error_response(400, "bad_advance", 'Send {"advance": SECONDS} with 0 <= SECONDS <= ten years.')
    offset = runtime.clock.advance(advance)
    await runtime.transaction(lambda conn: save_offset(conn, offset))
    report = await runtime.run(lambda: sweep(runtime.service.in_transaction, runtime.clock.now(), runtime.config.fee_schedule))
    return JSONResponse({"now": runtime.clock.now(), "offset": offset, "sweep": report.__dict__})


async def create_worker(request: Request) -> JSONResponse:
    """POST /api/admin/v1/workers {"name", "country"?, "subdivision"?, "adult"?, "masters"?, "reuse"?: true}
    -> {"WorkerId", "token"}: a worker (an existing one of that name when `reuse`) with a fresh token."""
    runtime: Runtime = request.app.state.runtime
    if not await runtime.transaction(lambda conn: _is_admin(conn, request), read_only=True):
        return error_response(401, "unauthenticated", "Send the admin token as 'Authorization: Bearer TOKEN'.")
    try:
        body = orjson.loads(await read_body(request, MAX_BODY) or b"{}")
    except BodyTooLarge:
        return error_response(413, "too_large", "The request body is larger than 64 KiB.")
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"].strip():
        return error_response(400, "bad_worker", 'Send {"name": "...", "country": "US", ...}.')
    options = {k: body[k] for k in ("country", "subdivision", "adult", "masters", "reuse") if k in body}
    try:
        worker_id, token = await runtime.transaction(
            lambda conn: worker_token(conn, body["name"].strip()[:128], runtime.clock.now(), **options)
        )
    except (AccountError, TypeError, AttributeError) as e:
        return error_response(400, "bad_worker", str(e))
    return JSONResponse({"WorkerId": worker_id, "token": token})


async def health(request: Request) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    try:
        await runtime.transaction(lambda conn: conn.exec_driver_sql("SELECT 1").scalar(), read_only=True)
        db = "ok"
    except Exception as e:  # report, do not crash the health check
        db = f"error: {type(e).__name__}"
    return JSONResponse(
        {"status": "ok" if db == "ok" else "degraded", "database": db, "version": __version__,
         "dialect": runtime.engine.dialect.name, "sweeper": request.app.state.sweeper_status},
        status_code=200 if db == "ok" else 503,
    )


routes = [
    Route("/api/admin/v1/clock", clock, methods=["POST"]),
    Route("/api/admin/v1/health", health, methods=["GET"]),
    Route("/api/admin/v1/workers", create_worker, methods=["POST"]),
]
