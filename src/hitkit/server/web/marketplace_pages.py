"""The worker site's marketplace: HIT groups at `/`, preview, accept, the work page, return, skip, and the page
after a submission. Study participants (participant links) see and do only their link's HIT type.

Every state change is a POST with a CSRF token; the domain rules (assignment_flow) decide, so the pages can
refuse nothing the API would allow and allow nothing it would refuse.
"""

from __future__ import annotations

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hitkit.mturk.fees import format_cents
from hitkit.mturk.xml import parse_question_cached
from hitkit.server.domain import assignment_flow, hit_groups
from hitkit.server.domain.assignment_flow import FlowError
from hitkit.server.domain.web_accounts import set_auto_accept
from hitkit.server.runtime import Runtime
from hitkit.server.store.queries import get_assignment, get_hit
from hitkit.server.web.site import PageError, Visitor, field_text, page_route, read_form, redirect, render, visitor
from hitkit.server.web.task_content import frame_src

PAGE_SIZE = 25


def _allowed_type(v: Visitor, hit_type_id: str) -> None:
    """Participants may only see their link's HIT type."""
    link = v.session.link if v.session else None
    if v.session is not None and v.session.kind == "participant" and (link is None or link.hit_type_id != hit_type_id):
        raise PageError(403, "Not part of your study", "This HIT is not part of the study you joined.")


def _hit_for(conn: Connection, v: Visitor, hit_id: str):  # type: ignore[no-untyped-def]
    """The HIT, if it exists and the visitor may see its type."""
    hit = get_hit(conn, hit_id)
    if hit is None:
        raise PageError(404, "No such HIT", f"HIT {hit_id} does not exist.")
    _allowed_type(v, hit.hit_type_id)
    return hit


def _signed_in(v: Visitor) -> None:
    if v.session is None:
        raise PageError(401, "Sign in first", "Sign in (or open your invitation or study link) to work on HITs.")


