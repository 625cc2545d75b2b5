"""Qualifications: CreateQualificationType, GetQualificationType, ListQualificationTypes, UpdateQualificationType,
DeleteQualificationType, AssociateQualificationWithWorker, DisassociateQualificationFromWorker,
GetQualificationScore, ListWorkersWithQualificationType, ListQualificationRequests, AcceptQualificationRequest,
RejectQualificationRequest. The worker's side (requesting, tests, auto-grading) is domain/qualification_flow.py.

hitkit's rules where MTurk's record is unclear (reference §2.1, §9):

* Each requester sees only its own custom types; another requester's type answers QualificationDoesNotExist, as
  an unknown one does. System types (Locale, Adult, Masters, approval stats) are readable by everyone and are
  listed by ListQualificationTypes unless MustBeOwnedByCaller is true (before the caller's own types).
* `IsRequestable` is true for every Active custom type (workers can request any of them: with a test, auto-granted,
  or queued for the requester); false for Inactive, deleted and system types.
* Name is unique per requester among types not deleted; a deleted type's name is free at once.
* Deleting a type hides it at once, rejects its pending requests, leaves granted qualifications as they were
  (existing HITs still see them) and makes it unusable in new HITs and HIT types.
* `IntegerValue` defaults to 1 in AssociateQualificationWithWorker and AcceptQualificationRequest.
* `SendNotification` (default true) and revocation/rejection reasons leave a message for the worker.
* An unknown but well-formed WorkerId is refused as the real service refused workers of the other environment:
  ParameterValidationError "The value "A..." is not valid for the parameter WorkerId." (aws/aws-sdk-java#2055).
* Revoking a qualification that is already revoked succeeds and changes nothing; revoking one the worker never
  had answers QualificationDoesNotExist.
* A Test without a TestDurationInSeconds is refused; a TestDurationInSeconds without a Test is ignored.
* UpdateQualificationType: a new Test needs TestDurationInSeconds in the same call and replaces the AnswerKey
  (omitting AnswerKey leaves the new test without one); an AnswerKey alone is checked against the current test;
  an explicit null RetryDelayInSeconds (disabling retries) is refused once retries are set; a Test cannot be
  removed; a type with a test cannot become AutoGranted.
* ListWorkersWithQualificationType pages in WorkerId order and answers only for the caller's custom types.
"""

from __future__ import annotations

import base64

from sqlalchemy import Row, func, or_, select, update

from hitkit.mturk.ids import new_entity_id
from hitkit.mturk.qualification_ids import SYSTEM_TYPE_IDS, SYSTEM_TYPES, system_type_name
from hitkit.mturk.xml import QuestionDoc, QuestionXMLError, parse_answer_key, parse_test
from hitkit.server.api.errors import (
    ParameterValidationError,
    RequestError,
    invalid_value,
    qualification_type_not_found,
)
from hitkit.server.api.operations import DEFAULT_PAGE_SIZE, Ctx, decode_token, drop_none, encode_token, operation, paginate
from hitkit.server.domain.qualification_flow import (
    DEFAULT_AUTO_GRANTED_VALUE,
    grant,
    lock_type,
    lock_worker,
    notify_worker,
)
from hitkit.server.domain.qualification_values import system_value
from hitkit.server.store.tables import qualification_requests, qualification_types, qualifications, requesters, workers

SYSTEM_CREATION_TIME = 1104537600.0  # 2005-01-01T00:00:00Z: system types predate every custom one
DEFAULT_GRANT_VALUE = 1
_SYSTEM_ORDER = tuple(SYSTEM_TYPES)  # fixed order; listed with pseudo sequence numbers -n..-1 before custom types


# ---------------------------------------------------------------- output


def qualification_type_to_api(row: Row) -> dict:
    """A custom type in the model's QualificationType shape."""
    return drop_none(
        {
            "QualificationTypeId": row.id,
            "CreationTime": row.created_at,
            "Name": row.name,
            "Description": row.description,
            "Keywords": row.keywords,
            "QualificationTypeStatus": row.status,
            "Test": row.test,
            "TestDurationInSeconds": row.test_duration if row.test is not None else None,
            "AnswerKey": row.answer_key,
            "RetryDelayInSeconds": row.retry_delay,
            "IsRequestable": row.status == "Active" and row.deleted_at is None,
            "AutoGranted": bool(row.auto_granted),
            "AutoGrantedValue": (
                (row.auto_granted_value if row.auto_granted_value is not None else DEFAULT_AUTO_GRANTED_VALUE)
                if row.auto_granted
                else None
            ),
        }
    )


