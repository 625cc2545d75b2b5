"""`review` against a live server: dry run first, decisions written before each call, re-runs apply only the rest,
assignments already decided on the server recorded rather than re-sent, rules evaluated without eval."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hitkit.requester.collect import ResultsError, collect
from hitkit.requester.ledger.tables import decisions
from hitkit.requester.review import RuleError, apply_review, compile_rule, plan_review
from tests.requester.test_collect import dump, launch, ledger_assignments, make_project


@pytest.fixture()
def done(server, mturk, tmp_path):  # type: ignore[no-untyped-def]
    """A project with 4 HITs x 2 assignments submitted (labels: good, '' for worker 2 on odd rows), collected."""
    project = make_project(tmp_path, assignments=2)
    hit_ids = launch(project, mturk, [{"text": f"t{i}"} for i in range(4)])
    w1, w2 = server.new_worker(), server.new_worker()
    by = {}
    for i, h in enumerate(hit_ids):
        by[server.do_hit(w1, h, {"label": "good"})] = "good"
        by[server.do_hit(w2, h, {"label": "" if i % 2 else "fine & <ok>"})] = "" if i % 2 else "fine & <ok>"
    collect(project, mturk)
    return project, by, (w1, w2)


def server_status(mturk, aid: str) -> str:  # type: ignore[no-untyped-def]
    return mturk.get_assignment(AssignmentId=aid)["Assignment"]["AssignmentStatus"]


def decided(project) -> dict:  # type: ignore[no-untyped-def]
    with project.ledger.connect() as conn:
        return {r.assignment_id: r for r in conn.execute(select(decisions))}


def test_dry_run_then_approve_all(done, mturk):
    project, by, _ = done
    before = dump(project)
    plan = plan_review(project, approve_all=True)
    assert plan.count("approve") == 8 and plan.count("reject") == 0
    assert "Would approve 8 and reject 0" in plan.describe()[0]
    assert dump(project) == before  # a dry run writes nothing
    assert all(server_status(mturk, a) == "Submitted" for a in by)
    report = apply_review(project, mturk, plan)
    assert (report.approved, report.rejected, report.failed) == (8, 0, [])
    assert all(server_status(mturk, a) == "Approved" for a in by)
    assert all(d.applied_at and d.action == "approve" for d in decided(project).values())
    # Nothing left: a second review does nothing, and collect fills in the approval times.
    assert plan_review(project, approve_all=True).todo == []
    collect(project, mturk)
    assert all(r["approval_time"] for r in ledger_assignments(project).values())


def test_rule_expression_approves_and_rejects_with_feedback(done, mturk):
    project, by, _ = done
    with pytest.raises(ResultsError, match="feedback"):
        plan_review(project, rule='"reject" if answers["label"] == "" else "approve"')
    plan = plan_review(project, rule='answers["label"] != ""')
    assert plan.count("approve") == 6 and plan.count("reject") == 0 and plan.undecided == 2
    plan = plan_review(project, rule='answers["label"] != ""', reject_failing="The label was empty & required.")
    assert plan.count("approve") == 6 and plan.count("reject") == 2
    apply_review(project, mturk, plan)
    for aid, label in by.items():
        a = mturk.get_assignment(AssignmentId=aid)["Assignment"]
        assert a["AssignmentStatus"] == ("Approved" if label else "Rejected")
        if not label:
            assert a["RequesterFeedback"] == "The label was empty & required."


def test_callable_rules_module_and_file(done, mturk, tmp_path, monkeypatch):
    project, by, (w1, _) = done
    plan = plan_review(project, rule=lambda r: r.worker_id == w1.worker_id)  # False and no feedback: left alone
    assert plan.count("approve") == 4 and plan.undecided == 4
    (tmp_path / "checks.py").write_text(
        "def check(r):\n    return ('reject', 'empty label ' + r['label']) if len(r['label']) < 1 else True\n")
    plan = plan_review(project, rule=f"{tmp_path / 'checks.py'}:check")
    assert plan.count("reject") == 2 and plan.count("approve") == 6
    assert {d.feedback for d in plan.decisions if d.action == "reject"} == {"empty label"}
    monkeypatch.chdir(tmp_path)
    plan = plan_review(project, rule="checks:check")
    assert plan.count("reject") == 2
    with pytest.raises(RuleError, match="has no function"):
        plan_review(project, rule="checks:nothing")
    with pytest.raises(RuleError, match="importing"):
        plan_review(project, rule="no_such_module_here:check")


def test_csv_of_decisions_and_mturk_batch_columns(done, mturk, tmp_path):
    project, by, _ = done
    aids = sorted(by)
    plain = tmp_path / "decisions.csv"
    plain.write_text("AssignmentId,action,feedback\n"
                     f"{aids[0]},approve,\n{aids[1]},reject,\"Wrong, sorry\"\n{aids[2]},,\n")
    plan = plan_review(project, csv_path=plain)
    assert [(d.assignment_id, d.action, d.feedback) for d in plan.decisions] == [
        (aids[0], "approve", None), (aids[1], "reject", "Wrong, sorry")]
    mturk_style = tmp_path / "batch.csv"
    mturk_style.write_text(f"HITId,AssignmentId,Approve,Reject\nH,{aids[3]},x,\nH,{aids[4]},,Not done\n")
    plan = plan_review(project, csv_path=mturk_style)
    assert [(d.action, d.feedback) for d in plan.decisions] == [("approve", None), ("reject", "Not done")]
    bad = tmp_path / "bad.csv"
    bad.write_text(f"AssignmentId,action,feedback\n{aids[0]},reject,\n")
    with pytest.raises(ResultsError, match="line 2: a rejection needs feedback"):
        plan_review(project, csv_path=bad)
    bad.write_text(f"AssignmentId,action\n{aids[0]},maybe\n")
    with pytest.raises(ResultsError, match="line 2: action must be approve or reject"):
        plan_review(project, csv_path=bad)
    bad.write_text("AssignmentId,action\nNOPE,approve\n")
    with pytest.raises(ResultsError, match="NOPE is not in the ledger"):
        plan_review(project, csv_path=bad)


def test_ids_and_feedback_rules(done, mturk):
    project, by, _ = done
    aids = sorted(by)
    with pytest.raises(ResultsError, match="needs feedback"):
        plan_review(project, reject=[aids[0]])
    with pytest.raises(ResultsError, match="Say what to review"):
        plan_review(project)
    report = apply_review(project, mturk, plan_review(project, reject=[aids[0]], feedback="Empty answer"))
    assert report.rejected == 1
    # Already decided: a second decision on it is skipped, not sent.
    plan = plan_review(project, approve=[aids[0]])
    assert plan.todo == [] and plan.skipped == [(aids[0], "already rejected")]


class Crashing:
    """A client that dies (as a kill would) on the n-th approve: before sending it, or just after."""

    def __init__(self, real, n: int, after_send: bool) -> None:  # type: ignore[no-untyped-def]
        self.real, self.n, self.after, self.calls, self.meta = real, n, after_send, 0, real.meta

    def approve_assignment(self, **kw):  # type: ignore[no-untyped-def]
        self.calls += 1
        if self.calls == self.n and not self.after:
            raise SystemExit("killed")
        out = self.real.approve_assignment(**kw)
        if self.calls == self.n:
            raise SystemExit("killed")
        return out

    def __getattr__(self, name):  # type: ignore[no-untyped-def]
        return getattr(self.real, name)


@pytest.mark.parametrize("after_send", [False, True])
def test_interrupted_review_resumes_and_sends_nothing_twice(done, mturk, after_send):
    project, by, _ = done
    plan = plan_review(project, approve_all=True)
    with pytest.raises(SystemExit):
        apply_review(project, Crashing(mturk, 3, after_send), plan, concurrency=1)
    pending = [a for a, d in decided(project).items() if d.applied_at is None]
    assert len(decided(project)) == 8 and len(pending) >= 6  # every decision was written before any call
    # The re-run applies the rest; the one approved but not recorded is found approved and recorded, not re-sent.
    counting = Crashing(mturk, 10**6, False)
    plan2 = plan_review(project, approve_all=True)
    assert plan2.count("approve") == len(pending)
    report = apply_review(project, counting, plan2, concurrency=1)
    assert report.approved + len(report.already) == len(pending)
    # Found approved on the server: the one the kill came after, and what else was in flight (2 x concurrency).
    assert (1 if after_send else 0) <= len(report.already) <= 2 and not report.failed
    assert all(server_status(mturk, a) == "Approved" for a in by)
    assert all(d.applied_at for d in decided(project).values())


def test_assignment_already_decided_on_the_server_is_recorded(done, mturk):
    project, by, _ = done
    aid = sorted(by)[0]
    mturk.reject_assignment(AssignmentId=aid, RequesterFeedback="done elsewhere")  # another tool decided it
    report = apply_review(project, mturk, plan_review(project, approve_all=True))
    assert report.already == [(aid, "Rejected")] and report.approved == 7
    row = ledger_assignments(project)[aid]
    assert row["status"] == "Rejected" and row["requester_feedback"] == "done elsewhere"
    assert decided(project)[aid].last_error == "already Rejected on the endpoint"


def test_rule_expressions_are_interpreted_not_evaluated():
    for bad in ['__import__("os").system("true")', "answers.__class__", "(lambda: 1)()", 'open("/etc/passwd")',
                "[x for x in answers]", '"a" * 10**9', "globals()", "answers.get.__self__", "x := 1", "exec('1')"]:
        with pytest.raises(RuleError):
            compile_rule(bad)
    with pytest.raises(RuleError, match="not a valid expression"):
        compile_rule('answers["label"] !=')
