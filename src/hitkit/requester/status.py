"""`status`: where a project stands, from its ledger (after a `collect`, when given a client).

- HITs: open (created, not yet expired), expired, deleted; assignments Submitted / Approved / Rejected, and
  pending: for each open HIT, MaxAssignments minus the assignments already submitted.
- Cost so far: rewards and fees of approved assignments (fees by MTurk's schedule, as `hitkit launch` estimates
  them: the MTurk API does not say what an endpoint charges), plus bonuses paid and their fees.
- ETA: pending assignments at the rate submissions have come in so far (first to last submit time).
- Median work time (submit - accept) and the effective hourly wage it gives: the median reward / median work time.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import func, select

from hitkit.mturk import qualification_ids as sq
from hitkit.mturk.fees import assignment_fee_cents, bonus_fee_cents, format_cents
from hitkit.requester.collect import CollectReport, collect
from hitkit.requester.ledger.tables import assignments, batches, bonuses, hits

FEE_SCHEDULE = "mturk"


@dataclass
class Status:
    hits_open: int = 0
    hits_expired: int = 0
    hits_deleted: int = 0
    hits_not_created: int = 0  # intended by an interrupted launch
    submitted: int = 0
    approved: int = 0
    rejected: int = 0
    pending: int = 0
    rewards_cents: int = 0
    fees_cents: int = 0
    bonuses_cents: int = 0
    bonus_fees_cents: int = 0
    bonuses_unpaid_cents: int = 0
    eta_seconds: float | None = None
    median_work_seconds: float | None = None
    hourly_wage_cents: float | None = None
    submissions_per_hour: float | None = None
    collected: CollectReport | None = field(default=None, repr=False)

    @property
    def hits(self) -> int:
        return self.hits_open + self.hits_expired + self.hits_deleted

    @property
    def done(self) -> int:
        return self.submitted + self.approved + self.rejected

    @property
    def cost_cents(self) -> int:
        return self.rewards_cents + self.fees_cents + self.bonuses_cents + self.bonus_fees_cents

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("collected", None)
        d.update(hits=self.hits, done=self.done, cost_cents=self.cost_cents, cost=format_cents(self.cost_cents))
        return d

    def lines(self) -> list[str]:
        def dur(s: float | None) -> str:
            if s is None:
                return "unknown"
            s = int(round(s))
            if s < 120:
                return f"{s}s"
            if s < 7200:
                return f"{s // 60}m {s % 60:02d}s"
            return f"{s // 3600}h {s % 3600 // 60:02d}m"

        out = [
            f"HITs: {self.hits} ({self.hits_open} open, {self.hits_expired} expired, {self.hits_deleted} deleted)"
            + (f"; {self.hits_not_created} not created yet (re-run launch)" if self.hits_not_created else ""),
            f"Assignments: {self.done} done ({self.submitted} submitted, {self.approved} approved, "
            f"{self.rejected} rejected), {self.pending} pending",
            f"Cost so far: ${format_cents(self.cost_cents)} (${format_cents(self.rewards_cents)} rewards + "
            f"${format_cents(self.fees_cents)} fees + ${format_cents(self.bonuses_cents + self.bonus_fees_cents)} bonuses"
            " with fees)",
        ]
        if self.pending:
            out.append(f"ETA: {dur(self.eta_seconds)}"
                       + (f" at {self.submissions_per_hour:.1f} submissions/hour" if self.submissions_per_hour else ""))
        if self.median_work_seconds is not None:
            wage = f", ${self.hourly_wage_cents / 100:.2f}/hour effective wage" if self.hourly_wage_cents is not None else ""
            out.append(f"Median work time: {dur(self.median_work_seconds)}{wage}")
        if self.bonuses_unpaid_cents:
            out.append(f"Bonuses recorded but not yet paid: ${format_cents(self.bonuses_unpaid_cents)} (re-run bonus)")
        return out


def _masters(properties: str | None) -> bool:
    try:
        reqs = json.loads(properties or "{}").get("QualificationRequirements", [])
    except ValueError:
        return False
    return any(r.get("QualificationTypeId") in sq.MASTERS_IDS for r in reqs if isinstance(r, dict))


def ledger_status(conn: Any, now: float | None = None) -> Status:
    now = time.time() if now is None else now
    st = Status()
    hit_rows = conn.execute(select(hits.c.hit_id, hits.c.state, hits.c.expiration, hits.c.max_assignments,
                                   batches.c.reward_cents, batches.c.properties)
                            .select_from(hits).outerjoin(batches, batches.c.id == hits.c.batch_id)).all()
    done_by_hit = dict(conn.execute(select(assignments.c.hit_id, func.count()).group_by(assignments.c.hit_id)).all())
    info: dict[str, tuple[int, int, bool]] = {}
    for h in hit_rows:
        if h.hit_id is None or h.state == "intended":
            st.hits_not_created += 1
            continue
        info[h.hit_id] = (h.reward_cents or 0, h.max_assignments, _masters(h.properties))
        if h.state == "deleted":
            st.hits_deleted += 1
        elif h.state == "expired" or (h.expiration is not None and h.expiration <= now):
            st.hits_expired += 1
        else:
            st.hits_open += 1
            st.pending += max(0, h.max_assignments - done_by_hit.get(h.hit_id, 0))
    work: list[float] = []
    rewards: list[int] = []
    submits: list[float] = []
    for a in conn.execute(select(assignments.c.hit_id, assignments.c.status, assignments.c.accept_time,
                                 assignments.c.submit_time)):
        reward, max_a, masters = info.get(a.hit_id, (0, 1, False))
        if a.status == "Submitted":
            st.submitted += 1
        elif a.status == "Approved":
            st.approved += 1
            st.rewards_cents += reward
            st.fees_cents += assignment_fee_cents(reward, max_assignments=max_a, masters=masters, schedule=FEE_SCHEDULE)
        elif a.status == "Rejected":
            st.rejected += 1
        if a.submit_time is not None:
            submits.append(a.submit_time)
            if a.accept_time is not None:
                work.append(a.submit_time - a.accept_time)
                rewards.append(reward)
    for b in conn.execute(select(bonuses.c.amount_cents, bonuses.c.paid_at)):
        if b.paid_at is not None:
            st.bonuses_cents += b.amount_cents
            st.bonus_fees_cents += bonus_fee_cents(b.amount_cents, schedule=FEE_SCHEDULE)
        else:
            st.bonuses_unpaid_cents += b.amount_cents
    if work:
        st.median_work_seconds = statistics.median(work)
        # Times are whole seconds; under one second (a simulated crowd) a "wage" would be meaningless.
        if st.median_work_seconds >= 1:
            st.hourly_wage_cents = statistics.median(rewards) * 3600 / st.median_work_seconds
    submits.sort()
    if len(submits) >= 2 and submits[-1] > submits[0]:
        rate = (len(submits) - 1) / (submits[-1] - submits[0])
        st.submissions_per_hour = rate * 3600
        st.eta_seconds = st.pending / rate
    elif st.pending == 0:
        st.eta_seconds = 0.0
    return st


def status(project: Any, client: Any = None, *, refresh: bool = True, **collect_kw: Any) -> Status:
    """The project's status; with a client (and `refresh`), collects first so the counts are the endpoint's."""
    report = collect(project, client, **collect_kw) if client is not None and refresh else None
    with project.ledger.connect() as conn:
        st = ledger_status(conn)
    st.collected = report
    return st
