"""Exports: MTurk's batch results CSV round-trips through pandas to the ledger's values; JSONL/Parquet typed;
splits by input item, deterministic with the seed."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import pandas as pd
import pytest

from hitkit.requester.collect import ResultsError, collect
from hitkit.mturk.batch_csv import META, cell, mturk_time
from hitkit.requester.export import export, load_results, parse_split
from tests.requester.test_collect import launch, ledger_assignments, make_project

TIME_RE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d\d "
                     r"\d\d:\d\d:\d\d UTC \d{4}$")
INPUTS = [
    {"text": 'He said "hi", then left', "n": 1},
    {"text": "a & b <c> \u00e9\u4e2d", "n": 2},
    {"text": "line one\nline two", "n": 3},
    {"text": "", "n": 4},
    {"text": "=SUM(A1)", "n": 5},
]


@pytest.fixture()
def done(server, mturk, tmp_path):  # type: ignore[no-untyped-def]
    project = make_project(tmp_path, assignments=2)
    hit_ids = launch(project, mturk, INPUTS)
    w1, w2 = server.new_worker(), server.new_worker()
    for i, h in enumerate(hit_ids):
        server.do_hit(w1, h, {"label": f"L{i}, \"quoted\" & <b>", "tags": ["a", "b"]})
        task = [{"sentiment": {"label": "pos"}, "ok": i % 2 == 0, "score": i, "words": ["x", "y & z"]}]
        server.do_hit(w2, h, {"taskAnswers": json.dumps(task)})
    collect(project, mturk)
    mturk.approve_assignment(AssignmentId=load_results_ids(project)[0])
    mturk.reject_assignment(AssignmentId=load_results_ids(project)[1], RequesterFeedback="No, \"sorry\" & bye")
    collect(project, mturk)
    return project


def load_results_ids(project) -> list[str]:  # type: ignore[no-untyped-def]
    with project.ledger.connect() as conn:
        return [r.assignment_id for r in load_results(conn)]


def test_csv_is_mturks_batch_format_and_round_trips(done, tmp_path):
    project = done
    [(path, n)] = export(project, "csv", tmp_path / "out.csv")
    assert n == 10
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    cols = list(df.columns)
    assert cols[:14] == META
    assert cols[14:16] == ["Input.text", "Input.n"]
    assert cols[16:-2] == ["Answer.label", "Answer.tags", "Answer.sentiment.label", "Answer.ok", "Answer.score",
                           "Answer.words"]
    assert cols[-2:] == ["Approve", "Reject"]
    ledger = ledger_assignments(project)
    with project.ledger.connect() as conn:
        results = {r.assignment_id: r for r in load_results(conn)}
    assert set(df.AssignmentId) == set(ledger)
    for _, row in df.iterrows():
        a = ledger[row.AssignmentId]
        r = results[row.AssignmentId]
        assert row.HITId == a["hit_id"] and row.WorkerId == a["worker_id"] and row.AssignmentStatus == a["status"]
        assert row.Title == "Label a sentence" and row.Reward == "$0.50" and row.HITTypeId
        for col, key in [("AcceptTime", "accept_time"), ("SubmitTime", "submit_time"), ("ApprovalTime", "approval_time"),
                         ("RejectionTime", "rejection_time"), ("AutoApprovalTime", "auto_approval_time")]:
            if a[key] is None:
                assert row[col] == ""
            else:
                assert TIME_RE.match(row[col]), row[col]
                back = datetime.strptime(row[col], "%a %b %d %H:%M:%S UTC %Y").replace(tzinfo=timezone.utc)
                assert back.timestamp() == int(a[key])
        assert row.RequesterFeedback == (a["requester_feedback"] or "")
        assert row.WorkTimeInSeconds == str(int(a["submit_time"] - a["accept_time"]))
        for k, v in r.input.items():
            assert row[f"Input.{k}"] == cell(v)
        answers = json.loads(a["answers"])
        for k in [c for c in cols if c.startswith("Answer.")]:
            assert row[k] == cell(answers.get(k[len("Answer."):]))
    rejected = df[df.AssignmentStatus == "Rejected"].iloc[0]
    assert rejected.RequesterFeedback == 'No, "sorry" & bye'
    some = df[df["Answer.label"] != ""].iloc[0]
    assert some["Answer.label"].endswith(', "quoted" & <b>') and some["Answer.tags"] == "a|b"
    crowd = df[df["Answer.ok"] != ""].iloc[0]
    assert crowd["Answer.words"] == "x|y & z" and crowd["Answer.ok"] in ("true", "false")
    assert mturk_time(0) == "Thu Jan 01 00:00:00 UTC 1970"


def test_jsonl_and_parquet_are_typed(done, tmp_path):
    project = done
    ledger = ledger_assignments(project)
    [(jpath, _)] = export(project, "jsonl", tmp_path / "r.jsonl")
    lines = [json.loads(line) for line in jpath.read_text().splitlines()]
    assert len(lines) == 10 and list(lines[0])[:14] == META
    for rec in lines:
        a = ledger[rec["AssignmentId"]]
        assert datetime.fromisoformat(rec["SubmitTime"]).timestamp() == pytest.approx(a["submit_time"], abs=1e-6)
        assert rec["Reward"] == 0.5 and isinstance(rec["WorkTimeInSeconds"], int) and rec["Input.n"] in range(1, 6)
        if rec["Answer.ok"] is not None:
            assert isinstance(rec["Answer.ok"], bool) and rec["Answer.words"] == ["x", "y & z"]
    [(ppath, _)] = export(project, "parquet", tmp_path / "r.parquet")
    df = pd.read_parquet(ppath)
    assert len(df) == 10 and str(df.SubmitTime.dtype).startswith("datetime64") and str(df.SubmitTime.dt.tz) == "UTC"
    got = df.set_index("AssignmentId")
    for aid, a in ledger.items():
        assert got.loc[aid, "SubmitTime"].timestamp() == pytest.approx(a["submit_time"], abs=1e-6)
        assert got.loc[aid, "WorkerId"] == a["worker_id"]
    words = [list(v) for v in df["Answer.words"] if v is not None]
    assert words and all(w == ["x", "y & z"] for w in words)


def test_split_by_item_is_deterministic(done, tmp_path):
    project = done
    out = tmp_path / "results.csv"
    first = export(project, "csv", out, split="train=0.8,test=0.2", seed=7)
    assert [(p.name, n) for p, n in first] == [("results.train.csv", 8), ("results.test.csv", 2)]
    texts = {p.name: p.read_text() for p, _ in first}
    again = export(project, "csv", out, split="train=0.8,test=0.2", seed=7)
    assert {p.name: p.read_text() for p, _ in again} == texts
    train = pd.read_csv(tmp_path / "results.train.csv", dtype=str, keep_default_na=False)
    test = pd.read_csv(tmp_path / "results.test.csv", dtype=str, keep_default_na=False)
    assert not set(train["Input.n"]) & set(test["Input.n"])  # no item in both
    assert len(set(train.AssignmentId) | set(test.AssignmentId)) == 10
    splits = set()
    for seed in range(6):
        export(project, "csv", out, split="train=0.8,test=0.2", seed=seed)
        splits.add(tuple(sorted(set(pd.read_csv(tmp_path / "results.test.csv", dtype=str)["Input.n"]))))
    assert len(splits) > 1  # the seed matters
    three = export(project, "jsonl", tmp_path / "r.jsonl", split="a=0.4,b=0.4,c=0.2", seed=1)
    assert [n for _, n in three] == [4, 4, 2]


def test_export_errors(done, tmp_path):
    project = done
    for bad, message in [("train=0.8", "add up to 0.8"), ("train", "NAME=FRACTION"), ("a=0.5,a=0.5", "named twice"),
                         ("train=x,test=1", "NAME=FRACTION")]:
        with pytest.raises(ResultsError, match=message):
            parse_split(bad)
    with pytest.raises(ResultsError, match="Parquet cannot go to the terminal"):
        export(project, "parquet", "-")
    with pytest.raises(ResultsError, match="choose one of csv, jsonl, parquet"):
        export(project, "xlsx")
    with pytest.raises(ResultsError, match="does not exist"):
        export(project, "csv", tmp_path / "nope" / "r.csv")
    [(path, n)] = export(project)  # default: results.csv in the project folder
    assert path == project.root / "results.csv" and n == 10
