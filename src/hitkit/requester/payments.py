"""`bonus`: pay bonuses that are never paid twice.

A bonus is identified by its assignment and its reason: its UniqueRequestToken is `sha256(assignment id + reason)`
(64 hex characters, MTurk's limit), so the same assignment can get bonuses for different reasons, and the same
reason pays once. Each bonus is written to the ledger's `bonuses` table (with its token) before SendBonus and
marked `paid_at` after. A run killed at any point and run again pays exactly what is left:

- bonuses recorded but not marked paid may have reached the endpoint: ListBonusPayments for their assignment is
  asked first, and a payment with the same reason and amount counts as this bonus;
- the rest are sent with their token; an endpoint that has already seen the token (within MTurk's 24 hours)
  answers DuplicateRequest, which also means paid.

Bonuses come from a CSV (AssignmentId or WorkerId, amount, reason: a WorkerId alone means that worker's first
assignment in the project), from rows given in Python, or from a rule over the results (a callable, or an
expression like `0.10 if len(answers["comment"]) > 100 else None`) returning an amount or (amount, reason).
"""

from __future__ import annotations

import csv
import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update

from hitkit.mturk.fees import bonus_fee_cents, format_cents
from hitkit.requester.collect import DEFAULT_CONCURRENCY, ResultsError, describe, error_code, paginate, parallel
from hitkit.requester.export import Result, load_results
from hitkit.requester.ledger.store import record_event
from hitkit.requester.ledger.tables import bonuses
from hitkit.requester.review import RuleError, as_rule

FEE_SCHEDULE = "mturk"
MAX_REASON = 4096


def bonus_token(assignment_id: str, reason: str) -> str:
    """The UniqueRequestToken of a bonus: 64 hex characters derived from the assignment and the reason."""
    return hashlib.sha256(f"{assignment_id}\n{reason}".encode()).hexdigest()


def parse_amount(value: Any, where: str) -> int:
    """Cents from 0.25, "0.25" or "$0.25": more than zero, at most two decimals."""
    if isinstance(value, bool) or value is None:
        raise ResultsError(f"{where}: amount is missing")
    if isinstance(value, float):  # 0.1 * 3 is 0.30000000000000004: a float means its nearest cent-ish decimal
        text = f"{value:.9f}".rstrip("0")
    else:
        text = str(value).strip().lstrip("$").strip()
    try:
        d = Decimal(text)
    except InvalidOperation:
        raise ResultsError(f"{where}: amount {value!r} is not a number of dollars like 0.25") from None
    if not d.is_finite() or d <= 0:
        raise ResultsError(f"{where}: amount {value!r} must be more than $0.00")
    cents = d * 100
    if cents != cents.to_integral_value():
        raise ResultsError(f"{where}: amount {value!r} has more than two decimals")
    return int(cents)


@dataclass
class Bonus:
    assignment_id: str
    worker_id: str
    amount_cents: int
    reason: str
    token: str
    where: str = ""  # where it came from (CSV line, rule, ...)

    @property
    def amount(self) -> str:
        return format_cents(self.amount_cents)


@dataclass
class BonusPlan:
    new: list[Bonus] = field(default_factory=list)  # to record and pay
    unpaid: list[Bonus] = field(default_factory=list)  # recorded by an earlier run, not known to be paid
    paid: list[Bonus] = field(default_factory=list)  # already paid: nothing to do
    notes: list[str] = field(default_factory=list)

    @property
    def todo(self) -> list[Bonus]:
        return self.unpaid + self.new

    @property
    def total_cents(self) -> int:
        return sum(b.amount_cents for b in self.todo)

    @property
    def fees_cents(self) -> int:
        return sum(bonus_fee_cents(b.amount_cents, schedule=FEE_SCHEDULE) for b in self.todo)

    def describe(self) -> str:
        n = len(self.todo)
        text = (f"{n} bonus{'es' if n != 1 else ''} to pay: ${format_cents(self.total_cents)} "
                f"+ ${format_cents(self.fees_cents)} fees = ${format_cents(self.total_cents + self.fees_cents)}")
        if self.unpaid:
            text += f" ({len(self.unpaid)} recorded by an earlier run, checked before paying)"
        if self.paid:
            text += f"; {len(self.paid)} already paid"
        return text + "."


