"""HITs and HIT types: CreateHIT, CreateHITType, CreateHITWithHITType, GetHIT, ListHITs, ListReviewableHITs,
ListHITsForQualificationType, UpdateExpirationForHIT, CreateAdditionalAssignmentsForHIT, UpdateHITReviewStatus,
UpdateHITTypeOfHIT, DeleteHIT."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import Row, bindparam, insert, select, update

from hitkit.mturk.fees import CurrencyError, format_cents, parse_currency
from hitkit.mturk.ids import new_entity_id
from hitkit.mturk.qualification_ids import SYSTEM_TYPE_IDS
from hitkit.mturk.xml import QuestionXMLError, parse_question
from hitkit.server.api.errors import (
    ParameterValidationError,
    RequestError,
    hit_not_found,
    invalid_value,
    qualification_type_not_found,
)
from hitkit.server.api.operations import Ctx, drop_none, operation, paginate
from hitkit.server.domain import hit_state, review_policies
from hitkit.server.domain.assignment_flow import check_reviewable
from hitkit.server.domain.eligibility import RequirementError, parse_requirements, requirements_to_api
from hitkit.server.domain.events import emit
from hitkit.server.domain.hit_lifecycle import dispose
from hitkit.server.domain.idempotency import claim_token
from hitkit.server.domain.ledger import reconcile_hit
from hitkit.server.store.queries import get_hit, hit_with_type, requirements_of
from hitkit.server.store.tables import hit_types, hits, qualification_types

DEFAULT_AUTO_APPROVAL_DELAY = 2_592_000  # 30 days


# ---------------------------------------------------------------- output


def hit_to_api(row: Row, state: hit_state.HitState) -> dict:
    """A HIT in the model's output shape (row: the HIT joined with its type)."""
    return drop_none(
        {
            "HITId": row.id,
            "HITTypeId": row.hit_type_id,
            "HITGroupId": row.hit_type_id,
            "HITLayoutId": row.layout_id,
            "CreationTime": row.created_at,
            "Title": row.title,
            "Description": row.description,
            "Question": row.question,
            "Keywords": row.keywords,
            "HITStatus": state.status,
            "MaxAssignments": row.max_assignments,
            "Reward": format_cents(row.reward_cents),
            "AutoApprovalDelayInSeconds": row.auto_approval_delay,
            "Expiration": row.expiration,
            "AssignmentDurationInSeconds": row.assignment_duration,
            "RequesterAnnotation": row.requester_annotation,
            "QualificationRequirements": requirements_of(row),
            "HITReviewStatus": row.hit_review_status,
            "NumberOfAssignmentsPending": state.pending,
            "NumberOfAssignmentsAvailable": state.available,
            "NumberOfAssignmentsCompleted": state.completed,
        }
    )


def hits_to_api(ctx: Ctx, rows: list[Row]) -> list[dict]:
    counts = hit_state.counts_for(ctx.conn, [r.id for r in rows], ctx.now)
    return [hit_to_api(r, hit_state.state_from_row(r, counts.get(r.id, hit_state.HitCounts()), ctx.now)) for r in rows]


def load_hit(ctx: Ctx, hit_id: str, *, for_update: bool = False) -> Row:
    """The caller's live (not disposed) HIT, or HITDoesNotExist."""
    row = get_hit(ctx.conn, hit_id, requester_id=ctx.requester_id, for_update=for_update)
    if row is None or row.disposed_at is not None:
        raise hit_not_found(hit_id)
    return row


# ---------------------------------------------------------------- validation


MAX_AMOUNT_CENTS = 100_000_000  # $1,000,000.00: hitkit's ceiling on one reward or bonus


def parse_amount(value: str, parameter: str = "Reward") -> int:
    """A CurrencyAmount in cents; beyond the model's pattern, refuses amounts over $1,000,000.00."""
    try:
        cents = parse_currency(value)
    except CurrencyError:
        raise invalid_value(value, parameter, "Use dollars with at most two decimals, e.g. 0.25.") from None
    if cents > MAX_AMOUNT_CENTS:
        raise invalid_value(value, parameter, "hitkit accepts at most 1000000.00 per reward or bonus.")
    return cents


