"""Dynamic overlap: more assignments only for the items that need them.

`hitkit extend NAME --until-agreement 2 --max-assignments 7` is the SageMaker tutorial's loop ("add an assignment
until two workers agree"); `--until-confidence 0.9 --method ds` is posterior-based, like Toloka's dynamic overlap:
an item is done when the model's probability of its label reaches 0.9.

One round: collect; then for every item (an input row of a batch, across its HITs; gold rows are left alone) that
is not done, ask the endpoint (GetHIT) whether work on it can still arrive. An item with assignments available or
in progress waits. One whose HITs are finished gets more assignments on its last HIT: as many as could still make
two workers agree (`--until-agreement K`: K minus the largest group of equal answers) or one (`--until-confidence`),
never past `--max-assignments` in all. Each call carries a UniqueRequestToken made from the HIT id, its
MaxAssignments as the endpoint reports it, and the number added, and the ledger is updated after: a round that is
interrupted and run again sends nothing twice (the endpoint reports the first call's MaxAssignments, or answers
DuplicateRequest). `watch=True` repeats rounds until every item is done or capped.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select, update

from hitkit.requester.aggregate import fit_model, item_confidence, load_answers
from hitkit.requester.collect import (
    DEFAULT_CONCURRENCY,
    ResultsError,
    collect,
    describe,
    epoch,
    error_code,
    parallel,
)
from hitkit.requester.hit_admin import extend_token
from hitkit.requester.ledger.store import record_event
from hitkit.requester.ledger.tables import gold_rows, hits

OPEN_STATUSES = ("Assignable", "Unassignable")


@dataclass
class OverlapPolicy:
    """When an item is done: `agreement` equal answers, or the model's `confidence` in its label."""

    max_assignments: int
    agreement: int | None = None
    confidence: float | None = None
    method: str | None = None
    field: str | None = None

    def __post_init__(self) -> None:
        if (self.agreement is None) == (self.confidence is None):
            raise ResultsError("Say when an item is done: --until-agreement N or --until-confidence P (one of them)")
        if self.agreement is not None and not 2 <= self.agreement <= 100:
            raise ResultsError(f"--until-agreement: at least 2 workers must agree, not {self.agreement}")
        if self.confidence is not None and not 0 < self.confidence < 1:
            raise ResultsError(f"--until-confidence: a probability between 0 and 1, not {self.confidence}")
        if not 1 <= self.max_assignments <= 1000:
            raise ResultsError(f"--max-assignments: between 1 and 1000, not {self.max_assignments}")
        if self.agreement is not None and self.agreement > self.max_assignments:
            raise ResultsError(f"--max-assignments {self.max_assignments} can never give {self.agreement} agreeing "
                               "answers; raise it")
        if self.agreement is not None and self.method is not None:
            raise ResultsError("--method goes with --until-confidence (agreement counts equal answers)")


@dataclass
class OverlapReport:
    items: int = 0
    done: int = 0  # agreement or confidence reached
    waiting: int = 0  # work on the item can still arrive
    extended: int = 0  # items given more assignments this round
    added: int = 0  # assignments added this round
    capped: int = 0  # not done, but at --max-assignments
    expired: int = 0  # not done, HITs expired with slots unfilled (extend their time with --time)
    rounds: int = 0
    failed: list[str] = field(default_factory=list)
    extended_hits: list[str] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        """After one round: nothing more will happen without the requester (every item done, capped or
        expired)."""
        return self.waiting == 0 and self.extended == 0 and not self.failed

    def describe(self) -> str:
        text = (f"{self.items} items: {self.done} done, {self.waiting} waiting for work in progress, {self.extended} "
                f"given {self.added} more assignment{'s' if self.added != 1 else ''}, {self.capped} at "
                "--max-assignments without agreement")
        if self.expired:
            text += f", {self.expired} with expired HITs (add --time 1d to reopen them)"
        if self.failed:
            text += f"; {len(self.failed)} failed"
        return text + (f" ({self.rounds} rounds)." if self.rounds > 1 else ".")

    def to_json(self) -> dict:
        return {k: getattr(self, k) for k in ("items", "done", "waiting", "extended", "added", "capped", "expired",
                                              "rounds", "failed", "extended_hits")}


def _needed(policy: OverlapPolicy, labels: list[str], confidence: float | None) -> int:
    """Assignments an item still needs (0 when done)."""
    if policy.agreement is not None:
        top = max(Counter(labels).values()) if labels else 0
        return max(0, policy.agreement - top)
    return 0 if confidence is not None and confidence >= policy.confidence else 1  # type: ignore[operator]


def plan_needs(project: Any, policy: OverlapPolicy) -> tuple[dict[tuple[str, int], int], int]:
    """Per item that is not done, the assignments it still needs; and the number of items considered."""
    with project.ledger.connect() as conn:
        known = conn.execute(select(hits.c.batch_id, hits.c.row_index).where(
            hits.c.hit_id.is_not(None), hits.c.state.in_(("created", "expired")))).all()
        gold = {(g.batch_id, g.row_index) for g in conn.execute(select(gold_rows.c.batch_id, gold_rows.c.row_index))}
        try:
            answers = load_answers(conn, policy.field)
        except ResultsError as e:
            if "no submitted or approved answers" not in str(e):
                raise
            answers = None
    items = sorted({(b, r) for b, r in known} - gold)
    by_item: dict[tuple[str, int], list[str]] = {it: [] for it in items}
    confidence: dict[tuple[str, int], float] = {}
    if answers is not None:
        for task, label in zip(answers.frame["task"], answers.frame["label"]):
            item = answers.items[task]
            if item in by_item:
                by_item[item].append(label)
        if policy.confidence is not None:
            _, model = fit_model(answers, policy.method)
            conf = item_confidence(answers, model)["confidence"]
            confidence = {answers.items[t]: float(c) for t, c in conf.items()}
    needs = {it: n for it in items if (n := _needed(policy, by_item[it], confidence.get(it)))}
    return needs, len(items)


