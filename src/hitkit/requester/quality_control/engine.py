"""Evaluating quality-control rules over a project's ledger, and applying what they decide.

`evaluate(project)` reads the ledger only (nothing is sent or written): for every rule and every worker with
figures for the rule's collector, the condition; for every worker it holds for, the actions not taken yet. That is
the dry run. `apply(project, client, plan)` writes each worker action (soft block, hard block, set a qualification,
add assignments) to the ledger's `qc_actions` *before* the call, and marks it applied after; an interrupted run
leaves actions pending, and the next run sends those first, and nothing twice (a block and a qualification value
are states, extra assignments carry a UniqueRequestToken derived from the worker and the HIT). Approve and reject
decisions are handed to `hitkit review`'s machinery (`decisions` table, same guarantees).
"""

from __future__ import annotations

import hashlib
import json
import statistics
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy import Connection, insert, select, update

from hitkit.requester.collect import ResultsError, describe, paginate
from hitkit.requester.ledger.store import record_event
from hitkit.requester.ledger.tables import (
    assignments,
    batches,
    bonuses,
    decisions,
    gold_rows,
    hits,
    qc_actions,
    worker_events,
)
from hitkit.requester.quality_control.gold import is_correct
from hitkit.requester.quality_control.rules import Rule
from hitkit.requester.review import RuleError

DAY = 86400.0
WORKER_ACTIONS = ("soft_block", "hard_block", "set_qualification", "add_assignments")


# ----------------------------------------------------------------------------------------------------------------
# What the collectors read
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class Answer:
    assignment_id: str
    worker_id: str
    hit_id: str
    batch_id: str | None
    row_index: int | None
    status: str
    accept_time: float | None
    submit_time: float | None
    answers: dict[str, Any]
    reward_cents: int
    decision: str | None  # approve | reject when a decision is recorded
    expected: dict[str, Any] | None = None  # a gold row's right answers
    gold_feedback: str | None = None

    @property
    def row(self) -> tuple[str, int] | None:
        return (self.batch_id, self.row_index) if self.batch_id is not None and self.row_index is not None else None

    @property
    def work_time(self) -> float | None:
        if self.accept_time is None or self.submit_time is None:
            return None
        return self.submit_time - self.accept_time


def load_answers(conn: Connection) -> list[Answer]:
    """Every assignment the ledger holds, with its row, reward, decision and (for gold rows) the right answers;
    ordered by submit time."""
    q = (select(assignments, hits.c.batch_id, hits.c.row_index, batches.c.reward_cents, decisions.c.action,
                gold_rows.c.expected, gold_rows.c.feedback)
         .select_from(assignments)
         .outerjoin(hits, hits.c.hit_id == assignments.c.hit_id)
         .outerjoin(batches, batches.c.id == hits.c.batch_id)
         .outerjoin(gold_rows, (gold_rows.c.batch_id == hits.c.batch_id) & (gold_rows.c.row_index == hits.c.row_index))
         .outerjoin(decisions, decisions.c.assignment_id == assignments.c.assignment_id)
         .order_by(assignments.c.submit_time, assignments.c.assignment_id))
    out = []
    for r in conn.execute(q):
        out.append(Answer(r.assignment_id, r.worker_id, r.hit_id, r.batch_id, r.row_index, r.status, r.accept_time,
                          r.submit_time, json.loads(r.answers or "{}"), r.reward_cents or 0, r.action,
                          json.loads(r.expected) if r.expected else None, r.feedback))
    return out


def gold_mistakes(conn: Connection) -> dict[str, str]:
    """Per assignment that answered a gold item wrongly and whose item has feedback: that feedback."""
    return {a.assignment_id: a.gold_feedback for a in load_answers(conn)
            if a.expected is not None and a.gold_feedback and not is_correct(a.answers, a.expected)}


