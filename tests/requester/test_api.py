"""The notebook API, `hitkit.Project`, end to end against a live server."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

import hitkit
from hitkit.requester.collect import ResultsError
from tests.requester.test_collect import make_project


def test_import_hitkit_stays_light():
    code = ("import sys, hitkit; heavy = [m for m in ('boto3', 'pandas', 'sqlalchemy', 'hitkit.requester') "
            "if m in sys.modules]; print(heavy); print(hitkit.Project.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "[]" and out[1] == "hitkit.requester.api"
    with pytest.raises(AttributeError):
        hitkit.Nothing  # noqa: B018


def test_a_notebook_session(server, requester, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", requester.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", requester.secret)
    make_project(tmp_path, name="sentences", assignments=2)
    monkeypatch.chdir(tmp_path)
    p = hitkit.Project("sentences", endpoint_url=server.url)
    assert "sentences" in repr(p)
    items = pd.DataFrame({"text": ["the cat sat", "a dog & a <bird>", "fish"]})
    dry = p.launch(items, yes=False)
    assert dry.stopped == "declined" and dry.created_now == 0
    report = p.launch(items, assignments=2)
    assert report.complete and report.created_now == 3
    with p.folder.ledger.connect() as conn:
        hit_ids = [r[0] for r in conn.exec_driver_sql("SELECT hit_id FROM hits ORDER BY row_index")]
    w1, w2 = server.new_worker(), server.new_worker()
    for h in hit_ids:
        server.do_hit(w1, h, {"label": "animal"})
        server.do_hit(w2, h, {"label": ""})
    assert p.collect().new == 6
    df = p.results()
    assert len(df) == 6 and {"Input.text", "Answer.label", "AssignmentId", "WorkerId"} <= set(df.columns)
    assert set(df["Input.text"]) == set(items.text) and str(df.SubmitTime.dtype).startswith("datetime64")
    st = p.status()
    assert (st.submitted, st.pending, st.hits_open) == (6, 0, 3)

    # Review: the plan first, then for real.
    plan = p.approve(lambda r: r["label"] != "", yes=False)
    assert plan.count("approve") == 3 and plan.undecided == 3
    assert p.approve(lambda r: r["label"] != "").approved == 3
    empty = df[df["Answer.label"] == ""].AssignmentId
    assert p.reject(empty, "The label was empty.").rejected == 3
    df = p.results()
    assert sorted(df.AssignmentStatus.value_counts().items()) == [("Approved", 3), ("Rejected", 3)]

    # Bonuses from a DataFrame, never twice.
    approved = df[df.AssignmentStatus == "Approved"].AssignmentId.tolist()
    sheet = pd.DataFrame({"AssignmentId": approved, "amount": ["0.10"] * 3, "reason": ["Thanks"] * 3})
    assert p.bonus(sheet, yes=False).total_cents == 30
    assert p.bonus(sheet).paid == 3
    assert p.bonus(sheet).paid == 0
    assert p.status().bonuses_cents == 30

    # More work, then wind down.
    assert len(p.extend(assignments=1).done) == 3
    assert p.status().pending == 3
    assert len(p.expire().done) == 3
    assert len(p.delete().done) == 3
    assert p.status(refresh=False).hits_deleted == 3
    [(path, n)] = p.export("csv")
    assert n == 6 and pd.read_csv(path).shape[0] == 6
    parts = p.export("jsonl", tmp_path / "r.jsonl", split="train=0.67,test=0.33", seed=3)
    assert sum(n for _, n in parts) == 6


def test_errors_are_one_line_results_errors(server, mturk, tmp_path):
    make_project(tmp_path, name="t")
    p = hitkit.Project(tmp_path / "t", client=mturk)
    with pytest.raises(ResultsError, match="Say what to review"):
        p.review()
    with pytest.raises(ResultsError, match="no HITs"):
        p.expire()
    from hitkit.requester.project import ProjectError

    with pytest.raises(ProjectError, match="not a hitkit project"):
        hitkit.Project(tmp_path / "nothing")


def test_dynamic_overlap_and_labels_from_python(server, requester, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", requester.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", requester.secret)
    make_project(tmp_path, name="pets", assignments=2)
    p = hitkit.Project(tmp_path / "pets", endpoint_url=server.url)
    assert p.launch(pd.DataFrame({"text": ["cat", "dog"]})).complete
    with p.folder.ledger.connect() as conn:
        hit_ids = [r[0] for r in conn.exec_driver_sql("SELECT hit_id FROM hits ORDER BY row_index")]
    w1, w2, w3 = (server.new_worker() for _ in range(3))
    for h, a, b in zip(hit_ids, ["cat", "dog"], ["cat", "cat"]):
        server.do_hit(w1, h, {"label": a})
        server.do_hit(w2, h, {"label": b})
    assert p.labels().empty and p.worker_skills().empty
    r = p.extend_until(2, max_assignments=3)
    assert (r.done, r.added) == (1, 1)
    server.do_hit(w3, hit_ids[1], {"label": "dog"})
    assert p.extend_until(2, max_assignments=3).done == 2

    agg = p.aggregate("ds")
    assert list(agg.labels["label"]) == ["cat", "dog"]
    labels = p.labels()
    assert list(labels.columns[:3]) == ["batch_id", "row_index", "Input.text"] and list(labels["label"]) == ["cat", "dog"]
    assert set(p.worker_skills()["worker_id"]) == {w1.worker_id, w2.worker_id, w3.worker_id}
    df = p.results()
    assert df.groupby("Input.text")["Aggregated.label"].first().to_dict() == {"cat": "cat", "dog": "dog"}
    [(path, n)] = p.export("csv", labels=True)
    assert n == 2 and path.name == "labels.csv"
