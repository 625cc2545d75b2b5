"""A HIT's status and counters, derived from its stored facts, its assignments and the clock; never stored.

hitkit's rules where MTurk's record is ambiguous (docs/compatibility.md):
- an accepted assignment whose deadline has passed is abandoned at that instant (its slot returns);
- after expiry, in-flight assignments still count as Pending until submitted, returned or past deadline;
- Completed counts approved and rejected assignments.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, and_, bindparam, case, func, or_, select

from hitkit.server.store.tables import assignments, hits

IN_FLIGHT = "Accepted"
VISIBLE_STATUSES = ("Submitted", "Approved", "Rejected")


@dataclass(frozen=True)
class HitCounts:
    pending: int = 0
    submitted: int = 0
    approved: int = 0
    rejected: int = 0

    @property
    def taken(self) -> int:
        """Slots that are not available: in flight or submitted (decided or not)."""
        return self.pending + self.submitted + self.approved + self.rejected


@dataclass(frozen=True)
class HitState:
    status: str
    available: int
    pending: int
    completed: int


def derive_state(
    *, max_assignments: int, expiration: float, disposed: bool, reviewing: bool, counts: HitCounts, now: float
) -> HitState:
    """The MTurk HITStatus and counters (reference §6)."""
    completed = counts.approved + counts.rejected
    if disposed:
        return HitState("Disposed", 0, 0, completed)
    available = 0 if now >= expiration else max(0, max_assignments - counts.taken)
    if available > 0:
        status = "Assignable"
    elif counts.pending > 0:
        status = "Unassignable"
    else:
        status = "Reviewing" if reviewing else "Reviewable"
    return HitState(status, available, counts.pending, completed)


def counts_for(conn: Connection, hit_ids: list[str], now: float) -> dict[str, HitCounts]:
    """Assignment counts for each HIT in `hit_ids` (missing HITs have none)."""
    if not hit_ids:
        return {}
    if len(hit_ids) == 1:  # the common case; an expanding IN costs a compile per call
        rows = conn.execute(_COUNTS_ONE, {"hit_id": hit_ids[0], "now": now})
    else:
        rows = conn.execute(_COUNTS, {"hit_ids": list(hit_ids), "now": now})
    return {row[0]: HitCounts(int(row[1]), int(row[2]), int(row[3]), int(row[4])) for row in rows}


_a = assignments.c
_COUNTS_ALL = (
    select(
        _a.hit_id,
        func.sum(case((and_(_a.status == IN_FLIGHT, _a.deadline > bindparam("now")), 1), else_=0)),
        func.sum(case((_a.status == "Submitted", 1), else_=0)),
        func.sum(case((_a.status == "Approved", 1), else_=0)),
        func.sum(case((_a.status == "Rejected", 1), else_=0)),
    )
    .where(_a.status.in_((IN_FLIGHT, *VISIBLE_STATUSES)))
    .group_by(_a.hit_id)
)
_COUNTS = _COUNTS_ALL.where(_a.hit_id.in_(bindparam("hit_ids", expanding=True)))
_COUNTS_ONE = _COUNTS_ALL.where(_a.hit_id == bindparam("hit_id"))


def state_from_row(hit_row, counts: HitCounts, now: float) -> HitState:  # type: ignore[no-untyped-def]
    """The derived state of a row with the `hits` columns, given its assignment counts."""
    return derive_state(
        max_assignments=hit_row.max_assignments,
        expiration=hit_row.expiration,
        disposed=hit_row.disposed_at is not None,
        reviewing=hit_row.reviewing,
        counts=counts,
        now=now,
    )


def state_of(conn: Connection, hit_row, now: float) -> HitState:  # type: ignore[no-untyped-def]
    """The derived state of one HIT row, counting its assignments."""
    return state_from_row(hit_row, counts_for(conn, [hit_row.id], now).get(hit_row.id, HitCounts()), now)


def _count(now: float, *statuses: str):  # type: ignore[no-untyped-def]
    a = assignments.c
    cond = []
    if IN_FLIGHT in statuses:
        cond.append(and_(a.status == IN_FLIGHT, a.deadline > now))
    rest = [s for s in statuses if s != IN_FLIGHT]
    if rest:
        cond.append(a.status.in_(rest))
    return (
        select(func.count()).select_from(assignments).where(a.hit_id == hits.c.id, or_(*cond)).scalar_subquery()
    )


def reviewable_condition(now: float, reviewing: bool):  # type: ignore[no-untyped-def]
    """SQL condition: the HIT's derived status is Reviewable (or Reviewing when `reviewing`)."""
    pending = _count(now, IN_FLIGHT)
    taken = _count(now, IN_FLIGHT, *VISIBLE_STATUSES)
    return and_(
        hits.c.disposed_at.is_(None),
        hits.c.reviewing.is_(reviewing),
        pending == 0,
        (hits.c.expiration <= now) | (taken >= hits.c.max_assignments),
    )