def system_type_to_api(type_id: str) -> dict:
    name, description = SYSTEM_TYPES[type_id]
    return {
        "QualificationTypeId": type_id,
        "CreationTime": SYSTEM_CREATION_TIME,
        "Name": name,
        "Description": description,
        "QualificationTypeStatus": "Active",
        "IsRequestable": False,
        "AutoGranted": False,
    }


def _locale(country: str | None, subdivision: str | None) -> dict | None:
    if country is None:
        return None
    return drop_none({"Country": country, "Subdivision": subdivision})


def qualification_to_api(row: Row) -> dict:
    """A worker's custom qualification in the model's Qualification shape."""
    return drop_none(
        {
            "QualificationTypeId": row.type_id,
            "WorkerId": row.worker_id,
            "GrantTime": row.grant_time,
            "IntegerValue": row.integer_value,
            "LocaleValue": _locale(row.country, row.subdivision),
            "Status": row.status,
        }
    )


def qualification_request_to_api(row: Row) -> dict:
    return drop_none(
        {
            "QualificationRequestId": row.id,
            "QualificationTypeId": row.type_id,
            "WorkerId": row.worker_id,
            "Test": row.test,
            "Answer": row.answer,
            "SubmitTime": row.submit_time,
        }
    )


# ---------------------------------------------------------------- loading and checks


def load_own_type(ctx: Ctx, type_id: str, *, lock: str | None = None) -> Row:
    """The caller's custom, not deleted type, or QualificationDoesNotExist. `lock`: None, "share" or "update"."""
    if lock is None:
        row = ctx.conn.execute(select(qualification_types).where(qualification_types.c.id == type_id)).first()
    else:
        row = lock_type(ctx.conn, type_id, exclusive=lock == "update")
    if row is None or row.deleted_at is not None or row.requester_id != ctx.requester_id:
        raise qualification_type_not_found(type_id)
    return row


def _refuse_system(type_id: str, what: str) -> None:
    if type_id in SYSTEM_TYPE_IDS:
        raise invalid_value(
            type_id,
            "QualificationTypeId",
            f"{system_type_name(type_id)} is a system QualificationType; {what}",
        )


def _existing_worker(ctx: Ctx, worker_id: str) -> Row:
    worker = lock_worker(ctx.conn, worker_id)
    if worker is None:
        raise invalid_value(worker_id, "WorkerId", "No worker with this WorkerId exists on this hitkit server.")
    return worker


def _parse_test(test: str) -> QuestionDoc:
    try:
        return parse_test(test)
    except QuestionXMLError as e:
        raise ParameterValidationError(f"The value of the parameter Test is not valid: {e.message}", "Test") from None


def _check_answer_key(answer_key: str, test_doc: QuestionDoc) -> None:
    try:
        parse_answer_key(answer_key, test_doc)
    except QuestionXMLError as e:
        raise ParameterValidationError(
            f"The value of the parameter AnswerKey is not valid: {e.message}", "AnswerKey"
        ) from None


def _check_test_params(params: dict, *, auto_granted: bool) -> None:
    """The rules binding Test, TestDurationInSeconds, AnswerKey and AutoGranted when a Test is given."""
    if params.get("TestDurationInSeconds") is None:
        raise ParameterValidationError(
            "A Test requires TestDurationInSeconds (the seconds a worker has to complete it); pass both.", "Test"
        )
    if auto_granted:
        raise ParameterValidationError(
            "A QualificationType cannot have both a Test and AutoGranted=true: an auto-granted type is granted "
            "without a test. Drop one of them.",
            "Test",
        )
    doc = _parse_test(params["Test"])
    if params.get("AnswerKey") is not None:
        _check_answer_key(params["AnswerKey"], doc)


# ---------------------------------------------------------------- types