def _label(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return "|".join(str(v).strip() for v in value)
    text = str(value).strip()
    return text or None


class Figures:
    """The collectors: each gives, per worker, the figures its rules' conditions read."""

    def __init__(self, answers: list[Answer], events: list[Any], paid: list[Any], now: float) -> None:
        self.answers = answers
        self.now = now
        self.by_worker: dict[str, list[Answer]] = defaultdict(list)
        for a in answers:
            self.by_worker[a.worker_id].append(a)
        self.events: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for e in events:
            self.events[e.kind][e.worker_id].append(e.time)
        self.paid: dict[str, list[tuple[float, int]]] = defaultdict(list)
        for b in paid:
            self.paid[b.worker_id].append((b.paid_at, b.amount_cents))
        self._votes: dict[str, dict[tuple[Any, ...], dict[str, int]]] = {}

    def workers(self) -> list[str]:
        return sorted(set(self.by_worker) | {w for kind in self.events.values() for w in kind})

    def for_rule(self, rule: Rule, worker: str) -> dict[str, Any] | None:
        """The figures of `rule`'s collector for `worker`; None when there is nothing to judge the worker on."""
        mine = self.by_worker.get(worker, [])
        figures = getattr(self, "_" + rule.collector)(rule, worker, mine)
        if figures is None:
            return None
        figures["submitted"] = len(mine)
        return figures

    @staticmethod
    def _last(items: list[Any], history: int | None) -> list[Any]:
        return items[-history:] if history else items

    @staticmethod
    def _rates(outcomes: list[bool]) -> dict[str, Any] | None:
        if not outcomes:
            return None
        correct = sum(outcomes)
        total = len(outcomes)
        return {"total": total, "correct": correct, "incorrect": total - correct, "accuracy": correct / total,
                "incorrect_rate": (total - correct) / total}

    def _fast_submissions(self, rule: Rule, worker: str, mine: list[Answer]) -> dict[str, Any] | None:
        times = [a.work_time for a in self._last(mine, rule.param("history")) if a.work_time is not None]
        if not times:
            return None
        fast = sum(1 for t in times if t < rule.param("seconds"))
        return {"total": len(times), "fast": fast, "fast_rate": fast / len(times),
                "median_seconds": statistics.median(times)}

    def _golden_set(self, rule: Rule, worker: str, mine: list[Answer]) -> dict[str, Any] | None:
        fields = (rule.field,) if rule.field else None
        gold = [a for a in mine if a.expected is not None and (fields is None or rule.field in a.expected)]
        return self._rates([is_correct(a.answers, a.expected or {}, fields)
                            for a in self._last(gold, rule.param("history"))])

    def votes(self, fld: str) -> dict[tuple[Any, ...], dict[str, int]]:
        """Per row, how many answers gave each value of `fld`."""
        if fld not in self._votes:
            votes: dict[tuple[Any, ...], dict[str, int]] = defaultdict(lambda: defaultdict(int))
            for a in self.answers:
                label = _label(a.answers.get(fld))
                if label is not None:
                    votes[a.row or (a.hit_id,)][label] += 1
            self._votes[fld] = votes
        return self._votes[fld]

    def _majority_vote(self, rule: Rule, worker: str, mine: list[Answer]) -> dict[str, Any] | None:
        """Each of the worker's answers against the majority of the *other* answers on the same item (leave one out:
        the worker's own answer never makes the majority it is judged by). Items with fewer than `min_answers`
        answers in all, or whose other answers tie, are not counted."""
        fld = rule.field
        if not fld:
            raise RuleError("say which answer field to compare (field = \"label\")")
        votes = self.votes(fld)
        need = rule.param("min_answers")
        outcomes = []
        for a in mine:
            label = _label(a.answers.get(fld))
            if label is None:
                continue
            counts = dict(votes.get(a.row or (a.hit_id,), {}))
            counts[label] = counts.get(label, 0) - 1
            if sum(counts.values()) + 1 < need:
                continue
            ranked = sorted(counts.values(), reverse=True)
            top = ranked[0] if ranked else 0
            if top <= 0 or (len(ranked) > 1 and ranked[1] == top):
                continue
            outcomes.append(counts.get(label, 0) == top)
        return self._rates(self._last(outcomes, rule.param("history")))

    def _events(self, kind: str, rule: Rule, worker: str, mine: list[Answer]) -> dict[str, Any] | None:
        times = sorted(self.events.get(kind, {}).get(worker, []))
        times = self._last(times, rule.param("history"))
        if not times:
            return None
        last_submit = max((a.submit_time or 0.0 for a in mine), default=0.0)
        return {"total": len(times), "in_row": sum(1 for t in times if t > last_submit),
                "last_day": sum(1 for t in times if t >= self.now - DAY)}

    def _returns(self, rule: Rule, worker: str, mine: list[Answer]) -> dict[str, Any] | None:
        return self._events("returned", rule, worker, mine)

    def _abandons(self, rule: Rule, worker: str, mine: list[Answer]) -> dict[str, Any] | None:
        return self._events("abandoned", rule, worker, mine)

    def _assignments_per_day(self, rule: Rule, worker: str, mine: list[Answer]) -> dict[str, Any] | None:
        if not mine:
            return None
        count = sum(1 for a in mine if (a.submit_time or 0) >= self.now - DAY)
        return {"total": len(mine), "count": count}

    def _earnings_per_day(self, rule: Rule, worker: str, mine: list[Answer]) -> dict[str, Any] | None:
        if not mine:
            return None
        cents = sum(a.reward_cents for a in mine if (a.submit_time or 0) >= self.now - DAY and a.status != "Rejected"
                    and a.decision != "reject")
        cents += sum(c for t, c in self.paid.get(worker, []) if t is not None and t >= self.now - DAY)
        return {"total": len(mine), "earnings": cents / 100}


# ----------------------------------------------------------------------------------------------------------------
# Plans
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class PlannedAction:
    key: str
    rule: str
    worker_id: str
    action: str  # soft_block | hard_block | set_qualification | add_assignments
    target: str | None = None  # HIT id for add_assignments (a qualification's id is found when applying)
    params: dict[str, Any] = field(default_factory=dict)
    why: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        p = self.params
        return {
            "soft_block": f"soft block (grant {p.get('qualification')!r})",
            "hard_block": f"block ({p.get('reason')})",
            "set_qualification": f"set {p.get('qualification')!r} to {p.get('value')}",
            "add_assignments": f"add {p.get('assignments')} assignment{'s' if p.get('assignments') != 1 else ''} to HIT "
                               f"{self.target}",
        }.get(self.action, self.action)


@dataclass
class QCDecision:
    assignment_id: str
    worker_id: str
    hit_id: str
    action: str  # approve | reject
    feedback: str | None
    rule: str


@dataclass
class Firing:
    """One rule holding for one worker."""

    rule: str
    worker_id: str
    figures: dict[str, Any]
    condition: str
    actions: list[str] = field(default_factory=list)  # what is new, described
    done: list[str] = field(default_factory=list)  # the rule's actions already taken for this worker

    def why(self) -> str:
        shown = ", ".join(f"{k} {_fmt(v)}" for k, v in self.figures.items())
        return f"{self.rule}: {self.condition} ({shown})"


def _fmt(v: Any) -> str:
    return f"{v:.2f}" if isinstance(v, float) else str(v)


@dataclass
class QCPlan:
    rules: int = 0
    workers: int = 0  # evaluated
    firings: list[Firing] = field(default_factory=list)
    decisions: list[QCDecision] = field(default_factory=list)  # approve / reject, for review's plan
    actions: list[PlannedAction] = field(default_factory=list)  # new worker actions
    resumed: list[PlannedAction] = field(default_factory=list)  # recorded by an earlier run, not yet applied
    errors: list[str] = field(default_factory=list)  # a condition that failed for a worker

    @property
    def todo(self) -> list[PlannedAction]:
        return self.resumed + self.actions

    def count(self, action: str) -> int:
        return sum(1 for a in self.todo if a.action == action) + sum(1 for d in self.decisions if d.action == action)

    def summary(self) -> str:
        parts = []
        for kind, label in (("soft_block", "soft block"), ("hard_block", "block"), ("set_qualification", "set a qualification for"),
                            ("reject", "reject"), ("approve", "approve"), ("add_assignments", "add assignments to")):
            n = self.count(kind)
            if n:
                unit = "HIT" if kind == "add_assignments" else ("assignment" if kind in ("approve", "reject") else "worker")
                parts.append(f"{label} {n} {unit}{'s' if n != 1 else ''}")
        caught = len({f.worker_id for f in self.firings})
        head = (f"Quality control: {self.rules} rule{'s' if self.rules != 1 else ''} over {self.workers} "
                f"worker{'s' if self.workers != 1 else ''}, {caught} caught")
        return head + (": would " + ", ".join(parts) if parts else "; nothing new to do") + "."

    def describe(self, *, only_new: bool = False, limit: int | None = None) -> list[str]:
        """One line of summary, then one per worker caught and why (`only_new`: those with something new to do;
        `limit`: at most that many, then a count of the rest)."""
        out = [self.summary()]
        shown = [f for f in self.firings if f.actions or not only_new]
        if limit is not None and len(shown) > limit:
            rest, shown = len(shown) - limit, shown[:limit]
        else:
            rest = 0
        for f in shown:
            what = ", ".join(f.actions) if f.actions else "nothing new (" + ", ".join(f.done) + ")" if f.done else "nothing new"
            out.append(f"  {f.worker_id}: {f.why()} -> {what}")
        if rest:
            out.append(f"  ... and {rest} more")
        out += [f"  failed: {e}" for e in self.errors]
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "rules": self.rules, "workers": self.workers,
            "caught": [{"worker": f.worker_id, "rule": f.rule, "condition": f.condition, "figures": f.figures,
                        "actions": f.actions, "done": f.done} for f in self.firings],
            "decisions": [d.__dict__ for d in self.decisions],
            "actions": [{k: v for k, v in a.__dict__.items() if k != "why"} for a in self.todo],
            "errors": self.errors,
        }


