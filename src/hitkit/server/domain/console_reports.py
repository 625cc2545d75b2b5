"""What the requester console reports, always for one requester and only from its own rows: per-worker
statistics, the money ledger, and what each worker earned in a date range (for paying people outside hitkit).

Definitions (docs/console.md repeats them):
- assignments: the worker's Submitted, Approved and Rejected assignments of the requester's HITs;
- approval rate: approved / (approved + rejected), None while nothing is decided;
- median work time: the median of submit time - accept time over those assignments;
- effective hourly wage: (rewards of approved assignments + bonuses) / total work time of the approved
  assignments, in cents per hour (None without approved work, or with less than a second of it);
- agreement: the share of the worker's label answers that equal the majority answer of their HIT, over HITs with
  at least two such answers among the requester's latest 20,000 submitted or approved assignments (the label field
  of each HIT type is found as `hitkit aggregate` finds it; HIT types without one are left out).
"""

from __future__ import annotations

import csv
import io
import statistics
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import Connection, Row, func, select

from hitkit.analysis.agreement import worker_agreement
from hitkit.analysis.label_fields import choose_field, label_value
from hitkit.analysis.long_format import AnalysisError
from hitkit.mturk.answers import AnswerFormatError, parse_answer_xml

from hitkit.mturk.batch_csv import spreadsheet_safe
from hitkit.mturk.fees import format_cents
from hitkit.server.store.tables import (
    assignments, bonuses, hit_types, hits, ledger, qualification_types, qualifications, worker_blocks, workers,
)

VISIBLE = ("Submitted", "Approved", "Rejected")
AGREEMENT_WINDOW = 20_000


@dataclass
class WorkerStats:
    worker_id: str
    name: str = ""
    assignments: int = 0
    approved: int = 0
    rejected: int = 0
    pending: int = 0
    rewards_cents: int = 0  # of approved assignments
    bonus_cents: int = 0
    work_times: list[float] = field(default_factory=list)
    approved_seconds: float = 0.0
    last_submit: float | None = None
    blocked: str | None = None  # the block's reason
    agreement: float | None = None  # with the majority answer of each HIT
    agreement_n: int = 0  # answers the agreement counts

    @property
    def approval_rate(self) -> float | None:
        decided = self.approved + self.rejected
        return self.approved / decided if decided else None

    @property
    def median_seconds(self) -> float | None:
        return statistics.median(self.work_times) if self.work_times else None

    @property
    def hourly_cents(self) -> int | None:
        if not self.approved or self.approved_seconds < 1:  # under a second of work says nothing about a wage
            return None
        return round((self.rewards_cents + self.bonus_cents) * 3600 / self.approved_seconds)


def worker_stats(conn: Connection, requester_id: str, worker_id: str | None = None) -> dict[str, WorkerStats]:
    """Stats of every worker who did work for the requester (or of one), keyed by WorkerId, plus the workers it
    blocked. A worker who has done nothing for the requester and is not blocked by it is absent."""
    q = (
        select(assignments.c.worker_id, assignments.c.status, assignments.c.accept_time, assignments.c.submit_time,
               hit_types.c.reward_cents, assignments.c.hit_id, hits.c.hit_type_id, assignments.c.answer)
        .select_from(assignments.join(hits, hits.c.id == assignments.c.hit_id)
                     .join(hit_types, hit_types.c.id == hits.c.hit_type_id))
        .where(hits.c.requester_id == requester_id, assignments.c.status.in_(VISIBLE))
        .order_by(assignments.c.seq)
    )
    if worker_id is not None:
        q = q.where(assignments.c.worker_id == worker_id)
    out: dict[str, WorkerStats] = {}
    voting = []
    for r in conn.execute(q):
        if r.status != "Rejected":
            voting.append(r)
        s = out.setdefault(r.worker_id, WorkerStats(r.worker_id))
        s.assignments += 1
        seconds = max(0.0, (r.submit_time or r.accept_time) - r.accept_time)
        s.work_times.append(seconds)
        if r.submit_time and (s.last_submit is None or r.submit_time > s.last_submit):
            s.last_submit = r.submit_time
        if r.status == "Approved":
            s.approved += 1
            s.rewards_cents += int(r.reward_cents)
            s.approved_seconds += seconds
        elif r.status == "Rejected":
            s.rejected += 1
        else:
            s.pending += 1
    bq = select(bonuses.c.worker_id, func.sum(bonuses.c.amount_cents)).where(
        bonuses.c.requester_id == requester_id).group_by(bonuses.c.worker_id)
    if worker_id is not None:
        bq = bq.where(bonuses.c.worker_id == worker_id)
    for wid, (share, n) in majority_agreement(voting[-AGREEMENT_WINDOW:]).items():
        if wid in out:
            out[wid].agreement, out[wid].agreement_n = share, n
    for wid, cents in conn.execute(bq):
        if wid in out:
            out[wid].bonus_cents = int(cents or 0)
    blq = select(worker_blocks.c.worker_id, worker_blocks.c.reason).where(worker_blocks.c.requester_id == requester_id)
    if worker_id is not None:
        blq = blq.where(worker_blocks.c.worker_id == worker_id)
    for wid, reason in conn.execute(blq):
        out.setdefault(wid, WorkerStats(wid)).blocked = reason
    if out:
        names = dict(conn.execute(select(workers.c.id, workers.c.name).where(workers.c.id.in_(list(out)))).all())
        for wid, s in out.items():
            s.name = names.get(wid, "")
    return out