@operation("CreateQualificationType")
def create_qualification_type(ctx: Ctx, params: dict) -> dict:
    auto_granted = bool(params.get("AutoGranted", False))
    test = params.get("Test")
    if test is not None:
        _check_test_params(params, auto_granted=auto_granted)
    elif params.get("AnswerKey") is not None:
        raise ParameterValidationError(
            "An AnswerKey requires a Test: the key grades the answers to the Test. Pass the Test (and "
            "TestDurationInSeconds) too, or drop the AnswerKey.",
            "Test",
        )
    # Names are unique per requester, with no unique index (deleted types keep theirs): the requester's row lock
    # serializes concurrent creates on PostgreSQL; SQLite's BEGIN IMMEDIATE already does.
    ctx.conn.execute(select(requesters.c.id).where(requesters.c.id == ctx.requester_id).with_for_update(key_share=True)).first()
    name = params["Name"]
    taken = ctx.conn.execute(
        select(qualification_types.c.id).where(
            qualification_types.c.requester_id == ctx.requester_id,
            qualification_types.c.name == name,
            qualification_types.c.deleted_at.is_(None),
        )
    ).first()
    if taken is not None:
        raise RequestError(
            "You have already created a QualificationType with this name. A QualificationType's name must be "
            f"unique among all of the QualificationTypes created by the same user. (Name {name!r} is used by "
            f"QualificationTypeId {taken.id})",
            "AWS.MechanicalTurk.QualificationTypeAlreadyExists",
        )
    type_id = new_entity_id()
    ctx.conn.execute(
        qualification_types.insert().values(
            id=type_id,
            requester_id=ctx.requester_id,
            name=name,
            description=params["Description"],
            keywords=params.get("Keywords"),
            status=params["QualificationTypeStatus"],
            test=test,
            test_duration=params.get("TestDurationInSeconds") if test is not None else None,
            answer_key=params.get("AnswerKey") if test is not None else None,
            retry_delay=params.get("RetryDelayInSeconds"),
            auto_granted=auto_granted,
            auto_granted_value=params.get("AutoGrantedValue"),
            created_at=ctx.now,
        )
    )
    row = ctx.conn.execute(select(qualification_types).where(qualification_types.c.id == type_id)).one()
    return {"QualificationType": qualification_type_to_api(row)}


@operation("GetQualificationType", read_only=True)
def get_qualification_type(ctx: Ctx, params: dict) -> dict:
    type_id = params["QualificationTypeId"]
    if type_id in SYSTEM_TYPE_IDS:
        return {"QualificationType": system_type_to_api(type_id)}
    return {"QualificationType": qualification_type_to_api(load_own_type(ctx, type_id))}


def _system_matches(type_id: str, query: str | None) -> bool:
    if not query:
        return True
    name, description = SYSTEM_TYPES[type_id]
    q = query.lower()
    return q in name.lower() or q in description.lower()


@operation("ListQualificationTypes", read_only=True)
def list_qualification_types(ctx: Ctx, params: dict) -> dict:
    """Own types (and system types unless MustBeOwnedByCaller), filtered by Query (case-insensitive substring of
    Name, Description or Keywords) and MustBeRequestable; system types first, then own types by creation."""
    size = params.get("MaxResults") or DEFAULT_PAGE_SIZE
    cursor = decode_token(params["NextToken"]) if params.get("NextToken") else None
    query = params.get("Query")
    items: list[tuple[int, dict]] = []
    if not params.get("MustBeOwnedByCaller", False) and not params["MustBeRequestable"]:
        n = len(_SYSTEM_ORDER)
        for i, type_id in enumerate(_SYSTEM_ORDER):
            seq = i - n
            if (cursor is None or seq > cursor) and _system_matches(type_id, query):
                items.append((seq, system_type_to_api(type_id)))
    items = items[: size + 1]
    if len(items) <= size:
        qt = qualification_types.c
        q = select(qualification_types).where(qt.requester_id == ctx.requester_id, qt.deleted_at.is_(None))
        if cursor is not None:
            q = q.where(qt.seq > cursor)
        if params["MustBeRequestable"]:
            q = q.where(qt.status == "Active")
        if query:
            needle = query.lower()
            q = q.where(
                or_(
                    func.lower(qt.name).contains(needle, autoescape=True),
                    func.lower(qt.description).contains(needle, autoescape=True),
                    func.lower(func.coalesce(qt.keywords, "")).contains(needle, autoescape=True),
                )
            )
        rows = ctx.conn.execute(q.order_by(qt.seq).limit(size + 1 - len(items))).all()
        items += [(r.seq, qualification_type_to_api(r)) for r in rows]
    out: dict = {}
    if len(items) > size:
        items = items[:size]
        out["NextToken"] = encode_token(items[-1][0])
    out["NumResults"] = len(items)
    out["QualificationTypes"] = [item for _, item in items]
    return out


