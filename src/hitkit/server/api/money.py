"""Money: GetAccountBalance, SendBonus, ListBonusPayments."""

from __future__ import annotations

from sqlalchemy import insert, select

from hitkit.mturk.fees import format_cents
from hitkit.mturk.ids import new_entity_id
from hitkit.server.api.errors import ParameterValidationError, RequestError, assignment_not_found
from hitkit.server.api.hits import load_hit, parse_amount
from hitkit.server.domain.idempotency import claim_token
from hitkit.server.api.operations import Ctx, operation, paginate
from hitkit.server.domain.hit_state import VISIBLE_STATUSES
from hitkit.server.domain.ledger import balances, pay_bonus
from hitkit.server.store.queries import get_hit
from hitkit.server.store.tables import assignments, bonuses


@operation("GetAccountBalance", read_only=True)
def get_account_balance(ctx: Ctx, params: dict) -> dict:
    available, held = balances(ctx.conn, ctx.requester_id)
    return {"AvailableBalance": format_cents(available), "OnHoldBalance": format_cents(held)}


@operation("SendBonus")
def send_bonus(ctx: Ctx, params: dict) -> dict:
    cents = parse_amount(params["BonusAmount"], "BonusAmount")
    if cents <= 0:
        raise ParameterValidationError(
            f'The value "{params["BonusAmount"]}" is not valid for the parameter BonusAmount. A bonus must be more than 0.00.',
            "BonusAmount",
        )
    a = ctx.conn.execute(select(assignments).where(assignments.c.id == params["AssignmentId"])).first()
    hit = get_hit(ctx.conn, a.hit_id, requester_id=ctx.requester_id) if a is not None else None
    if a is None or hit is None or a.status not in VISIBLE_STATUSES:
        raise assignment_not_found(params["AssignmentId"])
    if a.worker_id != params["WorkerId"]:
        raise RequestError(
            f"Assignment {a.id} was not done by worker {params['WorkerId']}; a bonus goes to the worker who did it.",
            "AWS.MechanicalTurk.InvalidAssignmentState",
        )
    bonus_id = new_entity_id()
    claim_token(ctx.conn, ctx.requester_id, "bonus", params.get("UniqueRequestToken"), bonus_id, ctx.now)
    fee = pay_bonus(
        ctx.conn, ctx.requester_id, bonus_id=bonus_id, worker_id=a.worker_id, assignment_id=a.id, hit_id=a.hit_id,
        cents=cents, now=ctx.now, schedule=ctx.config.fee_schedule,
    )
    ctx.conn.execute(
        insert(bonuses).values(
            id=bonus_id, requester_id=ctx.requester_id, worker_id=a.worker_id, assignment_id=a.id, hit_id=a.hit_id,
            amount_cents=cents, fee_cents=fee, reason=params["Reason"], grant_time=ctx.now,
        )
    )
    return {}


@operation("ListBonusPayments", read_only=True)
def list_bonus_payments(ctx: Ctx, params: dict) -> dict:
    hit_id, assignment_id = params.get("HITId"), params.get("AssignmentId")
    if bool(hit_id) == bool(assignment_id):
        raise ParameterValidationError("Either HITId or AssignmentId must be provided, but not both.", "HITId")
    q = select(bonuses).where(bonuses.c.requester_id == ctx.requester_id)
    if hit_id:
        load_hit(ctx, hit_id)
        q = q.where(bonuses.c.hit_id == hit_id)
    else:
        q = q.where(bonuses.c.assignment_id == assignment_id)
    rows, extra = paginate(ctx, q, bonuses.c.seq, params)
    return {
        **extra,
        "BonusPayments": [
            {
                "WorkerId": b.worker_id,
                "BonusAmount": format_cents(b.amount_cents),
                "AssignmentId": b.assignment_id,
                "Reason": b.reason,
                "GrantTime": b.grant_time,
            }
            for b in rows
        ],
    }
