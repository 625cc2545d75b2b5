"""Qualification types, grants, scores and requests through boto3 and the worker API, against a live server."""

from __future__ import annotations

import json
import threading
import time

import pytest
from botocore.exceptions import ClientError, ParamValidationError
from sqlalchemy import insert

from hitkit.mturk import qualification_ids as sq
from hitkit.mturk.xml import NS_ANSWER_KEY, NS_QUESTIONFORM_2017, parse_answers
from hitkit.server.store.tables import worker_blocks
from tests.conftest import hit_params

TEST_XML = (
    f'<QuestionForm xmlns="{NS_QUESTIONFORM_2017}">'
    "<Question><QuestionIdentifier>q1</QuestionIdentifier><IsRequired>true</IsRequired>"
    "<QuestionContent><Text>Which letter is b?</Text></QuestionContent>"
    "<AnswerSpecification><SelectionAnswer><Selections>"
    "<Selection><SelectionIdentifier>a</SelectionIdentifier><Text>a</Text></Selection>"
    "<Selection><SelectionIdentifier>b</SelectionIdentifier><Text>b</Text></Selection>"
    "</Selections></SelectionAnswer></AnswerSpecification></Question>"
    "<Question><QuestionIdentifier>q2</QuestionIdentifier><IsRequired>true</IsRequired>"
    "<QuestionContent><Text>Which letter is y?</Text></QuestionContent>"
    "<AnswerSpecification><SelectionAnswer><Selections>"
    "<Selection><SelectionIdentifier>x</SelectionIdentifier><Text>x</Text></Selection>"
    "<Selection><SelectionIdentifier>y</SelectionIdentifier><Text>y</Text></Selection>"
    "</Selections></SelectionAnswer></AnswerSpecification></Question>"
    "</QuestionForm>"
)
ANSWER_KEY = (
    f'<AnswerKey xmlns="{NS_ANSWER_KEY}">'
    "<Question><QuestionIdentifier>q1</QuestionIdentifier>"
    "<AnswerOption><SelectionIdentifier>b</SelectionIdentifier><AnswerScore>1</AnswerScore></AnswerOption></Question>"
    "<Question><QuestionIdentifier>q2</QuestionIdentifier>"
    "<AnswerOption><SelectionIdentifier>y</SelectionIdentifier><AnswerScore>1</AnswerScore></AnswerOption></Question>"
    "<QualificationValueMapping><PercentageMapping><MaximumSummedScore>2</MaximumSummedScore>"
    "</PercentageMapping></QualificationValueMapping></AnswerKey>"
)
UNKNOWN_TYPE = "3ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ"
UNKNOWN_WORKER = "AZZZZZZZZZZZZZ"

_counter = iter(range(1_000_000))


def qtype(mturk, **kw) -> dict:  # type: ignore[no-untyped-def]
    params = dict(Name=f"Qual {next(_counter)}", Description="A test qualification", QualificationTypeStatus="Active")
    params.update(kw)
    return mturk.create_qualification_type(**params)["QualificationType"]


def error_of(exc: ClientError) -> tuple[str, str | None, str]:
    return exc.response["Error"]["Code"], exc.response.get("TurkErrorCode"), exc.response["Error"]["Message"]


def raw_error(client, op: str, **kw) -> dict:  # type: ignore[no-untyped-def]
    """Call `op` expecting an error; return the raw JSON error body (botocore drops ParameterValidationError's
    `Parameter` and `TurkErrorCode` fields from unmodeled errors)."""
    seen: dict = {}

    def grab(response_dict, **_):  # type: ignore[no-untyped-def]
        seen["body"] = response_dict["body"]

    client.meta.events.register("before-parse.mturk.*", grab)
    try:
        with pytest.raises(ClientError):
            getattr(client, op)(**kw)
    finally:
        client.meta.events.unregister("before-parse.mturk.*", grab)
    return json.loads(seen["body"])


def request_qual(server, worker, type_id: str, answers=None):  # type: ignore[no-untyped-def]
    body = {} if answers is None else {"answers": answers}
    return server.worker_call(worker, "POST", f"/api/worker/v1/qualifications/{type_id}/request", json=body)


def accept_hit(server, worker, hit_id: str):  # type: ignore[no-untyped-def]
    return server.worker_call(worker, "POST", f"/api/worker/v1/hits/{hit_id}/accept")


def requiring(type_id: str, comparator: str = "Exists", values: list[int] | None = None) -> list[dict]:
    req: dict = {"QualificationTypeId": type_id, "Comparator": comparator}
    if values is not None:
        req["IntegerValues"] = values
    return [req]


# ---------------------------------------------------------------- types