@page_route
async def hit_groups_page(runtime: Runtime, request: Request) -> Response:
    search = request.query_params.get("q", "")[:200]
    sort = request.query_params.get("sort", "newest")
    try:
        page = max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        page = 1

    def work(conn: Connection):  # type: ignore[no-untyped-def]
        v = request.state.visitor = visitor(conn, request, runtime.clock.now())
        only = v.session.link.hit_type_id if v.session and v.session.kind == "participant" and v.session.link else None
        groups = hit_groups.list_groups(conn, v.worker, runtime.clock.now(), search=search, sort=sort, only_hit_type=only)
        return v, groups

    v, groups = await runtime.transaction(work, read_only=True)
    pages = max(1, -(-len(groups) // PAGE_SIZE))
    page = min(page, pages)
    return render(
        request, v, "hit_groups.html", groups=groups[(page - 1) * PAGE_SIZE: page * PAGE_SIZE], total=len(groups),
        search=search, sort=sort if sort in hit_groups.SORTS else "newest", sorts=list(hit_groups.SORTS), page=page,
        pages=pages,
    )


@page_route
async def group_preview(runtime: Runtime, request: Request) -> Response:
    hit_type_id = request.path_params["hit_type_id"]
    after = request.query_params.get("after")

    def work(conn: Connection):  # type: ignore[no-untyped-def]
        now = runtime.clock.now()
        v = request.state.visitor = visitor(conn, request, now)
        _allowed_type(v, hit_type_id)
        hit_id = hit_groups.next_hit(conn, v.worker, hit_type_id, now, after_hit=after)
        if hit_id is None:
            return v, None, None, None
        hit = get_hit(conn, hit_id)
        return v, hit, hit_groups.hit_problem(conn, v.worker, hit, now, "Preview"), hit_groups.hit_problem(conn, v.worker, hit, now, "Accept")

    v, hit, preview_problem, accept_problem = await runtime.transaction(work, read_only=True)
    if hit is None:
        return redirect(request, v, "/", message="No HIT of that group is left for you.")
    return _render_preview(request, v, hit, preview_problem, accept_problem)


def _render_preview(request: Request, v: Visitor, hit, preview_problem, accept_problem) -> Response:  # type: ignore[no-untyped-def]
    doc = parse_question_cached(hit.question) if hit.question else None
    frame = frame_src(request, doc, hit.id, None, None) if doc is not None and preview_problem is None else None
    return render(
        request, v, "preview.html", hit=hit, reward=format_cents(hit.reward_cents), problem=preview_problem or accept_problem,
        can_accept=preview_problem is None and accept_problem is None, frame=frame,
        frame_height=(doc.frame_height or 0) if doc is not None else 0,
    )


@page_route
async def hit_preview(runtime: Runtime, request: Request) -> Response:
    hit_id = request.path_params["hit_id"]

    def work(conn: Connection):  # type: ignore[no-untyped-def]
        now = runtime.clock.now()
        v = request.state.visitor = visitor(conn, request, now)
        hit = _hit_for(conn, v, hit_id)
        return v, hit, hit_groups.hit_problem(conn, v.worker, hit, now, "Preview"), hit_groups.hit_problem(conn, v.worker, hit, now, "Accept")

    v, hit, preview_problem, accept_problem = await runtime.transaction(work, read_only=True)
    return _render_preview(request, v, hit, preview_problem, accept_problem)


async def _posted(runtime: Runtime, request: Request):  # type: ignore[no-untyped-def]
    """(visitor, form) of a signed-in worker's POST, CSRF checked."""
    v = request.state.visitor = await runtime.transaction(
        lambda conn: visitor(conn, request, runtime.clock.now()), read_only=True)
    form = await read_form(request, v)
    _signed_in(v)
    return v, form


def _accept_one(conn: Connection, v: Visitor, hit_id: str, now: float) -> str:
    hit = _hit_for(conn, v, hit_id)
    try:
        return assignment_flow.accept(conn, v.worker, hit_id, now).id
    except FlowError as e:
        # The site names qualification types where the API gives their ids.
        message = (hit_groups.hit_problem(conn, v.worker, hit, now, "Accept") if e.code == "not_qualified" else None) or e.message
        raise PageError(e.status, "Not accepted", message) from None


@page_route
async def accept_hit(runtime: Runtime, request: Request) -> Response:
    v, _ = await _posted(runtime, request)
    hit_id = request.path_params["hit_id"]
    assignment_id = await runtime.transaction(lambda conn: _accept_one(conn, v, hit_id, runtime.clock.now()))
    return redirect(request, v, f"/work/{assignment_id}")


@page_route
async def accept_next(runtime: Runtime, request: Request) -> Response:
    """Accept the next HIT of a group (the Accept button on a group, and auto-accept after a submission)."""
    v, form = await _posted(runtime, request)
    hit_type_id = request.path_params["hit_type_id"]
    _allowed_type(v, hit_type_id)

    def work(conn: Connection) -> str | None:
        now = runtime.clock.now()
        for _ in range(5):  # another worker may take the last slot between choosing and accepting
            hit_id = hit_groups.next_hit(conn, v.worker, hit_type_id, now)
            if hit_id is None:
                return None
            try:
                with conn.begin_nested():
                    return assignment_flow.accept(conn, v.worker, hit_id, now).id
            except FlowError as e:
                if e.code not in ("no_slots", "already_accepted"):
                    raise PageError(e.status, "Not accepted", e.message) from None
        return None

    assignment_id = await runtime.transaction(work)
    if assignment_id is None:
        return redirect(request, v, "/", message="No more HITs of that group are available to you.")
    return redirect(request, v, f"/work/{assignment_id}")


@page_route
async def skip_hit(runtime: Runtime, request: Request) -> Response:
    v, _ = await _posted(runtime, request)
    hit_id = request.path_params["hit_id"]

    def work(conn: Connection) -> str:
        hit = _hit_for(conn, v, hit_id)
        hit_groups.record_skip(conn, v.worker.id, hit_id, runtime.clock.now())
        return hit.hit_type_id

    hit_type_id = await runtime.transaction(work)
    return redirect(request, v, f"/groups/{hit_type_id}?after={hit_id}")


def _own(conn: Connection, v: Visitor, assignment_id: str):  # type: ignore[no-untyped-def]
    a = get_assignment(conn, assignment_id) if v.worker is not None else None
    if a is None or a.worker_id != v.worker.id:
        raise PageError(404, "No such assignment", f"You have no assignment {assignment_id}.")
    return a, get_hit(conn, a.hit_id)


@page_route
async def work_page(runtime: Runtime, request: Request) -> Response:
    assignment_id = request.path_params["assignment_id"]

    def work(conn: Connection):  # type: ignore[no-untyped-def]
        v = request.state.visitor = visitor(conn, request, runtime.clock.now())
        _signed_in(v)
        return (v, *_own(conn, v, assignment_id))

    v, a, hit = await runtime.transaction(work, read_only=True)
    now = runtime.clock.now()
    if a.status != "Accepted":
        return redirect(request, v, f"/work/{a.id}/done")
    if a.deadline <= now:
        return redirect(request, v, "/", message="The time allotted for that HIT ran out; it went back to the pool.")
    doc = parse_question_cached(hit.question) if hit.question else None
    return render(
        request, v, "work.html", hit=hit, assignment=a, reward=format_cents(hit.reward_cents),
        seconds_left=int(a.deadline - now), frame=frame_src(request, doc, hit.id, a.id, a.worker_id) if doc else None,
        frame_height=(doc.frame_height or 0) if doc is not None else 0, auto_accept=v.session.auto_accept,
    )


@page_route
async def return_page(runtime: Runtime, request: Request) -> Response:
    v, _ = await _posted(runtime, request)
    assignment_id = request.path_params["assignment_id"]

    def work(conn: Connection) -> None:
        a, _ = _own(conn, v, assignment_id)
        try:
            assignment_flow.return_assignment(conn, a.id, v.worker.id, runtime.clock.now(), runtime.config.fee_schedule)
        except FlowError as e:
            raise PageError(e.status, "Not returned", e.message) from None

    await runtime.transaction(work)
    return redirect(request, v, "/", message="HIT returned.")


@page_route
async def done_page(runtime: Runtime, request: Request) -> Response:
    assignment_id = request.path_params["assignment_id"]

    def work(conn: Connection):  # type: ignore[no-untyped-def]
        now = runtime.clock.now()
        v = request.state.visitor = visitor(conn, request, now)
        _signed_in(v)
        a, hit = _own(conn, v, assignment_id)
        more = hit_groups.next_hit(conn, v.worker, hit.hit_type_id, now) is not None
        return v, a, hit, more

    v, a, hit, more = await runtime.transaction(work, read_only=True)
    if a.status == "Accepted" and a.deadline > runtime.clock.now():
        return redirect(request, v, f"/work/{a.id}")
    link = v.session.link if v.session.kind == "participant" else None
    completion_code = link.completion_code if link is not None and a.status in ("Submitted", "Approved") else None
    return render(request, v, "done.html", hit=hit, assignment=a, more=more, completion_code=completion_code,
                  auto_accept=v.session.auto_accept)


@page_route
async def auto_accept_setting(runtime: Runtime, request: Request) -> Response:
    v, form = await _posted(runtime, request)
    on = field_text(form, "auto_accept") == "on"
    await runtime.transaction(lambda conn: set_auto_accept(conn, v.session.session_hash, on))
    back = field_text(form, "next") or "/"
    return redirect(request, v, back, message="Auto-accept is " + ("on." if on else "off."))


routes = [
    Route("/", hit_groups_page, methods=["GET"]),
    Route("/groups/{hit_type_id}", group_preview, methods=["GET"]),
    Route("/groups/{hit_type_id}/accept", accept_next, methods=["POST"]),
    Route("/hits/{hit_id}", hit_preview, methods=["GET"]),
    Route("/hits/{hit_id}/accept", accept_hit, methods=["POST"]),
    Route("/hits/{hit_id}/skip", skip_hit, methods=["POST"]),
    Route("/work/{assignment_id}", work_page, methods=["GET"]),
    Route("/work/{assignment_id}/return", return_page, methods=["POST"]),
    Route("/work/{assignment_id}/done", done_page, methods=["GET"]),
    Route("/settings/auto-accept", auto_accept_setting, methods=["POST"]),
]