def read_bonus_csv(path: Path | str) -> list[dict[str, Any]]:
    """Rows of a bonus CSV: AssignmentId and/or WorkerId, amount (or BonusAmount), reason (or Reason)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise ResultsError(f"{path}: cannot read it: {e.strerror}") from None
    except UnicodeDecodeError:
        raise ResultsError(f"{path}: not UTF-8 text") from None
    reader = csv.DictReader(text.splitlines())
    cols = {c.strip().lower(): c for c in reader.fieldnames or []}
    amount_col = next((cols[c] for c in ("amount", "bonusamount", "bonus") if c in cols), None)
    if amount_col is None or not ({"assignmentid", "workerid"} & set(cols)):
        raise ResultsError(f"{path}: expected columns AssignmentId (or WorkerId), amount and reason; "
                           f"it has {', '.join(reader.fieldnames or []) or 'none'}")
    out = []
    for line, row in enumerate(reader, start=2):
        item = {
            "AssignmentId": (row.get(cols["assignmentid"]) or "").strip() if "assignmentid" in cols else "",
            "WorkerId": (row.get(cols["workerid"]) or "").strip() if "workerid" in cols else "",
            "amount": (row.get(amount_col) or "").strip(),
            "reason": row.get(cols["reason"]) if "reason" in cols else None,
            "where": f"{path}, line {line}",
        }
        if not item["AssignmentId"] and not item["WorkerId"] and not item["amount"]:
            continue  # a blank line
        out.append(item)
    return out


def _rows_from(items: Any) -> list[dict[str, Any]]:
    """Rows given in Python: dicts, or a DataFrame with the CSV's columns."""
    if hasattr(items, "to_dict") and hasattr(items, "columns"):
        items = items.to_dict("records")
    out = []
    for i, it in enumerate(items, start=1):
        if not isinstance(it, dict):
            raise ResultsError(f"bonus {i}: expected a dict with AssignmentId or WorkerId, amount, reason")
        lower = {str(k).lower(): v for k, v in it.items()}
        out.append({"AssignmentId": str(lower.get("assignmentid") or "").strip(),
                    "WorkerId": str(lower.get("workerid") or "").strip(),
                    "amount": lower.get("amount", lower.get("bonusamount", lower.get("bonus"))),
                    "reason": lower.get("reason"), "where": f"bonus {i}"})
    return out


