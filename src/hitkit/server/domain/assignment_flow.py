"""An assignment's life: accept, return, abandon, submit, approve (by hand or automatically), reject.

Each function runs inside the caller's transaction and takes the HIT's row lock first, so concurrent accepts
on the last slot are settled by the database (SQLite's writer lock, PostgreSQL's row lock), in any number of
server processes.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Row, bindparam, update

from hitkit.mturk.ids import new_entity_id
from hitkit.server.domain import hit_state, review_policies
from hitkit.server.domain.eligibility import check_action, parse_requirements
from hitkit.server.domain.events import emit
from hitkit.server.domain.ledger import pay_assignment, reconcile_hit
from hitkit.server.domain.qualification_values import values_for
from hitkit.server.store.queries import (
    ACCEPT_CHECKS,
    ASSIGNMENT_COUNTS,
    AssignmentRow,
    get_assignment,
    get_hit,
    insert_assignment,
    mark_submitted,
    requirements_of,
    split_assignment,
)
from hitkit.server.store.tables import assignments

OVERRIDE_WINDOW = 30 * 86400


_UPDATE = update(assignments).where(assignments.c.id == bindparam("a_id"))
_ASSIGNMENT_FIELDS = AssignmentRow._fields


@dataclass
class FlowError(Exception):
    """A refused step. `code` is a stable machine name, `message` a sentence for people."""

    code: str
    message: str
    status: int = 409

    def __str__(self) -> str:
        return self.message


def eligibility(conn: Connection, worker: Row, hit: Row, action: str, now: float):  # type: ignore[no-untyped-def]
    """Verdict on whether `worker` may Discover/Preview/Accept `hit`, with the reason when not."""
    reqs = parse_requirements(requirements_of(hit))
    values = values_for(conn, worker, {r.type_id for r in reqs})
    return check_action(reqs, values, action)


@dataclass(frozen=True)
class AcceptChecks:
    """What accepting needs to know besides the HIT and the worker, read under the HIT's lock: how many live or
    visible assignments of the HIT the worker has, whether the requester blocked the worker, the HIT's counts."""

    mine: int
    blocked: bool
    counts: hit_state.HitCounts

    @classmethod
    def from_values(cls, values) -> "AcceptChecks":  # type: ignore[no-untyped-def]
        """From the columns of queries.ACCEPT_CHECKS (also the last columns of queries.TOKEN_HIT_CHECKS)."""
        mine, blocked, *counts = values
        return cls(int(mine), bool(blocked), hit_state.HitCounts(*map(int, counts)))


def accept_checks(conn: Connection, worker_id: str, hit: Row, now: float) -> AcceptChecks:
    """One statement; call it after taking the HIT's lock."""
    return AcceptChecks.from_values(
        ACCEPT_CHECKS.first(conn, {"hit_id": hit.id, "requester_id": hit.requester_id, "worker_id": worker_id, "now": now})
    )


def accept(conn: Connection, worker: Row, hit_id: str, now: float) -> Row:
    """Give `worker` one slot of the HIT, or raise FlowError saying why not."""
    hit = get_hit(conn, hit_id, for_update=True)
    if hit is None or hit.disposed_at is not None:
        raise FlowError("hit_not_found", f"HIT {hit_id} does not exist.", 404)
    if not worker.active:
        raise FlowError("worker_inactive", "This worker account is deactivated.", 403)
    return take_slot(conn, worker, hit, accept_checks(conn, worker.id, hit, now), now)


def take_slot(conn: Connection, worker: Row, hit: Row, checks: AcceptChecks, now: float) -> AssignmentRow:
    """The rules of accepting, given the worker, the HIT (locked) and the checks read after the lock; records the
    assignment and its event. Returns the new assignment."""
    if hit.disposed_at is not None:
        raise FlowError("hit_not_found", f"HIT {hit.id} does not exist.", 404)
    if not worker.active:
        raise FlowError("worker_inactive", "This worker account is deactivated.", 403)
    if checks.mine:
        raise FlowError("already_accepted", f"You have already accepted HIT {hit.id}; a worker may do each HIT once.")
    if checks.blocked:
        raise FlowError("blocked", "The requester of this HIT has chosen to prevent you from working on their HITs.", 403)
    if hit.requirements and hit.requirements != "[]":
        verdict = eligibility(conn, worker, hit, "Accept", now)
        if not verdict.allowed:
            raise FlowError("not_qualified", f"You do not meet the qualification requirements of this HIT: {verdict.reason}.", 403)
    state = hit_state.state_from_row(hit, checks.counts, now)
    if state.available <= 0:
        if now >= hit.expiration:
            raise FlowError("hit_expired", f"HIT {hit.id} has expired.", 410)
        raise FlowError("no_slots", f"HIT {hit.id} has no assignments available.")
    values = dict.fromkeys(_ASSIGNMENT_FIELDS)
    values.update(id=new_entity_id(), hit_id=hit.id, worker_id=worker.id, status="Accepted", accept_time=now,
                  deadline=now + hit.assignment_duration)
    del values["seq"]
    seq = insert_assignment(conn, values)
    emit(conn, hit, "AssignmentAccepted", now, values["id"])
    return AssignmentRow(seq=seq, **values)


