"""extend / expire / delete, workers block|unblock|notify, quals create|grant|revoke|list, against a live server."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from hitkit.requester.collect import ResultsError, collect
from hitkit.requester.hit_admin import (
    block_workers,
    create_qualification,
    delete,
    expire,
    extend,
    grant,
    list_qualifications,
    list_qualified_workers,
    load_quiz,
    notify_workers,
    read_ids,
    revoke,
    unblock_workers,
)
from hitkit.requester.ledger.tables import hits
from hitkit.requester.review import apply_review, plan_review
from tests.requester.test_collect import launch, make_project


def ledger_hits(project) -> dict:  # type: ignore[no-untyped-def]
    with project.ledger.connect() as conn:
        return {r.hit_id: r for r in conn.execute(select(hits))}


def test_extend_assignments_idempotently_and_time(server, mturk, tmp_path):
    project = make_project(tmp_path, assignments=2)
    hit_ids = launch(project, mturk, [{"text": "a"}, {"text": "b"}])
    report = extend(project, mturk, assignments=3)
    assert sorted(report.done) == sorted(hit_ids) and not report.failed
    assert [mturk.get_hit(HITId=h)["HIT"]["MaxAssignments"] for h in hit_ids] == [5, 5]
    assert {r.max_assignments for r in ledger_hits(project).values()} == {5}
    # A crash after the server extended but before the ledger said so: the re-run's token is the same, so no double.
    with project.ledger.begin() as conn:
        conn.execute(update(hits).values(max_assignments=2))
    extend(project, mturk, assignments=3)
    assert [mturk.get_hit(HITId=h)["HIT"]["MaxAssignments"] for h in hit_ids] == [5, 5]
    assert {r.max_assignments for r in ledger_hits(project).values()} == {5}
    # Crossing 10 is MTurk's rule: reported per HIT.
    report = extend(project, mturk, assignments=6, hit_ids=[hit_ids[0]])
    assert report.done == [] and "InvalidMaximumAssignmentsIncrease" in report.failed[0]
    before = mturk.get_hit(HITId=hit_ids[0])["HIT"]["Expiration"].timestamp()
    extend(project, mturk, seconds=2 * 86400)
    after = mturk.get_hit(HITId=hit_ids[0])["HIT"]["Expiration"].timestamp()
    assert after == pytest.approx(before + 2 * 86400, abs=5)
    with pytest.raises(ResultsError, match="Say how to extend"):
        extend(project, mturk)
    with pytest.raises(ResultsError, match="not one of this project's HITs"):
        extend(project, mturk, assignments=1, hit_ids=["NOPE"])


def test_expire_then_delete_refuses_until_collected_and_reviewed(server, mturk, tmp_path):
    project = make_project(tmp_path, assignments=2)
    hit_ids = launch(project, mturk, [{"text": "a"}, {"text": "b"}])
    w = server.new_worker()
    aids = [server.do_hit(w, h, {"label": "x"}) for h in hit_ids]
    with pytest.raises(ResultsError, match="2 assignments of 2 HITs on the endpoint are not in the ledger"):
        delete(project, mturk)
    collect(project, mturk)
    with pytest.raises(ResultsError, match="2 submitted assignments are not approved or rejected yet"):
        delete(project, mturk)
    assert {r.state for r in ledger_hits(project).values()} == {"created"}  # refused: nothing changed
    assert mturk.get_hit(HITId=hit_ids[0])["HIT"]["HITStatus"] == "Assignable"
    report = expire(project, mturk, hit_ids=[hit_ids[0]])
    assert report.done == [hit_ids[0]] and ledger_hits(project)[hit_ids[0]].state == "expired"
    assert mturk.get_hit(HITId=hit_ids[0])["HIT"]["HITStatus"] in ("Reviewable", "Unassignable")
    apply_review(project, mturk, plan_review(project, approve=[aids[0]], reject=[aids[1]], feedback="no"))
    report = delete(project, mturk)
    assert sorted(report.done) == sorted(hit_ids) and not report.failed
    assert {r.state for r in ledger_hits(project).values()} == {"deleted"}
    for h in hit_ids:
        with pytest.raises(mturk.exceptions.RequestError):
            mturk.get_hit(HITId=h)
    assert delete(project, mturk).note == "no HITs left to delete"


def test_delete_keeps_a_hit_a_worker_is_still_on(server, mturk, tmp_path):
    project = make_project(tmp_path, assignments=1)
    (hit_id,) = launch(project, mturk, [{"text": "a"}])
    w = server.new_worker()
    server.accept(w, hit_id)  # accepted, not submitted
    report = delete(project, mturk)
    assert report.done == [] and "expired, not deleted" in report.failed[0]
    assert ledger_hits(project)[hit_id].state == "expired"


def test_workers_block_unblock_and_ids_files(server, mturk, tmp_path):
    ws = [server.new_worker().worker_id for _ in range(3)]
    (tmp_path / "ids.txt").write_text(f"{ws[0]}\n\n# a comment\n{ws[1]}\n")
    (tmp_path / "ids.csv").write_text(f"WorkerId,Note\n{ws[2]},spam\n")
    assert read_ids(tmp_path / "ids.txt") == ws[:2] and read_ids(tmp_path / "ids.csv") == [ws[2]]
    with pytest.raises(ResultsError, match="--reason is required"):
        block_workers(mturk, ws, "  ")
    report = block_workers(mturk, ws + [ws[0]], "Copied answers")
    assert sorted(report.done) == sorted(ws)
    blocked = {b["WorkerId"]: b["Reason"] for b in mturk.list_worker_blocks()["WorkerBlocks"]}
    assert blocked == {w: "Copied answers" for w in ws}
    unblock_workers(mturk, ws[:1], "Appealed")
    assert {b["WorkerId"] for b in mturk.list_worker_blocks()["WorkerBlocks"]} == set(ws[1:])


def test_notify_in_batches_of_100(server, mturk, tmp_path):
    project = make_project(tmp_path, assignments=3)
    (hit_id,) = launch(project, mturk, [{"text": "a"}])
    ws = [server.new_worker() for _ in range(3)]
    for w in ws:
        server.do_hit(w, hit_id, {"label": "x"})
    strangers = [f"ASTRANGER{i:05d}" for i in range(150)]
    calls = []
    real = mturk.notify_workers

    class Counting:
        meta = mturk.meta

        def notify_workers(self, **kw):  # type: ignore[no-untyped-def]
            calls.append(len(kw["WorkerIds"]))
            return real(**kw)

    report = notify_workers(Counting(), [w.worker_id for w in ws] + strangers, "New batch", "More HITs & bonuses soon.")
    assert sorted(calls) == [53, 100] and len(report.done) == 3 and len(report.failed) == 150
    with pytest.raises(ResultsError, match="--subject is required"):
        notify_workers(mturk, ["A1"], "", "x")


QUIZ = """
name = "Bird expert {n}"
description = "Tells birds apart"
keywords = ["birds", "quiz"]
duration = "10m"
retry_delay = "1d"
title = "Bird quiz"
instructions = "Answer both questions. Scores are percentages."