def check_requirements(ctx: Ctx, raw: list[dict] | None) -> list[dict]:
    """Validate QualificationRequirements (MTurk's comparator rules, and that every custom type is the caller's,
    active and not deleted); returns them in the model's output shape."""
    try:
        reqs = parse_requirements(raw or [])
    except RequirementError as e:
        raise ParameterValidationError(e.message, e.parameter) from None
    custom = {r.type_id for r in reqs} - SYSTEM_TYPE_IDS
    if custom:
        found = {
            r.id: r
            for r in ctx.conn.execute(
                select(qualification_types).where(
                    qualification_types.c.id.in_(custom), qualification_types.c.deleted_at.is_(None)
                )
            )
        }
        for type_id in sorted(custom):
            qt = found.get(type_id)
            if qt is None or qt.requester_id != ctx.requester_id:
                raise qualification_type_not_found(type_id)
            if qt.status != "Active":
                raise RequestError(
                    f"QualificationType {type_id} is Inactive; HITs cannot require an Inactive QualificationType.",
                    "AWS.MechanicalTurk.QualificationTypeNotActive",
                )
    return requirements_to_api(reqs)


def _question(params: dict) -> str | None:
    question = params.get("Question")
    if params.get("HITLayoutId"):
        raise invalid_value(
            params["HITLayoutId"], "HITLayoutId", "hitkit has no HIT layouts; pass the HTML as a Question instead."
        )
    if question is None:
        raise ParameterValidationError("Either a Question or a HITLayoutId must be provided.", "Question")
    try:
        parse_question(question)
    except QuestionXMLError as e:
        raise ParameterValidationError(
            f"The value of the parameter Question is not valid: {e.message}", "Question"
        ) from None
    return question


def _review_policy(policy: dict | None, level: str) -> str | None:
    if not policy:
        return None
    try:
        review_policies.validate(policy, level)
    except review_policies.PolicyError as e:
        raise ParameterValidationError(e.message, e.parameter) from None
    return json.dumps(policy)


# ---------------------------------------------------------------- HIT types


def _or_default(value: int | None, default: int) -> int:
    """An optional member's value; an absent member and an explicit null (raw JSON clients send them) both take the
    default (a null reached the database as NULL: a 500)."""
    return default if value is None else value


def _type_values(ctx: Ctx, params: dict) -> dict:
    return {
        "title": params["Title"],
        "description": params["Description"],
        "keywords": params.get("Keywords"),
        "reward_cents": parse_amount(params["Reward"]),
        "assignment_duration": params["AssignmentDurationInSeconds"],
        "auto_approval_delay": _or_default(params.get("AutoApprovalDelayInSeconds"), DEFAULT_AUTO_APPROVAL_DELAY),
        "requirements": json.dumps(check_requirements(ctx, params.get("QualificationRequirements"))),
    }


def find_or_create_hit_type(ctx: Ctx, values: dict) -> str:
    """Identical properties give the same HITTypeId."""
    fingerprint = hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()
    existing = ctx.conn.execute(_HIT_TYPE_BY_FINGERPRINT, {"r": ctx.requester_id, "f": fingerprint}).scalar()
    if existing:
        return existing
    type_id = new_entity_id()
    ctx.conn.execute(
        _INSERT_HIT_TYPE, dict(id=type_id, requester_id=ctx.requester_id, fingerprint=fingerprint, created_at=ctx.now, **values)
    )
    return type_id


_HIT_TYPE_BY_FINGERPRINT = select(hit_types.c.id).where(
    hit_types.c.requester_id == bindparam("r"), hit_types.c.fingerprint == bindparam("f")
)
_INSERT_HIT_TYPE = insert(hit_types)
_INSERT_HIT = insert(hits)


@operation("CreateHITType")
def create_hit_type(ctx: Ctx, params: dict) -> dict:
    return {"HITTypeId": find_or_create_hit_type(ctx, _type_values(ctx, params))}


_OWN_HIT_TYPE = select(hit_types).where(hit_types.c.id == bindparam("t"), hit_types.c.requester_id == bindparam("r"))


def _own_hit_type(ctx: Ctx, type_id: str) -> Row:
    row = ctx.conn.execute(_OWN_HIT_TYPE, {"t": type_id, "r": ctx.requester_id}).first()
    if row is None:
        raise RequestError(f"HITType {type_id} does not exist.", "AWS.MechanicalTurk.HITTypeDoesNotExist")
    return row


