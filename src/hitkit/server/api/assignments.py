"""Assignments: GetAssignment, ListAssignmentsForHIT, ApproveAssignment, RejectAssignment, GetFileUploadURL.

Accepted-but-unsubmitted, returned and abandoned assignments do not exist for the requester API (reference §7)."""

from __future__ import annotations

from sqlalchemy import Row, select

from hitkit.server.api.errors import RequestError, assignment_not_found
from hitkit.server.api.hits import hits_to_api, load_hit
from hitkit.server.api.operations import Ctx, drop_none, operation, paginate
from hitkit.server.domain import assignment_flow
from hitkit.server.domain.assignment_flow import FlowError
from hitkit.server.domain.hit_state import VISIBLE_STATUSES
from hitkit.server.store.queries import get_hit
from hitkit.server.store.tables import assignments


def assignment_to_api(a: Row) -> dict:
    return drop_none(
        {
            "AssignmentId": a.id,
            "WorkerId": a.worker_id,
            "HITId": a.hit_id,
            "AssignmentStatus": a.status,
            "AutoApprovalTime": a.auto_approval_time,
            "AcceptTime": a.accept_time,
            "SubmitTime": a.submit_time,
            "ApprovalTime": a.approval_time,
            "RejectionTime": a.rejection_time,
            "Deadline": a.deadline,
            "Answer": a.answer if a.answer is not None else "",
            "RequesterFeedback": a.requester_feedback,
        }
    )


def load_assignment(ctx: Ctx, assignment_id: str, *, for_update: bool = False) -> tuple[Row, Row]:
    """The caller's submitted assignment and its HIT, or AssignmentDoesNotExist."""
    a = ctx.conn.execute(select(assignments).where(assignments.c.id == assignment_id)).first()
    if a is None or a.status not in VISIBLE_STATUSES:
        raise assignment_not_found(assignment_id)
    hit = get_hit(ctx.conn, a.hit_id, requester_id=ctx.requester_id, for_update=for_update)
    if hit is None:
        raise assignment_not_found(assignment_id)
    if for_update:
        a = ctx.conn.execute(select(assignments).where(assignments.c.id == assignment_id)).one()
    return a, hit


@operation("GetAssignment", read_only=True)
def get_assignment(ctx: Ctx, params: dict) -> dict:
    a, hit = load_assignment(ctx, params["AssignmentId"])
    if hit.disposed_at is not None:
        raise assignment_not_found(a.id)
    return {"Assignment": assignment_to_api(a), "HIT": hits_to_api(ctx, [hit])[0]}


@operation("ListAssignmentsForHIT", read_only=True)
def list_assignments_for_hit(ctx: Ctx, params: dict) -> dict:
    load_hit(ctx, params["HITId"])
    statuses = params.get("AssignmentStatuses") or list(VISIBLE_STATUSES)
    q = select(assignments).where(assignments.c.hit_id == params["HITId"], assignments.c.status.in_(statuses))
    rows, extra = paginate(ctx, q, assignments.c.seq, params)
    return {**extra, "Assignments": [assignment_to_api(a) for a in rows]}


def _state_error(e: FlowError) -> RequestError:
    return RequestError(e.message, "AWS.MechanicalTurk.InvalidAssignmentState")


@operation("ApproveAssignment")
def approve_assignment(ctx: Ctx, params: dict) -> dict:
    a, hit = load_assignment(ctx, params["AssignmentId"], for_update=True)
    try:
        assignment_flow.approve(
            ctx.conn, hit, a.id, ctx.now, ctx.config.fee_schedule,
            feedback=params.get("RequesterFeedback"), override_rejection=params.get("OverrideRejection", False),
        )
    except FlowError as e:
        raise _state_error(e) from None
    return {}


@operation("RejectAssignment")
def reject_assignment(ctx: Ctx, params: dict) -> dict:
    a, hit = load_assignment(ctx, params["AssignmentId"], for_update=True)
    try:
        assignment_flow.reject(ctx.conn, hit, a.id, ctx.now, ctx.config.fee_schedule, feedback=params["RequesterFeedback"])
    except FlowError as e:
        raise _state_error(e) from None
    return {}


@operation("GetFileUploadURL", read_only=True)
def get_file_upload_url(ctx: Ctx, params: dict) -> dict:
    a, _ = load_assignment(ctx, params["AssignmentId"])
    raise RequestError(
        f"Assignment {a.id} has no uploaded file for question {params['QuestionIdentifier']!r}: FileUploadAnswer "
        "was removed from MTurk's QuestionForm schema in 2017 and hitkit does not accept uploads.",
        "AWS.MechanicalTurk.FileUploadAnswerNotFound",
    )
