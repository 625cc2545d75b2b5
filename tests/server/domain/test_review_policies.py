"""Review policies (ScoreMyKnownAnswers, SimplePlurality) and ListReviewPolicyResultsForHIT, through boto3."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from botocore.exceptions import ClientError

from tests.conftest import hit_params

ENTITY_ID = re.compile(r"^[A-Z0-9]+$")


def known_answers(**overrides: object) -> dict:
    params = {
        "ApproveIfKnownAnswerScoreIsAtLeast": "100",
        "ApproveReason": "All known answers right",
        "RejectIfKnownAnswerScoreIsLessThan": "50",
        "RejectReason": "Known answers were wrong",
    }
    params.update({k: str(v) for k, v in overrides.items()})
    return {
        "PolicyName": "ScoreMyKnownAnswers/2011-09-01",
        "Parameters": [
            {"Key": "AnswerKey", "MapEntries": [{"Key": "q1", "Values": ["cat"]}, {"Key": "q2", "Values": ["red"]}]},
            *({"Key": k, "Values": [v]} for k, v in params.items()),
        ],
    }


def plurality(**overrides: object) -> dict:
    params = {
        "QuestionIds": "color,size",
        "QuestionAgreementThreshold": "49",
        "ApproveIfWorkerAgreementScoreIsAtLeast": "100",
        "RejectIfWorkerAgreementScoreIsLessThan": "75",
        "RejectReason": "Disagreed with the other workers",
    }
    params.update({k: str(v) for k, v in overrides.items()})
    return {"PolicyName": "SimplePlurality/2011-09-01", "Parameters": [{"Key": k, "Values": [v]} for k, v in params.items()]}


def _status(mturk, aid: str) -> dict:
    return mturk.get_assignment(AssignmentId=aid)["Assignment"]


def _by_subject(items: list[dict], subject: str, key: str | None = None) -> list[dict]:
    return [r for r in items if r.get("SubjectId", r.get("TargetId")) == subject and (key is None or r.get("Key") == key)]


def _check_shapes(report: dict) -> None:
    for r in report.get("ReviewResults", []):
        assert set(r) <= {"ActionId", "SubjectId", "SubjectType", "QuestionId", "Key", "Value"}
        assert ENTITY_ID.match(r["ActionId"]) and ENTITY_ID.match(r["SubjectId"])
        assert isinstance(r["Value"], str)
    for a in report.get("ReviewActions", []):
        assert set(a) <= {"ActionId", "ActionName", "TargetId", "TargetType", "Status", "CompleteTime", "Result", "ErrorCode"}
        assert ENTITY_ID.match(a["ActionId"]) and ENTITY_ID.match(a["TargetId"])
        assert a["Status"] in ("Intended", "Succeeded", "Failed", "Cancelled")
        assert isinstance(a["CompleteTime"], datetime)


# ---------------------------------------------------------------- ScoreMyKnownAnswers


def test_known_answers_approve_right_reject_wrong_and_leave_the_middle(server, mturk):
    hit = mturk.create_hit(**hit_params(AssignmentReviewPolicy=known_answers()))["HIT"]
    hit_id = hit["HITId"]
    right = server.do_hit(server.new_worker(), hit_id, {"q1": " cat ", "q2": "red", "comment": "easy"})
    wrong = server.do_hit(server.new_worker(), hit_id, {"q1": "dog", "q2": "Red"})
    half = server.do_hit(server.new_worker(), hit_id, {"q1": "cat", "q2": "blue"})

    assert _status(mturk, right)["AssignmentStatus"] == "Approved"
    assert _status(mturk, right)["RequesterFeedback"] == "All known answers right"
    assert _status(mturk, wrong)["AssignmentStatus"] == "Rejected"
    assert _status(mturk, wrong)["RequesterFeedback"] == "Known answers were wrong"
    assert _status(mturk, half)["AssignmentStatus"] == "Submitted"  # 50: neither >= 100 nor < 50

    out = mturk.list_review_policy_results_for_hit(HITId=hit_id)
    assert out["HITId"] == hit_id
    assert out["AssignmentReviewPolicy"]["PolicyName"] == "ScoreMyKnownAnswers/2011-09-01"
    assert "HITReviewPolicy" not in out and "NextToken" not in out
    report = out["AssignmentReviewReport"]
    _check_shapes(report)
    results, actions = report["ReviewResults"], report["ReviewActions"]
    scores = {aid: _by_subject(results, aid, "KnownAnswerScore")[0]["Value"] for aid in (right, wrong, half)}
    assert scores == {right: "100", wrong: "0", half: "50"}
    per_question = {(r["SubjectId"], r["QuestionId"]): r["Value"] for r in results if r["Key"] == "KnownAnswerCorrect"}
    assert per_question == {(right, "q1"): "1", (right, "q2"): "1", (wrong, "q1"): "0", (wrong, "q2"): "0",
                            (half, "q1"): "1", (half, "q2"): "0"}
    assert all(r["SubjectType"] == "Assignment" for r in results)
    named = {(a["TargetId"], a["ActionName"]): a for a in actions}
    assert named[(right, "approve")]["Status"] == "Succeeded"
    assert named[(wrong, "reject")]["Status"] == "Succeeded"
    assert named[(half, "review")]["Result"] == "Reviewed 2 known answers; 1/2 correct"
    assert {name for (target, name) in named if target == half} == {"review"}
    assert all(a["TargetType"] == "Assignment" for a in actions)
    review_ids = {a["ActionId"] for a in actions if a["ActionName"] == "review"}
    assert {r["ActionId"] for r in results} <= review_ids

    hit_only = mturk.list_review_policy_results_for_hit(HITId=hit_id, PolicyLevels=["HIT"])
    assert "AssignmentReviewReport" not in hit_only
    assert hit_only["HITReviewReport"] == {"ReviewResults": [], "ReviewActions": []}
    no_actions = mturk.list_review_policy_results_for_hit(HITId=hit_id, PolicyLevels=["Assignment"], RetrieveActions=False)
    assert "ReviewActions" not in no_actions["AssignmentReviewReport"]
    assert len(no_actions["AssignmentReviewReport"]["ReviewResults"]) == len(results)


def test_review_results_paginate(server, mturk):
    hit_id = mturk.create_hit(**hit_params(AssignmentReviewPolicy=known_answers()))["HIT"]["HITId"]
    for answers in ({"q1": "cat", "q2": "red"}, {"q1": "no", "q2": "no"}):
        server.do_hit(server.new_worker(), hit_id, answers)
    everything = mturk.list_review_policy_results_for_hit(HITId=hit_id)["AssignmentReviewReport"]
    total = len(everything["ReviewResults"]) + len(everything["ReviewActions"])
    assert total == 10  # per assignment: 3 results, a review and a decision
    got: list = []
    token = None
    while True:
        kw = {"NextToken": token} if token else {}
        page = mturk.list_review_policy_results_for_hit(HITId=hit_id, MaxResults=3, **kw)
        rep = page["AssignmentReviewReport"]
        got += rep["ReviewResults"] + rep["ReviewActions"]
        assert len(rep["ReviewResults"]) + len(rep["ReviewActions"]) <= 3
        token = page.get("NextToken")
        if not token:
            break
    assert len(got) == total
    assert sorted(x["ActionId"] + x.get("Key", x.get("ActionName")) + x.get("QuestionId", "") for x in got) == sorted(
        x["ActionId"] + x.get("Key", x.get("ActionName")) + x.get("QuestionId", "")
        for x in everything["ReviewResults"] + everything["ReviewActions"]
    )


def test_known_answers_extend_the_hit_up_to_the_maximum(server, mturk):
    policy = known_answers(ExtendIfKnownAnswerScoreIsLessThan=100, ExtendMaximumAssignments=3,
                           ExtendMinimumTimeInSeconds=7200)
    hit = mturk.create_hit(**hit_params(MaxAssignments=1, LifetimeInSeconds=600, AssignmentReviewPolicy=policy))["HIT"]
    hit_id = hit["HITId"]
    server.do_hit(server.new_worker(), hit_id, {"q1": "dog", "q2": "red"})
    after = mturk.get_hit(HITId=hit_id)["HIT"]
    assert after["MaxAssignments"] == 2 and after["HITStatus"] == "Assignable"
    assert after["NumberOfAssignmentsAvailable"] == 1
    assert after["Expiration"] > hit["Expiration"]  # at least 7200 s from now
    server.do_hit(server.new_worker(), hit_id, {"q1": "dog", "q2": "dog"})
    server.do_hit(server.new_worker(), hit_id, {"q1": "dog", "q2": "dog"})
    final = mturk.get_hit(HITId=hit_id)["HIT"]
    assert final["MaxAssignments"] == 3 and final["HITStatus"] == "Reviewable"
    extends = [a for a in mturk.list_review_policy_results_for_hit(HITId=hit_id)["AssignmentReviewReport"]["ReviewActions"]
               if a["ActionName"] == "extend"]
    assert [a["Status"] for a in extends] == ["Succeeded"] * 3
    assert extends[0]["TargetId"] == hit_id and extends[0]["TargetType"] == "HIT"
    assert "Not extended" in extends[2]["Result"]


def test_auto_approval_delay_zero_wins_over_the_policy(server, mturk):
    hit_id = mturk.create_hit(**hit_params(AutoApprovalDelayInSeconds=0, AssignmentReviewPolicy=known_answers()))["HIT"]["HITId"]
    aid = server.do_hit(server.new_worker(), hit_id, {"q1": "dog", "q2": "dog"})
    assert _status(mturk, aid)["AssignmentStatus"] == "Approved"
    actions = mturk.list_review_policy_results_for_hit(HITId=hit_id)["AssignmentReviewReport"]["ReviewActions"]
    reject = next(a for a in actions if a["ActionName"] == "reject")
    assert reject["Status"] == "Failed" and reject["ErrorCode"] == "AWS.MechanicalTurk.InvalidAssignmentState"


def test_invalid_policy_parameters_are_refused_at_creation(server, mturk):
    bad = known_answers(ApproveIfKnownAnswerScoreIsAtLeast="lots")
    with pytest.raises(ClientError) as e:
        mturk.create_hit(**hit_params(AssignmentReviewPolicy=bad))
    assert e.value.response["Error"]["Code"] == "ParameterValidationError"
    assert "ApproveIfKnownAnswerScoreIsAtLeast" in e.value.response["Error"]["Message"]
    assert mturk.list_hits()["NumResults"] == 0


# ---------------------------------------------------------------- SimplePlurality


def test_plurality_with_three_assignments(server, mturk):
    hit_id = mturk.create_hit(**hit_params(HITReviewPolicy=plurality()))["HIT"]["HITId"]
    a1 = server.do_hit(server.new_worker(), hit_id, {"color": "red", "size": "large"})
    a2 = server.do_hit(server.new_worker(), hit_id, {"color": "red ", "size": "large"})
    partial = mturk.list_review_policy_results_for_hit(HITId=hit_id)
    assert partial["HITReviewReport"] == {"ReviewResults": [], "ReviewActions": []}  # not complete yet
    a3 = server.do_hit(server.new_worker(), hit_id, {"color": "blue", "size": "large"})

    assert _status(mturk, a1)["AssignmentStatus"] == "Approved"
    assert _status(mturk, a2)["AssignmentStatus"] == "Approved"
    rejected = _status(mturk, a3)
    assert rejected["AssignmentStatus"] == "Rejected"
    assert rejected["RequesterFeedback"] == "Disagreed with the other workers"

    out = mturk.list_review_policy_results_for_hit(HITId=hit_id, PolicyLevels=["HIT"])
    assert out["HITReviewPolicy"]["PolicyName"] == "SimplePlurality/2011-09-01"
    report = out["HITReviewReport"]
    _check_shapes(report)
    results = report["ReviewResults"]
    on_hit = {(r.get("QuestionId"), r["Key"]): r["Value"] for r in results if r["SubjectId"] == hit_id}
    assert all(r["SubjectType"] == "HIT" for r in results if r["SubjectId"] == hit_id)
    assert on_hit == {
        ("color", "AgreedAnswerFound"): "true", ("color", "AgreedAnswer"): "red", ("color", "AnswerAgreementScore"): "66",
        ("size", "AgreedAnswerFound"): "true", ("size", "AgreedAnswer"): "large", ("size", "AnswerAgreementScore"): "100",
        (None, "HitAgreementScore"): "100",
    }
    was = {r["SubjectId"]: r["Value"] for r in results if r["Key"] == "WorkerAgreementScore"}
    assert was == {a1: "100", a2: "100", a3: "50"}
    assert _by_subject(results, a3, "PluralityAnswersIncorrect")[0]["Value"] == "1"
    decisions = {(a["TargetId"], a["ActionName"], a["Status"]) for a in report["ReviewActions"] if a["ActionName"] != "review"}
    assert decisions == {(a1, "approve", "Succeeded"), (a2, "approve", "Succeeded"), (a3, "reject", "Succeeded")}


def test_plurality_extends_until_agreement(server, mturk):
    policy = plurality(QuestionIds="color", ExtendIfHITAgreementScoreIsLessThan=100, ExtendMaximumAssignments=3,
                       ExtendMinimumTimeInSeconds=3600)
    hit_id = mturk.create_hit(**hit_params(MaxAssignments=2, HITReviewPolicy=policy))["HIT"]["HITId"]
    a1 = server.do_hit(server.new_worker(), hit_id, {"color": "red"})
    a2 = server.do_hit(server.new_worker(), hit_id, {"color": "blue"})
    hit = mturk.get_hit(HITId=hit_id)["HIT"]
    assert hit["MaxAssignments"] == 3 and hit["HITStatus"] == "Assignable"  # a tie: no agreed answer, so extended
    assert _status(mturk, a1)["AssignmentStatus"] == "Submitted"  # decisions wait for the extended HIT
    a3 = server.do_hit(server.new_worker(), hit_id, {"color": "red"})

    report = mturk.list_review_policy_results_for_hit(HITId=hit_id, PolicyLevels=["HIT"])["HITReviewReport"]
    found = [r["Value"] for r in report["ReviewResults"] if r["Key"] == "AgreedAnswerFound"]
    assert found == ["false", "true"]  # one evaluation per completion, in order
    assert [r["Value"] for r in report["ReviewResults"] if r["Key"] == "HitAgreementScore"] == ["0", "100"]
    assert [a["Status"] for a in report["ReviewActions"] if a["ActionName"] == "extend"] == ["Succeeded"]
    assert {_status(mturk, a)["AssignmentStatus"] for a in (a1, a3)} == {"Approved"}
    assert _status(mturk, a2)["AssignmentStatus"] == "Rejected"


def test_both_policies_together_disregard_low_known_answer_scores(server, mturk):
    assignment_policy = known_answers(ApproveIfKnownAnswerScoreIsAtLeast=101, RejectIfKnownAnswerScoreIsLessThan=0)
    hit_policy = plurality(QuestionIds="color", DisregardAssignmentIfKnownAnswerScoreIsLessThan=50,
                           QuestionAgreementThreshold=60)
    hit_id = mturk.create_hit(**hit_params(AssignmentReviewPolicy=assignment_policy, HITReviewPolicy=hit_policy))["HIT"]["HITId"]
    good1 = server.do_hit(server.new_worker(), hit_id, {"q1": "cat", "q2": "red", "color": "green"})
    good2 = server.do_hit(server.new_worker(), hit_id, {"q1": "cat", "q2": "red", "color": "green"})
    spam = server.do_hit(server.new_worker(), hit_id, {"q1": "x", "q2": "x", "color": "purple"})
    out = mturk.list_review_policy_results_for_hit(HITId=hit_id)
    hit_results = out["HITReviewReport"]["ReviewResults"]
    score = next(r for r in hit_results if r["Key"] == "AnswerAgreementScore")
    assert score["Value"] == "100"  # the spammer (known answer score 0) is not counted
    assert not _by_subject(hit_results, spam)
    assert {_status(mturk, a)["AssignmentStatus"] for a in (good1, good2)} == {"Approved"}
    assert _status(mturk, spam)["AssignmentStatus"] == "Submitted"


# ---------------------------------------------------------------- ListReviewPolicyResultsForHIT


def test_results_for_a_hit_without_policies_and_for_someone_elses_hit(server, mturk):
    hit_id = mturk.create_hit(**hit_params())["HIT"]["HITId"]
    out = mturk.list_review_policy_results_for_hit(HITId=hit_id)
    assert out["HITId"] == hit_id
    assert out["AssignmentReviewReport"] == {"ReviewResults": [], "ReviewActions": []}
    assert "AssignmentReviewPolicy" not in out and "HITReviewPolicy" not in out
    other = server.client(server.new_requester())
    with pytest.raises(ClientError) as e:
        other.list_review_policy_results_for_hit(HITId=hit_id)
    assert e.value.response["Error"]["Code"] == "RequestError"
    assert e.value.response["TurkErrorCode"] == "AWS.MechanicalTurk.HITDoesNotExist"


def test_extension_without_funds_is_a_failed_action_not_a_failed_submission(server):
    poor = server.client(server.new_requester(balance_cents=60))  # exactly one assignment: 0.50 + 0.10 fee
    policy = known_answers(ExtendIfKnownAnswerScoreIsLessThan=100, ApproveIfKnownAnswerScoreIsAtLeast=101,
                           RejectIfKnownAnswerScoreIsLessThan=0)
    hit_id = poor.create_hit(**hit_params(MaxAssignments=1, AssignmentReviewPolicy=policy))["HIT"]["HITId"]
    aid = server.do_hit(server.new_worker(), hit_id, {"q1": "dog", "q2": "red"})
    assert _status(poor, aid)["AssignmentStatus"] == "Submitted"
    hit = poor.get_hit(HITId=hit_id)["HIT"]
    assert hit["MaxAssignments"] == 1 and hit["HITStatus"] == "Reviewable"
    [extend] = [a for a in poor.list_review_policy_results_for_hit(HITId=hit_id)["AssignmentReviewReport"]["ReviewActions"]
                if a["ActionName"] == "extend"]
    assert extend["Status"] == "Failed" and extend["ErrorCode"] == "AWS.MechanicalTurk.InsufficientFunds"
    balance = poor.get_account_balance()
    assert (balance["AvailableBalance"], balance["OnHoldBalance"]) == ("0.00", "0.60")  # the savepoint undid the extension


def test_policies_run_once_and_leave_decided_assignments_alone(server, mturk):
    import time

    from sqlalchemy import func, select

    from hitkit.server.domain import review_policies
    from hitkit.server.store.queries import get_hit
    from hitkit.server.store.tables import review_results

    policy = known_answers(ApproveIfKnownAnswerScoreIsAtLeast=101, RejectIfKnownAnswerScoreIsLessThan=0)
    hit_id = mturk.create_hit(**hit_params(MaxAssignments=2, AssignmentReviewPolicy=policy,
                                           HITReviewPolicy=plurality(QuestionIds="q1")))["HIT"]["HITId"]
    a1 = server.do_hit(server.new_worker(), hit_id, {"q1": "cat", "q2": "red"})
    a2 = server.do_hit(server.new_worker(), hit_id, {"q1": "cat", "q2": "red"})
    # The known-answer policy decides nothing (thresholds 101/0); the plurality policy approves both.
    assert {_status(mturk, a)["AssignmentStatus"] for a in (a1, a2)} == {"Approved"}

    def count(conn) -> int:  # type: ignore[no-untyped-def]
        return conn.execute(select(func.count()).select_from(review_results).where(review_results.c.hit_id == hit_id)).scalar_one()

    with server._engine.begin() as conn:
        before = count(conn)
        hit = get_hit(conn, hit_id)
        for aid in (a1, a2):
            review_policies.on_submitted(conn, hit, aid, time.time(), "mturk")
        review_policies.on_hit_complete(conn, hit, time.time(), "mturk")
        assert count(conn) == before