def test_create_and_get_shape(mturk):
    qt = qtype(mturk, Name="Image raters", Keywords="image, rating", RetryDelayInSeconds=600)
    assert set(qt) == {
        "QualificationTypeId", "CreationTime", "Name", "Description", "Keywords", "QualificationTypeStatus",
        "RetryDelayInSeconds", "IsRequestable", "AutoGranted",
    }
    assert len(qt["QualificationTypeId"]) == 30 and qt["QualificationTypeId"].isalnum()
    assert qt["Name"] == "Image raters" and qt["Keywords"] == "image, rating"
    assert qt["QualificationTypeStatus"] == "Active" and qt["IsRequestable"] is True and qt["AutoGranted"] is False
    assert qt["RetryDelayInSeconds"] == 600
    got = mturk.get_qualification_type(QualificationTypeId=qt["QualificationTypeId"])["QualificationType"]
    assert got == qt

    tested = qtype(mturk, Test=TEST_XML, AnswerKey=ANSWER_KEY, TestDurationInSeconds=300)
    assert tested["Test"] == TEST_XML and tested["AnswerKey"] == ANSWER_KEY and tested["TestDurationInSeconds"] == 300
    assert "RetryDelayInSeconds" not in tested and tested["IsRequestable"] is True

    auto = qtype(mturk, AutoGranted=True)
    assert auto["AutoGranted"] is True and auto["AutoGrantedValue"] == 1
    assert qtype(mturk, AutoGranted=True, AutoGrantedValue=5)["AutoGrantedValue"] == 5
    inactive = qtype(mturk, QualificationTypeStatus="Inactive")
    assert inactive["IsRequestable"] is False


def test_duplicate_name_per_requester(server, mturk):
    qt = qtype(mturk, Name="Unique name")
    with pytest.raises(mturk.exceptions.RequestError) as e:
        qtype(mturk, Name="Unique name")
    code, turk, message = error_of(e.value)
    assert code == "RequestError" and turk == "AWS.MechanicalTurk.QualificationTypeAlreadyExists"
    assert "must be unique" in message and qt["QualificationTypeId"] in message
    # Another requester has its own namespace.
    other = server.client(server.new_requester())
    assert qtype(other, Name="Unique name")["Name"] == "Unique name"
    # A deleted type's name is free again.
    mturk.delete_qualification_type(QualificationTypeId=qt["QualificationTypeId"])
    again = qtype(mturk, Name="Unique name")
    assert again["QualificationTypeId"] != qt["QualificationTypeId"]