def _locked(conn: Connection, assignment_id: str) -> tuple[Row, Row]:
    a = get_assignment(conn, assignment_id)
    if a is None:
        raise FlowError("assignment_not_found", f"Assignment {assignment_id} does not exist.", 404)
    hit = get_hit(conn, a.hit_id, for_update=True)
    # Re-read under the HIT lock: another transaction may have changed it since.
    a = get_assignment(conn, assignment_id)
    return a, hit


def _check_in_flight(a: Row, worker_id: str | None, now: float) -> None:
    if worker_id is not None and a.worker_id != worker_id:
        raise FlowError("not_your_assignment", f"Assignment {a.id} belongs to another worker.", 403)
    if a.status == "Submitted" or a.status in ("Approved", "Rejected"):
        raise FlowError("already_submitted", f"Assignment {a.id} has already been submitted.")
    if a.status != "Accepted":
        raise FlowError("assignment_ended", f"Assignment {a.id} was {a.status.lower()} and can no longer be submitted.", 410)
    if a.deadline <= now:
        raise FlowError("deadline_passed", f"The time allotted for assignment {a.id} ran out; it was abandoned.", 410)


def return_assignment(conn: Connection, assignment_id: str, worker_id: str | None, now: float, schedule: str) -> None:
    """The worker gives the slot back; nothing of it stays visible to the requester."""
    a, hit = _locked(conn, assignment_id)
    _check_in_flight(a, worker_id, now)
    conn.execute(_UPDATE, {"a_id": a.id, "status": "Returned", "ended_time": now})
    emit(conn, hit, "AssignmentReturned", now, a.id)
    _after_slot_freed(conn, hit, now, schedule)


def abandon(conn: Connection, a: Row, now: float, schedule: str) -> None:
    """Record that an accepted assignment ran past its deadline (the slot was already free at the deadline)."""
    hit = get_hit(conn, a.hit_id, for_update=True)
    changed = conn.execute(
        update(assignments)
        .where(assignments.c.id == a.id, assignments.c.status == "Accepted")
        .values(status="Abandoned", ended_time=a.deadline)
    ).rowcount
    if changed:
        emit(conn, hit, "AssignmentAbandoned", now, a.id)
        _after_slot_freed(conn, hit, now, schedule)


def _after_slot_freed(conn: Connection, hit: Row, now: float, schedule: str) -> None:
    reconcile_hit(conn, hit.id, now, schedule)
    if now >= hit.expiration:
        check_reviewable(conn, hit, now, schedule)


def check_reviewable(conn: Connection, hit: Row, now: float, schedule: str) -> bool:
    """If the HIT is now Reviewable: record HITReviewable and run its HIT-level review policy. Every path that
    can complete a HIT (last submit, expiry, a return or abandonment after expiry) calls this."""
    return _reviewable(conn, hit, hit_state.state_of(conn, hit, now), now, schedule)


def _reviewable(conn: Connection, hit: Row, state: hit_state.HitState, now: float, schedule: str) -> bool:
    if state.status != "Reviewable":
        return False
    emit(conn, hit, "HITReviewable", now)
    if hit.hit_review_policy:
        review_policies.on_hit_complete(conn, hit, now, schedule)
    return True


def submit(conn: Connection, assignment_id: str, worker_id: str | None, answer: str, now: float, schedule: str) -> Row:
    """Store the answer; auto-approve at once when the HIT's AutoApprovalDelay is 0."""
    a = get_assignment(conn, assignment_id)
    if a is None:
        raise FlowError("assignment_not_found", f"Assignment {assignment_id} does not exist.", 404)
    hit = get_hit(conn, a.hit_id, for_update=True)
    a, counts = read_assignment_counts(conn, assignment_id, now)  # again, under the HIT's lock
    if worker_id is not None and a.worker_id != worker_id:
        raise FlowError("not_your_assignment", f"Assignment {a.id} belongs to another worker.", 403)
    return submit_locked(conn, a, hit, counts, answer, now, schedule)


