"""`collect`: bring every assignment of a project's HITs into the ledger, and the helpers the verbs after launch
share (errors, concurrent calls, times).

For each HIT the ledger holds (created or expired, with a HIT id), ListAssignmentsForHIT (Submitted, Approved and
Rejected, every page) runs in a thread pool on one shared boto3 client; the answers are upserted in the main thread.
An assignment row changes only when the endpoint says something new (status, times, feedback, answer), so
`collect` twice in a row leaves the ledger byte-for-byte the same. A HIT whose MaxAssignments are all in the ledger
with a final status (Approved or Rejected, with its time) is not asked again.

When the project has `[[quality_control]]` rules, `collect` then evaluates them and applies their worker actions
(soft and hard blocks, qualification values, extra assignments: each recorded before it is sent); their approve and
reject decisions are left for `hitkit review` (see quality_control/engine.py). The outcome is in the report's
`quality_control` and its describe().
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy import Connection, func, insert, select, update

from hitkit.mturk.answers import AnswerFormatError, parse_answer_xml
from hitkit.requester.ledger.store import record_event
from hitkit.requester.ledger.tables import assignments, hits

STATUSES = ("Submitted", "Approved", "Rejected")
FINAL = ("Approved", "Rejected")
DEFAULT_CONCURRENCY = 8

T = TypeVar("T")
R = TypeVar("R")


class ResultsError(ValueError):
    """A user error of the verbs after launch: one line saying what is wrong and what to do."""


def error_code(e: BaseException) -> str:
    """MTurk's TurkErrorCode (AWS.MechanicalTurk.InvalidAssignmentState ...) when the endpoint gives one, else the
    error's type (ServiceFault, RequestError, ...)."""
    if isinstance(e, ClientError):
        return str(e.response.get("TurkErrorCode") or e.response.get("Error", {}).get("Code", ""))
    return ""


def describe(e: BaseException) -> str:
    """One line for an endpoint error: `AWS.MechanicalTurk.X: message`."""
    if isinstance(e, ClientError):
        message = (e.response.get("Error", {}).get("Message") or "").strip()
        return f"{error_code(e) or '?'}: {' '.join(message.split())}"
    return " ".join(str(e).split()) or type(e).__name__


def unreachable(client: Any, e: BaseException) -> ResultsError:
    url = getattr(getattr(client, "meta", None), "endpoint_url", "the endpoint")
    return ResultsError(f"Cannot use the MTurk endpoint at {url}: {describe(e)}")


def epoch(value: Any) -> float | None:
    """Epoch seconds from what boto3 gives (a datetime) or a number."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value)


def parallel(fn: Callable[[T], R], items: Iterable[T], *, concurrency: int = DEFAULT_CONCURRENCY,
             client: Any = None) -> Iterator[tuple[T, R | None, BaseException | None]]:
    """Run `fn` over `items` in a thread pool and yield (item, result, None) or (item, None, ClientError) as they
    complete. Anything that is not an endpoint's answer (a connection failure, a bug) stops the pool and is raised
    (connection failures as one ResultsError)."""
    items = list(items)
    if not items:
        return
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(items)))) as pool:
        pending: dict[Future, T] = {}
        it = iter(items)
        try:
            for item in it:  # keep at most 2x concurrency in flight, so a stop leaves little sent and unrecorded
                pending[pool.submit(fn, item)] = item
                if len(pending) >= 2 * concurrency:
                    break
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    item = pending.pop(fut)
                    exc = fut.exception()
                    if exc is None:
                        yield item, fut.result(), None
                    elif isinstance(exc, ClientError):
                        yield item, None, exc
                    elif isinstance(exc, BotoCoreError):
                        raise unreachable(client, exc) from exc
                    else:
                        raise exc
                    nxt = next(it, None)
                    if nxt is not None:
                        pending[pool.submit(fn, nxt)] = nxt
        finally:
            for fut in pending:
                fut.cancel()


def paginate(call: Callable[..., dict], key: str, **params: Any) -> list[dict]:
    """Every item of a paginated MTurk list operation."""
    out: list[dict] = []
    token = None
    while True:
        page = call(**params, **({"NextToken": token} if token else {}))
        items = page.get(key, [])
        out.extend(items)
        token = page.get("NextToken")
        if not token or not items:
            return out


def list_assignments(client: Any, hit_id: str) -> list[dict]:
    return paginate(client.list_assignments_for_hit, "Assignments", HITId=hit_id, MaxResults=100,
                    AssignmentStatuses=list(STATUSES))


def assignment_values(a: dict) -> dict[str, Any]:
    """The ledger's columns for an assignment as ListAssignmentsForHIT/GetAssignment give it (no answers)."""
    return {
        "assignment_id": a["AssignmentId"],
        "hit_id": a["HITId"],
        "worker_id": a["WorkerId"],
        "status": a["AssignmentStatus"],
        "accept_time": epoch(a.get("AcceptTime")),
        "submit_time": epoch(a.get("SubmitTime")),
        "auto_approval_time": epoch(a.get("AutoApprovalTime")),
        "approval_time": epoch(a.get("ApprovalTime")),
        "rejection_time": epoch(a.get("RejectionTime")),
        "requester_feedback": a.get("RequesterFeedback"),
        "answer_xml": a.get("Answer") or "",
    }


