"""JSON routes that bring people to the worker site: invitation links (admin or requester), participant links
for studies (requester), and the open sign-up switch (admin).

Admins authenticate with their bearer token (`hitkit server init` prints it). Requesters sign with SigV4 and
their MTurk API keys, exactly as for the MTurk API, so any client that can call hitkit can call these (sign for
service `mturk-requester`, region `us-east-1`, with a JSON body). Errors: `{"error": {"code", "message"}}`.

  POST /api/admin/v1/invitations        {"uses"?: 1, "expires_in_seconds"?: 604800, "note"?}  -> {"url", "code"}
  POST /api/admin/v1/settings           {"open_signup": true|false}                           -> {"open_signup"}
  POST /api/requester/v1/invitations    same body and answer as the admin route
  POST /api/requester/v1/participant-links {"hit_type_id", "label"?, "completion_code"?: "CODE" | "auto"}
                                        -> {"url", "code", "hit_type_id", "completion_code"}
  GET  /api/requester/v1/participant-links -> {"links": [...]}
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

import orjson
from sqlalchemy import Connection, select
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hitkit.server.api.errors import AuthError
from hitkit.server.domain.accounts import AccountError, token_subject
from hitkit.server.domain.web_accounts import (
    OPEN_SIGNUP_KEY, active_link, create_invitation, create_participant_link, put_setting,
)
from hitkit.server.runtime import Runtime
from hitkit.server.web.bodies import BodyTooLarge, read_body
from hitkit.server.store.tables import participant_links
from hitkit.server.web.task_content import submit_base
from hitkit.server.web.worker_api import error_response

Handler = Callable[[Runtime, Request, str, dict], Awaitable[JSONResponse]]


MAX_BODY = 64 * 1024


async def _body(request: Request) -> tuple[bytes, dict | None]:
    """The raw body and its JSON object (None when it is not one); BodyTooLarge past 64 KiB, before reading more."""
    raw = await read_body(request, MAX_BODY)
    try:
        body = orjson.loads(raw) if raw.strip() else {}
    except ValueError:
        return raw, None
    return raw, body if isinstance(body, dict) else None


def _as_admin(handler: Handler) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def route(request: Request) -> JSONResponse:
        runtime: Runtime = request.app.state.runtime
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        admin = None
        if scheme.lower() == "bearer" and token.strip():
            admin = await runtime.transaction(lambda conn: token_subject(conn, token.strip(), "admin"), read_only=True)
        if admin is None:
            return error_response(401, "unauthenticated", "Send the admin token as 'Authorization: Bearer TOKEN'.")
        try:
            _, body = await _body(request)
        except BodyTooLarge:
            return error_response(413, "too_large", "The request body must be a JSON object of at most 64 KiB.")
        if body is None:
            return error_response(400, "bad_json", "The request body must be a JSON object of at most 64 KiB.")
        return await _guarded(handler, runtime, request, admin, body)

    return route


def _as_requester(handler: Handler) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def route(request: Request) -> JSONResponse:
        runtime: Runtime = request.app.state.runtime
        try:
            raw, body = await _body(request)
        except BodyTooLarge:
            return error_response(413, "too_large", "The request body must be a JSON object of at most 64 KiB.")
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            requester_id = await runtime.run(lambda: runtime.service.authenticate(headers, raw, request.url.path, request.method))
        except AuthError as e:
            return error_response(e.status if e.status != 400 else 403, e.type_name, str(e))
        if body is None:
            return error_response(400, "bad_json", "The request body must be a JSON object of at most 64 KiB.")
        return await _guarded(handler, runtime, request, requester_id, body)

    return route


async def _guarded(handler: Handler, runtime: Runtime, request: Request, who: str, body: dict) -> JSONResponse:
    try:
        return await handler(runtime, request, who, body)
    except AccountError as e:
        return error_response(400, "refused", str(e))
    except (TypeError, ValueError) as e:
        return error_response(400, "bad_parameter", f"A field has the wrong type: {e}.")


async def _invitation(runtime: Runtime, request: Request, who: str, body: dict) -> JSONResponse:
    uses = body.get("uses", 1)
    expires = body.get("expires_in_seconds", 7 * 86400)
    note = body.get("note")
    if not isinstance(uses, int) or isinstance(uses, bool):
        raise AccountError('"uses" must be a whole number.')
    if expires is not None and (not isinstance(expires, (int, float)) or isinstance(expires, bool) or expires <= 0):
        raise AccountError('"expires_in_seconds" must be a positive number, or null for a link that never expires.')
    if note is not None and not isinstance(note, str):
        raise AccountError('"note" must be a string.')
    code = await runtime.transaction(
        lambda conn: create_invitation(conn, who, runtime.clock.now(), max_uses=uses, expires_in=expires, note=note))
    return JSONResponse({"url": f"{submit_base(request)}/join/{code}", "code": code, "uses": uses})


async def _settings(runtime: Runtime, request: Request, who: str, body: dict) -> JSONResponse:
    if not isinstance(body.get("open_signup"), bool):
        raise AccountError('Send {"open_signup": true} or {"open_signup": false}.')
    on = body["open_signup"]
    await runtime.transaction(lambda conn: put_setting(conn, OPEN_SIGNUP_KEY, "true" if on else "false"))
    return JSONResponse({"open_signup": on})


def _link_json(request: Request, link: Any) -> dict:
    return {"url": f"{submit_base(request)}/p/{link.code}", "code": link.code, "hit_type_id": link.hit_type_id,
            "label": link.label, "completion_code": link.completion_code, "active": link.active}


async def _new_participant_link(runtime: Runtime, request: Request, who: str, body: dict) -> JSONResponse:
    hit_type_id, label, completion = body.get("hit_type_id"), body.get("label"), body.get("completion_code")
    if not isinstance(hit_type_id, str):
        raise AccountError('Send {"hit_type_id": "..."} naming one of your HIT types.')
    if (label is not None and not isinstance(label, str)) or (completion is not None and not isinstance(completion, str)):
        raise AccountError('"label" and "completion_code" must be strings.')

    def work(conn: Connection):  # type: ignore[no-untyped-def]
        code = create_participant_link(conn, who, hit_type_id, runtime.clock.now(), label=label, completion_code=completion)
        return active_link(conn, code)

    return JSONResponse(_link_json(request, await runtime.transaction(work)))


async def _list_participant_links(runtime: Runtime, request: Request, who: str, body: dict) -> JSONResponse:
    rows = await runtime.transaction(lambda conn: conn.execute(
        select(participant_links).where(participant_links.c.requester_id == who).order_by(participant_links.c.created_at)
    ).all(), read_only=True)
    return JSONResponse({"links": [_link_json(request, r) for r in rows]})


routes = [
    Route("/api/admin/v1/invitations", _as_admin(_invitation), methods=["POST"]),
    Route("/api/admin/v1/settings", _as_admin(_settings), methods=["POST"]),
    Route("/api/requester/v1/invitations", _as_requester(_invitation), methods=["POST"]),
    Route("/api/requester/v1/participant-links", _as_requester(_new_participant_link), methods=["POST"]),
    Route("/api/requester/v1/participant-links", _as_requester(_list_participant_links), methods=["GET"]),
]
