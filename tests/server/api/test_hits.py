"""HITs and HIT types through boto3: creation, types, status and counters, expiry, extension, review status,
deletion, listing and pagination."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from tests.conftest import HTML_QUESTION, hit_params

EXTERNAL = """<ExternalQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/ExternalQuestion.xsd">
<ExternalURL>https://tasks.example.org/label?item=17</ExternalURL><FrameHeight>0</FrameHeight></ExternalQuestion>"""

QUESTION_FORM = """<QuestionForm xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2017-11-06/QuestionForm.xsd">
<Question><QuestionIdentifier>colour</QuestionIdentifier><IsRequired>true</IsRequired>
<QuestionContent><Text>Which colour?</Text></QuestionContent>
<AnswerSpecification><SelectionAnswer><StyleSuggestion>radiobutton</StyleSuggestion><Selections>
<Selection><SelectionIdentifier>red</SelectionIdentifier><Text>Red</Text></Selection>
<Selection><SelectionIdentifier>blue</SelectionIdentifier><Text>Blue</Text></Selection>
</Selections></SelectionAnswer></AnswerSpecification></Question></QuestionForm>"""


def error_of(excinfo) -> tuple[str, str | None, str]:  # type: ignore[no-untyped-def]
    r = excinfo.value.response
    return r["Error"]["Code"], r.get("TurkErrorCode"), r["Error"]["Message"]


def test_create_hit_returns_the_model_shape(mturk):
    hit = mturk.create_hit(**hit_params(RequesterAnnotation="batch-1"))["HIT"]
    for key in ("HITId", "HITTypeId", "HITGroupId", "CreationTime", "Expiration", "Question", "QualificationRequirements"):
        assert key in hit
    assert hit["HITStatus"] == "Assignable" and hit["HITReviewStatus"] == "NotReviewed"
    assert hit["NumberOfAssignmentsAvailable"] == 3 and hit["NumberOfAssignmentsPending"] == 0
    assert hit["NumberOfAssignmentsCompleted"] == 0
    assert hit["Reward"] == "0.50" and hit["RequesterAnnotation"] == "batch-1"
    assert len(hit["HITId"]) == 30 and hit["HITId"].isupper()
    delta = (hit["Expiration"] - hit["CreationTime"]).total_seconds()
    assert abs(delta - 3600) < 1
    assert mturk.get_hit(HITId=hit["HITId"])["HIT"]["HITId"] == hit["HITId"]


@pytest.mark.parametrize("question", [HTML_QUESTION, EXTERNAL, QUESTION_FORM], ids=["html", "external", "questionform"])
def test_every_question_schema_is_accepted(mturk, question):
    assert mturk.create_hit(**hit_params(Question=question))["HIT"]["Question"] == question


@pytest.mark.parametrize(
    ("question", "fragment"),
    [
        ("<not-closed>", "Question"),
        ("<HTMLQuestion xmlns='urn:wrong'><HTMLContent>x</HTMLContent><FrameHeight>1</FrameHeight></HTMLQuestion>", "Question"),
        (HTML_QUESTION.replace("</HTMLContent>", "</HTMLContent>" + "<!--" + "x" * 66000 + "-->"), "Question"),
        ('<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><HTMLQuestion>&e;</HTMLQuestion>', "Question"),
    ],
    ids=["malformed", "namespace", "oversize", "xxe"],
)
def test_bad_questions_are_parameter_validation_errors(mturk, question, fragment):
    with pytest.raises(ClientError) as e:
        mturk.create_hit(**hit_params(Question=question))
    code, _, message = error_of(e)
    assert code == "ParameterValidationError"
    assert fragment in message
    assert mturk.list_hits()["NumResults"] == 0  # nothing was created


