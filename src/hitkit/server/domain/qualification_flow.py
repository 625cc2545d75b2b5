"""A worker's side of custom qualifications: requesting a type (answering its Test), auto-grading, and the one
`grant` every grant path goes through (worker request, AssociateQualificationWithWorker, AcceptQualificationRequest).

Rules (reference §9; where MTurk's record is unclear, hitkit's choice is marked *chosen*):

* Only custom types that are Active and not deleted can be requested. System types (Locale, Masters, ...) are
  computed from the worker's record and cannot be requested.
* A worker has at most one Pending request per type; a second request while one is Pending is refused (*chosen*).
* No `RetryDelayInSeconds` on the type: a worker may request it once, ever. With a delay: the next request is
  allowed once `delay` seconds have passed since the worker's last request (whatever became of it), also when the
  worker already holds the qualification (to improve a score).
* A type with a `Test` needs answers; they are validated against the test (a QuestionForm) and stored as
  QuestionFormAnswers XML. The test is answered in the same call as the request, so `TestDurationInSeconds` is not
  enforced (*chosen*). Answers sent for a type without a test are refused (*chosen*).
* With an `AnswerKey` the answers are graded at once and the qualification granted with the graded value (even a
  low one: requirements then compare the value). `AutoGranted` types grant `AutoGrantedValue` (default 1) at once.
  Otherwise the request waits, Pending, for AcceptQualificationRequest / RejectQualificationRequest.
* A worker the type's owner has blocked (CreateWorkerBlock) cannot request its types (*chosen*).

Locking (settles races in the database, in any number of processes): the type row (shared) is taken before any
request row, and request rows before the worker row; grants lock the worker row. SQLite's writer lock makes all
of this a no-op there.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Connection, Row, insert, select, update

from hitkit.mturk.ids import new_entity_id
from hitkit.mturk.qualification_ids import SYSTEM_TYPE_IDS, system_type_name
from hitkit.mturk.xml import (
    QuestionXMLError,
    encode_questionform_answers,
    grade,
    parse_answer_key,
    parse_answers,
    parse_test,
)
from hitkit.server.domain.assignment_flow import FlowError
from hitkit.server.domain.qualification_values import is_blocked
from hitkit.server.store.tables import qualification_requests, qualification_types, qualifications, workers, worker_messages

DEFAULT_AUTO_GRANTED_VALUE = 1


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def lock_type(conn: Connection, type_id: str, *, exclusive: bool = False) -> Row | None:
    """The qualification type row (deleted or not), locked: shared for readers that must not race a delete or
    update, exclusive for those. None when no such id exists."""
    q = select(qualification_types).where(qualification_types.c.id == type_id)
    q = q.with_for_update() if exclusive else q.with_for_update(read=True)
    return conn.execute(q).first()


def lock_worker(conn: Connection, worker_id: str) -> Row | None:
    """The worker row, locked, so one worker's grants and requests happen one at a time. None if unknown."""
    return conn.execute(select(workers).where(workers.c.id == worker_id).with_for_update(key_share=True)).first()


def grant(
    conn: Connection,
    type_id: str,
    worker_id: str,
    integer_value: int | None,
    now: float,
    country: str | None = None,
    subdivision: str | None = None,
) -> None:
    """Give `worker_id` the qualification `type_id` with this value (Status Granted, GrantTime now), replacing any
    earlier value or revocation. The caller has checked that the type may be granted and the worker exists."""
    lock_worker(conn, worker_id)
    values = {
        "integer_value": integer_value,
        "country": country,
        "subdivision": subdivision,
        "status": "Granted",
        "grant_time": now,
        "revoke_reason": None,
    }
    key = (qualifications.c.type_id == type_id) & (qualifications.c.worker_id == worker_id)
    if conn.execute(select(qualifications.c.status).where(key)).first() is None:
        conn.execute(insert(qualifications).values(type_id=type_id, worker_id=worker_id, **values))
    else:
        conn.execute(update(qualifications).where(key).values(**values))


def notify_worker(conn: Connection, requester_id: str, worker_id: str, subject: str, body: str, now: float) -> None:
    """Leave a message for the worker, as MTurk e-mailed workers about grants, revocations and rejections."""
    conn.execute(
        insert(worker_messages).values(
            requester_id=requester_id, worker_id=worker_id, subject=subject[:200], body=body[:4096], created_at=now
        )
    )


