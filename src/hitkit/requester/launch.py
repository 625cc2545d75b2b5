"""Launching a batch: one HIT per input row (or per row and part), created concurrently, recorded in the ledger
before and after each call, so that a launch killed at any moment and run again creates exactly the HITs that are
missing.

What is written when (see docs/launch.md):

1. Every row is rendered and checked (`Project.render_rows`); one bad row means nothing is written or posted.
2. The batch id is a hash of what the HITs are: project, input content, assignments, assignments per HIT, the
   HIT type's properties, lifetime, annotation and endpoint. Running the same command again finds the same batch.
3. After the cost is shown and confirmed, ONE transaction writes the batch, its rows and every HIT it will create
   (state `intended`), each with its UniqueRequestToken `<batch id[:16]>-<row>-<part>`.
4. CreateHITType once, then CreateHITWithHITType for every intended HIT, from a pool of threads sharing one boto3
   client. Results are written in batched transactions (every 50 results or 0.2 s): state `created` + HIT id.
5. A crash between the server creating a HIT and the ledger recording it is what the token is for: the re-run sends
   the same token, the endpoint answers that a HIT with this token exists (`AWS.MechanicalTurk.HitAlreadyExists`,
   the HIT id in the message), and the id is recorded; if the message has no id, it is found by listing HITs (each
   HIT's RequesterAnnotation carries `hitkit:<token>`).

Errors: throttling, ServiceFault, 5xx and connection errors are retried with capped exponential backoff and jitter;
insufficient funds stops the launch cleanly (in-flight calls finish and are recorded) and says how much is missing;
any other error stops it and names the row.

Gold (a project's `[gold]` table, see quality_control/gold.py): the batch also gets ceil(rate x rows) gold rows,
numbered after the input's rows, chosen and placed among them by a generator seeded with the input's, the gold
file's and the rate's content; they are written with the batch (in `rows` and `gold_rows`, same transaction), their
HITs are created in that interleaved order, and the batch id depends on the gold too. So the same command resumes
the same batch with the same gold in the same places.

Quality control: the qualification types the project's rules grant (the soft block's, which the HITs require
DoesNotExist, and set_qualification's) are created at launch when they do not exist yet (found by name on a re-run).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import queue
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from sqlalchemy import bindparam, func, insert, select, update

from hitkit.mturk import qualification_ids as sq
from hitkit.mturk.fees import format_cents, parse_currency
from hitkit.requester.costs import CostEstimate, estimate, split_assignments
from hitkit.requester.endpoints import MTURK_URL
from hitkit.requester.inputs import Input
from hitkit.requester.ledger.store import record_event
from hitkit.requester.ledger.tables import batches, gold_rows, hits, rows
from hitkit.requester.project import Project
from hitkit.requester.quality_control.gold import GoldItem
from hitkit.templates.task_template import TemplateError

ANNOTATION_PREFIX = "hitkit:"
TOKEN_RE = re.compile(r"hitkit:([0-9a-f]{16}-\d+-\d+)")
HIT_ID_IN_MESSAGE = re.compile(r"HIT\s*(?:ID|Id|id)?\s*[:=]?\s*\"?([A-Z0-9]{20,40})\b")
ANY_HIT_ID = re.compile(r"\b([A-Z0-9]{30})\b")
TRANSIENT_CODES = frozenset({
    "ThrottlingException", "Throttling", "ThrottledException", "RequestThrottled", "RequestThrottledException",
    "TooManyRequestsException", "SlowDown", "ServiceFault", "ServiceUnavailable", "ServiceUnavailableException",
    "InternalFailure", "InternalError", "InternalServerError", "RequestTimeout", "RequestTimeoutException",
})
RELISTING_AGE = 20 * 3600  # tokens are honoured for 24 h: intents older than this are looked up before re-sending
STOPPING = frozenset({"funds", "failed", "unavailable"})
FLUSH_EVERY = 50
FLUSH_SECONDS = 0.2


class LaunchError(ValueError):
    """A launch that cannot start (nothing was posted), with what to do about it."""


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff for throttling and transient errors: attempt n waits min(cap, base x 2^n) x U(0.5, 1) seconds."""

    attempts: int = 8
    base: float = 0.2
    cap: float = 10.0

    def delay(self, attempt: int) -> float:
        return min(self.cap, self.base * 2 ** attempt) * random.uniform(0.5, 1.0)