# ---------------------------------------------------------------- HITs


def _create(ctx: Ctx, params: dict, type_id: str) -> dict:
    question = _question(params)
    hit_id = new_entity_id()
    claim_token(ctx.conn, ctx.requester_id, "hit", params.get("UniqueRequestToken"), hit_id, ctx.now)
    ctx.conn.execute(
        _INSERT_HIT,
        dict(
            id=hit_id,
            requester_id=ctx.requester_id,
            hit_type_id=type_id,
            created_at=ctx.now,
            expiration=ctx.now + params["LifetimeInSeconds"],
            max_assignments=_or_default(params.get("MaxAssignments"), 1),
            question=question,
            requester_annotation=params.get("RequesterAnnotation"),
            layout_id=None,
            layout_parameters=None,
            assignment_review_policy=_review_policy(params.get("AssignmentReviewPolicy"), "Assignment"),
            hit_review_policy=_review_policy(params.get("HITReviewPolicy"), "HIT"),
            reviewing=False,
            hit_review_status="NotReviewed",
            disposed_at=None,
        ),
    )
    row = get_hit(ctx.conn, hit_id)
    reconcile_hit(ctx.conn, hit_id, ctx.now, ctx.config.fee_schedule, hit=row, new=True)
    emit(ctx.conn, row, "HITCreated", ctx.now)
    return {"HIT": hit_to_api(row, hit_state.state_from_row(row, hit_state.HitCounts(), ctx.now))}


@operation("CreateHIT")
def create_hit(ctx: Ctx, params: dict) -> dict:
    # One transaction: a refused question or token leaves no HIT type behind either.
    return _create(ctx, params, find_or_create_hit_type(ctx, _type_values(ctx, params)))


@operation("CreateHITWithHITType")
def create_hit_with_hit_type(ctx: Ctx, params: dict) -> dict:
    _own_hit_type(ctx, params["HITTypeId"])
    return _create(ctx, params, params["HITTypeId"])


@operation("GetHIT", read_only=True)
def get_hit_op(ctx: Ctx, params: dict) -> dict:
    row = load_hit(ctx, params["HITId"])
    return {"HIT": hits_to_api(ctx, [row])[0]}


def _list(ctx: Ctx, params: dict, *conditions) -> dict:  # type: ignore[no-untyped-def]
    q = hit_with_type.where(hits.c.requester_id == ctx.requester_id, hits.c.disposed_at.is_(None), *conditions)
    rows, extra = paginate(ctx, q, hits.c.seq, params)
    return {**extra, "HITs": hits_to_api(ctx, rows)}


@operation("ListHITs", read_only=True)
def list_hits(ctx: Ctx, params: dict) -> dict:
    return _list(ctx, params)


@operation("ListReviewableHITs", read_only=True)
def list_reviewable_hits(ctx: Ctx, params: dict) -> dict:
    conditions = [hit_state.reviewable_condition(ctx.now, reviewing=params.get("Status") == "Reviewing")]
    if params.get("HITTypeId"):
        conditions.append(hits.c.hit_type_id == params["HITTypeId"])
    return _list(ctx, params, *conditions)


@operation("ListHITsForQualificationType", read_only=True)
def list_hits_for_qualification_type(ctx: Ctx, params: dict) -> dict:
    type_id = params["QualificationTypeId"]
    if type_id not in SYSTEM_TYPE_IDS:
        exists = ctx.conn.execute(
            select(qualification_types.c.id).where(
                qualification_types.c.id == type_id,
                qualification_types.c.requester_id == ctx.requester_id,
                qualification_types.c.deleted_at.is_(None),
            )
        ).first()
        if exists is None:
            raise qualification_type_not_found(type_id)
    # Requirements are stored as JSON text; the quoted id is an exact-token match.
    return _list(ctx, params, hit_types.c.requirements.contains(f'"QualificationTypeId": "{type_id}"'))


