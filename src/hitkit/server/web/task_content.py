"""Task content: the HIT's own page, framed by the preview and work pages.

`/task/a/{assignment_id}` (accepted work) and `/task/p/{hit_id}` (preview) answer the HTMLQuestion's HTML or the
rendered QuestionForm, with MTurk's query parameters in the URL as MTurk gave them. Every response carries a CSP
`sandbox` (no allow-same-origin): even opened directly, the page runs in an opaque origin, so it cannot read
hitkit's cookies or pages. The unguessable assignment or HIT id in the path is the capability, as for MTurk's
externalSubmit. Old templates' MTurk URLs are sent to hitkit: the externalSubmit form action, and the
externalHIT_v1.js and Crowd HTML Elements scripts (served offline from /static/).
"""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import Connection
from sqlalchemy.exc import DataError
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from hitkit.mturk.xml import QuestionDoc, parse_question_cached
from hitkit.server.runtime import Runtime
from hitkit.server.store.queries import get_assignment, get_hit
from hitkit.server.web.question_form import render_question_form

PREVIEW_ID = "ASSIGNMENT_ID_NOT_AVAILABLE"
SANDBOX = "allow-scripts allow-forms allow-popups allow-modals allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation"
TASK_HEADERS = {
    "Content-Security-Policy": f"sandbox {SANDBOX}; frame-ancestors 'self'; base-uri 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

_SUBMIT_URL = re.compile(r"https?://(?:www\.|workersandbox\.)?mturk\.com/mturk/externalSubmit", re.IGNORECASE)
_SCRIPTS = [
    (re.compile(r"https?://s3\.amazonaws\.com/mturk-public/externalHIT_v1\.js", re.IGNORECASE), "/static/externalHIT_v1.js"),
    (re.compile(r"https?://assets\.crowd\.aws/crowd-html-elements\.js", re.IGNORECASE), "/static/crowd-html-elements.js"),
]


def submit_base(request: Request) -> str:
    """`turkSubmitTo`: this server's own base URL, as the browser reached it."""
    return str(request.base_url).rstrip("/")


def rewrite_mturk_urls(content: str, base: str) -> str:
    """Point MTurk's externalSubmit URLs at `base` and MTurk's helper scripts at hitkit's offline copies."""
    content = _SUBMIT_URL.sub(base + "/mturk/externalSubmit", content)
    for pattern, local in _SCRIPTS:
        content = pattern.sub(local, content)
    return content


def with_params(url: str, params: dict[str, str]) -> str:
    """`url` with MTurk's parameters merged into its query string (one `?`, then `&`), replacing same-named ones."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    return urlunsplit(parts._replace(query=urlencode(query + list(params.items()))))


def mturk_params(request: Request, hit_id: str, assignment_id: str | None, worker_id: str | None) -> dict[str, str]:
    """The four query parameters MTurk gave task pages (no workerId in preview)."""
    params = {"assignmentId": assignment_id or PREVIEW_ID, "hitId": hit_id}
    if assignment_id and worker_id:
        params["workerId"] = worker_id
    params["turkSubmitTo"] = submit_base(request)
    return params


def frame_src(request: Request, doc: QuestionDoc, hit_id: str, assignment_id: str | None, worker_id: str | None) -> str:
    """The iframe URL for a HIT's question: the requester's page for ExternalQuestion, else hitkit's task route."""
    params = mturk_params(request, hit_id, assignment_id, worker_id)
    if doc.kind == "ExternalQuestion":
        return with_params(doc.external_url or "", params)
    path = f"/task/a/{assignment_id}" if assignment_id else f"/task/p/{hit_id}"
    return with_params(path, params)


def message_page(status: int, text: str) -> Response:
    body = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>HIT</title></head>"
            f"<body style='font-family:sans-serif;padding:1em'><p>{html.escape(text)}</p></body></html>")
    return HTMLResponse(body, status_code=status, headers=TASK_HEADERS)


def question_page(request: Request, question: str | None, *, hit_id: str, title: str, assignment_id: str) -> Response:
    """A Question as the page a worker sees (HTMLQuestion's HTML, a rendered QuestionForm, or a redirect to an
    ExternalQuestion's site), sandboxed. The console's previews use it too."""
    doc = parse_question_cached(question) if question else None
    base = submit_base(request)
    if doc is None:
        return message_page(404, "This HIT has no question to show.")
    if doc.kind == "HTMLQuestion":
        return HTMLResponse(rewrite_mturk_urls(doc.html_content or "", base), headers=TASK_HEADERS)
    if doc.kind == "QuestionForm":
        page = render_question_form(doc, assignment_id=assignment_id, submit_to=base, title=title)
        return HTMLResponse(page, headers=TASK_HEADERS)
    return RedirectResponse(frame_src(request, doc, hit_id, None if assignment_id == PREVIEW_ID else assignment_id, None), 303)


def _content(request: Request, hit, assignment_id: str) -> Response:  # type: ignore[no-untyped-def]
    return question_page(request, hit.question, hit_id=hit.id, title=hit.title, assignment_id=assignment_id)


async def assignment_content(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    assignment_id = request.path_params["assignment_id"]

    def work(conn: Connection):  # type: ignore[no-untyped-def]
        a = get_assignment(conn, assignment_id)
        return a, (get_hit(conn, a.hit_id) if a is not None else None)

    try:
        a, hit = await runtime.transaction(work, read_only=True)
    except DataError:  # a NUL character in the id, which PostgreSQL text cannot hold
        a = hit = None
    if a is None or hit is None:
        return message_page(404, "This assignment does not exist.")
    if a.status != "Accepted" or a.deadline <= runtime.clock.now():
        return message_page(410, "This assignment is no longer open for work.")
    if request.query_params.get("assignmentId") != a.id:  # templates read the parameters from the URL
        return RedirectResponse(with_params(request.url.path, mturk_params(request, hit.id, a.id, a.worker_id)), 303)
    return _content(request, hit, a.id)


async def preview_content(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    try:
        hit = await runtime.transaction(lambda conn: get_hit(conn, request.path_params["hit_id"]), read_only=True)
    except DataError:
        hit = None
    if hit is None or hit.disposed_at is not None:
        return message_page(404, "This HIT does not exist.")
    if request.query_params.get("assignmentId") != PREVIEW_ID:
        return RedirectResponse(with_params(request.url.path, mturk_params(request, hit.id, None, None)), 303)
    return _content(request, hit, PREVIEW_ID)


routes = [
    Route("/task/a/{assignment_id}", assignment_content, methods=["GET"]),
    Route("/task/p/{hit_id}", preview_content, methods=["GET"]),
]