def majority_agreement(rows: list[Row]) -> dict[str, tuple[float, int]]:
    """WorkerId -> (share of answers equal to their HIT's majority answer, answers counted), from rows with
    worker_id, hit_id, hit_type_id and answer."""
    by_type: dict[str, list[tuple[str, str, dict]]] = {}
    for r in rows:
        try:
            answers = parse_answer_xml(r.answer) if r.answer else {}
        except AnswerFormatError:
            continue
        by_type.setdefault(r.hit_type_id, []).append((r.hit_id, r.worker_id, answers))
    hits_n: dict[str, float] = {}
    counted: dict[str, int] = {}
    for found in by_type.values():
        try:
            fld = choose_field([a for _, _, a in found], None)
            labelled = [(h, w, label_value(a.get(fld), fld, h)) for h, w, a in found]
        except AnalysisError:
            continue  # no label field (free text, boxes): agreement means nothing here
        frame = pd.DataFrame([x for x in labelled if x[2] is not None], columns=["task", "worker", "label"])
        frame = frame[frame.groupby("task")["task"].transform("size") >= 2]
        if frame.empty:
            continue
        for wid, r in worker_agreement(frame).iterrows():
            hits_n[wid] = hits_n.get(wid, 0.0) + float(r["agreement"]) * int(r["n"])
            counted[wid] = counted.get(wid, 0) + int(r["n"])
    return {w: (hits_n[w] / n, n) for w, n in counted.items() if n}


def knows_worker(conn: Connection, requester_id: str, worker_id: str) -> bool:
    """Whether the worker is one of the requester's: did (visible) work for it, is blocked by it, or holds one of
    its qualifications. The console shows and acts on no other worker."""
    did_work = conn.execute(
        select(assignments.c.id).join(hits, hits.c.id == assignments.c.hit_id)
        .where(hits.c.requester_id == requester_id, assignments.c.worker_id == worker_id,
               assignments.c.status.in_(VISIBLE)).limit(1)
    ).first()
    if did_work:
        return True
    blocked = conn.execute(select(worker_blocks.c.seq).where(
        worker_blocks.c.requester_id == requester_id, worker_blocks.c.worker_id == worker_id)).first()
    if blocked:
        return True
    holds = conn.execute(
        select(qualifications.c.type_id).join(qualification_types, qualification_types.c.id == qualifications.c.type_id)
        .where(qualification_types.c.requester_id == requester_id, qualifications.c.worker_id == worker_id).limit(1)
    ).first()
    return holds is not None


def worker_qualifications(conn: Connection, requester_id: str, worker_id: str) -> list[Row]:
    """The requester's (undeleted) qualification types, each with the worker's score on it (or None)."""
    return list(conn.execute(
        select(qualification_types.c.id, qualification_types.c.name, qualification_types.c.status.label("type_status"),
               qualifications.c.integer_value, qualifications.c.status, qualifications.c.grant_time)
        .select_from(qualification_types.outerjoin(
            qualifications, (qualifications.c.type_id == qualification_types.c.id) & (qualifications.c.worker_id == worker_id)))
        .where(qualification_types.c.requester_id == requester_id, qualification_types.c.deleted_at.is_(None))
        .order_by(qualification_types.c.seq)
    ))


