"""The requester console's live pages (the signed-in requester's runs only):

  /console/live                 the live runs: when, whether the requester's process is connected, workers,
                                conversations and messages
  /console/live/{run_id}        one run: its workers with status and outcome, and every conversation to read
                                (dialog, bots, task data, events, result)

Read-only views of what hitkit.server.live stored; a run of another requester is "not found".
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import Connection, func, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hitkit.server.live import store
from hitkit.server.live.conversations import conversations
from hitkit.server.runtime import Runtime
from hitkit.server.store.tables import live_agents, live_events
from hitkit.server.web.site import PageError
from hitkit.server.web.staff import StaffVisitor, staff_page, staff_render

console_page = staff_page("requester")
MAX_EVENTS = 50_000


def _rid(v: StaffVisitor) -> str:
    assert v.staff is not None
    return v.staff.subject_id


@console_page
async def runs_page(runtime: Runtime, request: Request, v: StaffVisitor) -> Response:
    rid = _rid(v)

    def read(conn: Connection) -> list[dict]:
        runs = store.runs_of_requester(conn, rid)
        ids = [r.id for r in runs]
        agents = dict(conn.execute(select(live_agents.c.run_id, func.count()).where(live_agents.c.run_id.in_(ids))
                                   .group_by(live_agents.c.run_id)).all()) if ids else {}
        messages = dict(conn.execute(select(live_events.c.run_id, func.count()).where(
            live_events.c.run_id.in_(ids), live_events.c.kind == "message").group_by(live_events.c.run_id)).all()) if ids else {}
        completed = dict(conn.execute(
            select(live_agents.c.run_id, func.count(func.distinct(live_agents.c.world_id)))
            .where(live_agents.c.run_id.in_(ids), live_agents.c.outcome == "completed")
            .group_by(live_agents.c.run_id)).all()) if ids else {}
        return [{"id": r.id, "name": r.name, "created_at": r.created_at, "connected": bool(r.requester_connected),
                 "workers": agents.get(r.id, 0), "messages": messages.get(r.id, 0),
                 "completed": completed.get(r.id, 0)} for r in runs]

    rows = await runtime.transaction(read, read_only=True)
    return staff_render(request, v, "console_live_runs.html", runs=rows)


@console_page
async def run_page(runtime: Runtime, request: Request, v: StaffVisitor) -> Response:
    rid = _rid(v)
    run_id = request.path_params["run_id"]

    def read(conn: Connection):  # type: ignore[no-untyped-def]
        run = store.get_run(conn, run_id)
        if run is None or run.requester_id != rid:
            return None
        agents = store.agents_of_run(conn, run_id)
        return run, agents, store.run_events(conn, run_id, limit=MAX_EVENTS)

    found = await runtime.transaction(read, read_only=True)
    if found is None:
        raise PageError(404, "Not found", f"You have no live run {run_id}.")
    run, agents, events = found
    talks = conversations(events, agents)
    show_onboarding = request.query_params.get("onboarding") == "1"
    shown = [c for c in talks if show_onboarding or not c.onboarding]
    outcomes = Counter(a.outcome or a.status for a in agents)
    return staff_render(request, v, "console_live_run.html", run=run, config=store.loads(run.config), agents=agents,
                        conversations=shown, outcomes=sorted(outcomes.items()), truncated=len(events) >= MAX_EVENTS,
                        onboarding_count=sum(c.onboarding for c in talks), show_onboarding=show_onboarding)


routes = [
    Route("/console/live", runs_page, methods=["GET"]),
    Route("/console/live/{run_id}", run_page, methods=["GET"]),
]
