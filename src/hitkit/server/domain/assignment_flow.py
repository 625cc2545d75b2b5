"""An assignment's life: accept, return, abandon, submit, approve (by hand or automatically), reject.

Each function runs inside the caller's transaction and takes the HIT's row lock first, so concurrent accepts
on the last slot are settled by the database (SQLite's writer lock, PostgreSQL's row lock), in any number of
server processes.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Row, bindparam, insert, select, update

from hitkit.mturk.ids import new_entity_id
from hitkit.server.domain import hit_state, review_policies
from hitkit.server.domain.eligibility import check_action, parse_requirements
from hitkit.server.domain.events import emit
from hitkit.server.domain.ledger import pay_assignment, reconcile_hit
from hitkit.server.domain.qualification_values import is_blocked, values_for
from hitkit.server.store.queries import get_assignment, get_hit, requirements_of
from hitkit.server.store.tables import assignments

OVERRIDE_WINDOW = 30 * 86400


_UPDATE = update(assignments).where(assignments.c.id == bindparam("a_id"))
_INSERT = insert(assignments)
_WORKERS_ASSIGNMENTS = select(assignments.c.status, assignments.c.deadline).where(
    assignments.c.hit_id == bindparam("hit_id"), assignments.c.worker_id == bindparam("worker_id"),
    assignments.c.status.in_(("Accepted", *hit_state.VISIBLE_STATUSES)),
)


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


def accept(conn: Connection, worker: Row, hit_id: str, now: float) -> Row:
    """Give `worker` one slot of the HIT, or raise FlowError saying why not."""
    hit = get_hit(conn, hit_id, for_update=True)
    if hit is None or hit.disposed_at is not None:
        raise FlowError("hit_not_found", f"HIT {hit_id} does not exist.", 404)
    if not worker.active:
        raise FlowError("worker_inactive", "This worker account is deactivated.", 403)
    mine = conn.execute(_WORKERS_ASSIGNMENTS, {"hit_id": hit_id, "worker_id": worker.id}).all()
    for status, deadline in mine:
        if status != "Accepted" or deadline > now:
            raise FlowError("already_accepted", f"You have already accepted HIT {hit_id}; a worker may do each HIT once.")
    if is_blocked(conn, hit.requester_id, worker.id):
        raise FlowError("blocked", "The requester of this HIT has chosen to prevent you from working on their HITs.", 403)
    verdict = eligibility(conn, worker, hit, "Accept", now)
    if not verdict.allowed:
        raise FlowError("not_qualified", f"You do not meet the qualification requirements of this HIT: {verdict.reason}.", 403)
    state = hit_state.state_of(conn, hit, now)
    if state.available <= 0:
        if now >= hit.expiration:
            raise FlowError("hit_expired", f"HIT {hit_id} has expired.", 410)
        raise FlowError("no_slots", f"HIT {hit_id} has no assignments available.")
    assignment_id = new_entity_id()
    conn.execute(
        _INSERT,
        dict(id=assignment_id, hit_id=hit_id, worker_id=worker.id, status="Accepted", accept_time=now,
             deadline=now + hit.assignment_duration, submit_time=None, auto_approval_time=None, approval_time=None,
             rejection_time=None, ended_time=None, answer=None, requester_feedback=None),
    )
    emit(conn, hit, "AssignmentAccepted", now, assignment_id)
    return get_assignment(conn, assignment_id)


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
    if hit_state.state_of(conn, hit, now).status != "Reviewable":
        return False
    emit(conn, hit, "HITReviewable", now)
    if hit.hit_review_policy:
        review_policies.on_hit_complete(conn, hit, now, schedule)
    return True


def submit(conn: Connection, assignment_id: str, worker_id: str | None, answer: str, now: float, schedule: str) -> Row:
    """Store the answer; auto-approve at once when the HIT's AutoApprovalDelay is 0."""
    a, hit = _locked(conn, assignment_id)
    _check_in_flight(a, worker_id, now)
    conn.execute(
        _UPDATE,
        {"a_id": a.id, "status": "Submitted", "submit_time": now, "auto_approval_time": now + hit.auto_approval_delay,
         "answer": answer},
    )
    emit(conn, hit, "AssignmentSubmitted", now, a.id)
    if hit.assignment_review_policy:
        review_policies.on_submitted(conn, hit, a.id, now, schedule)
        hit = get_hit(conn, hit.id)  # the policy may have extended the HIT
    still_submitted = get_assignment(conn, a.id).status == "Submitted"
    if hit.auto_approval_delay == 0 and still_submitted:
        approve(conn, hit, a.id, now, schedule, feedback=None)
    check_reviewable(conn, hit, now, schedule)
    return get_assignment(conn, a.id)


def approve(conn: Connection, hit: Row, assignment_id: str, now: float, schedule: str, *,
            feedback: str | None, override_rejection: bool = False) -> None:
    """Approve a Submitted assignment (or a Rejected one with `override_rejection`, within 30 days) and pay it."""
    a = get_assignment(conn, assignment_id)
    if a.status == "Rejected" and override_rejection:
        if hit.disposed_at is not None or now > a.submit_time + OVERRIDE_WINDOW:
            raise FlowError("override_window", "A rejection can be overridden only within 30 days of submission, while the HIT exists.")
    elif a.status != "Submitted":
        raise FlowError("invalid_state", "This operation can be called with a status of: Submitted")
    values: dict = {"status": "Approved", "approval_time": now, "rejection_time": None}
    if feedback is not None:
        values["requester_feedback"] = feedback
    conn.execute(_UPDATE, {"a_id": a.id, **values})
    pay_assignment(conn, hit, a, now, schedule)
    emit(conn, hit, "AssignmentApproved", now, a.id)


def reject(conn: Connection, hit: Row, assignment_id: str, now: float, schedule: str, *, feedback: str) -> None:
    a = get_assignment(conn, assignment_id)
    if a.status != "Submitted":
        raise FlowError("invalid_state", "This operation can be called with a status of: Submitted")
    conn.execute(_UPDATE, {"a_id": a.id, "status": "Rejected", "rejection_time": now, "requester_feedback": feedback})
    reconcile_hit(conn, hit.id, now, schedule)
    emit(conn, hit, "AssignmentRejected", now, a.id)