def recent_work(conn: Connection, requester_id: str, worker_id: str, limit: int = 50) -> list[Row]:
    return list(conn.execute(
        select(assignments.c.id, assignments.c.hit_id, assignments.c.status, assignments.c.accept_time,
               assignments.c.submit_time, hit_types.c.title, hit_types.c.reward_cents)
        .select_from(assignments.join(hits, hits.c.id == assignments.c.hit_id)
                     .join(hit_types, hit_types.c.id == hits.c.hit_type_id))
        .where(hits.c.requester_id == requester_id, assignments.c.worker_id == worker_id,
               assignments.c.status.in_(VISIBLE))
        .order_by(assignments.c.submit_time.desc()).limit(limit)
    ))


# ---------------------------------------------------------------- money


def ledger_page(conn: Connection, requester_id: str, page: int, size: int, kind: str | None = None) -> tuple[int, list[Row]]:
    q = select(ledger).where(ledger.c.requester_id == requester_id)
    if kind:
        q = q.where(ledger.c.kind == kind)
    total = conn.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = conn.execute(q.order_by(ledger.c.seq.desc()).limit(size).offset((page - 1) * size)).all()
    return total, list(rows)


def ledger_kinds(conn: Connection, requester_id: str) -> list[str]:
    return sorted(k for (k,) in conn.execute(select(ledger.c.kind).where(ledger.c.requester_id == requester_id).distinct()))


@dataclass
class Earning:
    worker_id: str
    name: str
    assignments: int
    rewards_cents: int
    bonuses: int
    bonus_cents: int

    @property
    def total_cents(self) -> int:
        return self.rewards_cents + self.bonus_cents


def earnings(conn: Connection, requester_id: str, start: float, end: float) -> list[Earning]:
    """What each worker was paid by the requester (rewards and bonuses, fees excluded) with start <= time < end,
    from the ledger, largest total first."""
    rows = conn.execute(
        select(ledger.c.worker_id, ledger.c.kind, func.count(), func.sum(ledger.c.amount_cents))
        .where(ledger.c.requester_id == requester_id, ledger.c.kind.in_(("reward", "bonus")),
               ledger.c.created_at >= start, ledger.c.created_at < end, ledger.c.worker_id.is_not(None))
        .group_by(ledger.c.worker_id, ledger.c.kind)
    ).all()
    out: dict[str, Earning] = {}
    for wid, kind, n, cents in rows:
        e = out.setdefault(wid, Earning(wid, "", 0, 0, 0, 0))
        if kind == "reward":
            e.assignments, e.rewards_cents = int(n), -int(cents or 0)
        else:
            e.bonuses, e.bonus_cents = int(n), -int(cents or 0)
    if out:
        names = dict(conn.execute(select(workers.c.id, workers.c.name).where(workers.c.id.in_(list(out)))).all())
        for wid, e in out.items():
            e.name = names.get(wid, "")
    return sorted(out.values(), key=lambda e: (-e.total_cents, e.worker_id))


def _cell(value: object) -> str:
    return spreadsheet_safe(str(value))


def earnings_csv(rows: list[Earning], start_day: str, end_day: str) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["WorkerId", "WorkerName", "ApprovedAssignments", "Rewards", "Bonuses", "BonusAmount", "Total",
                "From", "To"])
    for e in rows:
        w.writerow([_cell(e.worker_id), _cell(e.name), e.assignments, format_cents(e.rewards_cents), e.bonuses,
                    format_cents(e.bonus_cents), format_cents(e.total_cents), start_day, end_day])
    return buf.getvalue()


def own_qualification_types(conn: Connection, requester_id: str) -> list[Row]:
    holders = (
        select(qualifications.c.type_id, func.count().label("holders"))
        .where(qualifications.c.status == "Granted").group_by(qualifications.c.type_id).subquery()
    )
    return list(conn.execute(
        select(qualification_types, func.coalesce(holders.c.holders, 0).label("holders"))
        .select_from(qualification_types.outerjoin(holders, holders.c.type_id == qualification_types.c.id))
        .where(qualification_types.c.requester_id == requester_id, qualification_types.c.deleted_at.is_(None))
        .order_by(qualification_types.c.seq.desc())
    ))