def action_key(action: str, worker: str, target: str | None = None, extra: Any = None) -> str:
    return ":".join(str(p) for p in (action, worker, target, extra) if p is not None)[:255]


def token_for(project_root: str, key: str) -> str:
    """The UniqueRequestToken of an action: the same action of the same project always sends the same token."""
    return "qc-" + hashlib.sha256(f"{project_root}\0{key}".encode()).hexdigest()[:40]


def default_block_qualification(project: Any) -> str:
    return f"{project.name} blocked"


def evaluate(project: Any, rules: Iterable[Rule] | None = None, *, now: float | None = None) -> QCPlan:
    """What the rules would do now, from the ledger alone (nothing is sent or written)."""
    rules = tuple(project.quality_control if rules is None else rules)
    now = time.time() if now is None else now
    plan = QCPlan(rules=len(rules))
    if not rules:
        return plan
    with project.ledger.connect() as conn:
        answers = load_answers(conn)
        events = list(conn.execute(select(worker_events)))
        paid = list(conn.execute(select(bonuses.c.worker_id, bonuses.c.paid_at, bonuses.c.amount_cents)
                                 .where(bonuses.c.paid_at.is_not(None))))
        recorded = {r.key: r for r in conn.execute(select(qc_actions))}
    figures = Figures(answers, events, paid, now)
    workers = figures.workers()
    plan.workers = len(workers)
    chosen: dict[str, PlannedAction] = {}
    decided: dict[str, QCDecision] = {}
    gold_rows_of: dict[str, bool] = {a.hit_id: a.expected is not None for a in answers}
    root = str(getattr(project, "root", ""))
    for rule in rules:
        for worker in workers:
            try:
                values = figures.for_rule(rule, worker)
                if values is None or not rule.holds(values):
                    continue
            except RuleError as e:
                plan.errors.append(f"{rule.name}, worker {worker}: {e}")
                continue
            firing = Firing(rule.name, worker, values, rule.when)
            plan.firings.append(firing)
            mine = figures.by_worker.get(worker, [])
            for act in rule.actions:
                if act.kind in ("approve", "reject"):
                    n = 0
                    for a in mine:
                        if a.status != "Submitted" or a.decision is not None or a.assignment_id in decided:
                            continue
                        decided[a.assignment_id] = QCDecision(a.assignment_id, worker, a.hit_id, act.kind,
                                                              act.feedback, rule.name)
                        n += 1
                    if n:
                        firing.actions.append(f"{act.kind} {n}")
                    continue
                planned: list[PlannedAction] = []
                why = {"rule": rule.name, "condition": rule.when, **values}
                if act.kind == "soft_block":
                    qual = act.qualification or default_block_qualification(project)
                    planned.append(PlannedAction(action_key("soft_block", worker, qual), rule.name, worker, act.kind,
                                                 None, {"qualification": qual, "value": 1}, why))
                elif act.kind == "hard_block":
                    reason = act.reason or f"Quality control ({rule.name}) on {getattr(project, 'name', 'a project')}"
                    planned.append(PlannedAction(action_key("hard_block", worker), rule.name, worker, act.kind, None,
                                                 {"reason": reason}, why))
                elif act.kind == "set_qualification":
                    planned.append(PlannedAction(action_key("set_qualification", worker, act.qualification, act.value),
                                                 rule.name, worker, act.kind, None,
                                                 {"qualification": act.qualification, "value": act.value}, why))
                elif act.kind == "add_assignments":
                    for hit_id in dict.fromkeys(a.hit_id for a in mine if not gold_rows_of.get(a.hit_id)):
                        key = action_key("add_assignments", worker, hit_id)
                        planned.append(PlannedAction(key, rule.name, worker, act.kind, hit_id,
                                                     {"assignments": act.assignments, "token": token_for(root, key)},
                                                     why))
                new = [p for p in planned if p.key not in recorded and p.key not in chosen]
                for p in new:
                    chosen[p.key] = p
                if new:
                    firing.actions.append(new[0].describe() if len(new) == 1 else
                                          f"{act.kind.replace('_', ' ')} ({len(new)} HITs)")
                elif planned:
                    firing.done.append(f"{act.kind.replace('_', ' ')} done")
    plan.decisions = list(decided.values())
    plan.actions = list(chosen.values())
    plan.resumed = [PlannedAction(r.key, r.rule, r.worker_id, r.action, r.target, json.loads(r.params),
                                  json.loads(r.why)) for r in recorded.values() if r.state == "pending"]
    return plan