@dataclass(frozen=True)
class LaunchPlan:
    """What a launch is about to do, given to `confirm` before anything is spent."""

    batch_id: str
    endpoint: str
    rows: int
    hits_total: int
    already_created: int
    to_create: int
    cost: CostEstimate  # of the HITs still to create
    balance_cents: int  # available, as GetAccountBalance said
    resumed: bool  # the batch was started before
    gold_rows: int = 0  # of `rows`, the gold rows mixed in (the project's [gold])

    @property
    def shortfall_cents(self) -> int:
        return max(0, self.cost.total_cents - self.balance_cents)


@dataclass
class LaunchReport:
    batch_id: str
    endpoint: str
    hit_type_id: str | None
    rows: int
    hits_total: int
    created_now: int = 0
    already_created: int = 0
    remaining: int = 0
    cost: CostEstimate | None = None  # of the HITs that were still to create when the launch started
    balance_cents: int | None = None  # available before the launch
    stopped: str | None = None  # None | declined | insufficient-funds | error | endpoint-unavailable | interrupted
    message: str | None = None  # why it stopped, naming the row when there is one
    failed_row: int | None = None
    missing_cents: int | None = None  # insufficient funds: how much more the remaining HITs need
    recovered: int = 0  # HITs the endpoint already had (found by token) and the ledger now records
    retries: int = 0
    workers: int = 0
    elapsed: float = 0.0
    other_batches: list[str] = field(default_factory=list)  # earlier batches of the same input, other settings
    gold_rows: int = 0  # gold rows mixed in (numbered after the input's rows)

    @property
    def complete(self) -> bool:
        return self.remaining == 0 and self.stopped is None

    def to_json(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if k != "cost"}
        if self.cost is not None:
            out["cost"] = {"hits": self.cost.hits, "assignments": self.cost.assignments,
                           "rewards": format_cents(self.cost.rewards_cents), "fees": format_cents(self.cost.fees_cents),
                           "total": format_cents(self.cost.total_cents), "note": self.cost.note}
        for key in ("balance_cents", "missing_cents"):
            out[key.replace("_cents", "")] = None if out[key] is None else format_cents(out[key])
            del out[key]
        out["complete"] = self.complete
        return out


@dataclass(frozen=True)
class _Intent:
    token: str
    row: int  # 1-based, as in messages
    part: int
    max_assignments: int


@dataclass
class _Outcome:
    intent: _Intent
    kind: str  # created | recovered | funds | failed | unavailable | skipped
    hit_id: str | None = None
    hit_type_id: str | None = None
    created_at: float | None = None
    expiration: float | None = None
    error: str | None = None


class _Stopped(Exception):
    """A retry loop abandoned because the launch is stopping."""


def _error_info(e: ClientError) -> tuple[str, str, str, int]:
    err = e.response.get("Error", {})
    turk = e.response.get("TurkErrorCode") or err.get("TurkErrorCode") or ""
    status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    return err.get("Code", ""), err.get("Message", "") or "", turk, int(status)


def classify(e: BaseException) -> str:
    """`transient` (retry), `duplicate` (the token was used: the HIT exists), `funds`, or `permanent`."""
    if isinstance(e, (BotoConnectionError, HTTPClientError)):
        return "transient"
    if not isinstance(e, ClientError):
        return "permanent"
    code, message, turk, status = _error_info(e)
    if turk == "AWS.MechanicalTurk.HitAlreadyExists" or (
            code == "RequestError" and re.search(r"UniqueRequestToken|idempotency token|already exists", message, re.IGNORECASE)):
        return "duplicate"
    if turk == "AWS.MechanicalTurk.InsufficientFunds" or "insufficient funds" in message.lower():
        return "funds"
    if code in TRANSIENT_CODES or status >= 500 or status == 429:
        return "transient"
    return "permanent"


