"""Money as an append-only ledger, written in the same transaction as the state change it pays for.

Two accounts per requester: `available` and `held`. A HIT's reservation (its liability) is the sum of its `held`
rows; `reconcile_hit` moves exactly the difference between that and what the HIT could still cost, so the
reservation always matches the derived state:
- unexpired HIT: (MaxAssignments - approved - rejected) x (reward + fee);
- expired HIT: (in flight + submitted) x (reward + fee); disposed: 0.
Payments come out of `held` (reward to the worker, fee to the marketplace); bonuses out of `available`.
"""

from __future__ import annotations

from sqlalchemy import Connection, Row, bindparam, func, insert, select

from hitkit.mturk.fees import assignment_fee_cents, bonus_fee_cents
from hitkit.server.api.errors import insufficient_funds
from hitkit.server.domain.eligibility import parse_requirements, uses_masters
from hitkit.server.domain.hit_state import HitCounts, counts_for
from hitkit.server.store.queries import get_hit, requirements_of
from hitkit.server.store.tables import ledger, requesters


_BALANCE = (
    select(ledger.c.balance_after)
    .where(ledger.c.requester_id == bindparam("requester_id"), ledger.c.account == bindparam("account"))
    .order_by(ledger.c.seq.desc())
    .limit(1)
)
# FOR NO KEY UPDATE: serialises money movements without conflicting with the KEY SHARE locks that foreign keys to
# `requesters` take (a plain FOR UPDATE after inserting a HIT deadlocks two concurrent CreateHITs).
_LOCK_REQUESTER = (
    select(requesters.c.id).where(requesters.c.id == bindparam("requester_id")).with_for_update(key_share=True)
)
_INSERT = insert(ledger)
_HELD_FOR_HIT = select(func.coalesce(func.sum(ledger.c.amount_cents), 0)).where(
    ledger.c.hit_id == bindparam("hit_id"), ledger.c.account == "held"
)
_REFS = ("hit_id", "assignment_id", "bonus_id", "worker_id", "memo")


def _balance(conn: Connection, requester_id: str, account: str) -> int:
    return int(conn.execute(_BALANCE, {"requester_id": requester_id, "account": account}).scalar() or 0)


def balances(conn: Connection, requester_id: str) -> tuple[int, int]:
    """(available, held) in cents."""
    return _balance(conn, requester_id, "available"), _balance(conn, requester_id, "held")


def lock_requester(conn: Connection, requester_id: str) -> None:
    """Serialise money movements of one requester (PostgreSQL row lock; SQLite's writer lock already does)."""
    if conn.dialect.name != "sqlite":
        conn.execute(_LOCK_REQUESTER, {"requester_id": requester_id})


def _row(conn: Connection, requester_id: str, account: str, cents: int, kind: str, now: float, **refs: str | None) -> int:
    """Append one row; returns the account's balance after it."""
    lock_requester(conn, requester_id)
    after = _balance(conn, requester_id, account) + cents
    row = {k: refs.get(k) for k in _REFS}
    row.update(requester_id=requester_id, account=account, amount_cents=cents, balance_after=after, kind=kind, created_at=now)
    conn.execute(_INSERT, row)
    return after


def deposit(conn: Connection, requester_id: str, cents: int, now: float, memo: str = "deposit") -> None:
    _row(conn, requester_id, "available", cents, "deposit", now, memo=memo)


def fee_for(hit: Row, schedule: str) -> int:
    """The fee on one assignment of `hit` (a row with the HIT's and its type's columns)."""
    masters = uses_masters(parse_requirements(requirements_of(hit)))
    return assignment_fee_cents(hit.reward_cents, max_assignments=hit.max_assignments, masters=masters, schedule=schedule)


def outstanding(hit: Row, counts: HitCounts, now: float) -> int:
    """How many more assignments of `hit` may still be paid for."""
    if hit.disposed_at is not None:
        return 0
    if now >= hit.expiration:
        return counts.pending + counts.submitted
    return max(0, hit.max_assignments - counts.approved - counts.rejected)


def reconcile_hit(
    conn: Connection, hit_id: str, now: float, schedule: str, *, hit: Row | None = None, new: bool = False
) -> int:
    """Make the HIT's reservation match what it may still cost. Raises InsufficientFunds (and the caller's
    transaction rolls back) when more must be held than is available. Returns the amount moved.
    `hit`, when given, is the HIT's current row (saves reading it again); `new` says it was created in this
    transaction, so it has no assignments and holds nothing yet."""
    hit = hit if hit is not None else get_hit(conn, hit_id)
    if hit is None:
        return 0
    counts = HitCounts() if new else counts_for(conn, [hit_id], now).get(hit_id, HitCounts())
    target = outstanding(hit, counts, now) * (hit.reward_cents + fee_for(hit, schedule))
    held = 0 if new else conn.execute(_HELD_FOR_HIT, {"hit_id": hit_id}).scalar_one()
    delta = target - int(held)
    if delta == 0:
        return 0
    kind = "reserve" if delta > 0 else "release"
    if _row(conn, hit.requester_id, "available", -delta, kind, now, hit_id=hit_id) < 0:
        raise insufficient_funds()  # the caller's transaction rolls back, this row with it
    _row(conn, hit.requester_id, "held", delta, kind, now, hit_id=hit_id)
    return delta


def pay_assignment(conn: Connection, hit: Row, assignment: Row, now: float, schedule: str) -> None:
    """Pay the reward to the worker and the fee, from the HIT's reservation."""
    fee = fee_for(hit, schedule)
    refs = dict(hit_id=hit.id, assignment_id=assignment.id, worker_id=assignment.worker_id)
    _row(conn, hit.requester_id, "held", -hit.reward_cents, "reward", now, **refs)
    if fee:
        _row(conn, hit.requester_id, "held", -fee, "fee", now, **refs)
    # Approving a Submitted assignment uses up exactly the slot it paid for (the reservation stays matched);
    # overriding a rejection pays for a slot that was already released, so the reservation must be topped up.
    if assignment.status == "Rejected":
        reconcile_hit(conn, hit.id, now, schedule)


def pay_bonus(
    conn: Connection, requester_id: str, *, bonus_id: str, worker_id: str, assignment_id: str, hit_id: str,
    cents: int, now: float, schedule: str,
) -> int:
    """Pay a bonus and its fee out of the available balance. Returns the fee. Raises InsufficientFunds."""
    fee = bonus_fee_cents(cents, schedule=schedule)
    lock_requester(conn, requester_id)
    available, _ = balances(conn, requester_id)
    if available < cents + fee:
        raise insufficient_funds()
    refs = dict(hit_id=hit_id, assignment_id=assignment_id, worker_id=worker_id, bonus_id=bonus_id)
    _row(conn, requester_id, "available", -cents, "bonus", now, **refs)
    if fee:
        _row(conn, requester_id, "available", -fee, "bonus_fee", now, **refs)
    return fee