# ----------------------------------------------------------------------------------------------------------------
# Applying
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class QCReport:
    plan: QCPlan
    applied: dict[str, int] = field(default_factory=dict)  # action -> how many were applied now
    approved: int = 0
    rejected: int = 0
    failed: list[str] = field(default_factory=list)
    decisions_left: int = 0  # approve / reject decisions left for `hitkit review`
    seconds: float = 0.0

    def describe(self) -> list[str]:
        parts = []
        for kind, label in (("soft_block", "soft-blocked"), ("hard_block", "blocked"),
                            ("set_qualification", "qualification values set for"),
                            ("add_assignments", "assignments added to")):
            n = self.applied.get(kind, 0)
            if n:
                unit = "HIT" if kind == "add_assignments" else "worker"
                parts.append(f"{label} {n} {unit}{'s' if n != 1 else ''}")
        if self.approved or self.rejected:
            parts.append(f"approved {self.approved}, rejected {self.rejected} assignments")
        caught = len({f.worker_id for f in self.plan.firings})
        line = (f"Quality control: {self.plan.rules} rule{'s' if self.plan.rules != 1 else ''}, {caught} "
                f"worker{'s' if caught != 1 else ''} caught" + (": " + ", ".join(parts) if parts else "; nothing new done"))
        if self.decisions_left:
            line += f"; {self.decisions_left} approve/reject decision{'s' if self.decisions_left != 1 else ''} left for " \
                    "`hitkit review`"
        if self.failed:
            line += f"; {len(self.failed)} failed (re-run to retry)"
        acted = [f for f in self.plan.firings if f.actions]
        lines = [f"  {f.worker_id}: {f.why()} -> {', '.join(f.actions)}" for f in acted[:20]]
        if len(acted) > 20:
            lines.append(f"  ... and {len(acted) - 20} more")
        return [line + "."] + lines + [f"  failed: {x}" for x in self.failed[:20]]

    def to_json(self) -> dict[str, Any]:
        return {"applied": self.applied, "approved": self.approved, "rejected": self.rejected, "failed": self.failed,
                "decisions_left": self.decisions_left, "seconds": round(self.seconds, 3), **self.plan.to_json()}