def describe_error(e: BaseException) -> str:
    if isinstance(e, ClientError):
        code, message, turk, _ = _error_info(e)
        return f"{code}{f' ({turk})' if turk else ''}: {message}".rstrip(": ")
    return f"{type(e).__name__}: {e}"


def annotation_for(token: str, user: str | None) -> str:
    """`hitkit:<token>`, then the project's own annotation, within MTurk's 255 characters."""
    tag = ANNOTATION_PREFIX + token
    return f"{tag} {user}"[:255] if user else tag


def batch_id_for(project_name: str, input_sha256: str, *, assignments: int, max_per_hit: int, hit_type: dict,
                 lifetime: int, annotation: str | None, endpoint: str, gold: dict | None = None) -> str:
    """The same launch (same project, input, settings, gold and endpoint) always gets the same id."""
    material = {"project": project_name, "input_sha256": input_sha256, "assignments": assignments,
                "max_assignments_per_hit": max_per_hit, "hit_type": hit_type, "lifetime": lifetime,
                "annotation": annotation, "endpoint": endpoint}
    if gold:  # only with gold, so that batches without gold keep the ids they always had
        material["gold"] = gold
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


def token_for(batch_id: str, row: int, part: int) -> str:
    return f"{batch_id[:16]}-{row}-{part}"


def resolve_custom_qualifications(client, project: Project) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Ids of the custom qualification types the project names, by exact name among the caller's own types; the
    ones the project's quality-control rules grant are created when missing."""
    ids: dict[str, str] = {}
    owned = set(getattr(project, "owned_qualifications", ()))
    for i, q in enumerate(project.properties.custom):
        if q.name is None or q.name in ids:
            continue
        found: list[dict] = []
        params: dict[str, Any] = dict(MustBeOwnedByCaller=True, MustBeRequestable=False, Query=q.name, MaxResults=100)
        while True:
            page = client.list_qualification_types(**params)
            found += [t for t in page.get("QualificationTypes", []) if t.get("Name") == q.name]
            if not page.get("NextToken") or not page.get("QualificationTypes"):
                break
            params["NextToken"] = page["NextToken"]
        if not found and q.name in owned:
            from hitkit.requester.quality_control.engine import qualification_type_id

            ids[q.name] = qualification_type_id(client, q.name)  # type: ignore[assignment]
            continue
        if not found:
            raise LaunchError(f"qualifications.custom[{i}]: no qualification type named {q.name!r} is yours on "
                              f"{client.meta.endpoint_url} (create it first, or give its id)")
        active = [t for t in found if t.get("QualificationTypeStatus", "Active") == "Active"] or found
        ids[q.name] = active[0]["QualificationTypeId"]
    return ids


def _hit_time(value: Any) -> float | None:
    if value is None:
        return None
    return value.timestamp() if hasattr(value, "timestamp") else float(value)


