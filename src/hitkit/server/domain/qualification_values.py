"""A worker's qualification values as requirements see them: custom grants from the table, and the system
qualifications (Locale, Adult, Masters, NumberHITsApproved, PercentAssignmentsApproved) computed from the
worker's record."""

from __future__ import annotations

from sqlalchemy import Connection, Row, bindparam, case, func, select

from hitkit.mturk import qualification_ids as sq
from hitkit.server.domain.eligibility import QualValue
from hitkit.server.store.tables import assignments, qualifications, worker_blocks

PERCENT_APPROVED_FLOOR = 100  # below this many decided assignments, PercentAssignmentsApproved reads 100


def approval_record(conn: Connection, worker_id: str) -> tuple[int, int]:
    """(approved, rejected) assignments of the worker, across all requesters."""
    a = assignments.c
    row = conn.execute(
        select(
            func.coalesce(func.sum(case((a.status == "Approved", 1), else_=0)), 0),
            func.coalesce(func.sum(case((a.status == "Rejected", 1), else_=0)), 0),
        ).where(a.worker_id == worker_id, a.status.in_(("Approved", "Rejected")))
    ).one()
    return int(row[0]), int(row[1])


def system_value(conn: Connection, worker: Row, type_id: str) -> QualValue | None:
    """The value of one system qualification for `worker`, or None when the worker lacks it."""
    if type_id == sq.LOCALE:
        return QualValue(country=worker.country, subdivision=worker.subdivision) if worker.country else None
    if type_id == sq.ADULT:
        return QualValue(integer=1 if worker.adult else 0)
    if type_id in sq.MASTERS_IDS:
        return QualValue(integer=1) if worker.masters else None
    if type_id in (sq.NUMBER_HITS_APPROVED, sq.PERCENT_ASSIGNMENTS_APPROVED):
        approved, rejected = approval_record(conn, worker.id)
        if type_id == sq.NUMBER_HITS_APPROVED:
            return QualValue(integer=approved)
        decided = approved + rejected
        percent = 100 if decided < PERCENT_APPROVED_FLOOR else (approved * 100) // decided
        return QualValue(integer=percent)
    return None


def values_for(conn: Connection, worker: Row, type_ids: set[str]) -> dict[str, QualValue]:
    """The worker's values for each of `type_ids` it holds (granted custom ones and system ones)."""
    out: dict[str, QualValue] = {}
    custom = type_ids - sq.SYSTEM_TYPE_IDS
    if custom:
        q = select(qualifications).where(
            qualifications.c.worker_id == worker.id,
            qualifications.c.type_id.in_(custom),
            qualifications.c.status == "Granted",
        )
        for row in conn.execute(q):
            out[row.type_id] = QualValue(integer=row.integer_value, country=row.country, subdivision=row.subdivision)
    for type_id in type_ids & sq.SYSTEM_TYPE_IDS:
        value = system_value(conn, worker, type_id)
        if value is not None:
            out[type_id] = value
    return out


_BLOCKED = select(worker_blocks.c.seq).where(
    worker_blocks.c.requester_id == bindparam("requester_id"), worker_blocks.c.worker_id == bindparam("worker_id")
)


def is_blocked(conn: Connection, requester_id: str, worker_id: str) -> bool:
    return conn.execute(_BLOCKED, {"requester_id": requester_id, "worker_id": worker_id}).first() is not None