@operation("UpdateQualificationType")
def update_qualification_type(ctx: Ctx, params: dict) -> dict:
    type_id = params["QualificationTypeId"]
    _refuse_system(type_id, "only your own QualificationTypes can be updated.")
    row = load_own_type(ctx, type_id, lock="update")
    values: dict = {}
    if params.get("Description") is not None:
        values["description"] = params["Description"]
    if params.get("QualificationTypeStatus") is not None:
        values["status"] = params["QualificationTypeStatus"]

    if "RetryDelayInSeconds" in params:
        delay = params["RetryDelayInSeconds"]
        if delay is None and row.retry_delay is not None:
            raise ParameterValidationError(
                f"QualificationType {type_id} allows retries (RetryDelayInSeconds {row.retry_delay}); retries "
                "cannot be disabled once enabled. Delete the type and create a new one without RetryDelayInSeconds.",
                "RetryDelayInSeconds",
            )
        if delay is not None:
            values["retry_delay"] = delay

    auto_granted = row.auto_granted if params.get("AutoGranted") is None else params["AutoGranted"]
    if "Test" in params and params["Test"] is None and row.test is not None:
        raise ParameterValidationError(
            f"QualificationType {type_id} has a Test; a Test cannot be removed, only replaced.", "Test"
        )
    new_test = params.get("Test")
    if new_test is not None:
        if row.auto_granted and params.get("AutoGranted") is None:
            raise ParameterValidationError(
                f"QualificationType {type_id} is AutoGranted; a Test can be added only with AutoGranted=false "
                "in the same call.",
                "Test",
            )
        _check_test_params(params, auto_granted=bool(auto_granted))
        values.update(test=new_test, test_duration=params["TestDurationInSeconds"], answer_key=params.get("AnswerKey"))
    else:
        if auto_granted and row.test is not None:
            raise ParameterValidationError(
                f"QualificationType {type_id} has a Test; a type with a test cannot become AutoGranted.",
                "AutoGranted",
            )
        if params.get("AnswerKey") is not None:
            if row.test is None:
                raise ParameterValidationError(
                    f"QualificationType {type_id} has no Test; an AnswerKey requires a Test (pass Test and "
                    "TestDurationInSeconds with it).",
                    "Test",
                )
            _check_answer_key(params["AnswerKey"], _parse_test(row.test))
            values["answer_key"] = params["AnswerKey"]
        if params.get("TestDurationInSeconds") is not None and row.test is not None:
            values["test_duration"] = params["TestDurationInSeconds"]
    if params.get("AutoGranted") is not None:
        values["auto_granted"] = params["AutoGranted"]
    if params.get("AutoGrantedValue") is not None:
        values["auto_granted_value"] = params["AutoGrantedValue"]

    if values:
        ctx.conn.execute(update(qualification_types).where(qualification_types.c.id == type_id).values(**values))
    row = ctx.conn.execute(select(qualification_types).where(qualification_types.c.id == type_id)).one()
    return {"QualificationType": qualification_type_to_api(row)}


@operation("DeleteQualificationType")
def delete_qualification_type(ctx: Ctx, params: dict) -> dict:
    type_id = params["QualificationTypeId"]
    _refuse_system(type_id, "only your own QualificationTypes can be deleted.")
    load_own_type(ctx, type_id, lock="update")
    ctx.conn.execute(update(qualification_types).where(qualification_types.c.id == type_id).values(deleted_at=ctx.now))
    ctx.conn.execute(
        update(qualification_requests)
        .where(qualification_requests.c.type_id == type_id, qualification_requests.c.status == "Pending")
        .values(status="Rejected", resolved_time=ctx.now, reason=f"QualificationType {type_id} was deleted.")
    )
    return {}


# ---------------------------------------------------------------- workers' qualifications


