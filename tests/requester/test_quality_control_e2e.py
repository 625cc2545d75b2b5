"""End to end against a live server: a project with gold at rate 0.25 and three rules (accuracy on gold and
agreement with the majority soft-block, a reject waits for review), launched to a simulated crowd of 20 workers, 4 of
them spammers, with `collect` (which applies the rules' worker actions) after every 20 assignments. Every spammer is
soft-blocked within its first 20 assignments, no good worker is, and DawidSkene beats MajorityVote on the answers
collected."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
from sqlalchemy import select

from hitkit.crowd.models import Profile, WorkerModel
from hitkit.crowd.simulate import Crowd, SimWorker
from hitkit.requester.collect import collect
from hitkit.requester.inputs import read_input
from hitkit.requester.launch import launch_batch
from hitkit.requester.ledger.tables import assignments, gold_rows, hits, qc_actions, rows
from hitkit.requester.project import Project

LABELS = ["cat", "dog", "bird", "fish", "horse", "cow"]

TOML = """
[hit]
title = "Name the animal"
description = "Pick the animal the sentence is about."
reward = "0.05"
assignments = 3
lifetime = "1d"
duration = "10m"

[template]
file = "template.html"
kind = "jinja"

[gold]
file = "gold.csv"
rate = 0.25

[[quality_control]]
name = "gold"
collector = "golden_set"
history = 10
when = "total >= 5 and accuracy < 0.3"
action = ["soft_block", "add_assignments"]

[[quality_control]]
name = "majority"
collector = "majority_vote"
field = "label"
min_answers = 3
history = 20
when = "total >= 8 and accuracy < 0.4"
action = ["soft_block", "add_assignments"]

[[quality_control]]
name = "reject spam"
collector = "majority_vote"
field = "label"
when = "total >= 8 and accuracy < 0.3"
action = "reject"
feedback = "Most of your answers disagreed with everyone else's."
"""

TEMPLATE = """<!DOCTYPE html><html><body>
<form name="mturk_form" method="post" id="mturk_form" action="https://www.mturk.com/mturk/externalSubmit">
<input type="hidden" name="assignmentId" value="">
<input type="hidden" name="truth" value="{{ row.truth }}">
<p>{{ row.text }}</p>
""" + "".join(f'<label><input type="radio" name="label" value="{c}">{c}</label>' for c in LABELS) + """
<input type="submit"></form></body></html>
"""


def make(root: Path, items: int = 120, golds: int = 30) -> tuple[Project, dict[int, str]]:
    folder = root / "animals"
    folder.mkdir()
    (folder / "hitkit.toml").write_text(TOML)
    (folder / "template.html").write_text(TEMPLATE)
    gold = pd.DataFrame({"text": [f"gold sentence {i}" for i in range(golds)],
                         "truth": [LABELS[i % 6] for i in range(golds)],
                         "expected.label": [LABELS[i % 6] for i in range(golds)],
                         "feedback": [f"Sentence {i} is about a {LABELS[i % 6]}." for i in range(golds)]})
    gold.to_csv(folder / "gold.csv", index=False)
    truth = {i: LABELS[(i * 7) % 6] for i in range(1, items + 1)}
    pd.DataFrame({"text": [f"sentence {i}" for i in truth], "truth": list(truth.values())}).to_csv(
        folder / "items.csv", index=False)
    return Project.load(folder), truth


def test_spammers_are_blocked_early_and_ds_beats_mv(server, mturk, tmp_path):
    started = time.monotonic()
    project, truth = make(tmp_path)
    # one launch thread: the HITs are listed to workers in creation order, so the run is the same every time
    report = launch_batch(project, mturk, read_input(project.root / "items.csv"), workers=1)
    assert report.complete and report.gold_rows == 30  # ceil(0.25 x 120)

    accuracies = iter([0.95, 0.9, 0.85, 0.8] * 4)
    # every fifth worker a spammer: 4 of 20, spread through the order in which workers take turns
    models = [WorkerModel(kind="spammer") if i % 5 == 2 else WorkerModel(accuracy=next(accuracies)) for i in range(20)]
    workers = []
    for i, m in enumerate(models):
        w = server.new_worker()
        workers.append(SimWorker(f"sim-{i:02d}", w.worker_id, w.token, m))
    spammers = {w.worker_id for w in workers if w.model.kind == "spammer"}
    crowd = Crowd(server.url, workers, Profile(models), seed=3)
    try:
        while True:
            done = crowd.run(max_assignments=20)
            collect(project, mturk)
            if done.attempted == 0:
                break
    finally:
        crowd.close()

    with project.ledger.connect() as conn:
        actions = [dict(r._mapping) for r in conn.execute(select(qc_actions))]
        done_by = {}
        for r in conn.execute(select(assignments.c.worker_id, assignments.c.submit_time)):
            done_by.setdefault(r.worker_id, []).append(r.submit_time)
        answers = [(r.worker_id, json.loads(r.answers)["label"], r.row_index) for r in conn.execute(
            select(assignments.c.worker_id, assignments.c.answers, hits.c.row_index)
            .join(hits, hits.c.hit_id == assignments.c.hit_id))]
        gold_index = set(conn.execute(select(gold_rows.c.row_index)).scalars())
        assert len(gold_index) == 30 and min(gold_index) == 121
        assert conn.execute(select(rows.c.row_index).where(rows.c.row_index == 150)).first() is not None

    blocks = {a["worker_id"]: a for a in actions if a["action"] == "soft_block"}
    assert all(a["state"] == "applied" for a in actions)
    assert set(blocks) == spammers  # every spammer, no good worker
    for w in spammers:
        before = [t for t in done_by[w] if t <= blocks[w]["applied_at"]]
        assert len(before) <= 20 and len(done_by[w]) <= 20, (w, len(before), len(done_by[w]))
    # On the endpoint: the spammers hold the block qualification the HIT type requires DoesNotExist; no one else does.
    block_type = {a["target"] for a in blocks.values()}
    assert len(block_type) == 1
    (block_type_id,) = block_type
    holders = {q["WorkerId"] for q in mturk.list_workers_with_qualification_type(
        QualificationTypeId=block_type_id, MaxResults=100)["Qualifications"]}
    assert holders == spammers
    # The reject rule's decisions wait for `hitkit review`, and concern spammers only.
    from hitkit.requester.review import plan_review

    plan = plan_review(project)
    assert plan.count("reject") > 0 and {d.worker_id for d in plan.decisions} <= spammers
    # The spammers' non-gold HITs got an extra assignment each (once per worker and HIT), done by good workers.
    added = [a for a in actions if a["action"] == "add_assignments"]
    assert added and {a["worker_id"] for a in added} <= spammers

    from hitkit.analysis import DawidSkene, MajorityVote

    frame = pd.DataFrame([(row, w, label) for w, label, row in answers if row not in gold_index],
                         columns=["task", "worker", "label"])
    truth_s = pd.Series(truth)
    mv = MajorityVote().fit_predict(frame)
    ds = DawidSkene(n_iter=100).fit_predict(frame)
    mv_acc = float((mv.reindex(truth_s.index) == truth_s).mean())
    ds_acc = float((ds.reindex(truth_s.index) == truth_s).mean())
    counts = {w: len(done_by[w]) for w in spammers}
    print(f"spammer assignments {sorted(counts.values())}; MV {mv_acc:.3f} DS {ds_acc:.3f}; "
          f"{len(answers)} answers in {time.monotonic() - started:.1f}s")
    assert ds_acc > mv_acc
