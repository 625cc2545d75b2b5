"""Reads used across the API and domain: a HIT joined with its type, an assignment with its HIT."""

from __future__ import annotations

import json

from sqlalchemy import Connection, Row, bindparam, select

from hitkit.server.store.tables import assignments, hit_types, hits, notification_settings

HIT_TYPE_COLUMNS = (
    hit_types.c.title,
    hit_types.c.description,
    hit_types.c.keywords,
    hit_types.c.reward_cents,
    hit_types.c.assignment_duration,
    hit_types.c.auto_approval_delay,
    hit_types.c.requirements,
)

# The HIT type's notification settings come along (outer join), so recording an event needs no extra query.
NOTIFY_COLUMNS = (
    notification_settings.c.destination.label("notify_destination"),
    notification_settings.c.transport.label("notify_transport"),
    notification_settings.c.event_types.label("notify_event_types"),
    notification_settings.c.active.label("notify_active"),
)

hit_with_type = (
    select(hits, *HIT_TYPE_COLUMNS, *NOTIFY_COLUMNS)
    .join(hit_types, hit_types.c.id == hits.c.hit_type_id)
    .outerjoin(notification_settings, notification_settings.c.hit_type_id == hits.c.hit_type_id)
)


# Hot-path statements are built once: constructing a SQLAlchemy expression costs several times its execution.
_HIT = hit_with_type.where(hits.c.id == bindparam("hit_id"))
_HIT_OWN = _HIT.where(hits.c.requester_id == bindparam("requester_id"))
_HIT_QUERIES = {
    (False, False): _HIT,
    (False, True): _HIT.with_for_update(of=hits, key_share=True),
    (True, False): _HIT_OWN,
    (True, True): _HIT_OWN.with_for_update(of=hits, key_share=True),
}
_ASSIGNMENT = select(assignments).where(assignments.c.id == bindparam("assignment_id"))


def get_hit(conn: Connection, hit_id: str, *, requester_id: str | None = None, for_update: bool = False) -> Row | None:
    """The HIT with its type's properties, or None. `for_update` takes the row lock that settles races."""
    q = _HIT_QUERIES[(requester_id is not None, for_update)]
    return conn.execute(q, {"hit_id": hit_id, "requester_id": requester_id}).first()


def get_assignment(conn: Connection, assignment_id: str) -> Row | None:
    return conn.execute(_ASSIGNMENT, {"assignment_id": assignment_id}).first()


def requirements_of(row: Row) -> list[dict]:
    return json.loads(row.requirements or "[]")