@pytest.mark.parametrize(
    ("override", "member"),
    [
        ({"Title": "x" * 129}, "title"),
        ({"Description": "d" * 2001}, "description"),
        ({"LifetimeInSeconds": 10}, "lifetimeInSeconds"),
        ({"AssignmentDurationInSeconds": 31_536_001}, "assignmentDurationInSeconds"),
        ({"Reward": "$1"}, "reward"),
        ({"Reward": "0.975"}, "reward"),
        ({"RequesterAnnotation": "a" * 256}, "requesterAnnotation"),
    ],
)
def test_limits_botocore_lets_through_are_validation_exceptions(mturk, override, member):
    with pytest.raises(ClientError) as e:
        mturk.create_hit(**hit_params(**override))
    code, _, message = error_of(e)
    assert code == "ValidationException"
    assert message.startswith("1 validation error detected: ") and f"at '{member}'" in message


def test_eleven_qualification_requirements_are_refused(mturk):
    reqs = [{"QualificationTypeId": "00000000000000000040", "Comparator": "GreaterThan", "IntegerValues": [i]} for i in range(11)]
    with pytest.raises(ClientError) as e:
        mturk.create_hit(**hit_params(QualificationRequirements=reqs))
    assert error_of(e)[0] == "ValidationException"


def test_locale_equal_to_with_two_countries_is_refused_as_mturk_did(mturk):
    req = {"QualificationTypeId": "00000000000000000071", "Comparator": "EqualTo",
           "LocaleValues": [{"Country": "US"}, {"Country": "CA"}]}
    with pytest.raises(ClientError) as e:
        mturk.create_hit(**hit_params(QualificationRequirements=[req]))
    code, turk, message = error_of(e)
    assert code == "ParameterValidationError" and "LocaleValue must be null when used with the EqualTo comparator" in message
    assert e.value.response["Error"]["Code"] == "ParameterValidationError"


def test_client_side_validation_still_applies(mturk):
    with pytest.raises(ParamValidationError):
        mturk.create_hit(Title="t")


def test_identical_properties_give_the_same_hit_type(mturk):
    props = dict(Title="T", Description="D", Reward="0.10", AssignmentDurationInSeconds=300, Keywords="k")
    a = mturk.create_hit_type(**props)["HITTypeId"]
    assert mturk.create_hit_type(**props)["HITTypeId"] == a
    assert mturk.create_hit_type(**{**props, "Reward": "0.11"})["HITTypeId"] != a
    hit = mturk.create_hit_with_hit_type(HITTypeId=a, LifetimeInSeconds=600, Question=HTML_QUESTION, MaxAssignments=2)["HIT"]
    assert hit["HITTypeId"] == a and hit["Title"] == "T" and hit["Reward"] == "0.10"
    implicit = mturk.create_hit(**hit_params(Title="T", Description="D", Reward="0.10", AssignmentDurationInSeconds=300,
                                             Keywords="k", AutoApprovalDelayInSeconds=2_592_000))["HIT"]
    assert implicit["HITTypeId"] == a


def test_create_hit_with_unknown_hit_type(mturk):
    with pytest.raises(mturk.exceptions.RequestError) as e:
        mturk.create_hit_with_hit_type(HITTypeId="NOSUCHTYPE", LifetimeInSeconds=600, Question=HTML_QUESTION)
    assert e.value.response["TurkErrorCode"] == "AWS.MechanicalTurk.HITTypeDoesNotExist"


def test_unknown_hit_is_hit_does_not_exist(mturk):
    with pytest.raises(mturk.exceptions.RequestError) as e:
        mturk.get_hit(HITId="3PR3LXCWSFNV4OJWZBHIMQOIJVSX9G")
    assert e.value.response["TurkErrorCode"] == "AWS.MechanicalTurk.HITDoesNotExist"
    assert e.value.response["Error"]["Message"].startswith("Hit 3PR3LXCWSFNV4OJWZBHIMQOIJVSX9G does not exist. (")