@operation("AssociateQualificationWithWorker")
def associate_qualification_with_worker(ctx: Ctx, params: dict) -> dict:
    type_id, worker_id = params["QualificationTypeId"], params["WorkerId"]
    _refuse_system(type_id, "system qualifications are computed from the worker's record and cannot be assigned.")
    qt = load_own_type(ctx, type_id, lock="share")
    _existing_worker(ctx, worker_id)
    value = params.get("IntegerValue")
    grant(ctx.conn, type_id, worker_id, DEFAULT_GRANT_VALUE if value is None else value, ctx.now)
    if params.get("SendNotification", True):
        notify_worker(
            ctx.conn, ctx.requester_id, worker_id, f"Qualification granted: {qt.name}",
            f"You have been granted the qualification {qt.name!r} ({type_id}).", ctx.now,
        )
    return {}


@operation("DisassociateQualificationFromWorker")
def disassociate_qualification_from_worker(ctx: Ctx, params: dict) -> dict:
    type_id, worker_id = params["QualificationTypeId"], params["WorkerId"]
    _refuse_system(type_id, "system qualifications are computed from the worker's record and cannot be revoked.")
    qt = load_own_type(ctx, type_id, lock="share")
    lock_worker(ctx.conn, worker_id)
    key = (qualifications.c.type_id == type_id) & (qualifications.c.worker_id == worker_id)
    held = ctx.conn.execute(select(qualifications.c.status).where(key)).first()
    if held is None:
        raise RequestError(
            f"You requested a Qualification that does not exist. (Worker {worker_id} does not hold "
            f"QualificationType {type_id})",
            "AWS.MechanicalTurk.QualificationDoesNotExist",
        )
    if held.status == "Revoked":
        return {}
    reason = params.get("Reason")
    ctx.conn.execute(update(qualifications).where(key).values(status="Revoked", revoke_reason=reason))
    notify_worker(
        ctx.conn, ctx.requester_id, worker_id, f"Qualification revoked: {qt.name}",
        f"Your qualification {qt.name!r} ({type_id}) was revoked." + (f" Reason: {reason}" if reason else ""),
        ctx.now,
    )
    return {}


def _score_missing(type_id: str, worker_id: str) -> RequestError:
    return RequestError(
        f"You requested a Qualification that does not exist. (Worker {worker_id} has no Qualification of "
        f"QualificationTypeId {type_id})",
        "AWS.MechanicalTurk.QualificationDoesNotExist",
    )


@operation("GetQualificationScore", read_only=True)
def get_qualification_score(ctx: Ctx, params: dict) -> dict:
    type_id, worker_id = params["QualificationTypeId"], params["WorkerId"]
    if type_id in SYSTEM_TYPE_IDS:
        worker = ctx.conn.execute(select(workers).where(workers.c.id == worker_id)).first()
        value = system_value(ctx.conn, worker, type_id) if worker is not None else None
        if value is None:
            raise _score_missing(type_id, worker_id)
        return {
            "Qualification": drop_none(
                {
                    "QualificationTypeId": type_id,
                    "WorkerId": worker_id,
                    "GrantTime": worker.created_at,
                    "IntegerValue": value.integer,
                    "LocaleValue": _locale(value.country, value.subdivision),
                    "Status": "Granted",
                }
            )
        }
    load_own_type(ctx, type_id)
    row = ctx.conn.execute(
        select(qualifications).where(qualifications.c.type_id == type_id, qualifications.c.worker_id == worker_id)
    ).first()
    if row is None:
        raise _score_missing(type_id, worker_id)
    return {"Qualification": qualification_to_api(row)}


def _encode_worker_token(worker_id: str) -> str:
    return base64.urlsafe_b64encode(f"hkw:{worker_id}".encode()).decode().rstrip("=")