def _is_transient(e: BaseException) -> bool:
    from hitkit.requester.launch import classify

    return classify(e) == "transient"


def _is_duplicate(e: BaseException) -> bool:
    from hitkit.requester.launch import classify

    return classify(e) == "duplicate"


def qualification_type_id(client: Any, name: str, *, create: bool = True, description: str | None = None) -> str | None:
    """The id of the caller's qualification type named exactly `name`, created (Active) when missing and `create`.
    Creating is safe to repeat: a re-run finds the type by its name."""
    found = [t for t in paginate(client.list_qualification_types, "QualificationTypes", MustBeOwnedByCaller=True,
                                 MustBeRequestable=False, Query=name, MaxResults=100) if t.get("Name") == name]
    active = [t for t in found if t.get("QualificationTypeStatus", "Active") == "Active"] or found
    if active:
        return active[0]["QualificationTypeId"]
    if not create:
        return None
    try:
        return client.create_qualification_type(
            Name=name, Description=description or f"Set by hitkit quality control ({name}).",
            QualificationTypeStatus="Active")["QualificationType"]["QualificationTypeId"]
    except ClientError:
        again = qualification_type_id(client, name, create=False)  # made meanwhile by another run
        if again is None:
            raise
        return again


def _send(client: Any, a: PlannedAction) -> None:
    p = a.params
    if a.action in ("soft_block", "set_qualification"):
        client.associate_qualification_with_worker(QualificationTypeId=a.target, WorkerId=a.worker_id,
                                                   IntegerValue=int(p.get("value", 1)), SendNotification=False)
    elif a.action == "hard_block":
        client.create_worker_block(WorkerId=a.worker_id, Reason=p["reason"])
    elif a.action == "add_assignments":
        client.create_additional_assignments_for_hit(HITId=a.target, NumberOfAdditionalAssignments=int(p["assignments"]),
                                                     UniqueRequestToken=p["token"])
    else:
        raise ValueError(f"unknown action {a.action!r}")