def test_status_and_counters_follow_the_developer_guide_example(server, mturk):
    hit_id = mturk.create_hit(**hit_params(MaxAssignments=5))["HIT"]["HITId"]
    workers = [server.new_worker() for _ in range(5)]
    aids = [server.accept(w, hit_id) for w in workers[:3]]
    h = mturk.get_hit(HITId=hit_id)["HIT"]
    assert (h["HITStatus"], h["NumberOfAssignmentsAvailable"], h["NumberOfAssignmentsPending"]) == ("Assignable", 2, 3)
    aids += [server.accept(w, hit_id) for w in workers[3:]]
    for w, aid in list(zip(workers, aids))[:2]:
        assert server.submit(w, aid, {"a": "1"}).status_code == 200
    h = mturk.get_hit(HITId=hit_id)["HIT"]
    assert (h["HITStatus"], h["NumberOfAssignmentsAvailable"], h["NumberOfAssignmentsPending"]) == ("Unassignable", 0, 3)
    r = server.worker_call(workers[2], "POST", f"/api/worker/v1/assignments/{aids[2]}/return")
    assert r.status_code == 200
    h = mturk.get_hit(HITId=hit_id)["HIT"]
    assert (h["HITStatus"], h["NumberOfAssignmentsAvailable"], h["NumberOfAssignmentsPending"]) == ("Assignable", 1, 2)
    w6 = server.new_worker()
    server.do_hit(w6, hit_id)
    for w, aid in list(zip(workers, aids))[3:]:
        server.submit(w, aid, {"a": "1"})
    h = mturk.get_hit(HITId=hit_id)["HIT"]
    assert (h["HITStatus"], h["NumberOfAssignmentsAvailable"], h["NumberOfAssignmentsPending"]) == ("Reviewable", 0, 0)
    assert mturk.list_reviewable_hits()["HITs"][0]["HITId"] == hit_id


def test_expire_now_then_extend(server, mturk):
    hit_id = mturk.create_hit(**hit_params(MaxAssignments=2))["HIT"]["HITId"]
    w = server.new_worker()
    aid = server.accept(w, hit_id)
    mturk.update_expiration_for_hit(HITId=hit_id, ExpireAt=0)
    h = mturk.get_hit(HITId=hit_id)["HIT"]
    assert h["HITStatus"] == "Unassignable" and h["NumberOfAssignmentsAvailable"] == 0
    r = server.worker_call(server.new_worker(), "POST", f"/api/worker/v1/hits/{hit_id}/accept")
    assert r.status_code == 410 and r.json()["error"]["code"] == "hit_expired"
    assert server.submit(w, aid, {"a": "x"}).status_code == 200  # in-flight work may still be submitted
    assert mturk.get_hit(HITId=hit_id)["HIT"]["HITStatus"] == "Reviewable"
    mturk.update_expiration_for_hit(HITId=hit_id, ExpireAt=time.time() + 3600)
    h = mturk.get_hit(HITId=hit_id)["HIT"]
    assert h["HITStatus"] == "Assignable" and h["NumberOfAssignmentsAvailable"] == 1


def test_additional_assignments(server, mturk):
    hit_id = mturk.create_hit(**hit_params(MaxAssignments=1))["HIT"]["HITId"]
    server.do_hit(server.new_worker(), hit_id)
    assert mturk.get_hit(HITId=hit_id)["HIT"]["HITStatus"] == "Reviewable"
    mturk.create_additional_assignments_for_hit(HITId=hit_id, NumberOfAdditionalAssignments=2)
    h = mturk.get_hit(HITId=hit_id)["HIT"]
    assert (h["HITStatus"], h["MaxAssignments"], h["NumberOfAssignmentsAvailable"]) == ("Assignable", 3, 2)
    with pytest.raises(mturk.exceptions.RequestError) as e:
        mturk.create_additional_assignments_for_hit(HITId=hit_id, NumberOfAdditionalAssignments=7)
    assert e.value.response["TurkErrorCode"] == "AWS.MechanicalTurk.InvalidMaximumAssignmentsIncrease"
    assert mturk.get_hit(HITId=hit_id)["HIT"]["MaxAssignments"] == 3


