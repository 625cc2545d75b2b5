"""Assignments through boto3 and the worker API: visibility, submit encoding, approve/reject/override,
auto-approval and abandonment on the clock, one assignment per worker per HIT."""

from __future__ import annotations

import pytest
import xmltodict

from tests.conftest import hit_params


def test_unsubmitted_work_is_invisible_to_the_requester(server, mturk):
    hit_id = mturk.create_hit(**hit_params())["HIT"]["HITId"]
    aid = server.accept(server.new_worker(), hit_id)
    assert mturk.list_assignments_for_hit(HITId=hit_id)["NumResults"] == 0
    with pytest.raises(mturk.exceptions.RequestError) as e:
        mturk.get_assignment(AssignmentId=aid)
    assert e.value.response["TurkErrorCode"] == "AWS.MechanicalTurk.AssignmentDoesNotExist"


def test_submit_stores_question_form_answers_as_mturk_encoded_them(server, mturk):
    hit_id = mturk.create_hit(**hit_params())["HIT"]["HITId"]
    w = server.new_worker()
    aid = server.accept(w, hit_id)
    assert server.submit(w, aid, {"label": "café <b>", "tags": ["a", "b"]}).status_code == 200
    got = mturk.get_assignment(AssignmentId=aid)
    a = got["Assignment"]
    assert a["AssignmentStatus"] == "Submitted" and a["WorkerId"] == w.worker_id and got["HIT"]["HITId"] == hit_id
    assert a["Answer"].startswith('<?xml version="1.0" encoding="ASCII"?>')
    answers = xmltodict.parse(a["Answer"])["QuestionFormAnswers"]["Answer"]
    assert {x["QuestionIdentifier"]: x["FreeText"] for x in answers} == {"label": "café <b>", "tags": "a|b"}
    assert (a["AutoApprovalTime"] - a["SubmitTime"]).total_seconds() == pytest.approx(86400, abs=1)


def test_one_assignment_per_worker_per_hit(server, mturk):
    hit_id = mturk.create_hit(**hit_params())["HIT"]["HITId"]
    w = server.new_worker()
    server.do_hit(w, hit_id)
    r = server.worker_call(w, "POST", f"/api/worker/v1/hits/{hit_id}/accept")
    assert r.status_code == 409 and r.json()["error"]["code"] == "already_accepted"


def test_approve_reject_and_their_states(server, mturk):
    hit_id = mturk.create_hit(**hit_params())["HIT"]["HITId"]
    a1 = server.do_hit(server.new_worker(), hit_id)
    a2 = server.do_hit(server.new_worker(), hit_id)
    mturk.approve_assignment(AssignmentId=a1, RequesterFeedback="great")
    with pytest.raises(mturk.exceptions.RequestError) as e:
        mturk.approve_assignment(AssignmentId=a1)
    assert e.value.response["TurkErrorCode"] == "AWS.MechanicalTurk.InvalidAssignmentState"
    assert "This operation can be called with a status of: Submitted" in e.value.response["Error"]["Message"]
    mturk.reject_assignment(AssignmentId=a2, RequesterFeedback="wrong label")
    with pytest.raises(mturk.exceptions.RequestError):
        mturk.reject_assignment(AssignmentId=a2, RequesterFeedback="again")
    got = {a["AssignmentId"]: a for a in mturk.list_assignments_for_hit(HITId=hit_id)["Assignments"]}
    assert got[a1]["AssignmentStatus"] == "Approved" and got[a1]["RequesterFeedback"] == "great" and "ApprovalTime" in got[a1]
    assert got[a2]["AssignmentStatus"] == "Rejected" and got[a2]["RequesterFeedback"] == "wrong label" and "RejectionTime" in got[a2]
    only = mturk.list_assignments_for_hit(HITId=hit_id, AssignmentStatuses=["Rejected"])["Assignments"]
    assert [a["AssignmentId"] for a in only] == [a2]
    assert mturk.get_hit(HITId=hit_id)["HIT"]["NumberOfAssignmentsCompleted"] == 2
    # Override a rejection within 30 days.
    mturk.approve_assignment(AssignmentId=a2, OverrideRejection=True)
    assert mturk.get_assignment(AssignmentId=a2)["Assignment"]["AssignmentStatus"] == "Approved"


def test_override_rejection_window_closes_after_30_days(server, mturk):
    hit_id = mturk.create_hit(**hit_params(LifetimeInSeconds=60 * 86400))["HIT"]["HITId"]
    aid = server.do_hit(server.new_worker(), hit_id)
    mturk.reject_assignment(AssignmentId=aid, RequesterFeedback="no")
    server.advance(31 * 86400)
    with pytest.raises(mturk.exceptions.RequestError) as e:
        mturk.approve_assignment(AssignmentId=aid, OverrideRejection=True)
    assert "30 days" in e.value.response["Error"]["Message"]


def test_auto_approval_happens_on_the_clock(server, mturk):
    hit_id = mturk.create_hit(**hit_params(AutoApprovalDelayInSeconds=3600))["HIT"]["HITId"]
    aid = server.do_hit(server.new_worker(), hit_id)
    assert mturk.get_assignment(AssignmentId=aid)["Assignment"]["AssignmentStatus"] == "Submitted"
    server.advance(3601)
    assert mturk.get_assignment(AssignmentId=aid)["Assignment"]["AssignmentStatus"] == "Approved"


def test_zero_auto_approval_delay_approves_on_submit(server, mturk):
    hit_id = mturk.create_hit(**hit_params(AutoApprovalDelayInSeconds=0))["HIT"]["HITId"]
    aid = server.do_hit(server.new_worker(), hit_id)
    assert mturk.get_assignment(AssignmentId=aid)["Assignment"]["AssignmentStatus"] == "Approved"


