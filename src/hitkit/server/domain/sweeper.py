"""The sweeper: what happens because time passed. Abandons assignments past their deadline, auto-approves
at AutoApprovalTime, records HIT expiry, forgets UniqueRequestTokens after 24 h, and disposes of HITs 120 days
after they expired. Every step is idempotent and row-locked, so several server processes may sweep at once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import Connection, delete, insert, select, update

from hitkit.server.domain import assignment_flow, hit_state
from hitkit.server.domain.assignment_flow import FlowError
from hitkit.server.domain.events import emit
from hitkit.server.domain.hit_lifecycle import dispose
from hitkit.server.domain.idempotency import TOKEN_WINDOW
from hitkit.server.domain.ledger import reconcile_hit
from hitkit.server.store.queries import get_hit
from hitkit.server.store.tables import assignments, hits, request_tokens, settings

DISPOSAL_AGE = 120 * 86400
BATCH = 500
WATERMARK_KEY = "sweeper.expiry_watermark"

Transaction = Callable[[Callable[[Connection], object]], object]


@dataclass
class SweepReport:
    abandoned: int = 0
    auto_approved: int = 0
    expired: int = 0
    disposed: int = 0
    tokens_forgotten: int = 0
    errors: list[str] = field(default_factory=list)


def sweep(transaction: Transaction, now: float, schedule: str) -> SweepReport:
    """Apply every clock-driven rule up to `now`. `transaction(fn)` runs fn(conn) in one transaction."""
    report = SweepReport()
    _abandon(transaction, now, schedule, report)
    _auto_approve(transaction, now, schedule, report)
    _expire(transaction, now, schedule, report)
    _dispose_old(transaction, now, schedule, report)
    report.tokens_forgotten = transaction(  # type: ignore[assignment]
        lambda conn: conn.execute(delete(request_tokens).where(request_tokens.c.created_at <= now - TOKEN_WINDOW)).rowcount
    )
    return report


def _due(transaction: Transaction, query) -> list:  # type: ignore[no-untyped-def]
    return transaction(lambda conn: conn.execute(query.limit(BATCH)).all())  # type: ignore[return-value]


def _abandon(transaction: Transaction, now: float, schedule: str, report: SweepReport) -> None:
    while True:
        rows = _due(transaction, select(assignments).where(assignments.c.status == "Accepted", assignments.c.deadline <= now).order_by(assignments.c.seq))
        for a in rows:
            transaction(lambda conn, a=a: assignment_flow.abandon(conn, a, now, schedule))
        report.abandoned += len(rows)
        if len(rows) < BATCH:
            return


def _auto_approve(transaction: Transaction, now: float, schedule: str, report: SweepReport) -> None:
    def approve_one(conn: Connection, assignment_id: str, hit_id: str) -> bool:
        hit = get_hit(conn, hit_id, for_update=True)
        try:
            assignment_flow.approve(conn, hit, assignment_id, now, schedule, feedback=None)
            return True
        except FlowError:  # decided by the requester meanwhile
            return False

    seen: set[str] = set()
    while True:
        rows = _due(transaction, select(assignments.c.id, assignments.c.hit_id).where(
            assignments.c.status == "Submitted", assignments.c.auto_approval_time <= now).order_by(assignments.c.seq))
        rows = [r for r in rows if r.id not in seen]
        for r in rows:
            seen.add(r.id)
            try:
                if transaction(lambda conn, r=r: approve_one(conn, r.id, r.hit_id)):
                    report.auto_approved += 1
            except Exception as e:  # e.g. insufficient funds on an overridden rejection: report, keep sweeping
                report.errors.append(f"auto-approval of {r.id}: {e}")
        if len(rows) < BATCH:
            return


def _expire(transaction: Transaction, now: float, schedule: str, report: SweepReport) -> None:
    def work(conn: Connection) -> int:
        q = select(settings.c.value).where(settings.c.key == WATERMARK_KEY)
        if conn.dialect.name != "sqlite":
            q = q.with_for_update()
        mark = conn.execute(q).scalar()
        if mark is None:
            conn.execute(insert(settings).values(key=WATERMARK_KEY, value=repr(now)))
            start = 0.0
        else:
            start = float(mark)
        if start >= now:
            return 0
        expired = conn.execute(
            select(hits.c.id).where(hits.c.expiration > start, hits.c.expiration <= now, hits.c.disposed_at.is_(None))
        ).scalars().all()
        for hit_id in expired:
            hit = get_hit(conn, hit_id, for_update=True)
            emit(conn, hit, "HITExpired", now)
            reconcile_hit(conn, hit.id, now, schedule)
            assignment_flow.check_reviewable(conn, hit, now, schedule)
        conn.execute(update(settings).where(settings.c.key == WATERMARK_KEY).values(value=repr(now)))
        return len(expired)

    report.expired += transaction(work)  # type: ignore[operator]


def _dispose_old(transaction: Transaction, now: float, schedule: str, report: SweepReport) -> None:
    """HITs are disposed of 120 days after they expired (hitkit's reading of MTurk's 120-day rule)."""

    def work(conn: Connection) -> int:
        old = conn.execute(
            select(hits.c.id).where(hits.c.disposed_at.is_(None), hits.c.expiration <= now - DISPOSAL_AGE).limit(BATCH)
        ).scalars().all()
        n = 0
        for hit_id in old:
            hit = get_hit(conn, hit_id, for_update=True)
            if hit_state.state_of(conn, hit, now).pending:
                continue
            dispose(conn, hit, now, schedule)
            n += 1
        return n

    report.disposed += transaction(work)  # type: ignore[operator]