[[questions]]
text = "Which one is a bird? (A & B <ok>)"
choices = ["Sparrow", "Bat", "Bee"]
answer = "Sparrow"
points = 3

[[questions]]
id = "flyers"
text = "Which ones can fly?"
choices = [{{id = "s", text = "Swift"}}, {{id = "p", text = "Penguin"}}, {{id = "g", text = "Gull"}}]
answer = ["Swift", "g"]
points = 1
"""


def test_quiz_qualification_create_take_grant_revoke_list(server, mturk, tmp_path):
    quiz_path = tmp_path / "quiz.toml"
    quiz_path.write_text(QUIZ.format(n=1))
    quiz = load_quiz(quiz_path)
    assert quiz.max_points == 4 and quiz.duration == 600 and quiz.retry_delay == 86400
    assert "A &amp; B &lt;ok&gt;" in quiz.test_xml() and "<MaximumSummedScore>4</MaximumSummedScore>" in quiz.answer_key_xml()
    q = create_qualification(mturk, quiz=quiz_path)
    assert q["Name"] == "Bird expert 1" and q["IsRequestable"] and q["TestDurationInSeconds"] == 600
    got = mturk.get_qualification_type(QualificationTypeId=q["QualificationTypeId"])["QualificationType"]
    assert got["Test"] == quiz.test_xml() and got["AnswerKey"] == quiz.answer_key_xml()
    # A worker takes the test: right on q1 (3 points), wrong on flyers -> 75 %.
    w = server.new_worker()
    r = server.worker_call(w, "POST", f"/api/worker/v1/qualifications/{q['QualificationTypeId']}/request",
                           json={"answers": {"q1": "c1", "flyers": ["s"]}})
    assert r.status_code == 200, r.text
    score = mturk.get_qualification_score(QualificationTypeId=q["QualificationTypeId"], WorkerId=w.worker_id)
    assert score["Qualification"]["IntegerValue"] == 75
    # Grant by name, list, revoke.
    other = server.new_worker()
    assert grant(mturk, "Bird expert 1", [other.worker_id], value=90).done == [other.worker_id]
    assert {x["WorkerId"]: x["IntegerValue"] for x in list_qualified_workers(mturk, "Bird expert 1")} == {
        w.worker_id: 75, other.worker_id: 90}
    assert revoke(mturk, q["QualificationTypeId"], [other.worker_id], reason="Retired").done == [other.worker_id]
    assert [x["WorkerId"] for x in list_qualified_workers(mturk, "Bird expert 1")] == [w.worker_id]
    assert "Bird expert 1" in [t["Name"] for t in list_qualifications(mturk)]
    plain = create_qualification(mturk, name="Trusted", description="Lab members", auto_granted=False)
    assert plain["Name"] == "Trusted"
    with pytest.raises(ResultsError, match="No qualification type of yours"):
        grant(mturk, "Nope", ["A1"])


def test_quiz_problems_named_by_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\ncolour = 1\n[[questions]]\ntext = "?"\nchoices = ["a"]\nanswer = "b"\npoints = -1\n')
    with pytest.raises(ResultsError) as e:
        load_quiz(bad)
    msg = str(e.value)
    for part in ["description: required", "colour: unknown key", "questions[1].choices: at least two choices",
                 "questions[1].answer: 'b' is not one of its choices", "questions[1].points"]:
        assert part in msg
    bad.write_text("name = ")
    with pytest.raises(ResultsError, match="not valid TOML"):
        load_quiz(bad)