class _Launcher:
    def __init__(self, project: Project, client, data: Input, questions: list[str], *, assignments: int,  # type: ignore[no-untyped-def]
                 max_per_hit: int, workers: int, retry: RetryPolicy,
                 progress: Callable[[int, int], None] | None, confirm: Callable[[LaunchPlan], bool] | None,
                 gold: list[GoldItem] | None = None, order: list[int] | None = None) -> None:
        self.project, self.client, self.data, self.questions = project, client, data, questions
        self.gold = gold or []  # rows len(data.rows)+1, +2, ...
        self.order = order or list(range(1, len(data.rows) + 1))  # every row number, in the order HITs are created
        self.props = project.properties
        self.assignments, self.max_per_hit = assignments, max_per_hit
        self.workers, self.retry, self.progress, self.confirm = workers, retry, progress, confirm
        self.endpoint = client.meta.endpoint_url
        self.stop = threading.Event()
        self.retries = 0
        self._retries_lock = threading.Lock()
        self._listing: dict[str, dict] | None = None
        self._listing_lock = threading.Lock()
        self.hit_type_id: str | None = None

    # ---------------------------------------------------------------- calls

    def call(self, op: str, **params: Any) -> dict:
        """One API call, retried on transient errors; other errors are raised as they are."""
        for attempt in itertools.count():
            try:
                return getattr(self.client, op)(**params)
            except (ClientError, BotoConnectionError, HTTPClientError) as e:
                if classify(e) != "transient" or attempt + 1 >= self.retry.attempts:
                    raise
            with self._retries_lock:
                self.retries += 1
            if self.stop.wait(self.retry.delay(attempt)):
                raise _Stopped()
        raise AssertionError("unreachable")

    def balance_cents(self) -> int:
        return parse_currency(self.call("get_account_balance")["AvailableBalance"])

    def create(self, intent: _Intent) -> _Outcome:
        params = dict(HITTypeId=self.hit_type_id, MaxAssignments=intent.max_assignments,
                      LifetimeInSeconds=self.props.lifetime, Question=self.questions[intent.row - 1],
                      RequesterAnnotation=annotation_for(intent.token, self.props.annotation),
                      UniqueRequestToken=intent.token)
        try:
            hit = self.call("create_hit_with_hit_type", **params)["HIT"]
            return _Outcome(intent, "created", hit["HITId"], hit.get("HITTypeId"), _hit_time(hit.get("CreationTime")),
                            _hit_time(hit.get("Expiration")))
        except _Stopped:
            return _Outcome(intent, "skipped")
        except (ClientError, BotoConnectionError, HTTPClientError) as e:
            kind = classify(e)
            if kind == "duplicate":
                return self.recover(intent, e)
            if kind == "funds":
                return _Outcome(intent, "funds", error=describe_error(e))
            if kind == "transient":
                return _Outcome(intent, "unavailable", error=describe_error(e))
            return _Outcome(intent, "failed", error=describe_error(e))
        except Exception as e:  # noqa: BLE001 - a bug or an odd response: stop and report the row, never hide it
            return _Outcome(intent, "failed", error=describe_error(e))

    def recover(self, intent: _Intent, error: ClientError) -> _Outcome:
        """The endpoint already has a HIT with this token: find its id (from the message, checked with GetHIT, or
        by listing HITs and matching the annotation)."""
        _, message, _, _ = _error_info(error)
        try:
            m = HIT_ID_IN_MESSAGE.search(message) or ANY_HIT_ID.search(message)
            if m:
                try:
                    hit = self.call("get_hit", HITId=m.group(1))["HIT"]
                except ClientError as e:
                    if classify(e) != "permanent":
                        raise
                    # e.g. deleted since: the token still proves the HIT was created, with this id
                    return _Outcome(intent, "recovered", m.group(1), self.hit_type_id)
                tag = TOKEN_RE.search(hit.get("RequesterAnnotation") or "")
                if tag is None or tag.group(1) == intent.token:
                    return _Outcome(intent, "recovered", hit["HITId"], hit.get("HITTypeId"),
                                    _hit_time(hit.get("CreationTime")), _hit_time(hit.get("Expiration")))
                # the message named some other HIT: look for ours by its annotation
            hit = self.find_by_listing(intent.token)
            if hit is None:
                return _Outcome(intent, "failed", error=f"the endpoint says a HIT with token {intent.token} exists "
                                                        f"({message}) but no HIT of yours carries it")
            return _Outcome(intent, "recovered", hit["HITId"], hit.get("HITTypeId"),
                            _hit_time(hit.get("CreationTime")), _hit_time(hit.get("Expiration")))
        except _Stopped:
            return _Outcome(intent, "skipped")
        except (ClientError, BotoConnectionError, HTTPClientError) as e:
            return _Outcome(intent, "unavailable" if classify(e) == "transient" else "failed", error=describe_error(e))

    def list_all_hits(self) -> dict[str, dict]:
        """Every HIT of the caller whose annotation carries a hitkit token, by token."""
        found: dict[str, dict] = {}
        params: dict[str, Any] = {"MaxResults": 100}
        while True:
            page = self.call("list_hits", **params)
            for hit in page.get("HITs", []):
                m = TOKEN_RE.search(hit.get("RequesterAnnotation") or "")
                if m:
                    found[m.group(1)] = hit
            if not page.get("NextToken") or not page.get("HITs"):
                return found
            params["NextToken"] = page["NextToken"]

    def find_by_listing(self, token: str) -> dict | None:
        with self._listing_lock:
            if self._listing is None or token not in self._listing:
                self._listing = self.list_all_hits()  # once, and again only for a token created since
            return self._listing.get(token)

    # ---------------------------------------------------------------- ledger

    def plan(self) -> tuple[str, dict, list[_Intent]]:
        custom_ids = resolve_custom_qualifications(self.client, self.project)
        masters_id = sq.MASTERS_PRODUCTION if self.endpoint.rstrip("/") == MTURK_URL else sq.MASTERS_SANDBOX
        hit_type = self.props.create_hit_type_params(custom_ids, masters_id=masters_id)
        batch_id = batch_id_for(self.project.name, self.data.sha256, assignments=self.assignments,
                                max_per_hit=self.max_per_hit, hit_type=hit_type, lifetime=self.props.lifetime,
                                annotation=self.props.annotation, endpoint=self.endpoint,
                                gold=self.project.gold.identity() if self.gold and self.project.gold else None)
        parts = split_assignments(self.assignments, self.max_per_hit)
        intents = [_Intent(token_for(batch_id, row, part), row, part, size)
                   for row in self.order for part, size in enumerate(parts)]
        return batch_id, hit_type, intents

    def write_intents(self, batch_id: str, hit_type: dict, intents: list[_Intent]) -> bool:
        """Batch, rows and every HIT intent in one transaction; False if the batch was already there."""
        with self.project.ledger.begin() as conn:
            if conn.execute(select(batches.c.id).where(batches.c.id == batch_id)).first() is not None:
                return False
            now = time.time()
            conn.execute(insert(batches).values(
                id=batch_id, created_at=now, input_name=self.data.name, input_sha256=self.data.sha256,
                rows=len(self.data.rows) + len(self.gold), assignments_per_row=self.assignments, max_assignments_per_hit=self.max_per_hit,
                hit_type_id=None, endpoint=self.endpoint, reward_cents=self.props.reward_cents,
                properties=json.dumps(hit_type, sort_keys=True)))
            conn.execute(insert(rows), [
                {"batch_id": batch_id, "row_index": i, "data": json.dumps(r, ensure_ascii=False, default=str)}
                for i, r in enumerate([*self.data.rows, *(g.data for g in self.gold)], start=1)])
            if self.gold:
                first = len(self.data.rows) + 1
                conn.execute(insert(gold_rows), [
                    {"batch_id": batch_id, "row_index": first + j, "expected": json.dumps(g.expected, sort_keys=True),
                     "feedback": g.feedback} for j, g in enumerate(self.gold)])
            conn.execute(insert(hits), [
                {"token": h.token, "batch_id": batch_id, "row_index": h.row, "part": h.part,
                 "max_assignments": h.max_assignments, "state": "intended"} for h in intents])
            record_event(conn, "launch.intents", batch=batch_id, rows=len(self.data.rows), gold=len(self.gold),
                         hits=len(intents))
        return True

    def pending(self, batch_id: str, intents: list[_Intent]) -> tuple[list[_Intent], float | None]:
        """Intents without a HIT id yet, and when the batch was first written (None if it was not)."""
        with self.project.ledger.connect() as conn:
            created_at = conn.execute(select(batches.c.created_at).where(batches.c.id == batch_id)).scalar()
            if created_at is None:
                return intents, None
            done = {t for (t,) in conn.execute(
                select(hits.c.token).where(hits.c.batch_id == batch_id, hits.c.hit_id.is_not(None)))}
        return [i for i in intents if i.token not in done], created_at

    def other_batches(self, batch_id: str) -> list[str]:
        with self.project.ledger.connect() as conn:
            return [b for (b,) in conn.execute(select(batches.c.id).where(
                batches.c.input_sha256 == self.data.sha256, batches.c.id != batch_id))]

    def record(self, outcomes: list[_Outcome]) -> None:
        done = [o for o in outcomes if o.hit_id is not None]
        failed = [o for o in outcomes if o.hit_id is None and o.error]
        if not done and not failed:
            return
        with self.project.ledger.begin() as conn:
            if done:
                conn.execute(
                    update(hits).where(hits.c.token == bindparam("t")).values(
                        hit_id=bindparam("h"), hit_type_id=bindparam("ht"), created_at=bindparam("c"),
                        expiration=bindparam("x"), state="created", last_error=None),
                    [{"t": o.intent.token, "h": o.hit_id, "ht": o.hit_type_id or self.hit_type_id,
                      "c": o.created_at, "x": o.expiration} for o in done])
            if failed:
                conn.execute(update(hits).where(hits.c.token == bindparam("t")).values(last_error=bindparam("e")),
                             [{"t": o.intent.token, "e": o.error} for o in failed])

    def reconcile_by_listing(self, pending: list[_Intent]) -> list[_Intent]:
        """Record HITs the endpoint has for pending tokens (for intents old enough that the endpoint may have
        forgotten their tokens); returns the intents still without a HIT."""
        listing = self.list_all_hits()
        found = [_Outcome(i, "recovered", h["HITId"], h.get("HITTypeId"), _hit_time(h.get("CreationTime")),
                          _hit_time(h.get("Expiration"))) for i in pending if (h := listing.get(i.token))]
        self.record(found)
        tokens = {o.intent.token for o in found}
        return [i for i in pending if i.token not in tokens]

    # ---------------------------------------------------------------- the run

    def run(self) -> LaunchReport:
        started = time.monotonic()
        try:
            batch_id, hit_type, intents = self.plan()
        except (ClientError, BotoConnectionError, HTTPClientError) as e:
            raise LaunchError(f"looking up the project's qualification types failed, nothing was created: "
                              f"{describe_error(e)}") from e
        pending, batch_created = self.pending(batch_id, intents)
        report = LaunchReport(batch_id, self.endpoint, None, len(self.data.rows), len(intents),
                              other_batches=self.other_batches(batch_id), workers=self.workers, gold_rows=len(self.gold))
        if batch_created is not None and pending and time.time() - batch_created > RELISTING_AGE:
            try:
                pending = self.reconcile_by_listing(pending)
            except (ClientError, BotoConnectionError, HTTPClientError) as e:
                raise LaunchError(f"listing HITs to match this batch's old intents failed, nothing was created: "
                                  f"{describe_error(e)}") from e
        report.already_created = len(intents) - len(pending)
        masters = self.props.masters
        cost = estimate(self.props.reward_cents, (i.max_assignments for i in pending), masters=masters)
        report.cost = cost
        try:
            report.balance_cents = self.balance_cents()
        except (ClientError, BotoConnectionError, HTTPClientError) as e:
            raise LaunchError(f"GetAccountBalance failed, nothing was created: {describe_error(e)}") from e
        plan = LaunchPlan(batch_id, self.endpoint, len(self.data.rows) + len(self.gold), len(intents),
                          report.already_created, len(pending), cost, report.balance_cents, batch_created is not None,
                          len(self.gold))
        if pending and self.confirm is not None and not self.confirm(plan):
            report.remaining, report.stopped, report.message = len(pending), "declined", "nothing was created"
            return report
        if not pending:  # the batch is complete: nothing to call
            with self.project.ledger.connect() as conn:
                report.hit_type_id = conn.execute(select(batches.c.hit_type_id).where(batches.c.id == batch_id)).scalar()
            report.elapsed = time.monotonic() - started
            return report
        if batch_created is None:
            self.write_intents(batch_id, hit_type, intents)
        try:
            self.hit_type_id = self.call("create_hit_type", **hit_type)["HITTypeId"]
        except (ClientError, BotoConnectionError, HTTPClientError) as e:
            raise LaunchError(f"CreateHITType failed, nothing was created: {describe_error(e)}") from e
        report.hit_type_id = self.hit_type_id
        with self.project.ledger.begin() as conn:
            conn.execute(update(batches).where(batches.c.id == batch_id).values(hit_type_id=self.hit_type_id))
            record_event(conn, "launch.started", batch=batch_id, to_create=len(pending), endpoint=self.endpoint)
        if self.progress:
            self.progress(report.already_created, len(intents))
        self._create_all(pending, report)
        with self.project.ledger.connect() as conn:
            left = conn.execute(select(func.count()).select_from(hits).where(
                hits.c.batch_id == batch_id, hits.c.hit_id.is_(None))).scalar_one()
        report.remaining = int(left)
        if report.stopped == "insufficient-funds":
            left_cost = estimate(self.props.reward_cents, self._remaining_sizes(batch_id), masters=masters)
            try:
                report.missing_cents = max(0, left_cost.total_cents - self.balance_cents())
            except (ClientError, BotoConnectionError, HTTPClientError, _Stopped):
                report.missing_cents = left_cost.total_cents
        with self.project.ledger.begin() as conn:
            record_event(conn, "launch.stopped" if report.stopped else "launch.finished", batch=batch_id,
                         created=report.created_now, remaining=report.remaining, reason=report.stopped,
                         message=report.message)
        report.retries, report.elapsed = self.retries, time.monotonic() - started
        return report

    def _remaining_sizes(self, batch_id: str) -> list[int]:
        with self.project.ledger.connect() as conn:
            return [m for (m,) in conn.execute(select(hits.c.max_assignments).where(
                hits.c.batch_id == batch_id, hits.c.hit_id.is_(None)))]

    def _create_all(self, pending: list[_Intent], report: LaunchReport) -> None:
        work: Iterator[_Intent] = iter(pending)
        work_lock = threading.Lock()
        results: queue.Queue[_Outcome | None] = queue.Queue()
        n_workers = max(1, min(self.workers, len(pending)))

        def worker() -> None:
            try:
                while not self.stop.is_set():
                    with work_lock:
                        intent = next(work, None)
                    if intent is None:
                        return
                    outcome = self.create(intent)
                    if outcome.kind in STOPPING:
                        self.stop.set()  # here, not in the main thread: no further call may start
                    results.put(outcome)
            finally:
                results.put(None)

        buffer: list[_Outcome] = []
        last_flush = time.monotonic()
        state = {"done": report.already_created, "finished": 0}
        interrupted = False

        def take(outcome: _Outcome | None) -> None:
            if outcome is None:
                state["finished"] += 1
                return
            buffer.append(outcome)
            self._note(outcome, report)
            if outcome.hit_id is not None:
                state["done"] += 1
                if self.progress:
                    self.progress(state["done"], report.hits_total)

        with ThreadPoolExecutor(n_workers, thread_name_prefix="hitkit-launch") as pool:
            for _ in range(n_workers):
                pool.submit(worker)
            try:
                while state["finished"] < n_workers:
                    try:
                        try:
                            take(results.get(timeout=FLUSH_SECONDS))
                        except queue.Empty:
                            pass
                        if buffer and (len(buffer) >= FLUSH_EVERY or time.monotonic() - last_flush >= FLUSH_SECONDS):
                            self.record(buffer)
                            buffer, last_flush = [], time.monotonic()
                    except KeyboardInterrupt:  # stop starting calls; finish and record the ones in flight
                        interrupted = True
                        self.stop.set()
                        if report.stopped is None:
                            report.stopped = "interrupted"
                            report.message = "interrupted; run the same command again to resume"
            finally:
                self.stop.set()  # no-op when all work is done; on an error, lets the workers finish and exit
                while state["finished"] < n_workers:
                    take(results.get())
                self.record(buffer)
        if interrupted:
            raise KeyboardInterrupt

    def _note(self, outcome: _Outcome, report: LaunchReport) -> None:
        if outcome.kind == "created":
            report.created_now += 1
        elif outcome.kind == "recovered":
            report.created_now += 1
            report.recovered += 1
        elif outcome.kind in STOPPING and report.stopped is None:
            self.stop.set()
            report.failed_row = outcome.intent.row if outcome.kind == "failed" else None
            report.stopped = {"funds": "insufficient-funds", "failed": "error",
                              "unavailable": "endpoint-unavailable"}[outcome.kind]
            where = f"row {outcome.intent.row}" + (f" part {outcome.intent.part}" if self.max_per_hit < self.assignments else "")
            report.message = {
                "funds": f"the endpoint refused {where} for insufficient funds: {outcome.error}",
                "failed": f"{where} of {self.data.name}: {outcome.error}",
                "unavailable": f"the endpoint kept failing ({self.retry.attempts} attempts on {where}): {outcome.error}",
            }[outcome.kind]


