"""A live run's stored events grouped into conversations for reading (the console's live pages): per world, its
workers and bots, the dialog (workers' messages, bots' messages the world recorded, and what the world said itself;
relays of an agent's words to the others are not repeated), events, the world's result and each worker's outcome.
hitkit.requester.live.export builds the same shape on the requester's side, from the same events over HTTP."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RELAY_EVENTS = ("worker_disconnected", "worker_reconnected", "worker_left")


@dataclass
class Conversation:
    world_id: str
    number: int | None = None
    onboarding: bool = False
    data: Any = None
    workers: list[str] = field(default_factory=list)
    assignment_ids: list[str] = field(default_factory=list)
    bots: list[str] = field(default_factory=list)
    dialog: list[dict] = field(default_factory=list)  # {"id", "text", "kind": worker|bot|system, "at"}
    events: list[dict] = field(default_factory=list)
    result: Any = None
    end_reason: str | None = None
    started_at: float | None = None
    outcomes: dict[str, str | None] = field(default_factory=dict)


def conversations(events: list[dict], agents: list[Any]) -> list[Conversation]:
    """Conversations of a run from `store.run_events` and `store.agents_of_run`, in the order they started."""
    by_assignment = {a.assignment_id: a for a in agents}
    worlds: dict[str, Conversation] = {}
    for e in events:
        world_id = e.get("world_id")
        if not world_id:
            continue
        c = worlds.get(world_id)
        if c is None:
            c = worlds[world_id] = Conversation(world_id, onboarding=world_id.startswith("onb-"), started_at=e["created_at"])
        body, kind, aid = e["body"], e["kind"], e.get("assignment_id")
        if kind == "message":
            worker = by_assignment[aid].worker_id if aid in by_assignment else (aid or "?")
            c.dialog.append({"id": worker, "text": body.get("text", ""), "kind": "worker", "at": e["created_at"]})
            if aid and aid not in c.assignment_ids:
                c.assignment_ids.append(aid)
                c.workers.append(worker)
        elif kind == "world":
            k = body.get("kind")
            if k == "world_start":
                c.number, c.data = body.get("number"), body.get("data")
                c.assignment_ids = [h.get("assignment_id") for h in body.get("humans", [])]
                c.workers = [h.get("worker_id") for h in body.get("humans", [])]
                c.bots = [str(b) for b in body.get("bots", [])]
            elif k == "world_end":
                c.result, c.end_reason = body.get("result"), body.get("reason")
            elif k == "bot_message":
                m = body.get("message") or {}
                c.dialog.append({"id": m.get("id") or body.get("agent"), "text": m.get("text", ""), "kind": "bot",
                                 "at": e["created_at"]})
            else:
                c.events.append({"at": e["created_at"], **body})
        elif kind == "delivery":
            speaker = body.get("id")
            if speaker in c.workers or speaker in c.bots:
                continue
            last = c.dialog[-1] if c.dialog else None
            if last is not None and last["id"] == speaker and last["text"] == body.get("text", ""):
                continue
            c.dialog.append({"id": speaker or "System", "text": body.get("text", ""), "kind": "system", "at": e["created_at"]})
        elif kind == "event" and body.get("event") in RELAY_EVENTS:
            worker = by_assignment[aid].worker_id if aid in by_assignment else aid
            c.events.append({"at": e["created_at"], "kind": body["event"], "worker": worker})
    for c in worlds.values():
        c.outcomes = {aid: (by_assignment[aid].outcome if aid in by_assignment else None) for aid in c.assignment_ids}
    return list(worlds.values())