def test_review_status_round_trip_and_wrong_state(server, mturk):
    hit_id = mturk.create_hit(**hit_params(MaxAssignments=1))["HIT"]["HITId"]
    with pytest.raises(mturk.exceptions.RequestError) as e:
        mturk.update_hit_review_status(HITId=hit_id)
    assert "Assignable" in e.value.response["Error"]["Message"]
    server.do_hit(server.new_worker(), hit_id)
    mturk.update_hit_review_status(HITId=hit_id, Revert=False)
    assert mturk.get_hit(HITId=hit_id)["HIT"]["HITStatus"] == "Reviewing"
    assert [h["HITId"] for h in mturk.list_reviewable_hits(Status="Reviewing")["HITs"]] == [hit_id]
    assert mturk.list_reviewable_hits()["NumResults"] == 0
    mturk.update_hit_review_status(HITId=hit_id, Revert=True)
    assert mturk.get_hit(HITId=hit_id)["HIT"]["HITStatus"] == "Reviewable"


def test_update_hit_type_of_hit(mturk):
    hit_id = mturk.create_hit(**hit_params())["HIT"]["HITId"]
    new_type = mturk.create_hit_type(Title="New title", Description="D", Reward="0.20", AssignmentDurationInSeconds=60)["HITTypeId"]
    mturk.update_hit_type_of_hit(HITId=hit_id, HITTypeId=new_type)
    h = mturk.get_hit(HITId=hit_id)["HIT"]
    assert (h["HITTypeId"], h["Title"], h["Reward"]) == (new_type, "New title", "0.20")


def test_delete_hit_preconditions(server, mturk):
    hit_id = mturk.create_hit(**hit_params(MaxAssignments=1))["HIT"]["HITId"]
    with pytest.raises(mturk.exceptions.RequestError) as e:
        mturk.delete_hit(HITId=hit_id)
    assert "This operation can be called with a status of: Reviewing, Reviewable" in e.value.response["Error"]["Message"]
    aid = server.do_hit(server.new_worker(), hit_id)
    with pytest.raises(mturk.exceptions.RequestError) as e:  # Reviewable, but the assignment is unreviewed
        mturk.delete_hit(HITId=hit_id)
    assert "'Reviewable'" in e.value.response["Error"]["Message"]
    mturk.approve_assignment(AssignmentId=aid)
    mturk.delete_hit(HITId=hit_id)
    with pytest.raises(mturk.exceptions.RequestError):
        mturk.get_hit(HITId=hit_id)
    assert hit_id not in [h["HITId"] for h in mturk.list_hits(MaxResults=100)["HITs"]]


def test_expired_hit_with_no_work_can_be_deleted(mturk):
    hit_id = mturk.create_hit(**hit_params())["HIT"]["HITId"]
    mturk.update_expiration_for_hit(HITId=hit_id, ExpireAt=0)
    mturk.delete_hit(HITId=hit_id)
    assert mturk.list_hits()["NumResults"] == 0