def launch_batch(project: Project, client, data: Input, *, assignments: int | None = None,  # type: ignore[no-untyped-def]
                 max_assignments_per_hit: int | None = None, workers: int = 16,
                 progress: Callable[[int, int], None] | None = None,
                 confirm: Callable[[LaunchPlan], bool] | None = None,
                 retry: RetryPolicy | None = None) -> LaunchReport:
    """Create one HIT per row (or per row and part) of `data` on the endpoint `client` talks to, resumably.

    Every row is validated first (TemplateError, nothing posted). `confirm(plan)` sees the cost and balance before
    anything is spent and may say no. `progress(done, total)` is called as HITs are recorded. Workers share the
    client and are capped at its `max_pool_connections`. Returns a LaunchReport; `report.complete` is True when
    every HIT of the batch exists. Raises LaunchError when the launch cannot start."""
    assignments = assignments if assignments is not None else project.properties.assignments
    if assignments < 1:
        raise LaunchError(f"--assignments must be at least 1, not {assignments}")
    if max_assignments_per_hit is not None and max_assignments_per_hit < 1:
        raise LaunchError(f"--max-assignments-per-hit must be at least 1, not {max_assignments_per_hit}")
    if not data.rows:
        raise LaunchError(f"{data.name} has no rows")
    questions = project.render_rows(data)
    gold: list[GoldItem] = []
    order: list[int] | None = None
    if getattr(project, "gold", None) is not None:
        gold, order = project.gold.mix(len(data.rows), data.sha256)
        problems = []
        for j, item in enumerate(gold):
            try:
                questions.append(project.render(item.data, len(data.rows) + 1 + j))
            except TemplateError as e:
                problems.append(f"gold row {item.number} of {project.gold.path.name}: {e}")
        if problems:
            raise TemplateError(f"{len(problems)} gold row{'s' if len(problems) > 1 else ''} cannot be rendered; "
                                "nothing was posted:\n  " + "\n  ".join(dict.fromkeys(problems)))
    max_per_hit = min(max_assignments_per_hit or assignments, assignments)
    pool = getattr(getattr(client.meta, "config", None), "max_pool_connections", None) or workers
    workers = max(1, min(workers, pool))
    launcher = _Launcher(project, client, data, questions, assignments=assignments, max_per_hit=max_per_hit,
                         workers=workers, retry=retry or RetryPolicy(), progress=progress, confirm=confirm,
                         gold=gold, order=order)
    return launcher.run()


def account_balance(client) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """(available, on hold) in cents, as GetAccountBalance says."""
    r = client.get_account_balance()
    return parse_currency(r["AvailableBalance"]), parse_currency(r.get("OnHoldBalance") or "0.00")
