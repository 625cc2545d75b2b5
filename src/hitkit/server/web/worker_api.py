"""The worker HTTP API (JSON, not part of MTurk): discover, accept, read, submit and return assignments, request
qualifications. Simulated crowds and the worker pages use it. Errors: `{"error": {"code", "message"}}` with 4xx.
Authentication: `Authorization: Bearer TOKEN` from `hitkit server worker create`."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, NoReturn

import orjson

from sqlalchemy import Connection, Row, bindparam, select
from sqlalchemy.exc import DataError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hitkit.mturk.fees import format_cents
from hitkit.mturk.xml import QuestionXMLError
from hitkit.server.domain.answers import encode_submission, question_kind
from hitkit.server.domain import assignment_flow, hit_state
from hitkit.server.domain.accounts import token_hash
from hitkit.server.domain.assignment_flow import AcceptChecks, FlowError
from hitkit.server.domain.eligibility import check_action, parse_requirements
from hitkit.server.domain.qualification_values import values_for
from hitkit.server.domain.qualification_flow import request_qualification as flow_request
from hitkit.server.runtime import Runtime
from hitkit.server.web.bodies import BodyTooLarge, read_body
from hitkit.server.store.queries import (
    TOKEN_ASSIGNMENT_HIT,
    TOKEN_ASSIGNMENT_HIT_COUNTS,
    TOKEN_ASSIGNMENT_HIT_LOCKED,
    TOKEN_HIT_CHECKS,
    TOKEN_HIT_LOCKED,
    hit_with_type,
    requirements_of,
    split_worker_assignment_hit,
    split_worker_hit,
)
from hitkit.server.store.tables import assignments, hits, requesters, tokens, worker_blocks, workers

MAX_PAGE = 100
MAX_BODY = 2 * 1024 * 1024  # as /mturk/externalSubmit: answers of any real task fit


class WorkerApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class JSONResponse(Response):
    """JSON rendered by orjson (compact UTF-8, as Starlette's JSONResponse, at a fraction of the CPU)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


_WORKER_BY_TOKEN = (
    select(workers)
    .join(tokens, tokens.c.subject_id == workers.c.id)
    .where(tokens.c.token_hash == bindparam("token_hash"), tokens.c.kind == "worker")
)


def bearer_token_hash(request: Request) -> str:
    """The hash of the bearer token that came with the request (as stored in `tokens`)."""
    auth = b""
    for name, value in request.scope["headers"]:  # the ASGI server lower-cases names; no Headers object needed
        if name == b"authorization":
            auth = value
            break
    scheme, _, token = auth.decode("latin-1").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise WorkerApiError(401, "unauthenticated", "Send the worker's token as 'Authorization: Bearer TOKEN'.")
    return _token_hash(token)


# Each worker sends its token with every request; SHA-256 through OpenSSL costs several us per call.
_token_hash = lru_cache(maxsize=4096)(token_hash)


def _active(worker: Row | None) -> Row:
    if worker is None:
        raise WorkerApiError(401, "invalid_token", "The worker token is not valid.")
    if not worker.active:
        raise WorkerApiError(403, "worker_inactive", "This worker account is deactivated.")
    return worker


def bearer_worker(conn: Connection, request: Request) -> Row:
    """The worker whose bearer token came with the request."""
    return _active(conn.execute(_WORKER_BY_TOKEN, {"token_hash": bearer_token_hash(request)}).first())


def _missing(conn: Connection, token_hash_: str, error: Exception) -> NoReturn:
    """A combined read found no row: say whether the token or the object was missing, in that order."""
    _active(conn.execute(_WORKER_BY_TOKEN, {"token_hash": token_hash_}).first())
    raise error


def _not_own(assignment_id: str) -> WorkerApiError:
    return WorkerApiError(404, "assignment_not_found", f"Assignment {assignment_id} does not exist for this worker.")


def _one_read(conn: Connection) -> bool:
    """Whether the worker, the HIT and its counts may be read in one statement: on SQLite the transaction holds the
    writer lock from its BEGIN IMMEDIATE. PostgreSQL takes the HIT's row lock first and reads the counts after."""
    return conn.dialect.name == "sqlite"


async def _json(request: Request) -> dict:
    try:
        raw = await read_body(request, MAX_BODY)
    except BodyTooLarge:
        raise WorkerApiError(413, "too_large", f"The request body is larger than {MAX_BODY // (1024 * 1024)} MiB.") from None
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except ValueError:
        raise WorkerApiError(400, "bad_json", "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise WorkerApiError(400, "bad_json", "The request body must be a JSON object.")
    return body


_JSON_HEADERS = (b"content-type", b"application/json")


class endpoint:  # noqa: N801 (used as a decorator)
    """Wrap a handler `(runtime, request) -> (status, body)` as a plain ASGI app, mapping refusals to the error
    shape. Starlette runs an ASGI app given as a route's endpoint as it is, without its per-request wrapper and
    Response object (a sizeable share of a worker request's CPU); the body is rendered by orjson."""

    __slots__ = ("fn",)

    def __init__(self, fn) -> None:  # type: ignore[no-untyped-def]
        self.fn = fn

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        request = Request(scope, receive)
        try:
            status, body = await self.fn(scope["app"].state.runtime, request)
        except (WorkerApiError, FlowError) as e:
            status, body = e.status, {"error": {"code": e.code, "message": e.message}}
        except DataError:  # e.g. a NUL character in an id, which PostgreSQL text cannot hold
            status, body = 400, {"error": {"code": "bad_parameter",
                                           "message": "An id or value in the request has characters that cannot be stored."}}
        payload = orjson.dumps(body)
        await send({"type": "http.response.start", "status": status,
                    "headers": [_JSON_HEADERS, (b"content-length", b"%d" % len(payload))]})
        await send({"type": "http.response.body", "body": payload})


def hit_summary(row: Row, state: hit_state.HitState, requester_name: str | None = None) -> dict:
    return {
        "HITId": row.id,
        "HITTypeId": row.hit_type_id,
        "Title": row.title,
        "Description": row.description,
        "Keywords": row.keywords,
        "Reward": format_cents(row.reward_cents),
        "AssignmentDurationInSeconds": row.assignment_duration,
        "Expiration": row.expiration,
        "HITStatus": state.status,
        "NumberOfAssignmentsAvailable": state.available,
        "Requester": requester_name,
        "RequesterId": row.requester_id,
    }


@endpoint
async def list_hits(runtime: Runtime, request: Request) -> tuple[int, dict]:
    try:
        limit = min(MAX_PAGE, max(1, int(request.query_params.get("limit", "50"))))
        after = int(request.query_params.get("after", "0"))
    except ValueError:
        raise WorkerApiError(400, "bad_parameter", "limit and after must be whole numbers.") from None
    hit_type = request.query_params.get("hit_type_id")

    def work(conn: Connection) -> dict:
        worker = bearer_worker(conn, request)
        now = runtime.clock.now()
        out: list[dict] = []
        cursor = after
        names = dict(conn.execute(select(requesters.c.id, requesters.c.name)).all())
        while len(out) < limit:
            q = hit_with_type.where(hits.c.disposed_at.is_(None), hits.c.expiration > now, hits.c.seq > cursor)
            if hit_type:
                q = q.where(hits.c.hit_type_id == hit_type)
            rows = conn.execute(q.order_by(hits.c.seq).limit(limit * 2)).all()
            if not rows:
                cursor = 0
                break
            page = [r.id for r in rows]
            counts = hit_state.counts_for(conn, page, now)
            reqs = {r.id: parse_requirements(requirements_of(r)) for r in rows}
            values = values_for(conn, worker, {q.type_id for rs in reqs.values() for q in rs})
            done = set(conn.execute(
                select(assignments.c.hit_id).where(
                    assignments.c.worker_id == worker.id, assignments.c.hit_id.in_(page),
                    assignments.c.status.in_(("Accepted", *hit_state.VISIBLE_STATUSES)),
                )
            ).scalars())
            blocked_by = set(conn.execute(
                select(worker_blocks.c.requester_id).where(worker_blocks.c.worker_id == worker.id)
            ).scalars())
            for r in rows:
                cursor = r.seq
                state = hit_state.state_from_row(r, counts.get(r.id, hit_state.HitCounts()), now)
                if state.available <= 0 or not check_action(reqs[r.id], values, "Discover").allowed:
                    continue
                accept = check_action(reqs[r.id], values, "Accept")
                reason = accept.reason if not accept.allowed else None
                if r.id in done:
                    reason = "You have already accepted or done this HIT."
                elif r.requester_id in blocked_by:
                    reason = "The requester has chosen to prevent you from working on their HITs."
                item = hit_summary(r, state, names.get(r.requester_id))
                item["CanAccept"] = reason is None
                if reason is not None:
                    item["Reason"] = reason
                out.append(item)
                if len(out) >= limit:
                    break
        body: dict[str, Any] = {"hits": out}
        if cursor and len(out) >= limit:
            body["next"] = cursor
        return body

    return 200, await runtime.transaction(work, read_only=True)


@endpoint
async def accept_hit(runtime: Runtime, request: Request) -> tuple[int, dict]:
    hit_id = request.path_params["hit_id"]

    def work(conn: Connection) -> dict:
        th = bearer_token_hash(request)
        now = runtime.clock.now()
        params = {"token_hash": th, "hit_id": hit_id, "now": now}
        row = (TOKEN_HIT_CHECKS if _one_read(conn) else TOKEN_HIT_LOCKED).first(conn, params)
        if row is None:
            _missing(conn, th, FlowError("hit_not_found", f"HIT {hit_id} does not exist.", 404))
        worker, hit, rest = split_worker_hit(row)
        _active(worker)
        if _one_read(conn):
            checks = AcceptChecks.from_values(rest)
        else:
            checks = assignment_flow.accept_checks(conn, worker.id, hit, now)
        a = assignment_flow.take_slot(conn, worker, hit, checks, now)
        return {"AssignmentId": a.id, "HITId": a.hit_id, "Deadline": a.deadline, "AcceptTime": a.accept_time}

    return 200, await runtime.transaction(work)


def _own_assignment(conn: Connection, request: Request, assignment_id: str, now: float = 0.0,  # type: ignore[no-untyped-def]
                    statement=TOKEN_ASSIGNMENT_HIT, begin: bool = True):
    """(worker, assignment, HIT, extra columns) for the requesting worker's own assignment, in one statement."""
    th = bearer_token_hash(request)
    row = statement.first(conn, {"token_hash": th, "assignment_id": assignment_id, "now": now}, begin=begin)
    if row is None:
        _missing(conn, th, _not_own(assignment_id))
    worker, a, hit, rest = split_worker_assignment_hit(row)
    _active(worker)
    return worker, a, hit, rest


@endpoint
async def get_assignment_route(runtime: Runtime, request: Request) -> tuple[int, dict]:
    assignment_id = request.path_params["assignment_id"]

    def work(conn: Connection) -> dict:
        _, a, hit, _ = _own_assignment(conn, request, assignment_id, begin=False)
        now = runtime.clock.now()
        status = a.status
        if status == "Accepted" and a.deadline <= now:
            status = "Abandoned"
        kind = question_kind(hit.question)
        return {
            "AssignmentId": a.id,
            "HITId": a.hit_id,
            "WorkerId": a.worker_id,
            "Status": status,
            "AcceptTime": a.accept_time,
            "Deadline": a.deadline,
            "SubmitTime": a.submit_time,
            "Title": hit.title,
            "Description": hit.description,
            "Reward": format_cents(hit.reward_cents),
            "Question": hit.question,
            "QuestionKind": kind,
        }

    return 200, await runtime.read(work)  # one statement


@endpoint
async def submit_assignment(runtime: Runtime, request: Request) -> tuple[int, dict]:
    assignment_id = request.path_params["assignment_id"]
    body = await _json(request)

    def work(conn: Connection) -> dict:
        now = runtime.clock.now()
        if _one_read(conn):  # the writer lock is held: assignment, HIT and counts in one read
            _, a, hit, counts = _own_assignment(conn, request, assignment_id, now, TOKEN_ASSIGNMENT_HIT_COUNTS)
            counts = hit_state.HitCounts(*map(int, counts))
        else:  # lock the HIT, then read the assignment and the counts again under the lock
            _, _, hit, _ = _own_assignment(conn, request, assignment_id, now, TOKEN_ASSIGNMENT_HIT_LOCKED)
            a, counts = assignment_flow.read_assignment_counts(conn, assignment_id, now)
        try:
            answer = encode_submission(hit.question, body.get("answers", {}))
        except QuestionXMLError as e:
            raise WorkerApiError(400, "invalid_answer", e.message) from None
        done = assignment_flow.submit_locked(conn, a, hit, counts, answer, now, runtime.config.fee_schedule)
        return {"AssignmentId": done.id, "Status": done.status, "SubmitTime": done.submit_time}

    return 200, await runtime.transaction(work)


@endpoint
async def return_assignment(runtime: Runtime, request: Request) -> tuple[int, dict]:
    assignment_id = request.path_params["assignment_id"]

    def work(conn: Connection) -> dict:
        worker, a, _, _ = _own_assignment(conn, request, assignment_id)
        assignment_flow.return_assignment(conn, a.id, worker.id, runtime.clock.now(), runtime.config.fee_schedule)
        return {"AssignmentId": a.id, "Status": "Returned"}

    return 200, await runtime.transaction(work)


@endpoint
async def request_qualification(runtime: Runtime, request: Request) -> tuple[int, dict]:
    type_id = request.path_params["type_id"]
    body = await _json(request)
    answers = body.get("answers")

    def work(conn: Connection) -> dict:
        worker = bearer_worker(conn, request)
        return flow_request(conn, worker, type_id, answers, runtime.clock.now())

    return 200, await runtime.transaction(work)


routes = [
    Route("/api/worker/v1/hits", list_hits, methods=["GET"]),
    Route("/api/worker/v1/hits/{hit_id}/accept", accept_hit, methods=["POST"]),
    Route("/api/worker/v1/assignments/{assignment_id}", get_assignment_route, methods=["GET"]),
    Route("/api/worker/v1/assignments/{assignment_id}/submit", submit_assignment, methods=["POST"]),
    Route("/api/worker/v1/assignments/{assignment_id}/return", return_assignment, methods=["POST"]),
    Route("/api/worker/v1/qualifications/{type_id}/request", request_qualification, methods=["POST"]),
]
