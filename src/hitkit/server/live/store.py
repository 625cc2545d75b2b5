"""Live tasks in the database: runs, agents (one per assignment taking part) and events (every message and
event, in order). Writes go through `LiveWriter`, a group commit: each write waits until the transaction that
holds it has committed, and all writes that arrive meanwhile share the next transaction, so a busy relay costs
one transaction per batch, not one per message, and nothing is forwarded before it is stored.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, insert, select, update

from hitkit.server.runtime import Runtime
from hitkit.server.store.tables import assignments, hits, live_agents, live_events, live_runs

log = logging.getLogger("hitkit.live")
MAX_BATCH = 500


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def loads(value: str | None) -> Any:
    return orjson.loads(value) if value else {}


@dataclass
class AgentRow:
    assignment_id: str
    run_id: str
    worker_id: str
    hit_id: str
    status: str
    world_id: str | None
    outcome: str | None
    state: dict
    connected: bool

    def public(self) -> dict:
        return {"assignment_id": self.assignment_id, "worker_id": self.worker_id, "hit_id": self.hit_id,
                "status": self.status, "world_id": self.world_id, "outcome": self.outcome,
                "connected": self.connected, "state": self.state}


def _agent(row: Any) -> AgentRow:
    return AgentRow(row.assignment_id, row.run_id, row.worker_id, row.hit_id, row.status, row.world_id, row.outcome,
                    loads(row.state), bool(row.connected))


# ---------------------------------------------------------------- reads and one-off writes (inside a transaction)


def get_run(conn: Connection, run_id: str) -> Any:
    return conn.execute(select(live_runs).where(live_runs.c.id == run_id)).first()


def open_run(conn: Connection, run_id: str, requester_id: str, name: str, config: dict, now: float) -> tuple[bool, str | None]:
    """Create the run, or take it up again (a restarted process). (created, refusal): a run of another requester
    is refused."""
    run = conn.execute(select(live_runs).where(live_runs.c.id == run_id).with_for_update()).first()
    if run is None:
        conn.execute(insert(live_runs).values(id=run_id, requester_id=requester_id, name=name[:128], config=dumps(config),
                                              created_at=now, requester_connected=True, requester_seen_at=now))
        return True, None
    if run.requester_id != requester_id:
        return False, "This run id belongs to another requester."
    conn.execute(update(live_runs).where(live_runs.c.id == run_id).values(
        config=dumps(config), name=name[:128], requester_connected=True, requester_seen_at=now))
    return False, None


def agents_of_run(conn: Connection, run_id: str) -> list[AgentRow]:
    rows = conn.execute(select(live_agents).where(live_agents.c.run_id == run_id).order_by(live_agents.c.joined_at))
    return [_agent(r) for r in rows]


def get_agent(conn: Connection, assignment_id: str) -> AgentRow | None:
    row = conn.execute(select(live_agents).where(live_agents.c.assignment_id == assignment_id)).first()
    return _agent(row) if row is not None else None


def worker_assignment(conn: Connection, assignment_id: str) -> Any:
    """The assignment with its HIT's requester, for checking a worker's claim to it."""
    return conn.execute(
        select(assignments.c.id, assignments.c.worker_id, assignments.c.hit_id, assignments.c.status,
               assignments.c.deadline, hits.c.requester_id, hits.c.question)
        .join(hits, hits.c.id == assignments.c.hit_id)
        .where(assignments.c.id == assignment_id)
    ).first()


def join_agent(conn: Connection, run_id: str, assignment_id: str, worker_id: str, hit_id: str, now: float) -> tuple[AgentRow, bool]:
    """The agent row for this assignment, created on its first connection. (agent, is_new)."""
    found = get_agent(conn, assignment_id)
    if found is not None:
        conn.execute(update(live_agents).where(live_agents.c.assignment_id == assignment_id).values(connected=True, updated_at=now))
        found.connected = True
        return found, False
    state = {"text": "Connecting you to the task..."}
    conn.execute(insert(live_agents).values(
        assignment_id=assignment_id, run_id=run_id, worker_id=worker_id, hit_id=hit_id, status="joined",
        state=dumps(state), connected=True, joined_at=now, updated_at=now))
    return AgentRow(assignment_id, run_id, worker_id, hit_id, "joined", None, None, state, True), True


def history(conn: Connection, assignment_id: str, limit: int = 2000) -> list[dict]:
    """What a worker has said and been sent, oldest first: the reconnect replay."""
    rows = conn.execute(
        select(live_events.c.kind, live_events.c.body)
        .where(live_events.c.assignment_id == assignment_id, live_events.c.kind.in_(("message", "delivery")))
        .order_by(live_events.c.seq.desc()).limit(limit)
    ).all()
    out = []
    for kind, body in reversed(rows):
        message = loads(body)
        out.append({**message, "own": kind == "message"})
    return out


def run_events(conn: Connection, run_id: str, *, after: int = 0, limit: int | None = None) -> list[dict]:
    """The run's events after seq `after`, in order."""
    query = select(live_events).where(live_events.c.run_id == run_id, live_events.c.seq > after).order_by(live_events.c.seq)
    rows = conn.execute(query.limit(limit) if limit else query)
    return [{"seq": r.seq, "world_id": r.world_id, "assignment_id": r.assignment_id, "kind": r.kind,
             "body": loads(r.body), "created_at": r.created_at} for r in rows]


