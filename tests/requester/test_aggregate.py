"""`aggregate` against a live server: labels, confidence and worker skills stored in the ledger, gold clamped and
left out, the newest run current; `export` carries them (per assignment and `--labels` per item)."""

from __future__ import annotations

import csv
import json

import pandas as pd
import pytest
from sqlalchemy import insert, select, text

from hitkit.analysis.label_fields import choose_field
from hitkit.analysis.long_format import AnalysisError
from hitkit.requester.aggregate import aggregate, stored_labels, stored_skills
from hitkit.requester.collect import ResultsError, collect
from hitkit.requester.export import export
from hitkit.requester.ledger.tables import aggregations, gold_rows
from tests.requester.test_collect import launch, make_project

TRUTH = ["cat", "dog", "cat", "bird", "dog", "cat"]


def _crowd(server, mturk, project, hit_ids, answers_by_worker):  # type: ignore[no-untyped-def]
    workers = [server.new_worker() for _ in answers_by_worker]
    for w, labels in zip(workers, answers_by_worker):
        for h, label in zip(hit_ids, labels):
            server.do_hit(w, h, {"label": label, "comment": f"free text {h[:6]} {w.worker_id}"})
    collect(project, mturk)
    return workers


def test_labels_confidence_and_skills_are_stored_and_exported(server, mturk, tmp_path):
    project = make_project(tmp_path, assignments=3)
    hit_ids = launch(project, mturk, [{"text": f"item {i}", "truth": t} for i, t in enumerate(TRUTH)])
    wrong = ["dog", "cat", "dog", "cat", "cat", "dog"]
    workers = _crowd(server, mturk, project, hit_ids, [TRUTH, TRUTH, wrong])

    result = aggregate(project, "mv")
    assert result.field == "label"  # `comment` is free text, so `label` is the one label-like field
    assert result.method == "mv" and result.answers == 18
    assert list(result.labels["label"]) == TRUTH
    assert list(result.labels["Input.text"]) == [f"item {i}" for i in range(6)]
    assert result.labels["confidence"].round(3).tolist() == [0.667] * 6
    assert result.labels["agreement"].round(3).tolist() == [0.667] * 6
    skills = result.skills.set_index("worker_id")
    assert skills.loc[workers[2].worker_id, "skill"] == 0 and skills.loc[workers[0].worker_id, "skill"] == 1
    assert result.skills.iloc[0]["worker_id"] == workers[2].worker_id  # lowest first

    ds = aggregate(project, "ds")
    with project.ledger.connect() as conn:
        assert [r.method for r in conn.execute(select(aggregations.c.method).order_by(aggregations.c.id))] == ["mv", "ds"]
        current = stored_labels(conn)
        assert list(current["label"]) == TRUTH and (current["confidence"] > 0.9).all()  # DS is surer than the vote
        assert stored_skills(conn)["worker_id"].iloc[0] == workers[2].worker_id
    assert "ds" in ds.describe() and ds.to_json()["label_counts"] == {"cat": 3, "dog": 2, "bird": 1}

    # Every assignment row carries its item's label; --labels writes one row per item.
    [(path, n)] = export(project, "csv")
    rows = list(csv.DictReader(open(path, encoding="utf-8")))
    assert n == 18 and list(rows[0])[-4:] == ["Aggregated.label", "Aggregated.label.confidence", "Approve", "Reject"]
    assert {r["Input.text"]: r["Aggregated.label"] for r in rows} == {f"item {i}": t for i, t in enumerate(TRUTH)}
    [(path, n)] = export(project, "jsonl", labels=True)
    items = [json.loads(line) for line in open(path, encoding="utf-8")]
    assert path.name == "labels.jsonl" and n == 6
    assert [i["Aggregated.label"] for i in items] == TRUTH and items[0]["Aggregated.label.method"] == "ds"
    assert items[0]["Input.truth"] == "cat" and items[0]["Aggregated.label.answers"] == 3
    written = export(project, "parquet", labels=True, split="train=0.5,test=0.5", seed=3)
    assert sum(n for _, n in written) == 6
    assert len(pd.read_parquet(written[0][0])) == written[0][1]


def test_gold_rows_clamp_the_model_and_get_no_label(server, mturk, tmp_path):
    project = make_project(tmp_path, assignments=2)
    hit_ids = launch(project, mturk, [{"text": f"item {i}"} for i in range(4)])
    _crowd(server, mturk, project, hit_ids, [["a", "b", "a", "b"], ["b", "b", "a", "a"]])
    with project.ledger.begin() as conn:
        batch_id = conn.execute(text("SELECT id FROM batches")).scalar_one()
        conn.execute(insert(gold_rows).values(batch_id=batch_id, row_index=1, expected=json.dumps({"label": "a"}),
                                              feedback="It is an a"))
    result = aggregate(project, "ds")
    assert list(result.labels["row_index"]) == [2, 3, 4]  # the gold row is not an item to label


def test_errors_say_what_is_wrong(server, mturk, tmp_path):
    project = make_project(tmp_path, assignments=1)
    with pytest.raises(ResultsError, match="no submitted or approved answers.*hitkit collect"):
        aggregate(project)
    with pytest.raises(ResultsError, match="Nothing is aggregated yet"):
        export(project, labels=True)
    hit_ids = launch(project, mturk, [{"text": "x"}, {"text": "y"}])
    _crowd(server, mturk, project, hit_ids, [["a", "b"]])
    with pytest.raises(ResultsError, match="--field: no answer has a field `lable`.*comment, label"):
        aggregate(project, field="lable")
    with pytest.raises(ResultsError, match="unknown aggregation method 'nope'"):
        aggregate(project, "nope")
    with pytest.raises(ResultsError, match="ds: .*single worker"):
        aggregate(project, "ds", field="label")
    with pytest.raises(ResultsError, match="Several answer fields could be labels \\(comment, label\\)"):
        aggregate(project, "mv")  # two answers each: free text cannot be told from labels yet
    assert len(aggregate(project, "mv", field="label").labels) == 2  # majority vote still answers for one worker


def test_choose_field_needs_a_label_like_field():
    answers = [{"a": str(i), "b": str(i), "c": "x" if i % 2 else "y"} for i in range(10)]
    assert choose_field(answers, None) == "c"
    with pytest.raises(AnalysisError, match="Several answer fields could be labels \\(c, d\\)"):
        choose_field([dict(a, d=a["c"]) for a in answers], None)
    with pytest.raises(AnalysisError, match="No answer field looks like a label"):
        choose_field([{"a": str(i), "b": str(i)} for i in range(10)], None)
    assert choose_field([{"a": str(i)} for i in range(10)], None) == "a"  # the only field
