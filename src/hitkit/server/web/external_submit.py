"""`/mturk/externalSubmit`: the form post of HTMLQuestion and ExternalQuestion pages, as on MTurk.

The unguessable assignmentId is what authorises it (an ExternalQuestion page on another origin cannot send
hitkit's cookies); a bearer token, when present, must belong to the assignment's worker. Preview ids, unknown,
expired, foreign and already-submitted assignments are refused with a clear message and no state change.
"""

from __future__ import annotations

import html

from sqlalchemy import Connection
from sqlalchemy.exc import DataError
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from hitkit.mturk.xml import QuestionXMLError
from hitkit.server.domain.answers import encode_submission, group_fields
from hitkit.server.domain import assignment_flow
from hitkit.server.domain.accounts import token_subject
from hitkit.server.domain.assignment_flow import FlowError
from hitkit.server.runtime import Runtime
from hitkit.server.web.bodies import BodyTooLarge, read_body
from hitkit.server.store.queries import get_assignment, get_hit

PREVIEW_ID = "ASSIGNMENT_ID_NOT_AVAILABLE"
MAX_FORM_BYTES = 2 * 1024 * 1024


def _page(status: int, title: str, message: str, wants_json: bool, code: str, submitted: str | None = None) -> Response:
    """The answer to a submission: JSON when asked for, else a small page. After a submission the page tells
    hitkit's work page (its parent frame) by postMessage, so the worker moves on (static/submitted.js)."""
    if wants_json:
        if status >= 400:
            return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)
        return JSONResponse({"status": code, "message": message}, status_code=status)
    script = "<script src='/static/submitted.js'></script>" if submitted else ""
    body = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><meta name='viewport' content='width=device-width'>"
        f"<title>{html.escape(title)}</title></head><body data-submitted='{html.escape(submitted or '')}' "
        "style='font-family:sans-serif;max-width:40em;margin:2em auto'>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>"
        f"<p><a href='/' target='_top'>Back to the HITs</a></p>{script}</body></html>"
    )
    return HTMLResponse(body, status_code=status, headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})


async def external_submit(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    wants_json = "application/json" in request.headers.get("accept", "")
    if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
        return _page(413, "Submission too large", "The submitted form is larger than 2 MiB.", wants_json, "too_large")
    if request.method == "GET":
        pairs = list(request.query_params.multi_items())
    else:
        try:
            await read_body(request, MAX_FORM_BYTES)  # chunked bodies stop at the limit too
        except BodyTooLarge:
            return _page(413, "Submission too large", "The submitted form is larger than 2 MiB.", wants_json, "too_large")
        try:
            form = await request.form(max_files=0, max_fields=10_000, max_part_size=MAX_FORM_BYTES)
        except Exception as e:  # malformed multipart, too many fields or files: the form itself is bad input
            return _page(400, "Not submitted", f"The form could not be read ({e}); nothing was recorded.", wants_json, "bad_form")
        pairs = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    assignment_id = next((v for k, v in pairs if k == "assignmentId"), "").strip()
    if not assignment_id:
        return _page(400, "Not submitted", "The form did not include an assignmentId field; nothing was recorded.", wants_json, "missing_assignment_id")
    if assignment_id == PREVIEW_ID:
        return _page(400, "Not submitted", "This HIT is being previewed: accept it before submitting. Nothing was recorded.", wants_json, "preview")

    def work(conn: Connection) -> str:
        a = get_assignment(conn, assignment_id)
        if a is None:
            raise FlowError("assignment_not_found", f"Assignment {assignment_id} does not exist; nothing was recorded.", 404)
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            if token_subject(conn, auth[7:].strip(), "worker") != a.worker_id:
                raise FlowError("not_your_assignment", "This assignment belongs to another worker.", 403)
        hit = get_hit(conn, a.hit_id)
        try:
            answer = encode_submission(hit.question, group_fields(pairs))
        except QuestionXMLError as e:
            raise FlowError("invalid_answer", e.message, 400) from None
        assignment_flow.submit(conn, a.id, None, answer, runtime.clock.now(), runtime.config.fee_schedule)
        return a.id

    try:
        done = await runtime.transaction(work)
    except FlowError as e:
        return _page(e.status, "Not submitted", e.message, wants_json, e.code)
    except DataError:  # e.g. a NUL character in the assignmentId, which PostgreSQL text cannot hold
        return _page(400, "Not submitted", "The assignmentId has characters no assignment id has; nothing was recorded.", wants_json, "bad_parameter")
    return _page(200, "Thank you", f"Your work for assignment {done} was submitted.", wants_json, "submitted", done)


routes = [Route("/mturk/externalSubmit", external_submit, methods=["GET", "POST"])]