def runs_of_requester(conn: Connection, requester_id: str) -> list[Any]:
    return list(conn.execute(select(live_runs).where(live_runs.c.requester_id == requester_id)
                             .order_by(live_runs.c.created_at.desc())))


# ---------------------------------------------------------------- the group-commit writer


class LiveWriter:
    """Appends events and agent updates in order; `await write(...)` returns once they are committed."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._pending: list[tuple[str, dict, asyncio.Future]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    def _ensure(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._loop())

    def event(self, run_id: str, kind: str, body: dict, *, world_id: str | None = None,
              assignment_id: str | None = None) -> asyncio.Future:
        """Queue an event row; the future is done once it is committed (await it, or forward after it)."""
        return self._submit("event", {"run_id": run_id, "kind": kind, "body": dumps(body), "world_id": world_id,
                                      "assignment_id": assignment_id})

    def agent(self, assignment_id: str, **values: Any) -> asyncio.Future:
        if "state" in values:
            values["state"] = dumps(values["state"])
        return self._submit("agent", {"assignment_id": assignment_id, **values})

    def run(self, run_id: str, **values: Any) -> asyncio.Future:
        return self._submit("run", {"run_id": run_id, **values})

    def _submit(self, op: str, values: dict) -> asyncio.Future:
        self._ensure()
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._pending.append((op, values, future))
        self._wake.set()
        return future

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                now = self.runtime.clock.now()
                try:
                    await self.runtime.transaction(lambda conn: _apply(conn, batch, now))
                except Exception:  # one bad row must not sink the others: each on its own
                    log.exception("live writer: batch of %d failed; writing its rows one by one", len(batch))
                    for item in batch:
                        try:
                            await self.runtime.transaction(lambda conn, item=item: _apply(conn, [item], now))
                        except Exception as e:  # the waiting write hears it; the loop goes on
                            if not item[2].done():
                                item[2].set_exception(e)
                    for _, _, f in batch:
                        if not f.done():
                            f.set_result(None)
                    continue
                for _, _, f in batch:
                    if not f.done():
                        f.set_result(None)


def _apply(conn: Connection, batch: list[tuple[str, dict, asyncio.Future]], now: float) -> None:
    events = []
    for op, values, _ in batch:
        if op == "event":
            events.append({**values, "created_at": now})
            continue
        if events:  # keep the order of events and updates
            conn.execute(insert(live_events), events)
            events = []
        if op == "agent":
            values = dict(values)
            aid = values.pop("assignment_id")
            conn.execute(update(live_agents).where(live_agents.c.assignment_id == aid).values(**values, updated_at=now))
        elif op == "run":
            values = dict(values)
            rid = values.pop("run_id")
            conn.execute(update(live_runs).where(live_runs.c.id == rid).values(**values))
    if events:
        conn.execute(insert(live_events), events)
