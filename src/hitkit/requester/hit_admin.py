"""Managing a project's HITs and the workers and qualifications around them.

HITs (all of a project's, or the ones named):
- `extend(project, client, assignments=N)`: CreateAdditionalAssignmentsForHIT with a token derived from the HIT
  and its assignment count in the ledger, so a re-run after a crash does not add twice (within MTurk's 24 hours);
  `extend(..., seconds=S)`: UpdateExpirationForHIT to S after the later of its expiration and now.
- `expire(project, client)`: UpdateExpirationForHIT to now; the ledger marks the HITs expired.
- `delete(project, client)`: refuses while the endpoint has assignments the ledger does not (collect first) or the
  ledger has submitted assignments not decided (review first); then expires and deletes each HIT, recording each
  state as it goes. A HIT a worker is still working on cannot be deleted yet: it stays expired and is listed.

Workers: `block_workers` / `unblock_workers` (a reason is required), `notify_workers` (in NotifyWorkers' batches of
100). Qualifications: `create_qualification` (optionally with a test written as a small TOML quiz, turned into a
QuestionForm Test and an AnswerKey), `grant`, `revoke`, `list_qualifications`, `list_qualified_workers`.
"""

from __future__ import annotations

import hashlib
import re
import time
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from sqlalchemy import select, update

from hitkit.mturk.xml import QuestionXMLError, parse_answer_key, parse_test
from hitkit.requester.collect import (
    DEFAULT_CONCURRENCY,
    ResultsError,
    describe,
    epoch,
    error_code,
    ledger_hits,
    paginate,
    parallel,
    uncollected,
)
from hitkit.requester.ledger.store import record_event
from hitkit.requester.ledger.tables import assignments, hits