def test_pagination_over_250_hits_is_stable_and_ends_cleanly(mturk):
    created = [mturk.create_hit(**hit_params(MaxAssignments=1, RequesterAnnotation=str(i)))["HIT"]["HITId"] for i in range(250)]
    pages = list(mturk.get_paginator("list_hits").paginate(PaginationConfig={"PageSize": 100}))
    assert [p["NumResults"] for p in pages] == [100, 100, 50]
    assert "NextToken" not in pages[-1]
    assert [h["HITId"] for p in pages for h in p["HITs"]] == created
    assert mturk.list_hits()["NumResults"] == 10  # documented default page size
    exact = list(mturk.get_paginator("list_hits").paginate(PaginationConfig={"PageSize": 50}))
    assert len(exact) == 5 and "NextToken" not in exact[-1]  # no empty page at an exact boundary
    with pytest.raises(ClientError) as e:
        mturk.list_hits(MaxResults=500)
    assert error_of(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        mturk.list_hits(NextToken="garbage!")
    assert error_of(e)[0] == "ParameterValidationError"


def test_requesters_see_only_their_own_hits(server, mturk):
    hit = mturk.create_hit(**hit_params())["HIT"]
    other = server.client(server.new_requester())
    with pytest.raises(other.exceptions.RequestError):
        other.get_hit(HITId=hit["HITId"])
    with pytest.raises(other.exceptions.RequestError):
        other.update_expiration_for_hit(HITId=hit["HITId"], ExpireAt=0)
    with pytest.raises(other.exceptions.RequestError):
        other.create_hit_with_hit_type(HITTypeId=hit["HITTypeId"], LifetimeInSeconds=60, Question=HTML_QUESTION)
    assert other.list_hits()["NumResults"] == 0
    assert mturk.get_hit(HITId=hit["HITId"])["HIT"]["HITStatus"] == "Assignable"


def test_list_hits_for_qualification_type(server, mturk):
    qt = mturk.create_qualification_type(Name="trained-" + server.new_worker().worker_id, Description="d",
                                         QualificationTypeStatus="Active")["QualificationType"]["QualificationTypeId"]
    req = [{"QualificationTypeId": qt, "Comparator": "Exists"}]
    with_qual = [mturk.create_hit(**hit_params(QualificationRequirements=req))["HIT"]["HITId"] for _ in range(3)]
    mturk.create_hit(**hit_params())
    out = mturk.list_hits_for_qualification_type(QualificationTypeId=qt, MaxResults=2)
    assert out["NumResults"] == 2 and "NextToken" in out
    rest = mturk.list_hits_for_qualification_type(QualificationTypeId=qt, MaxResults=2, NextToken=out["NextToken"])
    assert [h["HITId"] for h in out["HITs"] + rest["HITs"]] == with_qual and "NextToken" not in rest
    locale = mturk.list_hits_for_qualification_type(QualificationTypeId="00000000000000000071")
    assert locale["NumResults"] == 0
    other = server.client(server.new_requester())
    with pytest.raises(other.exceptions.RequestError) as e:  # another requester's type is not theirs to list
        other.list_hits_for_qualification_type(QualificationTypeId=qt)
    assert e.value.response["TurkErrorCode"] == "AWS.MechanicalTurk.QualificationDoesNotExist"


def test_get_file_upload_url_explains_there_are_no_uploads(server, mturk):
    hit_id = mturk.create_hit(**hit_params())["HIT"]["HITId"]
    aid = server.do_hit(server.new_worker(), hit_id)
    with pytest.raises(mturk.exceptions.RequestError) as e:
        mturk.get_file_upload_url(AssignmentId=aid, QuestionIdentifier="photo")
    assert "FileUploadAnswer" in e.value.response["Error"]["Message"]
    with pytest.raises(mturk.exceptions.RequestError) as e:
        mturk.get_file_upload_url(AssignmentId="NOSUCHASSIGNMENT", QuestionIdentifier="photo")
    assert e.value.response["TurkErrorCode"] == "AWS.MechanicalTurk.AssignmentDoesNotExist"


def test_update_hit_type_of_hit_to_a_foreign_or_unknown_type(server, mturk):
    hit_id = mturk.create_hit(**hit_params())["HIT"]["HITId"]
    foreign = server.client(server.new_requester()).create_hit_type(
        Title="x", Description="d", Reward="0.01", AssignmentDurationInSeconds=60)["HITTypeId"]
    for type_id in (foreign, "NOSUCHTYPE"):
        with pytest.raises(mturk.exceptions.RequestError) as e:
            mturk.update_hit_type_of_hit(HITId=hit_id, HITTypeId=type_id)
        assert e.value.response["TurkErrorCode"] == "AWS.MechanicalTurk.HITTypeDoesNotExist"


def test_hits_are_disposed_of_120_days_after_expiry(server, mturk):
    hit_id = mturk.create_hit(**hit_params(LifetimeInSeconds=60))["HIT"]["HITId"]
    server.advance(61 + 119 * 86400)
    assert mturk.get_hit(HITId=hit_id)["HIT"]["HITStatus"] == "Reviewable"
    server.advance(86400)
    with pytest.raises(mturk.exceptions.RequestError) as e:
        mturk.get_hit(HITId=hit_id)
    assert e.value.response["TurkErrorCode"] == "AWS.MechanicalTurk.HITDoesNotExist"
    assert mturk.get_account_balance()["OnHoldBalance"] == "0.00"