def plan_bonuses(project: Any, *, csv_path: str | Path | None = None, items: Any = None,
                 rule: str | Callable[[Result], Any] | None = None, reason: str | None = None,
                 statuses: tuple[str, ...] = ("Submitted", "Approved")) -> BonusPlan:
    """What a bonus run would pay (nothing is written). `reason` is the default for rows without one and for a
    rule that returns a bare amount. A rule sees the assignments with `statuses`."""
    if csv_path is None and items is None and rule is None:
        raise ResultsError("Say which bonuses: --csv FILE or --rule (or rows from Python)")
    reason = reason.strip() if isinstance(reason, str) and reason.strip() else None
    with project.ledger.connect() as conn:
        results = load_results(conn)
        recorded = {r.token: r for r in conn.execute(select(bonuses))}
    by_id = {r.assignment_id: r for r in results}
    first_of_worker: dict[str, Result] = {}
    for r in sorted(results, key=lambda r: (r.record.get("SubmitTime") or 0, r.assignment_id)):
        first_of_worker.setdefault(r.worker_id, r)

    wanted: list[tuple[str, str, int, str, str]] = []  # (assignment, worker, cents, reason, where)

    def add(aid: str, wid: str, amount: Any, why: Any, where: str) -> None:
        why = (str(why).strip() if why is not None and str(why).strip() else None) or reason
        if not why:
            raise ResultsError(f"{where}: a bonus needs a reason the worker will see (a reason column, or --reason)")
        if len(why) > MAX_REASON:
            raise ResultsError(f"{where}: the reason is {len(why)} characters; the most is {MAX_REASON}")
        cents = parse_amount(amount, where)
        if aid:
            r = by_id.get(aid)
            if r is None:
                raise ResultsError(f"{where}: assignment {aid} is not in the ledger (run `hitkit collect` first, or check the id)")
            if wid and wid != r.worker_id:
                raise ResultsError(f"{where}: assignment {aid} was done by {r.worker_id}, not {wid}")
        else:
            r = first_of_worker.get(wid)
            if r is None:
                raise ResultsError(f"{where}: worker {wid} has no assignment in this project's ledger")
        wanted.append((r.assignment_id, r.worker_id, cents, why, where))

    rows: list[dict[str, Any]] = []
    if csv_path is not None:
        rows += read_bonus_csv(csv_path)
    if items is not None:
        rows += _rows_from(items)
    for row in rows:
        add(row["AssignmentId"], row["WorkerId"], row["amount"], row["reason"], row["where"])
    if rule is not None:
        fn = as_rule(rule)
        for r in results:
            if r.status not in statuses:
                continue
            try:
                value = fn(r)
            except RuleError as e:
                raise ResultsError(f"the bonus rule failed on {r.assignment_id}: {e}") from None
            except Exception as e:  # the user's function raised
                raise ResultsError(f"the bonus rule raised on {r.assignment_id}: {type(e).__name__}: {e}") from None
            if value is None or value is False or value == 0:
                continue
            amount, why = value if isinstance(value, tuple) and len(value) == 2 else (value, None)
            if amount is None or amount == 0:
                continue
            add(r.assignment_id, r.worker_id, amount, why, f"rule on {r.assignment_id}")

    plan = BonusPlan()
    seen: dict[str, str] = {}
    for aid, wid, cents, why, where in wanted:
        token = bonus_token(aid, why)
        if token in seen:
            raise ResultsError(f"{where} repeats the bonus of {seen[token]} (same assignment {aid} and reason): a "
                               "bonus is paid once per assignment and reason; give it another reason")
        seen[token] = where
        b = Bonus(aid, wid, cents, why, token, where)
        old = recorded.get(token)
        if old is None:
            plan.new.append(b)
            continue
        if old.amount_cents != cents:
            plan.notes.append(f"{where}: {aid} already has a ${format_cents(old.amount_cents)} bonus for this reason "
                              f"{'(paid)' if old.paid_at else '(recorded)'}; ${format_cents(cents)} ignored")
        b.amount_cents = old.amount_cents
        (plan.paid if old.paid_at is not None else plan.unpaid).append(b)
    listed = {b.token for b in plan.unpaid}
    for token, old in recorded.items():  # recorded by an earlier run, not paid, not in this run's list: finish them
        if old.paid_at is None and token not in listed and token not in seen:
            plan.unpaid.append(Bonus(old.assignment_id, old.worker_id, old.amount_cents, old.reason, token, "earlier run"))
    return plan


@dataclass
class BonusReport:
    paid: int = 0
    paid_cents: int = 0
    found_paid: int = 0  # recorded unpaid, but the endpoint had paid them
    failed: list[str] = field(default_factory=list)
    stopped: str | None = None  # why the run stopped early (insufficient funds)
    seconds: float = 0.0

    def describe(self) -> str:
        text = f"Paid {self.paid} bonus{'es' if self.paid != 1 else ''} (${format_cents(self.paid_cents)})"
        if self.found_paid:
            text += f"; {self.found_paid} found already paid on the endpoint"
        if self.failed:
            text += f"; {len(self.failed)} failed (re-run to retry)"
        if self.stopped:
            text += f"; stopped: {self.stopped}"
        return text + f" in {self.seconds:.1f}s."


def _already_paid(client: Any, b: Bonus) -> bool:
    payments = paginate(client.list_bonus_payments, "BonusPayments", AssignmentId=b.assignment_id, MaxResults=100)
    return any(p.get("Reason") == b.reason and _cents(p.get("BonusAmount")) == b.amount_cents for p in payments)


