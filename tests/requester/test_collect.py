"""`collect` against a live server: incremental, idempotent (twice gives identical ledgers), fast on complete HITs.

The helpers at the top (a project folder, HITs launched into its ledger, the ledger dumped) are shared by the other
requester result tests."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sqlalchemy import MetaData, select, text

from hitkit.requester.collect import collect
from hitkit.requester.ledger.tables import assignments
from hitkit.requester.project import Project

HITKIT_TOML = """
[hit]
title = "Label a sentence"
description = "Pick the label that fits the sentence."
keywords = ["text", "label"]
reward = "{reward}"
assignments = {assignments}
lifetime = "1d"
duration = "10m"
auto_approval_delay = "{auto_approval_delay}"

[template]
file = "template.html"
kind = "jinja"
"""

TEMPLATE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Label</title></head><body>
<form name="mturk_form" method="post" id="mturk_form" action="https://www.mturk.com/mturk/externalSubmit">
<input type="hidden" name="assignmentId" id="assignmentId" value="">
<p>{{ row.text }}</p>
<input name="label" type="text"><input type="submit">
</form></body></html>
"""


def make_project(root: Path, *, name: str = "my-task", reward: str = "0.50", assignments: int = 3,
                 auto_approval_delay: str = "3d", template: str = TEMPLATE) -> Project:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "hitkit.toml").write_text(HITKIT_TOML.format(reward=reward, assignments=assignments,
                                                          auto_approval_delay=auto_approval_delay))
    (folder / "template.html").write_text(template)
    return Project.load(folder)


def launch(project: Project, client, rows: list[dict], *, assignments: int | None = None) -> list[str]:  # type: ignore[no-untyped-def]
    """HITs for `rows` on the endpoint and in the project's ledger; their HIT ids in row order."""
    from hitkit.requester.inputs import read_input
    from hitkit.requester.launch import launch_batch

    report = launch_batch(project, client, read_input(rows_frame(rows)), assignments=assignments)
    assert report.complete, report
    with project.ledger.connect() as conn:
        return [r.hit_id for r in conn.execute(text("SELECT hit_id FROM hits ORDER BY batch_id, row_index, part"))]


def rows_frame(rows: list[dict]):  # type: ignore[no-untyped-def]
    import pandas as pd

    return pd.DataFrame(rows)


def dump(project: Project) -> dict[str, list[tuple]]:
    """Every table of the ledger, every row, in a stable order."""
    md = MetaData()
    md.reflect(project.ledger)
    out = {}
    with project.ledger.connect() as conn:
        for name, table in sorted(md.tables.items()):
            out[name] = sorted(tuple(r) for r in conn.execute(select(table)))
    return out


def ledger_assignments(project: Project) -> dict[str, dict]:
    with project.ledger.connect() as conn:
        return {r.assignment_id: dict(r._mapping) for r in conn.execute(select(assignments))}


# ------------------------------------------------------------------------------------------------------------------


def test_collect_is_incremental_and_idempotent(server, mturk, tmp_path):
    project = make_project(tmp_path)
    hit_ids = launch(project, mturk, [{"text": f"sentence {i} & <more>"} for i in range(4)])
    assert len(hit_ids) == 4
    workers = [server.new_worker() for _ in range(3)]
    first = {server.do_hit(workers[0], h, {"label": f"L{i} & <b>"}) for i, h in enumerate(hit_ids)}

    r1 = collect(project, mturk)
    assert (r1.new, r1.updated, r1.asked, r1.errors) == (4, 0, 4, [])
    rows = ledger_assignments(project)
    assert set(rows) == first
    some = rows[next(iter(first))]
    assert json.loads(some["answers"])["label"].endswith(" & <b>")
    assert "&amp;" in some["answer_xml"]  # the raw XML is kept as received
    assert some["submit_time"] >= some["accept_time"] > 0

    before = dump(project)
    r2 = collect(project, mturk)
    assert (r2.new, r2.updated, r2.unchanged) == (0, 0, 4)
    assert dump(project) == before  # byte-for-byte the same ledger

    # More work arrives, and the server approves one: only the difference changes.
    server.do_hit(workers[1], hit_ids[0], {"label": "late"})
    a = next(iter(first))
    mturk.approve_assignment(AssignmentId=a, RequesterFeedback="thanks & well done")
    r3 = collect(project, mturk)
    assert (r3.new, r3.updated) == (1, 1)
    row = ledger_assignments(project)[a]
    assert row["status"] == "Approved" and row["approval_time"] and row["requester_feedback"] == "thanks & well done"
    after = dump(project)
    assert collect(project, mturk).changed is False and dump(project) == after


