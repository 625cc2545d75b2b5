"""A simulated crowd against a live server: 200 HITs x 3 assignments by 15 workers (accuracies 0.6-0.95, two
spammers) all complete, each submission is listed exactly once, and the majority matches the truth on >= 90 %."""

from __future__ import annotations

import collections
import json

import xmltodict

from hitkit.crowd.forms import form_from_html, form_from_question
from hitkit.crowd.models import Profile, WorkerModel, load_profile
from hitkit.crowd.simulate import Crowd, SimWorker
from tests.support.processes import hitkit

LABELS = ["cat", "dog", "bird"]


def question(truth: str, item: int) -> str:
    radios = "".join(f'<label><input type="radio" name="label" value="{c}"/>{c}</label>' for c in LABELS)
    html = (f'<!DOCTYPE html><html><body><form method="post" action="https://www.mturk.com/mturk/externalSubmit">'
            f'<input type="hidden" name="assignmentId" value=""/><input type="hidden" name="truth" value="{truth}"/>'
            f'<input type="hidden" name="item" value="{item}"/><p>Item {item}</p>{radios}'
            f'<textarea name="comment"></textarea><input type="submit"/></form></body></html>')
    return ('<HTMLQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2011-11-11/HTMLQuestion.xsd">'
            f"<HTMLContent><![CDATA[{html}]]></HTMLContent><FrameHeight>400</FrameHeight></HTMLQuestion>")


def answers_of(assignment: dict) -> dict:
    items = xmltodict.parse(assignment["Answer"])["QuestionFormAnswers"]["Answer"]
    items = items if isinstance(items, list) else [items]
    return {a["QuestionIdentifier"]: a["FreeText"] for a in items}


def test_forms_are_read_from_every_kind_of_question():
    form = form_from_question(question("dog", 1))
    assert form.fields["label"].kind == "choice" and form.fields["label"].options == LABELS
    assert form.hidden() == {"truth": "dog", "item": "1"} and form.fields["comment"].kind == "text"
    crowd = form_from_html('<crowd-form><crowd-classifier name="sentiment" categories="[\'pos\', \'neg\']">'
                           '</crowd-classifier><select name="n"><option>1</option><option value="2">two</option></select>'
                           '<input type="checkbox" name="tag" value="a"><input type="checkbox" name="tag" value="b"></crowd-form>')
    assert crowd.crowd_form and crowd.fields["sentiment"].options == ["pos", "neg"]
    assert crowd.fields["n"].options == ["1", "2"] and crowd.fields["tag"].kind == "multi"


def test_worker_models_follow_their_kind():
    import random

    form = form_from_question(question("dog", 1))
    profile = Profile([])
    rng = random.Random(1)
    careful = [profile.answers(WorkerModel(accuracy=1.0), form, rng)["label"] for _ in range(50)]
    assert set(careful) == {"dog"}
    adversarial = [profile.answers(WorkerModel(kind="adversarial"), form, rng)["label"] for _ in range(50)]
    assert "dog" not in adversarial
    constant = {profile.answers(WorkerModel(kind="constant"), form, rng)["label"] for _ in range(20)}
    assert constant == {"cat"}
    confused = [profile.answers(WorkerModel(confusion={"dog": {"cat": 1.0}}), form, rng)["label"] for _ in range(20)]
    assert set(confused) == {"cat"}


def test_profile_errors_name_the_group_and_key(tmp_path):
    bad = tmp_path / "p.toml"
    bad.write_text('[[workers]]\ncount = 2\naccuracy = 1.5\n')
    try:
        load_profile(bad)
    except ValueError as e:
        assert "group 1" in str(e) and "accuracy" in str(e)
    else:
        raise AssertionError("a bad accuracy was accepted")


def test_two_hundred_hits_by_fifteen_workers(server, mturk):
    truth = {}
    for i in range(200):
        t = LABELS[i % 3]
        hit = mturk.create_hit(Title="Label the animal", Description="One of three", Reward="0.05", MaxAssignments=3,
                               LifetimeInSeconds=3600, AssignmentDurationInSeconds=300, Question=question(t, i),
                               RequesterAnnotation=json.dumps({"item": i}))["HIT"]
        truth[hit["HITId"]] = t
    # A crowd like the SageMaker tutorial's: a few weak workers, most good ones, two spammers (expected majority
    # accuracy ~92 %; the run is deterministic for a seed, since answers are keyed on the task's content).
    accuracies = [0.6, 0.7, 0.8] + [0.9, 0.95] * 5
    models = [WorkerModel(accuracy=a) for a in accuracies] + [WorkerModel(kind="spammer")] * 2
    workers = []
    for k, m in enumerate(models):
        w = server.new_worker()
        workers.append(SimWorker(f"w{k}", w.worker_id, w.token, m))
    crowd = Crowd(server.url, workers, Profile(models), seed=7)
    try:
        report = crowd.run(until_done=True)
    finally:
        crowd.close()
    assert report.errors == [] and report.submitted == 600
    seen, correct = collections.Counter(), 0
    for hit_id, t in truth.items():
        listed = list(mturk.get_paginator("list_assignments_for_hit").paginate(HITId=hit_id))
        assignments = [a for page in listed for a in page["Assignments"]]
        assert len(assignments) == 3
        seen.update(a["AssignmentId"] for a in assignments)
        votes = collections.Counter(answers_of(a)["label"] for a in assignments)
        correct += votes.most_common(1)[0][0] == t
        assert mturk.get_hit(HITId=hit_id)["HIT"]["HITStatus"] == "Reviewable"
    assert all(n == 1 for n in seen.values()) and len(seen) == 600
    print(f"majority matches the truth on {correct}/{len(truth)} items")
    assert correct / len(truth) >= 0.9, correct


def test_cli_simulate_with_the_admin_api(server, mturk):
    hit_ids = [mturk.create_hit(Title="Tiny", Description="d", Reward="0.01", MaxAssignments=2, LifetimeInSeconds=600,
                                AssignmentDurationInSeconds=60, Question=question("cat", i))["HIT"]["HITId"] for i in range(5)]
    proc = hitkit("crowd", "simulate", "--endpoint-url", server.url, "--admin-token", server.admin_token,
                  "--workers", "3", "--seed", "3", "--until-done")
    assert "submitted" in proc.stderr, proc.stderr
    for hit_id in hit_ids:
        assert mturk.list_assignments_for_hit(HITId=hit_id)["NumResults"] == 2
    # Same names, same workers: a second run reuses them and finds nothing left to do.
    again = hitkit("crowd", "simulate", "--endpoint-url", server.url, "--admin-token", server.admin_token,
                   "--workers", "3", "--seed", "3", "--until-done")
    assert "0 submitted" in again.stderr