def apply(project: Any, client: Any, plan: QCPlan, *, decisions_too: bool = True, concurrency: int = 8) -> QCReport:
    """Record the plan's new actions, then send every pending one (see the module docstring). With `decisions_too`
    the approve / reject decisions are applied through review's machinery; otherwise they are left for
    `hitkit review` (which puts them in its plan)."""
    from hitkit.requester.collect import parallel

    start = time.monotonic()
    report = QCReport(plan)
    engine = project.ledger
    quals: dict[str, str] = {}
    new = list(plan.actions)
    for a in new:  # qualification types are found (or created) first: an action is recorded with its target
        if a.action in ("soft_block", "set_qualification"):
            name = a.params["qualification"]
            if name not in quals:
                try:
                    quals[name] = qualification_type_id(client, name)  # type: ignore[assignment]
                except ClientError as e:
                    raise ResultsError(f"quality control: finding or creating the qualification type {name!r} failed: "
                                       f"{describe(e)}") from e
            a.target = quals[name]
    now = time.time()
    if new:
        with engine.begin() as conn:
            existing = set(conn.execute(select(qc_actions.c.key).where(qc_actions.c.key.in_([a.key for a in new]))).scalars())
            rows = [{"key": a.key, "rule": a.rule, "worker_id": a.worker_id, "action": a.action, "target": a.target,
                     "params": json.dumps(a.params, sort_keys=True), "why": json.dumps(a.why, sort_keys=True, default=str),
                     "decided_at": now, "applied_at": None, "state": "pending", "last_error": None}
                    for a in new if a.key not in existing]
            if rows:
                conn.execute(insert(qc_actions), rows)
            record_event(conn, "quality_control", actions=len(rows), workers=len({a.worker_id for a in new}))
    with engine.connect() as conn:
        pending = [PlannedAction(r.key, r.rule, r.worker_id, r.action, r.target, json.loads(r.params))
                   for r in conn.execute(select(qc_actions).where(qc_actions.c.state == "pending")
                                         .order_by(qc_actions.c.decided_at, qc_actions.c.key))]
    order = {"hard_block": 0, "soft_block": 1, "set_qualification": 2, "add_assignments": 3}
    pending.sort(key=lambda a: order.get(a.action, 9))  # stop the worker first, then ask others for more work
    try:
        for a, _, error in parallel(lambda a: _send(client, a), pending, concurrency=concurrency, client=client):
            t = time.time()
            values: dict[str, Any]
            if error is None or _is_duplicate(error):
                values = {"state": "applied", "applied_at": t, "last_error": None}
                report.applied[a.action] = report.applied.get(a.action, 0) + 1
            else:
                report.failed.append(f"{a.action} {a.worker_id}{' ' + a.target if a.target else ''}: {describe(error)}")
                values = {"last_error": describe(error)[:1000]}
                if not _is_transient(error):
                    values["state"] = "failed"
            with engine.begin() as conn:
                conn.execute(update(qc_actions).where(qc_actions.c.key == a.key).values(**values))
    except BotoCoreError as e:
        raise ResultsError(f"quality control: the endpoint cannot be reached: {e}") from e
    if plan.decisions:
        if decisions_too:
            from hitkit.requester.review import Decision, ReviewPlan, apply_review, gold_feedback_for

            rplan = ReviewPlan(decisions=[Decision(d.assignment_id, d.worker_id, d.hit_id, d.action, d.feedback,
                                                   f"qc: {d.rule}") for d in plan.decisions])
            gold_feedback_for(project, rplan.decisions)
            r = apply_review(project, client, rplan, concurrency=concurrency)
            report.approved, report.rejected = r.approved, r.rejected
            report.failed += r.failed
        else:
            report.decisions_left = len(plan.decisions)
    report.seconds = time.monotonic() - start
    return report