NOTIFY_BATCH = 100
DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)?\s*$", re.IGNORECASE)
UNITS = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: Any, what: str = "duration") -> int:
    """Seconds from 3600, "90m", "2h", "2d" or "1w"."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        if text <= 0:
            raise ResultsError(f"{what}: must be more than 0 seconds")
        return int(text)
    m = DURATION.match(str(text))
    if not m or float(m.group(1)) <= 0:
        raise ResultsError(f"{what}: expected a duration such as 3600, 90m, 2h or 2d, not {text!r}")
    return int(float(m.group(1)) * UNITS[(m.group(2) or "").lower()])


@dataclass
class HitReport:
    done: list[str] = field(default_factory=list)  # HIT ids
    failed: list[str] = field(default_factory=list)  # "HITId: why"
    note: str = ""

    def describe(self, verb: str) -> str:
        text = f"{verb} {len(self.done)} HIT{'s' if len(self.done) != 1 else ''}"
        if self.failed:
            text += f"; {len(self.failed)} failed"
        return text + (f" ({self.note})" if self.note else "") + "."


def _targets(project: Any, hit_ids: list[str] | None, states: tuple[str, ...] = ("created", "expired"),
             *, empty_ok: bool = False) -> list[dict]:
    with project.ledger.connect() as conn:
        known = ledger_hits(conn, states)
    if hit_ids:
        wanted = set(hit_ids)
        unknown = wanted - {h["hit_id"] for h in known}
        if unknown:
            raise ResultsError(f"HIT {sorted(unknown)[0]} is not one of this project's HITs (or it is deleted)")
        known = [h for h in known if h["hit_id"] in wanted]
    if not known and not empty_ok:
        raise ResultsError("This project has no HITs to act on (launch first, or they are all deleted)")
    return known


def extend_token(hit_id: str, current_max: int, extra: int) -> str:
    return hashlib.sha256(f"extend\n{hit_id}\n{current_max}\n{extra}".encode()).hexdigest()


def extend(project: Any, client: Any, *, assignments: int | None = None, seconds: int | None = None,
           hit_ids: list[str] | None = None, concurrency: int = DEFAULT_CONCURRENCY) -> HitReport:
    """Add assignments to each HIT and/or push its expiration `seconds` past the later of its expiration and now."""
    if not assignments and not seconds:
        raise ResultsError("Say how to extend: --assignments N and/or --time DURATION (e.g. 2d)")
    if assignments is not None and not 1 <= assignments <= 1_000_000_000:
        raise ResultsError("--assignments: must be at least 1")
    targets = _targets(project, hit_ids)
    report = HitReport()
    engine = project.ledger

    def work(h: dict) -> dict:
        out: dict[str, Any] = {}
        if assignments:
            try:
                client.create_additional_assignments_for_hit(
                    HITId=h["hit_id"], NumberOfAdditionalAssignments=assignments,
                    UniqueRequestToken=extend_token(h["hit_id"], h["max_assignments"], assignments))
            except Exception as e:
                if not error_code(e).endswith("DuplicateRequest"):
                    raise
            out["max_assignments"] = h["max_assignments"] + assignments
        if seconds:
            current = epoch(client.get_hit(HITId=h["hit_id"])["HIT"].get("Expiration")) or 0.0
            new = max(current, time.time()) + seconds
            client.update_expiration_for_hit(HITId=h["hit_id"], ExpireAt=datetime.fromtimestamp(new, timezone.utc))
            out["expiration"] = new
            out["state"] = "created"
        return out

    for h, values, error in parallel(work, targets, concurrency=concurrency, client=client):
        if error is not None:
            report.failed.append(f"{h['hit_id']}: {describe(error)}")
            continue
        with engine.begin() as conn:
            conn.execute(update(hits).where(hits.c.token == h["token"]).values(**values))
        report.done.append(h["hit_id"])
    with engine.begin() as conn:
        record_event(conn, "extend", assignments=assignments, seconds=seconds, hits=len(report.done),
                     failed=report.failed[:20])
    return report


def expire(project: Any, client: Any, *, hit_ids: list[str] | None = None,
           concurrency: int = DEFAULT_CONCURRENCY) -> HitReport:
    """Expire each HIT now (workers who accepted one may still submit until their deadline)."""
    targets = _targets(project, hit_ids, ("created", "expired"))
    report = HitReport()
    engine = project.ledger

    def work(h: dict) -> None:
        client.update_expiration_for_hit(HITId=h["hit_id"], ExpireAt=datetime.fromtimestamp(0, timezone.utc))

    for h, _, error in parallel(work, targets, concurrency=concurrency, client=client):
        if error is not None:
            report.failed.append(f"{h['hit_id']}: {describe(error)}")
            continue
        with engine.begin() as conn:
            conn.execute(update(hits).where(hits.c.token == h["token"]).values(
                state="expired", expiration=min(h["expiration"] or time.time(), time.time())))
        report.done.append(h["hit_id"])
    with engine.begin() as conn:
        record_event(conn, "expire", hits=len(report.done), failed=report.failed[:20])
    return report


def delete(project: Any, client: Any, *, hit_ids: list[str] | None = None,
           concurrency: int = DEFAULT_CONCURRENCY) -> HitReport:
    """Expire and delete each HIT, after checking that every result is in the ledger and decided."""
    targets = _targets(project, hit_ids, empty_ok=True)
    if not targets:
        return HitReport(note="no HITs left to delete")
    wanted = {h["hit_id"] for h in targets}
    missing, errors = uncollected(project, client, concurrency=concurrency)
    missing = {h: ids for h, ids in missing.items() if h in wanted}
    if errors:
        raise ResultsError(f"Cannot check {len(errors)} HIT(s) on the endpoint, so nothing was deleted: {errors[0]}")
    if missing:
        n = sum(len(v) for v in missing.values())
        raise ResultsError(f"{n} assignment{'s' if n != 1 else ''} of {len(missing)} HIT{'s' if len(missing) != 1 else ''} "
                           "on the endpoint are not in the ledger (or changed): run `hitkit collect` first; nothing was deleted")
    with project.ledger.connect() as conn:
        undecided = conn.execute(select(assignments.c.assignment_id).where(
            assignments.c.status == "Submitted", assignments.c.hit_id.in_(wanted))).all()
    if undecided:
        n = len(undecided)
        raise ResultsError(f"{n} submitted assignment{'s are' if n != 1 else ' is'} not approved or rejected yet: run "
                           "`hitkit review` first (deleting would leave them to auto-approval); nothing was deleted")
    report = HitReport()
    engine = project.ledger
    # 1. Expire (DeleteHIT takes only expired or finished HITs), recording each.
    expiring = [h for h in targets if h["state"] != "expired"]
    for h, _, error in parallel(lambda h: client.update_expiration_for_hit(
            HITId=h["hit_id"], ExpireAt=datetime.fromtimestamp(0, timezone.utc)), expiring,
            concurrency=concurrency, client=client):
        if error is not None:
            report.failed.append(f"{h['hit_id']}: {describe(error)}")
            continue
        h["state"] = "expired"
        with engine.begin() as conn:
            conn.execute(update(hits).where(hits.c.token == h["token"]).values(
                state="expired", expiration=min(h["expiration"] or time.time(), time.time())))

    # 2. Delete.
    def remove(h: dict) -> str:
        try:
            client.delete_hit(HITId=h["hit_id"])
        except Exception as e:
            if "HITDoesNotExist" in error_code(e):
                return "gone"
            raise
        return "deleted"

    for h, _, error in parallel(remove, [h for h in targets if h["state"] == "expired"], concurrency=concurrency,
                                client=client):
        if error is not None:
            report.failed.append(f"{h['hit_id']}: expired, not deleted: {describe(error)}")
            continue
        with engine.begin() as conn:
            conn.execute(update(hits).where(hits.c.token == h["token"]).values(state="deleted"))
        report.done.append(h["hit_id"])
    with engine.begin() as conn:
        record_event(conn, "delete", hits=len(report.done), failed=report.failed[:20])
    return report


# ----------------------------------------------------------------------------------------------------------------
# Workers
# ----------------------------------------------------------------------------------------------------------------


def read_ids(path: str | Path, column: str = "WorkerId") -> list[str]:
    """Ids from a file: one per line (simple-amt's format), or a CSV with a `column` column."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as e:
        raise ResultsError(f"{path}: cannot read it: {e.strerror}") from None
    lines = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    if lines and "," in lines[0]:
        import csv

        reader = csv.DictReader(lines)
        cols = {c.strip().lower(): c for c in reader.fieldnames or []}
        if column.lower() not in cols:
            raise ResultsError(f"{path}: a CSV needs a {column} column")
        return [r[cols[column.lower()]].strip() for r in reader if (r.get(cols[column.lower()]) or "").strip()]
    if lines and lines[0].lower() == column.lower():
        lines = lines[1:]
    return lines


def _ids(ids: list[str]) -> list[str]:
    out = list(dict.fromkeys(i.strip() for i in ids if i and i.strip()))
    if not out:
        raise ResultsError("No worker ids given (as arguments or with --file)")
    return out


def _reason(reason: str | None, what: str) -> str:
    if reason is None or not reason.strip():
        raise ResultsError(f"--reason is required: say why you {what} (the worker may see it)")
    return reason.strip()


@dataclass
class WorkerReport:
    done: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def block_workers(client: Any, worker_ids: list[str], reason: str | None, *, unblock: bool = False,
                  concurrency: int = DEFAULT_CONCURRENCY) -> WorkerReport:
    ids = _ids(worker_ids)
    reason = _reason(reason, "unblock them" if unblock else "block them")
    report = WorkerReport()
    call = client.delete_worker_block if unblock else client.create_worker_block
    for wid, _, error in parallel(lambda w: call(WorkerId=w, Reason=reason), ids, concurrency=concurrency, client=client):
        (report.failed.append(f"{wid}: {describe(error)}") if error is not None else report.done.append(wid))
    return report


def unblock_workers(client: Any, worker_ids: list[str], reason: str | None, **kw: Any) -> WorkerReport:
    return block_workers(client, worker_ids, reason, unblock=True, **kw)


def notify_workers(client: Any, worker_ids: list[str], subject: str | None, message: str | None) -> WorkerReport:
    ids = _ids(worker_ids)
    if not subject or not subject.strip():
        raise ResultsError("--subject is required")
    if not message or not message.strip():
        raise ResultsError("--message is required")
    if len(subject) > 200:
        raise ResultsError(f"--subject: {len(subject)} characters; the most is 200")
    if len(message) > 4096:
        raise ResultsError(f"--message: {len(message)} characters; the most is 4096")
    report = WorkerReport()
    batches = [ids[i:i + NOTIFY_BATCH] for i in range(0, len(ids), NOTIFY_BATCH)]
    for batch, result, error in parallel(
            lambda b: client.notify_workers(Subject=subject, MessageText=message, WorkerIds=b), batches, client=client):
        if error is not None:
            report.failed.extend(f"{w}: {describe(error)}" for w in batch)
            continue
        failed = {f["WorkerId"]: f.get("NotifyWorkersFailureMessage", "") for f in result.get("NotifyWorkersFailureStatuses", [])}
        for w in batch:
            (report.failed.append(f"{w}: {failed[w]}") if w in failed else report.done.append(w))
    return report


# ----------------------------------------------------------------------------------------------------------------
# Qualifications
# ----------------------------------------------------------------------------------------------------------------

NS_FORM = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2017-11-06/QuestionForm.xsd"
NS_KEY = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/AnswerKey.xsd"


@dataclass
class QuizQuestion:
    identifier: str
    text: str
    choices: list[tuple[str, str]]  # (SelectionIdentifier, text)
    answer: list[str]  # SelectionIdentifiers that make the right answer (all of them)
    points: int = 1


@dataclass
class Quiz:
    name: str
    description: str
    questions: list[QuizQuestion]
    keywords: str | None = None
    duration: int = 1800
    retry_delay: int | None = None
    title: str | None = None
    instructions: str | None = None
    score: str = "percent"  # percent (0-100 of the points) | points (the summed points)

    def test_xml(self) -> str:
        parts = [f'<QuestionForm xmlns="{NS_FORM}">']
        if self.title or self.instructions:
            parts.append("<Overview>" + (f"<Title>{escape(self.title)}</Title>" if self.title else "")
                         + (f"<Text>{escape(self.instructions)}</Text>" if self.instructions else "") + "</Overview>")
        for q in self.questions:
            many = len(q.answer) > 1
            parts.append(
                f"<Question><QuestionIdentifier>{escape(q.identifier)}</QuestionIdentifier><IsRequired>true</IsRequired>"
                f"<QuestionContent><Text>{escape(q.text)}</Text></QuestionContent><AnswerSpecification><SelectionAnswer>"
                + (f"<MinSelectionCount>1</MinSelectionCount><MaxSelectionCount>{len(q.choices)}</MaxSelectionCount>" if many else "")
                + f"<StyleSuggestion>{'checkbox' if many else 'radiobutton'}</StyleSuggestion><Selections>"
                + "".join(f"<Selection><SelectionIdentifier>{escape(sid)}</SelectionIdentifier><Text>{escape(text)}</Text>"
                          "</Selection>" for sid, text in q.choices)
                + "</Selections></SelectionAnswer></AnswerSpecification></Question>")
        parts.append("</QuestionForm>")
        return "".join(parts)

    @property
    def max_points(self) -> int:
        return sum(q.points for q in self.questions)

    def answer_key_xml(self) -> str:
        parts = [f'<AnswerKey xmlns="{NS_KEY}">']
        for q in self.questions:
            parts.append(f"<Question><QuestionIdentifier>{escape(q.identifier)}</QuestionIdentifier><AnswerOption>"
                         + "".join(f"<SelectionIdentifier>{escape(s)}</SelectionIdentifier>" for s in q.answer)
                         + f"<AnswerScore>{q.points}</AnswerScore></AnswerOption></Question>")
        if self.score == "percent":
            parts.append(f"<QualificationValueMapping><PercentageMapping><MaximumSummedScore>{self.max_points}"
                         "</MaximumSummedScore></PercentageMapping></QualificationValueMapping>")
        parts.append("</AnswerKey>")
        return "".join(parts)


def load_quiz(path: str | Path) -> Quiz:
    """A qualification test written as TOML (see docs/results.md):

        name = "Bird expert"
        description = "Tells birds apart"
        duration = "10m"                 # TestDurationInSeconds
        retry_delay = "1d"               # optional: when a worker may retake it
        [[questions]]
        text = "Which one is a bird?"
        choices = ["Sparrow", "Bat", "Bee"]
        answer = "Sparrow"               # a list when several must all be chosen
        points = 1
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ResultsError(f"{path}: cannot read it: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ResultsError(f"{path}: not valid TOML: {e}") from None
    problems: list[str] = []

    def text(key: str, value: Any, required: bool = True) -> str | None:
        if value is None:
            if required:
                problems.append(f"{key}: required")
            return None
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{key}: expected text")
            return None
        return value.strip()

    known = {"name", "description", "keywords", "duration", "retry_delay", "title", "instructions", "score", "questions"}
    for k in data:
        if k not in known:
            problems.append(f"{k}: unknown key (known: {', '.join(sorted(known))})")
    name = text("name", data.get("name"))
    description = text("description", data.get("description"))
    keywords = data.get("keywords")
    if isinstance(keywords, list):
        keywords = ", ".join(str(k) for k in keywords)
    duration = retry = None
    try:
        duration = parse_duration(data.get("duration", 1800), "duration")
    except ResultsError as e:
        problems.append(str(e))
    if data.get("retry_delay") is not None:
        try:
            retry = parse_duration(data["retry_delay"], "retry_delay")
        except ResultsError as e:
            problems.append(str(e))
    score = data.get("score", "percent")
    if score not in ("percent", "points"):
        problems.append(f"score: percent or points, not {score!r}")
    raw_questions = data.get("questions")
    questions: list[QuizQuestion] = []
    if not isinstance(raw_questions, list) or not raw_questions:
        problems.append("questions: at least one [[questions]] table is required")
        raw_questions = []
    seen: set[str] = set()
    for i, q in enumerate(raw_questions, start=1):
        where = f"questions[{i}]"
        if not isinstance(q, dict):
            problems.append(f"{where}: expected a table")
            continue
        for k in q:
            if k not in ("id", "text", "choices", "answer", "points"):
                problems.append(f"{where}.{k}: unknown key (known: id, text, choices, answer, points)")
        qid = str(q.get("id", f"q{i}")).strip()
        if not qid or qid in seen:
            problems.append(f"{where}.id: {'empty' if not qid else f'{qid!r} is used twice'}")
        seen.add(qid)
        qtext = text(f"{where}.text", q.get("text"))
        choices: list[tuple[str, str]] = []
        raw_choices = q.get("choices")
        if not isinstance(raw_choices, list) or len(raw_choices) < 2:
            problems.append(f"{where}.choices: at least two choices")
            raw_choices = []
        for j, c in enumerate(raw_choices, start=1):
            if isinstance(c, str) and c.strip():
                choices.append((f"c{j}", c.strip()))
            elif isinstance(c, dict) and isinstance(c.get("text"), str) and c["text"].strip():
                choices.append((str(c.get("id", f"c{j}")).strip() or f"c{j}", c["text"].strip()))
            else:
                problems.append(f"{where}.choices[{j}]: a text, or a table with id and text")
        if len({sid for sid, _ in choices}) != len(choices):
            problems.append(f"{where}.choices: two choices have the same id")
        answer = q.get("answer")
        wanted = answer if isinstance(answer, list) else [answer] if answer is not None else []
        ids: list[str] = []
        for a in wanted:
            match = [sid for sid, t in choices if str(a).strip() in (sid, t)]
            if not match:
                problems.append(f"{where}.answer: {a!r} is not one of its choices")
            else:
                ids.append(match[0])
        if not wanted:
            problems.append(f"{where}.answer: required (the right choice, or a list of them)")
        points = q.get("points", 1)
        if isinstance(points, bool) or not isinstance(points, int) or points < 0:
            problems.append(f"{where}.points: a whole number, 0 or more")
            points = 1
        if qtext and choices and ids:
            questions.append(QuizQuestion(qid, qtext, choices, list(dict.fromkeys(ids)), points))
    if problems:
        raise ResultsError(f"{path}: {len(problems)} problem{'s' if len(problems) != 1 else ''}: " + "; ".join(problems))
    quiz = Quiz(name or "", description or "", questions, keywords, duration or 1800, retry, text("title", data.get("title"), False),
                text("instructions", data.get("instructions"), False), score)
    if quiz.score == "percent" and quiz.max_points <= 0:
        raise ResultsError(f"{path}: the questions are worth 0 points in all")
    try:  # hitkit's own MTurk XML rules: what the endpoint will check
        test = parse_test(quiz.test_xml())
        parse_answer_key(quiz.answer_key_xml(), test)
    except QuestionXMLError as e:
        raise ResultsError(f"{path}: {e}") from None
    return quiz


def create_qualification(client: Any, *, name: str | None = None, description: str | None = None,
                         quiz: str | Path | Quiz | None = None, keywords: str | None = None,
                         auto_granted: bool = False, auto_granted_value: int = 1,
                         retry_delay: int | None = None) -> dict:
    """CreateQualificationType; with a quiz, its Test, AnswerKey and TestDurationInSeconds. Returns the type."""
    params: dict[str, Any] = {"QualificationTypeStatus": "Active"}
    if quiz is not None:
        q = quiz if isinstance(quiz, Quiz) else load_quiz(quiz)
        params.update(Name=name or q.name, Description=description or q.description, Test=q.test_xml(),
                      AnswerKey=q.answer_key_xml(), TestDurationInSeconds=q.duration)
        keywords = keywords or q.keywords
        retry_delay = retry_delay if retry_delay is not None else q.retry_delay
    else:
        if not name or not description:
            raise ResultsError("A qualification needs a name and a description (or a --quiz file holding them)")
        params.update(Name=name, Description=description)
        if auto_granted:
            params.update(AutoGranted=True, AutoGrantedValue=auto_granted_value)
    if keywords:
        params["Keywords"] = keywords
    if retry_delay is not None:
        params["RetryDelayInSeconds"] = retry_delay
    return client.create_qualification_type(**params)["QualificationType"]


def list_qualifications(client: Any, query: str | None = None) -> list[dict]:
    """The caller's qualification types."""
    return paginate(client.list_qualification_types, "QualificationTypes", MustBeRequestable=False,
                    MustBeOwnedByCaller=True, MaxResults=100, **({"Query": query} if query else {}))


def find_qualification(client: Any, name_or_id: str) -> dict:
    """One of the caller's qualification types, by id or exact name."""
    for q in list_qualifications(client):
        if name_or_id in (q["QualificationTypeId"], q["Name"]):
            return q
    raise ResultsError(f"No qualification type of yours is named or has the id {name_or_id!r} (see `hitkit quals list`)")


def grant(client: Any, qualification: str, worker_ids: list[str], *, value: int = 1, notify: bool = False,
          concurrency: int = DEFAULT_CONCURRENCY) -> WorkerReport:
    type_id = find_qualification(client, qualification)["QualificationTypeId"]
    report = WorkerReport()
    for wid, _, error in parallel(lambda w: client.associate_qualification_with_worker(
            QualificationTypeId=type_id, WorkerId=w, IntegerValue=value, SendNotification=notify),
            _ids(worker_ids), concurrency=concurrency, client=client):
        (report.failed.append(f"{wid}: {describe(error)}") if error is not None else report.done.append(wid))
    return report


def revoke(client: Any, qualification: str, worker_ids: list[str], *, reason: str | None = None,
           concurrency: int = DEFAULT_CONCURRENCY) -> WorkerReport:
    type_id = find_qualification(client, qualification)["QualificationTypeId"]
    report = WorkerReport()
    for wid, _, error in parallel(lambda w: client.disassociate_qualification_from_worker(
            QualificationTypeId=type_id, WorkerId=w, **({"Reason": reason} if reason else {})),
            _ids(worker_ids), concurrency=concurrency, client=client):
        (report.failed.append(f"{wid}: {describe(error)}") if error is not None else report.done.append(wid))
    return report


def list_qualified_workers(client: Any, qualification: str, *, status: str | None = "Granted") -> list[dict]:
    """The workers holding a qualification (`status` Granted, Revoked, or None for both)."""
    type_id = find_qualification(client, qualification)["QualificationTypeId"]
    return paginate(client.list_workers_with_qualification_type, "Qualifications", QualificationTypeId=type_id,
                    MaxResults=100, **({"Status": status} if status else {}))