def _check_retry(conn: Connection, qt: Row, worker_id: str, now: float) -> None:
    last = conn.execute(
        select(qualification_requests)
        .where(qualification_requests.c.worker_id == worker_id, qualification_requests.c.type_id == qt.id)
        .order_by(qualification_requests.c.submit_time.desc(), qualification_requests.c.seq.desc())
        .limit(1)
    ).first()
    if last is None:
        return
    if last.status == "Pending":
        raise FlowError(
            "request_pending",
            f"You already have a pending request ({last.id}) for qualification type {qt.id}, submitted at "
            f"{_iso(last.submit_time)}; wait for the requester to accept or reject it.",
        )
    if qt.retry_delay is None:
        raise FlowError(
            "retry_not_allowed",
            f"Qualification type {qt.id} can be requested only once and you requested it at "
            f"{_iso(last.submit_time)} (request {last.id}); its requester did not allow retries.",
        )
    retry_at = last.submit_time + qt.retry_delay
    if now < retry_at:
        wait = int(-(-(retry_at - now) // 1))
        raise FlowError(
            "retry_too_soon",
            f"You requested qualification type {qt.id} at {_iso(last.submit_time)}; you may request it again at "
            f"{_iso(retry_at)} (in {wait} seconds).",
        )


def _encode_answers(qt: Row, answers: object) -> str | None:
    """The QuestionFormAnswers XML of a test's answers (None for a type without a test)."""
    if qt.test is None:
        if answers:
            raise FlowError(
                "no_test",
                f"Qualification type {qt.id} has no test; request it without answers.",
                400,
            )
        return None
    if answers is None:
        raise FlowError(
            "answers_required",
            f"Qualification type {qt.id} has a test; send your answers as {{\"answers\": {{question id: answer}}}}.",
            400,
        )
    if not isinstance(answers, dict):
        raise FlowError(
            "invalid_answer",
            f"The answers to the test of qualification type {qt.id} must be an object of question id to answer, "
            f"not {type(answers).__name__}.",
            400,
        )
    try:
        return encode_questionform_answers(parse_test(qt.test), answers)
    except QuestionXMLError as e:
        raise FlowError("invalid_answer", f"Answers to the test of qualification type {qt.id}: {e.message}", 400) from None


def _graded_value(qt: Row, answer_xml: str) -> int:
    try:
        key = parse_answer_key(qt.answer_key, parse_test(qt.test))
        return grade(key, parse_answers(answer_xml))
    except QuestionXMLError as e:  # the key was validated on create/update; this means stored data went bad
        raise FlowError(
            "answer_key_invalid",
            f"Qualification type {qt.id} cannot be graded: its AnswerKey is not valid ({e.message}).",
            409,
        ) from None


def request_qualification(conn: Connection, worker_row: Row, type_id: str, answers: dict | None, now: float) -> dict:
    """A worker requests a qualification type (with test answers when it has a test).

    Returns {"QualificationRequestId", "QualificationTypeId", "Status": "Granted"|"Pending", "SubmitTime"} plus
    "IntegerValue" when granted at once. Raises FlowError for refusals (404 unknown type, 409 not requestable now,
    400 bad answers, 403 blocked)."""
    if type_id in SYSTEM_TYPE_IDS:
        raise FlowError(
            "not_requestable",
            f"{system_type_name(type_id)} ({type_id}) is a system qualification computed from your record; "
            "it cannot be requested.",
        )
    qt = lock_type(conn, type_id)
    if qt is None or qt.deleted_at is not None:
        raise FlowError("qualification_type_not_found", f"Qualification type {type_id} does not exist.", 404)
    if qt.status != "Active":
        raise FlowError(
            "qualification_type_inactive",
            f"Qualification type {type_id} is Inactive; its requester is not accepting requests for it.",
        )
    worker = lock_worker(conn, worker_row.id)
    if worker is None:
        raise FlowError("worker_not_found", f"Worker {worker_row.id} does not exist.", 404)
    if not worker.active:
        raise FlowError("worker_inactive", "This worker account is deactivated.", 403)
    if is_blocked(conn, qt.requester_id, worker.id):
        raise FlowError(
            "blocked",
            f"The requester of qualification type {type_id} has chosen to prevent you from working on their HITs.",
            403,
        )
    _check_retry(conn, qt, worker.id, now)
    answer_xml = _encode_answers(qt, answers)

    value: int | None = None
    if qt.test is not None and qt.answer_key is not None:
        value = _graded_value(qt, answer_xml or "")
    elif qt.auto_granted:
        value = qt.auto_granted_value if qt.auto_granted_value is not None else DEFAULT_AUTO_GRANTED_VALUE

    request_id = new_entity_id()
    granted = value is not None
    conn.execute(
        insert(qualification_requests).values(
            id=request_id,
            type_id=qt.id,
            worker_id=worker.id,
            test=qt.test,
            answer=answer_xml,
            submit_time=now,
            status="Granted" if granted else "Pending",
            resolved_time=now if granted else None,
        )
    )
    out: dict = {"QualificationRequestId": request_id, "QualificationTypeId": qt.id, "SubmitTime": now}
    if granted:
        grant(conn, qt.id, worker.id, value, now)
        out.update(Status="Granted", IntegerValue=value)
    else:
        out["Status"] = "Pending"
    return out