COMPARED = ("hit_id", "worker_id", "status", "accept_time", "submit_time", "auto_approval_time", "approval_time",
            "rejection_time", "requester_feedback", "answer_xml")


@dataclass
class CollectReport:
    hits: int = 0  # HITs in the ledger with a HIT id
    asked: int = 0  # HITs asked about
    skipped: int = 0  # fully collected and decided
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)  # per HIT: "HITId: Code: message"
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    quality_control: dict[str, Any] | None = None  # the rules' outcome (QCReport.to_json() + "summary" lines)

    @property
    def changed(self) -> bool:
        return bool(self.new or self.updated)

    def describe(self) -> str:
        parts = [f"{self.new} new", f"{self.updated} updated", f"{self.unchanged} unchanged"]
        tail = f"; {len(self.errors)} HIT{'s' if len(self.errors) != 1 else ''} failed" if self.errors else ""
        text = (f"Collected {self.asked} of {self.hits} HITs ({self.skipped} already complete): assignments "
                f"{', '.join(parts)}{tail} in {self.seconds:.1f}s.")
        if self.quality_control is not None:
            text += "\n" + "\n".join(self.quality_control.get("summary", []))
        return text


def upsert_assignment(conn: Connection, values: dict[str, Any], existing: dict[str, Any] | None, now: float,
                      report: CollectReport | None = None) -> str:
    """Insert or update one assignment row from the endpoint's view; 'new', 'updated' or 'unchanged'."""
    if existing is not None and all(existing[k] == values[k] for k in COMPARED):
        return "unchanged"
    row = dict(values)
    if existing is None or existing["answer_xml"] != values["answer_xml"]:
        try:
            parsed = parse_answer_xml(values["answer_xml"])
        except AnswerFormatError as e:
            parsed = {}
            if report is not None:
                report.warnings.append(f"{values['assignment_id']}: {e} (kept as raw XML only)")
        row["answers"] = json.dumps(parsed, ensure_ascii=False, default=str)
    row["collected_at"] = now
    if existing is None:
        conn.execute(insert(assignments).values(**row))
        return "new"
    conn.execute(update(assignments).where(assignments.c.assignment_id == values["assignment_id"]).values(**row))
    return "updated"


def ledger_hits(conn: Connection, states: tuple[str, ...] = ("created", "expired")) -> list[dict[str, Any]]:
    q = select(hits).where(hits.c.hit_id.is_not(None), hits.c.state.in_(states)).order_by(
        hits.c.batch_id, hits.c.row_index, hits.c.part)
    return [dict(r._mapping) for r in conn.execute(q)]