def run(project: Any, client: Any, rules: Iterable[Rule] | None = None, *, dry_run: bool = False,
        decisions_too: bool = True, now: float | None = None, concurrency: int = 8) -> QCPlan | QCReport:
    """Evaluate, and (unless `dry_run`) apply. Returns the plan for a dry run, else the report."""
    plan = evaluate(project, rules, now=now)
    if dry_run:
        return plan
    return apply(project, client, plan, decisions_too=decisions_too, concurrency=concurrency)


def record_worker_event(project: Any, *, worker_id: str, assignment_id: str, kind: str, hit_id: str | None = None,
                        at: float | None = None) -> bool:
    """Record that a worker returned or abandoned an assignment (the MTurk API does not list them; feed them from
    notifications that carry the worker's id, or any other source). False when it was recorded before."""
    if kind not in ("returned", "abandoned"):
        raise ValueError("kind is 'returned' or 'abandoned'")
    with project.ledger.begin() as conn:
        if conn.execute(select(worker_events.c.assignment_id).where(
                worker_events.c.assignment_id == assignment_id)).first() is not None:
            return False
        conn.execute(insert(worker_events).values(assignment_id=assignment_id, worker_id=worker_id, hit_id=hit_id,
                                                  kind=kind, time=time.time() if at is None else at))
    return True


def record_notification(project: Any, message: dict[str, Any] | str) -> int:
    """Record the AssignmentReturned / AssignmentAbandoned events of one notification message (MTurk's SQS shape,
    as a hitkit server POSTs it) whose events carry a `WorkerId`; returns how many were new."""
    if isinstance(message, str):
        message = json.loads(message)
    n = 0
    for e in message.get("Events", []):  # type: ignore[union-attr]
        kind = {"AssignmentReturned": "returned", "AssignmentAbandoned": "abandoned"}.get(e.get("EventType"))
        if kind and e.get("WorkerId") and e.get("AssignmentId"):
            n += record_worker_event(project, worker_id=e["WorkerId"], assignment_id=e["AssignmentId"], kind=kind,
                                     hit_id=e.get("HITId"))
    return n


def actions_taken(project: Any) -> list[dict[str, Any]]:
    """Every quality-control action in the ledger, oldest first."""
    with project.ledger.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(qc_actions).order_by(qc_actions.c.decided_at,
                                                                                    qc_actions.c.key))]
