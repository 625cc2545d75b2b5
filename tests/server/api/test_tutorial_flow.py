"""The MTurk Python tutorial's flow, with boto3 aimed at hitkit only through AWS_ENDPOINT_URL_MTURK:
balance; create_hit with an HTMLQuestion; a worker submits; list_assignments_for_hit; parse the Answer with
xmltodict; approve; send_bonus; reject with feedback."""

from __future__ import annotations

import boto3
import xmltodict

from tests.conftest import HTML_QUESTION


def test_tutorial(server, requester, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_MTURK", server.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", requester.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", requester.secret)
    # As the tutorial wrote it, for the sandbox:
    mturk = boto3.client("mturk", region_name="us-east-1",
                         endpoint_url=None)  # endpoint comes from AWS_ENDPOINT_URL_MTURK
    assert mturk.meta.endpoint_url == server.url
    print("I have $" + mturk.get_account_balance()["AvailableBalance"] + " in my Sandbox account")

    new_hit = mturk.create_hit(
        Title="Is this Tweet happy, angry, excited, scared, annoyed or upset?",
        Description="Read this tweet and type out one word to describe the emotion of the person posting it",
        Keywords="text, quick, labeling",
        Reward="0.15",
        MaxAssignments=2,
        LifetimeInSeconds=172800,
        AssignmentDurationInSeconds=600,
        AutoApprovalDelayInSeconds=14400,
        Question=HTML_QUESTION,
    )
    hit_id = new_hit["HIT"]["HITId"]
    assert new_hit["HIT"]["HITGroupId"]

    good, bad = server.new_worker(), server.new_worker()
    server.do_hit(good, hit_id, {"answer": "happy"})
    server.do_hit(bad, hit_id, {"answer": "asdf"})

    worker_results = mturk.list_assignments_for_hit(HITId=hit_id, AssignmentStatuses=["Submitted"])
    assert worker_results["NumResults"] == 2
    for assignment in worker_results["Assignments"]:
        xml_doc = xmltodict.parse(assignment["Answer"])
        answer = xml_doc["QuestionFormAnswers"]["Answer"]
        if isinstance(answer, list):
            answers = {a["QuestionIdentifier"]: a["FreeText"] for a in answer}
        else:
            answers = {answer["QuestionIdentifier"]: answer["FreeText"]}
        if answers["answer"] == "happy":
            mturk.approve_assignment(AssignmentId=assignment["AssignmentId"], RequesterFeedback="Thanks!")
            mturk.send_bonus(WorkerId=assignment["WorkerId"], BonusAmount="0.10", AssignmentId=assignment["AssignmentId"],
                             Reason="Great work", UniqueRequestToken=assignment["AssignmentId"] + "-bonus")
        else:
            mturk.reject_assignment(AssignmentId=assignment["AssignmentId"], RequesterFeedback="Not an emotion")

    final = {a["WorkerId"]: a["AssignmentStatus"] for a in mturk.list_assignments_for_hit(HITId=hit_id)["Assignments"]}
    assert final == {good.worker_id: "Approved", bad.worker_id: "Rejected"}
    assert mturk.list_bonus_payments(HITId=hit_id)["BonusPayments"][0]["WorkerId"] == good.worker_id
    # 10000 - 0.15 - 0.03 fee - 0.10 bonus - 0.02 bonus fee
    assert mturk.get_account_balance()["AvailableBalance"] == "9999.70"