def run_round(project: Any, client: Any, policy: OverlapPolicy, *, seconds: int | None = None,
              concurrency: int = DEFAULT_CONCURRENCY, collect_first: bool = True) -> OverlapReport:
    """One round (see the module docstring); safe to interrupt and repeat."""
    if collect_first:
        collected = collect(project, client, concurrency=concurrency)
        if collected.errors:
            raise ResultsError(f"collect failed for {len(collected.errors)} HITs ({collected.errors[0]}); nothing "
                               "was extended")
    needs, n_items = plan_needs(project, policy)
    report = OverlapReport(items=n_items, rounds=1)
    report.done = n_items - len(needs)
    if not needs:
        return report
    with project.ledger.connect() as conn:
        rows_hits: dict[tuple[str, int], list[dict]] = {}
        for h in conn.execute(select(hits).where(hits.c.hit_id.is_not(None), hits.c.state.in_(("created", "expired")))
                              .order_by(hits.c.batch_id, hits.c.row_index, hits.c.part)):
            if (h.batch_id, h.row_index) in needs:
                rows_hits.setdefault((h.batch_id, h.row_index), []).append(dict(h._mapping))

    def look(item: tuple[str, int]) -> list[dict]:
        return [client.get_hit(HITId=h["hit_id"])["HIT"] for h in rows_hits[item]]

    to_extend: list[tuple[tuple[str, int], dict, int]] = []
    now = time.time()
    for item, states, error in parallel(look, list(rows_hits), concurrency=concurrency, client=client):
        if error is not None:
            report.failed.append(f"row {item[1]}: {describe(error)}")
            continue
        open_slots = sum(int(s.get("NumberOfAssignmentsAvailable", 0)) + int(s.get("NumberOfAssignmentsPending", 0))
                         for s in states if s.get("HITStatus") in OPEN_STATUSES
                         and (epoch(s.get("Expiration")) or now + 1) > now)
        unfilled_expired = sum(int(s.get("NumberOfAssignmentsAvailable", 0)) for s in states
                               if (epoch(s.get("Expiration")) or now + 1) <= now)
        total = sum(int(s["MaxAssignments"]) for s in states)
        if open_slots:
            report.waiting += 1
        elif total >= policy.max_assignments:
            report.capped += 1
        elif unfilled_expired and not seconds:
            report.expired += 1
        else:
            last = states[-1]
            to_extend.append((item, last, min(needs[item], policy.max_assignments - total)))

    def grow(job: tuple[tuple[str, int], dict, int]) -> tuple[int, float | None]:
        _, hit, extra = job
        expiration = None
        if seconds:
            expiration = max(epoch(hit.get("Expiration")) or 0.0, time.time()) + seconds
            client.update_expiration_for_hit(HITId=hit["HITId"],
                                             ExpireAt=datetime.fromtimestamp(expiration, timezone.utc))
        try:
            client.create_additional_assignments_for_hit(
                HITId=hit["HITId"], NumberOfAdditionalAssignments=extra,
                UniqueRequestToken=extend_token(hit["HITId"], int(hit["MaxAssignments"]), extra))
        except Exception as e:
            if not error_code(e).endswith("DuplicateRequest"):
                raise
        return int(hit["MaxAssignments"]) + extra, expiration

    for job, result, error in parallel(grow, to_extend, concurrency=concurrency, client=client):
        item, hit, extra = job
        if error is not None:
            report.failed.append(f"{hit['HITId']} (row {item[1]}): {describe(error)}")
            continue
        new_max, expiration = result  # type: ignore[misc]
        values: dict[str, Any] = {"max_assignments": new_max}
        if expiration is not None:
            values.update(expiration=expiration, state="created")
        with project.ledger.begin() as conn:
            conn.execute(update(hits).where(hits.c.hit_id == hit["HITId"]).values(**values))
        report.extended += 1
        report.added += extra
        report.extended_hits.append(hit["HITId"])
    with project.ledger.begin() as conn:
        record_event(conn, "dynamic_overlap", agreement=policy.agreement, confidence=policy.confidence,
                     method=policy.method, max_assignments=policy.max_assignments, done=report.done,
                     waiting=report.waiting, extended=report.extended, added=report.added, capped=report.capped,
                     failed=report.failed[:20])
    return report


def extend_until(project: Any, client: Any, policy: OverlapPolicy, *, seconds: int | None = None,
                 concurrency: int = DEFAULT_CONCURRENCY, watch: bool = False, poll: float = 10.0,
                 timeout: float | None = None, on_round: Callable[[OverlapReport], None] | None = None,
                 ) -> OverlapReport:
    """Run rounds: one, or with `watch` until nothing more can happen (or `timeout` seconds pass). Returns the last
    round's report with `rounds`, `added` and `extended` summed over all rounds."""
    start = time.monotonic()
    total_added = total_extended = rounds = 0
    hits_extended: list[str] = []
    while True:
        report = run_round(project, client, policy, seconds=seconds if rounds == 0 else None,
                           concurrency=concurrency)
        rounds += 1
        total_added += report.added
        total_extended += report.extended
        hits_extended += report.extended_hits
        if on_round is not None:
            on_round(report)
        if not watch or report.finished or (timeout is not None and time.monotonic() - start + poll > timeout):
            break
        time.sleep(poll)
    return replace(report, rounds=rounds, added=total_added, extended=total_extended, extended_hits=hits_extended,
                   failed=list(report.failed))
