"""Reads used across the API and domain: a HIT joined with its type, an assignment with its HIT."""

from __future__ import annotations

import json

from sqlalchemy import Connection, Row, select

from hitkit.server.store.tables import assignments, hit_types, hits

HIT_TYPE_COLUMNS = (
    hit_types.c.title,
    hit_types.c.description,
    hit_types.c.keywords,
    hit_types.c.reward_cents,
    hit_types.c.assignment_duration,
    hit_types.c.auto_approval_delay,
    hit_types.c.requirements,
)

hit_with_type = select(hits, *HIT_TYPE_COLUMNS).join(hit_types, hit_types.c.id == hits.c.hit_type_id)


def get_hit(conn: Connection, hit_id: str, *, requester_id: str | None = None, for_update: bool = False) -> Row | None:
    """The HIT with its type's properties, or None. `for_update` takes the row lock that settles races."""
    q = hit_with_type.where(hits.c.id == hit_id)
    if requester_id is not None:
        q = q.where(hits.c.requester_id == requester_id)
    if for_update:
        q = q.with_for_update(of=hits)
    return conn.execute(q).first()


def get_assignment(conn: Connection, assignment_id: str) -> Row | None:
    return conn.execute(select(assignments).where(assignments.c.id == assignment_id)).first()


def requirements_of(row: Row) -> list[dict]:
    return json.loads(row.requirements or "[]")