def _decode_worker_token(token: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raw = ""
    prefix, _, worker_id = raw.partition(":")
    if prefix != "hkw" or not worker_id:
        raise ParameterValidationError(
            f'The value "{token[:80]}" is not valid for the parameter NextToken. Pass the NextToken of a previous '
            "ListWorkersWithQualificationType page.",
            "NextToken",
        )
    return worker_id


@operation("ListWorkersWithQualificationType", read_only=True)
def list_workers_with_qualification_type(ctx: Ctx, params: dict) -> dict:
    type_id = params["QualificationTypeId"]
    _refuse_system(type_id, "its holders are not listed; list the workers of your own QualificationTypes.")
    load_own_type(ctx, type_id)
    size = params.get("MaxResults") or DEFAULT_PAGE_SIZE
    q = select(qualifications).where(qualifications.c.type_id == type_id)
    if params.get("Status"):
        q = q.where(qualifications.c.status == params["Status"])
    if params.get("NextToken"):
        q = q.where(qualifications.c.worker_id > _decode_worker_token(params["NextToken"]))
    rows = ctx.conn.execute(q.order_by(qualifications.c.worker_id).limit(size + 1)).all()
    out: dict = {}
    if len(rows) > size:
        rows = rows[:size]
        out["NextToken"] = _encode_worker_token(rows[-1].worker_id)
    out["NumResults"] = len(rows)
    out["Qualifications"] = [qualification_to_api(r) for r in rows]
    return out


# ---------------------------------------------------------------- requests


@operation("ListQualificationRequests", read_only=True)
def list_qualification_requests(ctx: Ctx, params: dict) -> dict:
    """Pending requests for the caller's (not deleted) types, oldest first."""
    qr, qt = qualification_requests.c, qualification_types.c
    q = (
        select(qualification_requests)
        .join(qualification_types, qt.id == qr.type_id)
        .where(qt.requester_id == ctx.requester_id, qt.deleted_at.is_(None), qr.status == "Pending")
    )
    if params.get("QualificationTypeId"):
        type_id = params["QualificationTypeId"]
        if type_id in SYSTEM_TYPE_IDS:
            raise qualification_type_not_found(type_id)
        load_own_type(ctx, type_id)
        q = q.where(qr.type_id == type_id)
    rows, extra = paginate(ctx, q, qr.seq, params)
    return {**extra, "QualificationRequests": [qualification_request_to_api(r) for r in rows]}


def _load_pending_request(ctx: Ctx, request_id: str, verb: str) -> tuple[Row, Row]:
    """The request and its type, both the caller's, the type locked (shared) first; the request must be Pending."""
    found = ctx.conn.execute(
        select(qualification_requests.c.type_id).where(qualification_requests.c.id == request_id)
    ).first()
    qt = lock_type(ctx.conn, found.type_id) if found is not None else None
    if qt is None or qt.requester_id != ctx.requester_id:
        raise RequestError(
            f"QualificationRequest {request_id} does not exist.", "AWS.MechanicalTurk.QualificationRequestDoesNotExist"
        )
    req = ctx.conn.execute(
        select(qualification_requests).where(qualification_requests.c.id == request_id).with_for_update()
    ).one()
    if req.status != "Pending":
        if req.status == "Granted":
            state = "was granted automatically"
        elif req.status == "Approved":
            state = "was already accepted"
        else:
            state = "was already rejected" + (f" ({req.reason})" if req.reason else "")
        raise RequestError(
            f"QualificationRequest {request_id} {state}; only Pending requests can be {verb}.",
            "AWS.MechanicalTurk.InvalidQualificationRequestState",
        )
    return req, qt


@operation("AcceptQualificationRequest")
def accept_qualification_request(ctx: Ctx, params: dict) -> dict:
    req, qt = _load_pending_request(ctx, params["QualificationRequestId"], "accepted")
    ctx.conn.execute(
        update(qualification_requests)
        .where(qualification_requests.c.id == req.id)
        .values(status="Approved", resolved_time=ctx.now)
    )
    value = params.get("IntegerValue")
    grant(ctx.conn, qt.id, req.worker_id, DEFAULT_GRANT_VALUE if value is None else value, ctx.now)
    return {}


@operation("RejectQualificationRequest")
def reject_qualification_request(ctx: Ctx, params: dict) -> dict:
    req, qt = _load_pending_request(ctx, params["QualificationRequestId"], "rejected")
    reason = params.get("Reason")
    ctx.conn.execute(
        update(qualification_requests)
        .where(qualification_requests.c.id == req.id)
        .values(status="Rejected", resolved_time=ctx.now, reason=reason)
    )
    notify_worker(
        ctx.conn, ctx.requester_id, req.worker_id, f"Qualification request rejected: {qt.name}",
        f"Your request for the qualification {qt.name!r} ({qt.id}) was rejected." + (f" Reason: {reason}" if reason else ""),
        ctx.now,
    )
    return {}