def test_complete_hits_are_not_asked_again(server, mturk, tmp_path):
    project = make_project(tmp_path, assignments=1)
    hit_ids = launch(project, mturk, [{"text": str(i)} for i in range(3)])
    w = server.new_worker()
    aids = [server.do_hit(w, h, {"label": "x"}) for h in hit_ids]
    collect(project, mturk)
    mturk.approve_assignment(AssignmentId=aids[0])
    mturk.reject_assignment(AssignmentId=aids[1], RequesterFeedback="no")
    r = collect(project, mturk)
    assert (r.asked, r.updated) == (3, 2)
    r = collect(project, mturk)
    assert (r.asked, r.skipped) == (1, 2)  # only the HIT with a Submitted assignment


def test_many_hits_concurrently(server, mturk, tmp_path):
    project = make_project(tmp_path, assignments=2)
    hit_ids = launch(project, mturk, [{"text": str(i)} for i in range(60)])
    ws = [server.new_worker(), server.new_worker()]
    for h in hit_ids:
        for w in ws:
            server.do_hit(w, h, {"label": h[:4]})
    t = time.monotonic()
    r = collect(project, mturk, concurrency=8)
    assert r.new == 120 and not r.errors
    assert time.monotonic() - t < 20
    before = dump(project)
    collect(project, mturk)
    assert dump(project) == before


def test_errors_per_hit_and_an_unreachable_endpoint(server, mturk, tmp_path):
    import boto3
    import pytest

    from hitkit.requester.collect import ResultsError

    project = make_project(tmp_path, assignments=1)
    launch(project, mturk, [{"text": "a"}])
    other = server.client(server.new_requester())  # another requester cannot see these HITs
    r = collect(project, other)
    assert len(r.errors) == 1 and "HIT" in r.errors[0]
    dead = boto3.client("mturk", endpoint_url="http://127.0.0.1:9", region_name="us-east-1",
                        aws_access_key_id="x", aws_secret_access_key="y")
    with pytest.raises(ResultsError, match="Cannot use the MTurk endpoint at http://127.0.0.1:9"):
        collect(project, dead)


def test_status_counts_cost_eta_and_wage(server, mturk, tmp_path):
    from hitkit.requester.payments import pay_bonuses, plan_bonuses
    from hitkit.requester.status import status

    project = make_project(tmp_path, assignments=2, reward="0.50")
    hit_ids = launch(project, mturk, [{"text": str(i)} for i in range(3)])
    ws = [server.new_worker(), server.new_worker()]
    aids = []
    for h, w in [(hit_ids[0], ws[0]), (hit_ids[0], ws[1]), (hit_ids[1], ws[0]), (hit_ids[1], ws[1])]:
        aid = server.accept(w, h)
        server.advance(120)  # 2 minutes of work each, one submission every 2 minutes
        assert server.submit(w, aid, {"label": "x"}).status_code == 200
        aids.append(aid)
    st = status(project, mturk)
    assert st.collected is not None and st.collected.new == 4
    assert (st.hits_open, st.submitted, st.approved, st.rejected, st.pending) == (3, 4, 0, 0, 2)
    assert st.median_work_seconds == pytest.approx(120, abs=1)
    assert st.hourly_wage_cents == pytest.approx(1500, rel=0.01)  # $0.50 per 2 minutes
    assert st.submissions_per_hour == pytest.approx(30, rel=0.01) and st.eta_seconds == pytest.approx(240, rel=0.01)
    mturk.approve_assignment(AssignmentId=aids[0])
    mturk.approve_assignment(AssignmentId=aids[1])
    mturk.reject_assignment(AssignmentId=aids[2], RequesterFeedback="no")
    collect(project, mturk)
    pay_bonuses(project, mturk, plan_bonuses(project, items=[{"AssignmentId": aids[0], "amount": "0.25", "reason": "Great"}]))
    st = status(project, mturk)
    assert (st.submitted, st.approved, st.rejected) == (1, 2, 1)
    assert (st.rewards_cents, st.fees_cents, st.bonuses_cents, st.bonus_fees_cents) == (100, 20, 25, 5)
    assert st.cost_cents == 150 and st.as_dict()["cost"] == "1.50"
    text = "\n".join(st.lines())
    assert "Cost so far: $1.50" in text and "2 approved" in text and "2 pending" in text and "$15.00/hour" in text