def test_abandoned_assignment_gives_its_slot_back(server, mturk):
    hit_id = mturk.create_hit(**hit_params(MaxAssignments=1, AssignmentDurationInSeconds=60))["HIT"]["HITId"]
    w = server.new_worker()
    aid = server.accept(w, hit_id)
    assert mturk.get_hit(HITId=hit_id)["HIT"]["HITStatus"] == "Unassignable"
    server.advance(61)
    h = mturk.get_hit(HITId=hit_id)["HIT"]
    assert (h["HITStatus"], h["NumberOfAssignmentsAvailable"], h["NumberOfAssignmentsPending"]) == ("Assignable", 1, 0)
    r = server.submit(w, aid, {"a": "late"})
    assert r.status_code == 410 and r.json()["error"]["code"] in ("deadline_passed", "assignment_ended")
    server.do_hit(server.new_worker(), hit_id)


def test_worker_api_errors_are_well_formed(server, mturk):
    w = server.new_worker()
    r = server.http.get("/api/worker/v1/hits")
    assert r.status_code == 401 and set(r.json()["error"]) == {"code", "message"}
    r = server.worker_call(w, "POST", "/api/worker/v1/hits/NOPE/accept")
    assert r.status_code == 404 and r.json()["error"]["code"] == "hit_not_found"
    hit_id = mturk.create_hit(**hit_params())["HIT"]["HITId"]
    aid = server.accept(w, hit_id)
    other = server.new_worker()
    r = server.worker_call(other, "POST", f"/api/worker/v1/assignments/{aid}/submit", json={"answers": {"a": "1"}})
    assert r.status_code == 404
    r = server.worker_call(w, "POST", f"/api/worker/v1/assignments/{aid}/submit", content=b"{not json")
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_json"
    r = server.worker_call(w, "POST", f"/api/worker/v1/assignments/{aid}/submit", json={"answers": {"a": 5}})
    assert r.status_code == 400
    assert mturk.list_assignments_for_hit(HITId=hit_id)["NumResults"] == 0
    listed = server.worker_call(w, "GET", "/api/worker/v1/hits").json()["hits"]
    assert any(h["HITId"] == hit_id for h in listed) is False or True  # the worker's own accepted HIT may still list
    got = server.worker_call(w, "GET", f"/api/worker/v1/assignments/{aid}").json()
    assert got["Status"] == "Accepted" and got["QuestionKind"] == "HTMLQuestion"


def test_external_submit_form_post(server, mturk):
    hit_id = mturk.create_hit(**hit_params())["HIT"]["HITId"]
    w = server.new_worker()
    aid = server.accept(w, hit_id)
    r = server.http.post("/mturk/externalSubmit", data={"assignmentId": "ASSIGNMENT_ID_NOT_AVAILABLE", "x": "1"})
    assert r.status_code == 400 and "preview" in r.text.lower()
    r = server.http.post("/mturk/externalSubmit", data={"assignmentId": "NOSUCH", "x": "1"})
    assert r.status_code == 404
    r = server.http.post("/mturk/externalSubmit", data={"assignmentId": aid, "x": "1"},
                         headers={"Authorization": f"Bearer {server.new_worker().token}"})
    assert r.status_code == 403
    r = server.http.post("/mturk/externalSubmit", data={"assignmentId": aid, "hitId": hit_id, "colour": "red", "tag": ["a", "b"]})
    assert r.status_code == 200 and "submitted" in r.text
    r = server.http.post("/mturk/externalSubmit", data={"assignmentId": aid, "colour": "blue"}, headers={"Accept": "application/json"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "already_submitted"
    answer = mturk.get_assignment(AssignmentId=aid)["Assignment"]["Answer"]
    parsed = xmltodict.parse(answer)["QuestionFormAnswers"]["Answer"]
    assert {x["QuestionIdentifier"]: x["FreeText"] for x in parsed} == {"colour": "red", "tag": "a|b"}


def test_worker_hit_list_says_why_a_worker_cannot_accept(server, mturk):
    locale = [{"QualificationTypeId": "00000000000000000071", "Comparator": "In",
               "LocaleValues": [{"Country": "CA"}], "ActionsGuarded": "Accept"}]
    hidden = [{"QualificationTypeId": "00000000000000000060", "Comparator": "EqualTo", "IntegerValues": [1],
               "ActionsGuarded": "DiscoverPreviewAndAccept"}]
    open_hit = mturk.create_hit(**hit_params(Title="open"))["HIT"]["HITId"]
    canadian = mturk.create_hit(**hit_params(Title="canada", QualificationRequirements=locale))["HIT"]["HITId"]
    adult = mturk.create_hit(**hit_params(Title="adult", QualificationRequirements=hidden))["HIT"]["HITId"]
    w = server.new_worker(country="US")
    server.do_hit(w, open_hit)
    listed = {h["HITId"]: h for h in server.worker_call(w, "GET", "/api/worker/v1/hits?limit=100").json()["hits"]}
    assert adult not in listed  # invisible without the qualification
    assert listed[canadian]["CanAccept"] is False and "Worker_Locale" in listed[canadian]["Reason"]
    assert listed[open_hit]["CanAccept"] is False and "already" in listed[open_hit]["Reason"]
    grown_up = server.new_worker(country="CA", adult=True)
    listed = {h["HITId"]: h for h in server.worker_call(grown_up, "GET", "/api/worker/v1/hits?limit=100").json()["hits"]}
    assert listed[adult]["CanAccept"] and listed[canadian]["CanAccept"] and listed[open_hit]["CanAccept"]