def test_concurrent_creates_with_one_name(server, requester):
    clients = [server.client(requester) for _ in range(6)]
    barrier = threading.Barrier(len(clients))
    results: list[str] = []

    def create(client) -> None:  # type: ignore[no-untyped-def]
        barrier.wait()
        try:
            client.create_qualification_type(Name="Raced", Description="d", QualificationTypeStatus="Active")
            results.append("ok")
        except ClientError as e:
            results.append(e.response.get("TurkErrorCode") or e.response["Error"]["Code"])

    threads = [threading.Thread(target=create, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["AWS.MechanicalTurk.QualificationTypeAlreadyExists"] * 5 + ["ok"]
    listed = clients[0].list_qualification_types(MustBeRequestable=False, MustBeOwnedByCaller=True, Query="Raced")
    assert listed["NumResults"] == 1


def test_unknown_type(mturk):
    for op, kw in [
        ("get_qualification_type", {}),
        ("update_qualification_type", {"Description": "x"}),
        ("delete_qualification_type", {}),
        ("list_workers_with_qualification_type", {}),
        ("list_qualification_requests", {}),
    ]:
        with pytest.raises(mturk.exceptions.RequestError) as e:
            getattr(mturk, op)(QualificationTypeId=UNKNOWN_TYPE, **kw)
        code, turk, message = error_of(e.value)
        assert turk == "AWS.MechanicalTurk.QualificationDoesNotExist", op
        assert message.startswith("You requested a Qualification that does not exist.") and UNKNOWN_TYPE in message


@pytest.mark.parametrize(
    "kw, parameter, fragment",
    [
        ({"Test": TEST_XML}, "Test", "TestDurationInSeconds"),
        ({"Test": TEST_XML, "TestDurationInSeconds": 60, "AutoGranted": True}, "Test", "AutoGranted"),
        ({"AnswerKey": ANSWER_KEY}, "Test", "AnswerKey requires a Test"),
        ({"Test": "<QuestionForm>not closed", "TestDurationInSeconds": 60}, "Test", "Test is not valid"),
        ({"Test": hit_params()["Question"], "TestDurationInSeconds": 60}, "Test", "must be a QuestionForm"),
        (
            {"Test": TEST_XML, "TestDurationInSeconds": 60, "AnswerKey": ANSWER_KEY.replace("q2", "q9")},
            "AnswerKey",
            "'q9' does not exist in the Test",
        ),
    ],
)
def test_create_parameter_errors(mturk, kw, parameter, fragment):
    body = raw_error(
        mturk, "create_qualification_type", Name="Bad", Description="d", QualificationTypeStatus="Active", **kw
    )
    assert body["__type"] == "ParameterValidationError"
    assert body["Parameter"] == parameter and body["TurkErrorCode"] == "AWS.MechanicalTurk.InvalidParameterValue"
    assert fragment in body["Message"]
    # Nothing was created: the name is still free.
    assert qtype(mturk, Name="Bad")["Name"] == "Bad"
    mturk.delete_qualification_type(
        QualificationTypeId=mturk.list_qualification_types(
            MustBeRequestable=False, MustBeOwnedByCaller=True, Query="Bad"
        )["QualificationTypes"][0]["QualificationTypeId"]
    )


def test_model_validation(mturk):
    with pytest.raises(ClientError) as e:
        mturk.create_qualification_type(Name="x" * 300, Description="d", QualificationTypeStatus="Active")
    assert e.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as e:
        mturk.list_qualification_types(MustBeRequestable=False, MaxResults=101)
    assert e.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as e:
        mturk.list_qualification_types(MustBeRequestable=False, NextToken="garbage!")
    assert e.value.response["Error"]["Code"] == "ParameterValidationError"


def test_other_requesters_cannot_see_or_use(server, mturk):
    mine = qtype(mturk)["QualificationTypeId"]
    other = server.client(server.new_requester())
    worker = server.new_worker()
    for op, kw in [
        ("get_qualification_type", {}),
        ("update_qualification_type", {"Description": "mine now"}),
        ("delete_qualification_type", {}),
        ("associate_qualification_with_worker", {"WorkerId": worker.worker_id}),
        ("disassociate_qualification_from_worker", {"WorkerId": worker.worker_id}),
        ("get_qualification_score", {"WorkerId": worker.worker_id}),
        ("list_workers_with_qualification_type", {}),
        ("list_qualification_requests", {}),
    ]:
        with pytest.raises(other.exceptions.RequestError) as e:
            getattr(other, op)(QualificationTypeId=mine, **kw)
        assert e.value.response["TurkErrorCode"] == "AWS.MechanicalTurk.QualificationDoesNotExist", op
    with pytest.raises(other.exceptions.RequestError) as e:
        other.create_hit(**hit_params(QualificationRequirements=requiring(mine)))
    assert e.value.response["TurkErrorCode"] == "AWS.MechanicalTurk.QualificationDoesNotExist"
    listed = other.list_qualification_types(MustBeRequestable=False, MustBeOwnedByCaller=False, MaxResults=100)
    assert mine not in {t["QualificationTypeId"] for t in listed["QualificationTypes"]}
    # The owner is unaffected.
    assert mturk.get_qualification_type(QualificationTypeId=mine)["QualificationType"]["Description"] == "A test qualification"


def test_system_types(mturk):
    got = mturk.get_qualification_type(QualificationTypeId=sq.LOCALE)["QualificationType"]
    assert got["Name"] == "Worker_Locale" and got["QualificationTypeStatus"] == "Active"
    assert got["IsRequestable"] is False and got["AutoGranted"] is False
    assert got["CreationTime"].timestamp() == 1104537600.0
    for type_id in sq.SYSTEM_TYPE_IDS:
        assert mturk.get_qualification_type(QualificationTypeId=type_id)["QualificationType"]["QualificationTypeId"] == type_id

    own = qtype(mturk)["QualificationTypeId"]
    everything = mturk.list_qualification_types(MustBeRequestable=False, MustBeOwnedByCaller=False, MaxResults=100)
    ids = [t["QualificationTypeId"] for t in everything["QualificationTypes"]]
    assert set(sq.SYSTEM_TYPE_IDS) <= set(ids) and own in ids
    assert ids.index(own) > max(ids.index(s) for s in sq.SYSTEM_TYPE_IDS)
    assert everything["NumResults"] == len(ids) and "NextToken" not in everything
    owned = mturk.list_qualification_types(MustBeRequestable=False, MustBeOwnedByCaller=True)
    assert [t["QualificationTypeId"] for t in owned["QualificationTypes"]] == [own]
    requestable = mturk.list_qualification_types(MustBeRequestable=True)
    assert [t["QualificationTypeId"] for t in requestable["QualificationTypes"]] == [own]
    locale = mturk.list_qualification_types(MustBeRequestable=False, Query="locale")
    assert [t["QualificationTypeId"] for t in locale["QualificationTypes"]] == [sq.LOCALE]

    for op, kw in [
        ("delete_qualification_type", {}),
        ("update_qualification_type", {"Description": "x"}),
        ("associate_qualification_with_worker", {"WorkerId": UNKNOWN_WORKER}),
    ]:
        body = raw_error(mturk, op, QualificationTypeId=sq.ADULT, **kw)
        assert body["__type"] == "ParameterValidationError" and body["Parameter"] == "QualificationTypeId", op
        assert "system QualificationType" in body["Message"]


def test_list_query_and_pagination(mturk):
    created = []
    for i in range(105):
        kw = {"Keywords": "zebra, stripes"} if i % 20 == 0 else {}
        created.append(qtype(mturk, Name=f"Bulk type {i:03d}", Description=f"Bulk number {i}", **kw)["QualificationTypeId"])
    qtype(mturk, Name="Odd_one 100%", Description="percent sign")

    first = mturk.list_qualification_types(MustBeRequestable=False, MustBeOwnedByCaller=True, MaxResults=100, Query="bulk")
    assert first["NumResults"] == 100 and "NextToken" in first
    second = mturk.list_qualification_types(
        MustBeRequestable=False, MustBeOwnedByCaller=True, MaxResults=100, Query="bulk", NextToken=first["NextToken"]
    )
    assert second["NumResults"] == 5 and "NextToken" not in second
    ids = [t["QualificationTypeId"] for t in first["QualificationTypes"] + second["QualificationTypes"]]
    assert ids == created

    # The default page is 10; the paginator walks system types and own types without repeats or gaps.
    default = mturk.list_qualification_types(MustBeRequestable=False, MustBeOwnedByCaller=True)
    assert default["NumResults"] == 10
    walked = []
    for page in mturk.get_paginator("list_qualification_types").paginate(
        MustBeRequestable=False, MustBeOwnedByCaller=False, PaginationConfig={"PageSize": 7}
    ):
        assert page["NumResults"] <= 7
        walked += [t["QualificationTypeId"] for t in page["QualificationTypes"]]
    assert len(walked) == len(set(walked)) == len(sq.SYSTEM_TYPE_IDS) + 106
    assert walked[len(sq.SYSTEM_TYPE_IDS):][:105] == created

    zebra = mturk.list_qualification_types(MustBeRequestable=False, Query="ZEBRA", MaxResults=100)
    assert [t["QualificationTypeId"] for t in zebra["QualificationTypes"]] == created[::20]
    percent = mturk.list_qualification_types(MustBeRequestable=False, Query="100%", MaxResults=100)
    assert [t["Name"] for t in percent["QualificationTypes"]] == ["Odd_one 100%"]
    underscore = mturk.list_qualification_types(MustBeRequestable=False, MustBeOwnedByCaller=True, Query="d_o")
    assert [t["Name"] for t in underscore["QualificationTypes"]] == ["Odd_one 100%"]
    # "_" is a literal, not a LIKE wildcard ("k_t" would otherwise match "Bulk type").
    assert mturk.list_qualification_types(MustBeRequestable=False, Query="k_t")["NumResults"] == 0
    assert mturk.list_qualification_types(MustBeRequestable=False, Query="nothing like this")["NumResults"] == 0


def _null_member(client, op: str, member: str):  # type: ignore[no-untyped-def]
    """Make the next `op` call send `member: null` (boto3 cannot express it; raw JSON clients can)."""

    def inject(request, **_):  # type: ignore[no-untyped-def]
        body = json.loads(request.body)
        body[member] = None
        request.data = json.dumps(body).encode()
        request.headers["Content-Length"] = str(len(request.data))

    client.meta.events.register_first(f"before-sign.mturk.{op}", inject)
    return inject


def test_update_qualification_type(server, mturk):
    qt = qtype(mturk, RetryDelayInSeconds=60)
    type_id = qt["QualificationTypeId"]
    out = mturk.update_qualification_type(
        QualificationTypeId=type_id, Description="New words", QualificationTypeStatus="Inactive", RetryDelayInSeconds=120
    )["QualificationType"]
    assert out["Description"] == "New words" and out["QualificationTypeStatus"] == "Inactive"
    assert out["IsRequestable"] is False and out["RetryDelayInSeconds"] == 120 and out["Name"] == qt["Name"]
    assert mturk.get_qualification_type(QualificationTypeId=type_id)["QualificationType"] == out

    # Retries cannot be disabled once enabled (an explicit null from a raw JSON client).
    hook = _null_member(mturk, "UpdateQualificationType", "RetryDelayInSeconds")
    try:
        body = raw_error(mturk, "update_qualification_type", QualificationTypeId=type_id, Description="x")
    finally:
        mturk.meta.events.unregister("before-sign.mturk.UpdateQualificationType", hook)
    assert body["__type"] == "ParameterValidationError" and body["Parameter"] == "RetryDelayInSeconds"
    assert "cannot be disabled" in body["Message"] and type_id in body["Message"]
    # Refused calls change nothing.
    assert mturk.get_qualification_type(QualificationTypeId=type_id)["QualificationType"]["Description"] == "New words"

    # Adding a test needs its duration; then the type cannot become AutoGranted and the test cannot be removed.
    body = raw_error(mturk, "update_qualification_type", QualificationTypeId=type_id, Test=TEST_XML)
    assert body["Parameter"] == "Test" and "TestDurationInSeconds" in body["Message"]
    tested = mturk.update_qualification_type(
        QualificationTypeId=type_id, Test=TEST_XML, TestDurationInSeconds=90, QualificationTypeStatus="Active"
    )["QualificationType"]
    assert tested["Test"] == TEST_XML and tested["TestDurationInSeconds"] == 90 and "AnswerKey" not in tested
    body = raw_error(mturk, "update_qualification_type", QualificationTypeId=type_id, AutoGranted=True)
    assert body["__type"] == "ParameterValidationError" and body["Parameter"] == "AutoGranted"
    hook = _null_member(mturk, "UpdateQualificationType", "Test")
    try:
        body = raw_error(mturk, "update_qualification_type", QualificationTypeId=type_id)
    finally:
        mturk.meta.events.unregister("before-sign.mturk.UpdateQualificationType", hook)
    assert body["Parameter"] == "Test" and "cannot be removed" in body["Message"]
    # An AnswerKey alone is checked against the current test.
    body = raw_error(mturk, "update_qualification_type", QualificationTypeId=type_id, AnswerKey=ANSWER_KEY.replace("q1", "q7"))
    assert body["Parameter"] == "AnswerKey"
    keyed = mturk.update_qualification_type(QualificationTypeId=type_id, AnswerKey=ANSWER_KEY)["QualificationType"]
    assert keyed["AnswerKey"] == ANSWER_KEY
    # A new test without a key drops the old key.
    rekeyed = mturk.update_qualification_type(QualificationTypeId=type_id, Test=TEST_XML, TestDurationInSeconds=30)
    assert "AnswerKey" not in rekeyed["QualificationType"]
    body = raw_error(mturk, "update_qualification_type", QualificationTypeId=type_id, Test="<nope/>", TestDurationInSeconds=30)
    assert body["Parameter"] == "Test"

    # An AutoGranted type can take a test only when it stops being AutoGranted in the same call.
    auto = qtype(mturk, AutoGranted=True, AutoGrantedValue=3)["QualificationTypeId"]
    body = raw_error(mturk, "update_qualification_type", QualificationTypeId=auto, Test=TEST_XML, TestDurationInSeconds=30)
    assert body["Parameter"] == "Test"
    changed = mturk.update_qualification_type(
        QualificationTypeId=auto, Test=TEST_XML, TestDurationInSeconds=30, AutoGranted=False
    )["QualificationType"]
    assert changed["AutoGranted"] is False and "AutoGrantedValue" not in changed and changed["Test"] == TEST_XML

    # A type without retries may get them.
    once = qtype(mturk)["QualificationTypeId"]
    assert mturk.update_qualification_type(QualificationTypeId=once, RetryDelayInSeconds=0)["QualificationType"]["RetryDelayInSeconds"] == 0


# ---------------------------------------------------------------- grants


def test_associate_grants_and_disassociate_revokes(server, mturk):
    type_id = qtype(mturk)["QualificationTypeId"]
    worker = server.new_worker()
    hit1 = mturk.create_hit(**hit_params(QualificationRequirements=requiring(type_id, "GreaterThanOrEqualTo", [50])))["HIT"]
    refused = accept_hit(server, worker, hit1["HITId"])
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "not_qualified"

    mturk.associate_qualification_with_worker(QualificationTypeId=type_id, WorkerId=worker.worker_id, IntegerValue=80)
    score = mturk.get_qualification_score(QualificationTypeId=type_id, WorkerId=worker.worker_id)["Qualification"]
    assert set(score) == {"QualificationTypeId", "WorkerId", "GrantTime", "IntegerValue", "Status"}
    assert score["IntegerValue"] == 80 and score["Status"] == "Granted" and score["WorkerId"] == worker.worker_id
    assert accept_hit(server, worker, hit1["HITId"]).status_code == 200

    # Default value 1; a re-grant overwrites the value.
    other = server.new_worker()
    mturk.associate_qualification_with_worker(QualificationTypeId=type_id, WorkerId=other.worker_id, SendNotification=False)
    assert mturk.get_qualification_score(QualificationTypeId=type_id, WorkerId=other.worker_id)["Qualification"]["IntegerValue"] == 1
    listed = mturk.list_workers_with_qualification_type(QualificationTypeId=type_id)
    assert listed["NumResults"] == 2 and {q["WorkerId"] for q in listed["Qualifications"]} == {worker.worker_id, other.worker_id}

    mturk.disassociate_qualification_from_worker(QualificationTypeId=type_id, WorkerId=worker.worker_id, Reason="Too fast")
    mturk.disassociate_qualification_from_worker(QualificationTypeId=type_id, WorkerId=worker.worker_id)  # no-op
    revoked = mturk.list_workers_with_qualification_type(QualificationTypeId=type_id, Status="Revoked")
    assert [q["WorkerId"] for q in revoked["Qualifications"]] == [worker.worker_id]
    assert revoked["Qualifications"][0]["Status"] == "Revoked"
    granted = mturk.list_workers_with_qualification_type(QualificationTypeId=type_id, Status="Granted")
    assert [q["WorkerId"] for q in granted["Qualifications"]] == [other.worker_id]
    score = mturk.get_qualification_score(QualificationTypeId=type_id, WorkerId=worker.worker_id)["Qualification"]
    assert score["Status"] == "Revoked"
    hit2 = mturk.create_hit(**hit_params(QualificationRequirements=requiring(type_id)))["HIT"]
    again = accept_hit(server, worker, hit2["HITId"])
    assert again.status_code == 403 and again.json()["error"]["code"] == "not_qualified"

    # Granting again restores it.
    mturk.associate_qualification_with_worker(QualificationTypeId=type_id, WorkerId=worker.worker_id, IntegerValue=2)
    assert accept_hit(server, worker, hit2["HITId"]).status_code == 200


def test_associate_errors(server, mturk):
    type_id = qtype(mturk)["QualificationTypeId"]
    body = raw_error(mturk, "associate_qualification_with_worker", QualificationTypeId=type_id, WorkerId=UNKNOWN_WORKER)
    assert body["__type"] == "ParameterValidationError" and body["Parameter"] == "WorkerId"
    assert UNKNOWN_WORKER in body["Message"]
    for bad in ("abc", "A1B2,A1B2", " AXXXXXXXXXXXXX"):
        with pytest.raises(ClientError) as e:
            mturk.associate_qualification_with_worker(QualificationTypeId=type_id, WorkerId=bad)
        assert e.value.response["Error"]["Code"] == "ValidationException", bad
    with pytest.raises(ParamValidationError):
        mturk.associate_qualification_with_worker(QualificationTypeId=type_id, WorkerId="")
    with pytest.raises(mturk.exceptions.RequestError) as e:
        mturk.associate_qualification_with_worker(QualificationTypeId=UNKNOWN_TYPE, WorkerId=server.new_worker().worker_id)
    assert e.value.response["TurkErrorCode"] == "AWS.MechanicalTurk.QualificationDoesNotExist"
    with pytest.raises(mturk.exceptions.RequestError) as e:
        mturk.disassociate_qualification_from_worker(QualificationTypeId=type_id, WorkerId=UNKNOWN_WORKER)
    assert e.value.response["TurkErrorCode"] == "AWS.MechanicalTurk.QualificationDoesNotExist"
    assert UNKNOWN_WORKER in e.value.response["Error"]["Message"]
    assert mturk.list_workers_with_qualification_type(QualificationTypeId=type_id)["NumResults"] == 0


def test_qualification_score(server, mturk):
    type_id = qtype(mturk)["QualificationTypeId"]
    worker = server.new_worker(country="US", subdivision="CA", adult=True)
    with pytest.raises(mturk.exceptions.RequestError) as e:
        mturk.get_qualification_score(QualificationTypeId=type_id, WorkerId=worker.worker_id)
    code, turk, message = error_of(e.value)
    assert turk == "AWS.MechanicalTurk.QualificationDoesNotExist"
    assert message.startswith("You requested a Qualification that does not exist.") and worker.worker_id in message

    locale = mturk.get_qualification_score(QualificationTypeId=sq.LOCALE, WorkerId=worker.worker_id)["Qualification"]
    assert locale["LocaleValue"] == {"Country": "US", "Subdivision": "CA"} and locale["Status"] == "Granted"
    assert "IntegerValue" not in locale
    adult = mturk.get_qualification_score(QualificationTypeId=sq.ADULT, WorkerId=worker.worker_id)["Qualification"]
    assert adult["IntegerValue"] == 1
    approved = mturk.get_qualification_score(QualificationTypeId=sq.NUMBER_HITS_APPROVED, WorkerId=worker.worker_id)
    assert approved["Qualification"]["IntegerValue"] == 0
    percent = mturk.get_qualification_score(QualificationTypeId=sq.PERCENT_ASSIGNMENTS_APPROVED, WorkerId=worker.worker_id)
    assert percent["Qualification"]["IntegerValue"] == 100
    for type_id, worker_id in [(sq.MASTERS_SANDBOX, worker.worker_id), (sq.ADULT, UNKNOWN_WORKER)]:
        with pytest.raises(mturk.exceptions.RequestError) as e:
            mturk.get_qualification_score(QualificationTypeId=type_id, WorkerId=worker_id)
        assert e.value.response["TurkErrorCode"] == "AWS.MechanicalTurk.QualificationDoesNotExist"


def test_list_workers_pagination(server, mturk):
    type_id = qtype(mturk)["QualificationTypeId"]
    ids = []
    for _ in range(5):
        w = server.new_worker()
        ids.append(w.worker_id)
        mturk.associate_qualification_with_worker(QualificationTypeId=type_id, WorkerId=w.worker_id, IntegerValue=9)
    pages = list(
        mturk.get_paginator("list_workers_with_qualification_type").paginate(
            QualificationTypeId=type_id, PaginationConfig={"PageSize": 2}
        )
    )
    assert [p["NumResults"] for p in pages] == [2, 2, 1] and "NextToken" not in pages[-1]
    assert [q["WorkerId"] for p in pages for q in p["Qualifications"]] == sorted(ids)
    body = raw_error(mturk, "list_workers_with_qualification_type", QualificationTypeId=type_id, NextToken="bogus")
    assert body["__type"] == "ParameterValidationError" and body["Parameter"] == "NextToken"


# ---------------------------------------------------------------- requests


def test_request_auto_granted(server, mturk):
    type_id = qtype(mturk, AutoGranted=True, AutoGrantedValue=7)["QualificationTypeId"]
    worker = server.new_worker()
    r = request_qual(server, worker, type_id)
    assert r.status_code == 200, r.text
    assert r.json()["Status"] == "Granted" and r.json()["IntegerValue"] == 7 and r.json()["QualificationRequestId"]
    score = mturk.get_qualification_score(QualificationTypeId=type_id, WorkerId=worker.worker_id)["Qualification"]
    assert score["IntegerValue"] == 7
    assert mturk.list_qualification_requests(QualificationTypeId=type_id)["NumResults"] == 0
    # No RetryDelayInSeconds: one request, ever.
    again = request_qual(server, worker, type_id)
    assert again.status_code == 409 and again.json()["error"]["code"] == "retry_not_allowed"
    assert type_id in again.json()["error"]["message"]


def test_request_graded_by_answer_key(server, mturk):
    type_id = qtype(mturk, Test=TEST_XML, AnswerKey=ANSWER_KEY, TestDurationInSeconds=600)["QualificationTypeId"]
    hit = mturk.create_hit(**hit_params(QualificationRequirements=requiring(type_id, "GreaterThanOrEqualTo", [100])))["HIT"]
    half, full = server.new_worker(), server.new_worker()
    r = request_qual(server, half, type_id, {"q1": "b", "q2": "x"})
    assert r.status_code == 200 and r.json()["Status"] == "Granted" and r.json()["IntegerValue"] == 50
    r = request_qual(server, full, type_id, {"q1": ["b"], "q2": "y"})
    assert r.json()["IntegerValue"] == 100
    assert accept_hit(server, half, hit["HITId"]).status_code == 403
    assert accept_hit(server, full, hit["HITId"]).status_code == 200
    assert mturk.get_qualification_score(QualificationTypeId=type_id, WorkerId=half.worker_id)["Qualification"]["IntegerValue"] == 50
    assert mturk.list_qualification_requests(QualificationTypeId=type_id)["NumResults"] == 0


def test_request_answer_validation(server, mturk):
    type_id = qtype(mturk, Test=TEST_XML, TestDurationInSeconds=600, RetryDelayInSeconds=0)["QualificationTypeId"]
    worker = server.new_worker()
    for answers, fragment in [
        (None, "has a test"),
        ({"q1": "b"}, "'q2' is required"),
        ({"q1": "z", "q2": "y"}, "no selection 'z'"),
        ({"q1": "b", "q2": "y", "q3": "?"}, "unknown question 'q3'"),
        (["b", "y"], "must be an object"),
        ({"q1": 5, "q2": "y"}, "must be strings"),
    ]:
        r = request_qual(server, worker, type_id, answers)
        assert r.status_code == 400, (answers, r.text)
        assert fragment in r.json()["error"]["message"], r.text
    # Refused attempts do not count as requests.
    assert mturk.list_qualification_requests(QualificationTypeId=type_id)["NumResults"] == 0
    plain = qtype(mturk)["QualificationTypeId"]
    r = request_qual(server, worker, plain, {"q1": "b"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "no_test"


def test_pending_requests_accept_and_reject(server, mturk):
    type_id = qtype(mturk, Test=TEST_XML, TestDurationInSeconds=600)["QualificationTypeId"]
    w1, w2 = server.new_worker(), server.new_worker()
    r1 = request_qual(server, w1, type_id, {"q1": "a", "q2": "y"})
    assert r1.status_code == 200 and r1.json()["Status"] == "Pending" and "IntegerValue" not in r1.json()
    dup = request_qual(server, w1, type_id, {"q1": "a", "q2": "y"})
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "request_pending"
    r2 = request_qual(server, w2, type_id, {"q1": "b", "q2": "y"})

    listed = mturk.list_qualification_requests(QualificationTypeId=type_id)
    assert listed["NumResults"] == 2
    first = listed["QualificationRequests"][0]
    assert set(first) == {"QualificationRequestId", "QualificationTypeId", "WorkerId", "Test", "Answer", "SubmitTime"}
    assert first["QualificationRequestId"] == r1.json()["QualificationRequestId"] and first["WorkerId"] == w1.worker_id
    assert first["Test"] == TEST_XML and parse_answers(first["Answer"]) == {"q1": ["a"], "q2": ["y"]}
    assert mturk.list_qualification_requests()["NumResults"] == 2

    mturk.accept_qualification_request(QualificationRequestId=r1.json()["QualificationRequestId"], IntegerValue=42)
    assert mturk.get_qualification_score(QualificationTypeId=type_id, WorkerId=w1.worker_id)["Qualification"]["IntegerValue"] == 42
    mturk.reject_qualification_request(QualificationRequestId=r2.json()["QualificationRequestId"], Reason="Wrong answers")
    with pytest.raises(mturk.exceptions.RequestError):
        mturk.get_qualification_score(QualificationTypeId=type_id, WorkerId=w2.worker_id)
    assert mturk.list_qualification_requests(QualificationTypeId=type_id)["NumResults"] == 0

    for op, rid in [
        ("accept_qualification_request", r1.json()["QualificationRequestId"]),
        ("reject_qualification_request", r1.json()["QualificationRequestId"]),
        ("accept_qualification_request", r2.json()["QualificationRequestId"]),
    ]:
        with pytest.raises(mturk.exceptions.RequestError) as e:
            getattr(mturk, op)(QualificationRequestId=rid)
        code, turk, message = error_of(e.value)
        assert turk == "AWS.MechanicalTurk.InvalidQualificationRequestState" and rid in message
    with pytest.raises(mturk.exceptions.RequestError) as e:
        mturk.accept_qualification_request(QualificationRequestId="NOSUCHREQUEST")
    code, turk, message = error_of(e.value)
    assert turk == "AWS.MechanicalTurk.QualificationRequestDoesNotExist" and "NOSUCHREQUEST" in message


def test_plain_request_goes_to_queue_and_only_owner_sees_it(server, mturk):
    type_id = qtype(mturk)["QualificationTypeId"]
    worker = server.new_worker()
    r = request_qual(server, worker, type_id)
    assert r.status_code == 200 and r.json()["Status"] == "Pending"
    rid = r.json()["QualificationRequestId"]
    mine = mturk.list_qualification_requests()["QualificationRequests"]
    assert [q["QualificationRequestId"] for q in mine] == [rid]
    assert set(mine[0]) == {"QualificationRequestId", "QualificationTypeId", "WorkerId", "SubmitTime"}

    other = server.client(server.new_requester())
    qtype(other)
    assert other.list_qualification_requests()["NumResults"] == 0
    with pytest.raises(other.exceptions.RequestError) as e:
        other.accept_qualification_request(QualificationRequestId=rid)
    assert e.value.response["TurkErrorCode"] == "AWS.MechanicalTurk.QualificationRequestDoesNotExist"
    mturk.accept_qualification_request(QualificationRequestId=rid)
    assert mturk.get_qualification_score(QualificationTypeId=type_id, WorkerId=worker.worker_id)["Qualification"]["IntegerValue"] == 1


def test_list_requests_pagination(server, mturk):
    type_id = qtype(mturk)["QualificationTypeId"]
    rids = [request_qual(server, server.new_worker(), type_id).json()["QualificationRequestId"] for _ in range(5)]
    pages = list(mturk.get_paginator("list_qualification_requests").paginate(PaginationConfig={"PageSize": 2}))
    assert [p["NumResults"] for p in pages] == [2, 2, 1]
    assert [q["QualificationRequestId"] for p in pages for q in p["QualificationRequests"]] == rids


def test_retry_delay(server, mturk):
    type_id = qtype(mturk, AutoGranted=True, RetryDelayInSeconds=3600)["QualificationTypeId"]
    worker = server.new_worker()
    assert request_qual(server, worker, type_id).json()["Status"] == "Granted"
    server.advance(1800)
    early = request_qual(server, worker, type_id)
    assert early.status_code == 409 and early.json()["error"]["code"] == "retry_too_soon"
    assert "in 1800 seconds" in early.json()["error"]["message"] or "in 1799 seconds" in early.json()["error"]["message"]
    server.advance(1801)
    assert request_qual(server, worker, type_id).json()["Status"] == "Granted"


def test_requests_refused(server, mturk):
    worker = server.new_worker()
    inactive = qtype(mturk, QualificationTypeStatus="Inactive")["QualificationTypeId"]
    r = request_qual(server, worker, inactive)
    assert r.status_code == 409 and r.json()["error"]["code"] == "qualification_type_inactive"
    r = request_qual(server, worker, UNKNOWN_TYPE)
    assert r.status_code == 404 and UNKNOWN_TYPE in r.json()["error"]["message"]
    r = request_qual(server, worker, sq.LOCALE)
    assert r.status_code == 409 and r.json()["error"]["code"] == "not_requestable"
    r = server.http.post(f"/api/worker/v1/qualifications/{inactive}/request")
    assert r.status_code == 401


def test_blocked_worker_cannot_request(server, mturk, requester):
    type_id = qtype(mturk, AutoGranted=True)["QualificationTypeId"]
    worker = server.new_worker()
    with server._engine.begin() as conn:  # set-up written directly, as `hitkit server ...` commands do
        conn.execute(
            insert(worker_blocks).values(
                requester_id=requester.requester_id, worker_id=worker.worker_id, reason="spam", created_at=time.time()
            )
        )
    r = request_qual(server, worker, type_id)
    assert r.status_code == 403 and r.json()["error"]["code"] == "blocked"


def test_delete_qualification_type(server, mturk):
    type_id = qtype(mturk, Test=TEST_XML, TestDurationInSeconds=600)["QualificationTypeId"]
    granted = server.new_worker()
    mturk.associate_qualification_with_worker(QualificationTypeId=type_id, WorkerId=granted.worker_id)
    old_hit = mturk.create_hit(**hit_params(QualificationRequirements=requiring(type_id)))["HIT"]
    pending = request_qual(server, server.new_worker(), type_id, {"q1": "a", "q2": "x"}).json()["QualificationRequestId"]

    mturk.delete_qualification_type(QualificationTypeId=type_id)
    with pytest.raises(mturk.exceptions.RequestError) as e:
        mturk.get_qualification_type(QualificationTypeId=type_id)
    assert e.value.response["TurkErrorCode"] == "AWS.MechanicalTurk.QualificationDoesNotExist"
    with pytest.raises(mturk.exceptions.RequestError) as e:
        mturk.delete_qualification_type(QualificationTypeId=type_id)
    assert e.value.response["TurkErrorCode"] == "AWS.MechanicalTurk.QualificationDoesNotExist"
    listed = mturk.list_qualification_types(MustBeRequestable=False, MustBeOwnedByCaller=True)
    assert type_id not in {t["QualificationTypeId"] for t in listed["QualificationTypes"]}
    # Pending requests were rejected.
    assert mturk.list_qualification_requests()["NumResults"] == 0
    with pytest.raises(mturk.exceptions.RequestError) as e:
        mturk.accept_qualification_request(QualificationRequestId=pending)
    assert e.value.response["TurkErrorCode"] == "AWS.MechanicalTurk.InvalidQualificationRequestState"
    assert "deleted" in e.value.response["Error"]["Message"]
    # New HITs and HIT types cannot use it; workers cannot request it.
    for op in ("create_hit", "create_hit_type"):
        params = hit_params(QualificationRequirements=requiring(type_id))
        if op == "create_hit_type":
            for k in ("LifetimeInSeconds", "Question", "MaxAssignments"):
                params.pop(k)
        with pytest.raises(mturk.exceptions.RequestError) as e:
            getattr(mturk, op)(**params)
        assert e.value.response["TurkErrorCode"] == "AWS.MechanicalTurk.QualificationDoesNotExist"
    r = request_qual(server, server.new_worker(), type_id, {"q1": "a", "q2": "x"})
    assert r.status_code == 404
    # Granted qualifications are not revoked: the existing HIT still admits the worker.
    assert accept_hit(server, granted, old_hit["HITId"]).status_code == 200