def final_counts(conn: Connection) -> dict[str, int]:
    """Per HIT id, the assignments the ledger holds with a final status and its time."""
    q = (select(assignments.c.hit_id, func.count()).where(
        ((assignments.c.status == "Approved") & assignments.c.approval_time.is_not(None))
        | ((assignments.c.status == "Rejected") & assignments.c.rejection_time.is_not(None))
    ).group_by(assignments.c.hit_id))
    return {h: n for h, n in conn.execute(q)}


def collect(project: Any, client: Any, *, concurrency: int = DEFAULT_CONCURRENCY, all_hits: bool = False,
            progress: Callable[[int, int], None] | None = None, quality_control: bool = True) -> CollectReport:
    """Bring every assignment of the project's HITs into the ledger (see the module docstring). `all_hits` asks
    about complete HITs too. Per-HIT endpoint errors are listed in the report; an unreachable endpoint raises
    ResultsError. Safe to interrupt and re-run. Then the project's quality-control rules' worker actions, unless
    `quality_control` is False."""
    start = time.monotonic()
    report = CollectReport()
    engine = project.ledger
    with engine.connect() as conn:
        known = ledger_hits(conn)
        done = final_counts(conn)
    report.hits = len(known)
    todo = [h for h in known if all_hits or done.get(h["hit_id"], 0) < h["max_assignments"]]
    report.skipped = len(known) - len(todo)
    report.asked = len(todo)
    buffer: list[tuple[str, list[dict]]] = []
    finished = 0

    def flush() -> None:
        if not buffer:
            return
        now = time.time()
        with engine.begin() as conn:
            ids = [h for h, _ in buffer]
            existing = {r.assignment_id: dict(r._mapping) for r in
                        conn.execute(select(assignments).where(assignments.c.hit_id.in_(ids)))}
            for _, items in buffer:
                for a in items:
                    outcome = upsert_assignment(conn, assignment_values(a), existing.get(a["AssignmentId"]), now, report)
                    setattr(report, outcome, getattr(report, outcome) + 1)
        buffer.clear()

    last_flush = time.monotonic()
    for hit, result, error in parallel(lambda h: list_assignments(client, h["hit_id"]), todo,
                                       concurrency=concurrency, client=client):
        finished += 1
        if error is not None:
            report.errors.append(f"{hit['hit_id']}: {describe(error)}")
        else:
            buffer.append((hit["hit_id"], result or []))
        if len(buffer) >= 100 or time.monotonic() - last_flush > 1.0:
            flush()
            last_flush = time.monotonic()
        if progress:
            progress(finished, len(todo))
    flush()
    report.seconds = time.monotonic() - start
    if report.changed or report.errors:
        with engine.begin() as conn:
            record_event(conn, "collect", new=report.new, updated=report.updated, asked=report.asked,
                         errors=report.errors[:20])
    if quality_control and getattr(project, "quality_control", ()):
        from hitkit.requester.quality_control.engine import apply, evaluate

        qc = apply(project, client, evaluate(project), decisions_too=False, concurrency=concurrency)
        report.quality_control = {"summary": qc.describe(), **qc.to_json()}
        report.warnings += [f"quality control: {f}" for f in qc.failed]
    return report


def uncollected(project: Any, client: Any, *, concurrency: int = DEFAULT_CONCURRENCY,
                states: tuple[str, ...] = ("created", "expired")) -> tuple[dict[str, list[str]], list[str]]:
    """What the endpoint has that the ledger does not: per HIT id, the assignment ids missing from the ledger or
    with another status there; and the per-HIT errors."""
    with project.ledger.connect() as conn:
        known = ledger_hits(conn, states)
        status = {r.assignment_id: r.status for r in conn.execute(select(assignments.c.assignment_id, assignments.c.status))}
    missing: dict[str, list[str]] = {}
    errors: list[str] = []
    for hit, result, error in parallel(lambda h: list_assignments(client, h["hit_id"]), known,
                                       concurrency=concurrency, client=client):
        if error is not None:
            errors.append(f"{hit['hit_id']}: {describe(error)}")
            continue
        gone = [a["AssignmentId"] for a in result or [] if status.get(a["AssignmentId"]) != a["AssignmentStatus"]]
        if gone:
            missing[hit["hit_id"]] = gone
    return missing, errors