@operation("UpdateExpirationForHIT")
def update_expiration_for_hit(ctx: Ctx, params: dict) -> dict:
    row = load_hit(ctx, params["HITId"], for_update=True)
    expire_at = float(params["ExpireAt"])
    was_expired = ctx.now >= row.expiration
    # "Expire now" (any time <= now, including 0) keeps an earlier expiry rather than moving it to 1970, which
    # would also start the 120-day disposal clock decades early.
    new_expiration = expire_at if expire_at > ctx.now else (row.expiration if was_expired else ctx.now)
    values: dict = {"expiration": new_expiration}
    if new_expiration > ctx.now:
        values["reviewing"] = False
    ctx.conn.execute(update(hits).where(hits.c.id == row.id).values(**values))
    reconcile_hit(ctx.conn, row.id, ctx.now, ctx.config.fee_schedule)
    if new_expiration <= ctx.now and not was_expired:
        emit(ctx.conn, row, "HITExpired", ctx.now)
        check_reviewable(ctx.conn, get_hit(ctx.conn, row.id), ctx.now, ctx.config.fee_schedule)
    elif new_expiration > ctx.now and new_expiration > row.expiration:
        emit(ctx.conn, row, "HITExtended", ctx.now)
    return {}


@operation("CreateAdditionalAssignmentsForHIT")
def create_additional_assignments_for_hit(ctx: Ctx, params: dict) -> dict:
    row = load_hit(ctx, params["HITId"], for_update=True)
    extra = params["NumberOfAdditionalAssignments"]
    new_max = row.max_assignments + extra
    if row.max_assignments < 10 <= new_max:
        raise RequestError(
            f"HIT {row.id} was created with fewer than 10 assignments ({row.max_assignments}); it cannot be extended "
            f"to 10 or more ({new_max}). Create a new HIT instead.",
            "AWS.MechanicalTurk.InvalidMaximumAssignmentsIncrease",
        )
    claim_token(ctx.conn, ctx.requester_id, "extend", params.get("UniqueRequestToken"), row.id, ctx.now)
    ctx.conn.execute(update(hits).where(hits.c.id == row.id).values(max_assignments=new_max, reviewing=False))
    reconcile_hit(ctx.conn, row.id, ctx.now, ctx.config.fee_schedule)
    emit(ctx.conn, row, "HITExtended", ctx.now)
    return {}


@operation("UpdateHITReviewStatus")
def update_hit_review_status(ctx: Ctx, params: dict) -> dict:
    row = load_hit(ctx, params["HITId"], for_update=True)
    status = hit_state.state_of(ctx.conn, row, ctx.now).status
    revert = params.get("Revert", False)
    wanted = "Reviewing" if revert else "Reviewable"
    if status != wanted:
        raise RequestError(
            f"This HIT is currently in the state '{status}'.  This operation can be called with a status of: {wanted}",
            "AWS.MechanicalTurk.InvalidHITState",
        )
    ctx.conn.execute(update(hits).where(hits.c.id == row.id).values(reviewing=not revert))
    return {}


@operation("UpdateHITTypeOfHIT")
def update_hit_type_of_hit(ctx: Ctx, params: dict) -> dict:
    row = load_hit(ctx, params["HITId"], for_update=True)
    _own_hit_type(ctx, params["HITTypeId"])
    ctx.conn.execute(update(hits).where(hits.c.id == row.id).values(hit_type_id=params["HITTypeId"]))
    reconcile_hit(ctx.conn, row.id, ctx.now, ctx.config.fee_schedule)
    return {}


@operation("DeleteHIT")
def delete_hit(ctx: Ctx, params: dict) -> dict:
    row = load_hit(ctx, params["HITId"], for_update=True)
    counts = hit_state.counts_for(ctx.conn, [row.id], ctx.now).get(row.id, hit_state.HitCounts())
    status = hit_state.state_from_row(row, counts, ctx.now).status
    if status not in ("Reviewable", "Reviewing") or counts.submitted:
        detail = f" {counts.submitted} submitted assignment(s) must be approved or rejected first." if counts.submitted else ""
        raise RequestError(
            f"This HIT is currently in the state '{status}'.  This operation can be called with a status of: "
            f"Reviewing, Reviewable.{detail}",
            "AWS.MechanicalTurk.InvalidHITState",
        )
    dispose(ctx.conn, row, ctx.now, ctx.config.fee_schedule)
    return {}