def read_assignment_counts(conn: Connection, assignment_id: str, now: float) -> tuple[AssignmentRow, hit_state.HitCounts]:
    """The assignment and its HIT's counts, in one statement; call it after taking the HIT's lock."""
    row = ASSIGNMENT_COUNTS.first(conn, {"assignment_id": assignment_id, "now": now})
    if row is None:
        raise FlowError("assignment_not_found", f"Assignment {assignment_id} does not exist.", 404)
    a, counts = split_assignment(row)
    return a, hit_state.HitCounts(*map(int, counts))


def submit_locked(
    conn: Connection, a: AssignmentRow, hit: Row, counts: hit_state.HitCounts, answer: str, now: float, schedule: str
) -> AssignmentRow:
    """Submit `a`, read under the lock of its `hit` (the transaction's writer lock on SQLite) together with the
    HIT's `counts`: the rows travel through the whole step instead of being read again. Returns the assignment
    as it is afterwards."""
    _check_in_flight(a, None, now)
    mark_submitted(conn, a.id, now, now + hit.auto_approval_delay, answer)
    emit(conn, hit, "AssignmentSubmitted", now, a.id)
    # `a` was in flight (Accepted, before its deadline): now it counts as submitted.
    done = a._replace(status="Submitted", submit_time=now, auto_approval_time=now + hit.auto_approval_delay, answer=answer)
    after: hit_state.HitCounts | None = hit_state.HitCounts(
        counts.pending - 1, counts.submitted + 1, counts.approved, counts.rejected
    )
    if hit.assignment_review_policy:
        review_policies.on_submitted(conn, hit, a.id, now, schedule)
        hit = get_hit(conn, hit.id)  # the policy may have extended the HIT and decided assignments
        done = AssignmentRow._make(get_assignment(conn, a.id))
        after = None
    if hit.auto_approval_delay == 0 and done.status == "Submitted":
        done = _approve(conn, hit, done, now, schedule, feedback=None)
        if after is not None:
            after = hit_state.HitCounts(after.pending, after.submitted - 1, after.approved + 1, after.rejected)
    if after is None:
        check_reviewable(conn, hit, now, schedule)
    else:
        _reviewable(conn, hit, hit_state.state_from_row(hit, after, now), now, schedule)
    return done


def approve(conn: Connection, hit: Row, assignment_id: str, now: float, schedule: str, *,
            feedback: str | None, override_rejection: bool = False) -> None:
    """Approve a Submitted assignment (or a Rejected one with `override_rejection`, within 30 days) and pay it."""
    a = get_assignment(conn, assignment_id)
    if a.status == "Rejected" and override_rejection:
        if hit.disposed_at is not None or now > a.submit_time + OVERRIDE_WINDOW:
            raise FlowError("override_window", "A rejection can be overridden only within 30 days of submission, while the HIT exists.")
    elif a.status != "Submitted":
        raise FlowError("invalid_state", "This operation can be called with a status of: Submitted")
    _approve(conn, hit, AssignmentRow._make(a), now, schedule, feedback=feedback)


def _approve(conn: Connection, hit: Row, a: AssignmentRow, now: float, schedule: str, *, feedback: str | None) -> AssignmentRow:
    """Approve `a` (current, checked by the caller) and pay it; returns it as approved."""
    values: dict = {"status": "Approved", "approval_time": now, "rejection_time": None}
    if feedback is not None:
        values["requester_feedback"] = feedback
    conn.execute(_UPDATE, {"a_id": a.id, **values})
    pay_assignment(conn, hit, a, now, schedule)
    emit(conn, hit, "AssignmentApproved", now, a.id)
    return a._replace(**values)


def reject(conn: Connection, hit: Row, assignment_id: str, now: float, schedule: str, *, feedback: str) -> None:
    a = get_assignment(conn, assignment_id)
    if a.status != "Submitted":
        raise FlowError("invalid_state", "This operation can be called with a status of: Submitted")
    conn.execute(_UPDATE, {"a_id": a.id, "status": "Rejected", "rejection_time": now, "requester_feedback": feedback})
    reconcile_hit(conn, hit.id, now, schedule)
    emit(conn, hit, "AssignmentRejected", now, a.id)