def _cents(text: Any) -> int | None:
    try:
        return int(Decimal(str(text)) * 100)
    except (InvalidOperation, ValueError):
        return None


class _Stop(Exception):
    pass


def _send(client: Any, b: Bonus) -> str:
    try:
        client.send_bonus(WorkerId=b.worker_id, BonusAmount=format_cents(b.amount_cents), AssignmentId=b.assignment_id,
                          Reason=b.reason, UniqueRequestToken=b.token)
        return "paid"
    except Exception as e:
        if error_code(e).endswith("DuplicateRequest"):
            return "duplicate"
        raise


def pay_bonuses(project: Any, client: Any, plan: BonusPlan, *, concurrency: int = DEFAULT_CONCURRENCY,
                progress: Callable[[int, int], None] | None = None) -> BonusReport:
    """Record the plan's new bonuses, then pay every unpaid one (see the module docstring)."""
    start = time.monotonic()
    report = BonusReport()
    engine = project.ledger
    now = time.time()
    with engine.begin() as conn:
        for b in plan.new:
            conn.execute(insert(bonuses).prefix_with("OR IGNORE").values(
                token=b.token, assignment_id=b.assignment_id, worker_id=b.worker_id, amount_cents=b.amount_cents,
                reason=b.reason, decided_at=now))
        if plan.new:
            record_event(conn, "bonus", count=len(plan.new), cents=sum(b.amount_cents for b in plan.new))
    total = len(plan.todo)
    finished = 0

    def mark_paid(b: Bonus) -> None:
        with engine.begin() as conn:
            conn.execute(update(bonuses).where(bonuses.c.token == b.token, bonuses.c.paid_at.is_(None))
                         .values(paid_at=time.time(), last_error=None))

    def mark_failed(b: Bonus, error: BaseException) -> None:
        report.failed.append(f"{b.assignment_id} (${b.amount}): {describe(error)}")
        with engine.begin() as conn:
            conn.execute(update(bonuses).where(bonuses.c.token == b.token).values(last_error=describe(error)[:1000]))

    # 1. Bonuses an earlier run recorded but did not mark paid: the endpoint may have paid them.
    to_send = list(plan.new)
    for b, paid, error in parallel(lambda b: _already_paid(client, b), plan.unpaid, concurrency=concurrency,
                                   client=client):
        if error is not None:
            mark_failed(b, error)
            finished += 1
        elif paid:
            mark_paid(b)
            report.found_paid += 1
            finished += 1
        else:
            to_send.append(b)
        if progress:
            progress(finished, total)
    # 2. Send the rest, each with its token.
    try:
        for b, outcome, error in parallel(lambda b: _send(client, b), to_send, concurrency=concurrency, client=client):
            finished += 1
            if error is not None:
                mark_failed(b, error)
                if error_code(error).endswith("InsufficientFunds"):
                    report.stopped = ("insufficient funds: add funds, then re-run to pay the "
                                      f"{total - report.paid - report.found_paid - 1} bonuses left")
                    raise _Stop
            elif outcome == "duplicate":
                mark_paid(b)
                report.found_paid += 1
            else:
                mark_paid(b)
                report.paid += 1
                report.paid_cents += b.amount_cents
            if progress:
                progress(finished, total)
    except _Stop:
        pass
    report.seconds = time.monotonic() - start
    return report


def bonus(project: Any, client: Any, *, yes: bool = False, **how: Any) -> tuple[BonusPlan, BonusReport | None]:
    """Plan, and pay when `yes`. Returns (plan, report or None for a dry run)."""
    plan = plan_bonuses(project, **how)
    if not yes:
        return plan, None
    return plan, pay_bonuses(project, client, plan)


def iter_bonuses(project: Any) -> Iterable[dict[str, Any]]:
    """The ledger's bonuses, as dicts (for display)."""
    with project.ledger.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(bonuses).order_by(bonuses.c.decided_at, bonuses.c.token))]
