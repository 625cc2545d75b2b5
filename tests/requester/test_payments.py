"""Bonuses against a live server: tokens from assignment + reason, recorded before SendBonus, never paid twice."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import select

from hitkit.requester.collect import ResultsError, collect
from hitkit.requester.ledger.tables import bonuses
from hitkit.requester.payments import bonus_token, parse_amount, pay_bonuses, plan_bonuses
from tests.requester.test_collect import launch, make_project


def paid_on_server(mturk, aid: str) -> list[dict]:  # type: ignore[no-untyped-def]
    return mturk.list_bonus_payments(AssignmentId=aid, MaxResults=100)["BonusPayments"]


def ledger_bonuses(project) -> dict:  # type: ignore[no-untyped-def]
    with project.ledger.connect() as conn:
        return {r.token: r for r in conn.execute(select(bonuses))}


@pytest.fixture()
def done(server, mturk, tmp_path):  # type: ignore[no-untyped-def]
    project = make_project(tmp_path, assignments=1)
    hit_ids = launch(project, mturk, [{"text": f"t{i}"} for i in range(3)])
    w1, w2 = server.new_worker(), server.new_worker()
    aids = [server.do_hit(w1, hit_ids[0], {"label": "a"}), server.do_hit(w1, hit_ids[1], {"label": "bb"}),
            server.do_hit(w2, hit_ids[2], {"label": "ccc"})]
    collect(project, mturk)
    return project, aids, (w1, w2)


def test_tokens_and_amounts():
    t = bonus_token("A1", "great work")
    assert len(t) == 64 and t == bonus_token("A1", "great work") != bonus_token("A1", "other") != bonus_token("A2", "great work")
    assert [parse_amount(v, "x") for v in ("0.25", "$1", 0.3, 0.1 * 3, 2, "1.50")] == [25, 100, 30, 30, 200, 150]
    for bad in ("0", "-1", "0.001", "abc", None, ""):
        with pytest.raises(ResultsError):
            parse_amount(bad, "x")


def test_csv_bonuses_dry_run_pay_and_rerun(done, mturk, tmp_path):
    project, aids, (w1, w2) = done
    sheet = tmp_path / "bonuses.csv"
    sheet.write_text("AssignmentId,WorkerId,amount,reason\n"
                     f"{aids[0]},,0.25,Great work & care\n"
                     f",{w2.worker_id},$1.00,Top labeler\n"
                     f"{aids[1]},{w1.worker_id},0.10,Great work & care\n")
    plan = plan_bonuses(project, csv_path=sheet)
    assert len(plan.new) == 3 and plan.total_cents == 135 and plan.fees_cents == 5 + 20 + 2
    assert "3 bonuses to pay: $1.35 + $0.27 fees = $1.62" in plan.describe()
    assert ledger_bonuses(project) == {}  # planning writes nothing
    report = pay_bonuses(project, mturk, plan)
    assert (report.paid, report.paid_cents, report.failed) == (3, 135, [])
    assert [(p["BonusAmount"], p["Reason"], p["WorkerId"]) for p in paid_on_server(mturk, aids[0])] == [
        ("0.25", "Great work & care", w1.worker_id)]
    assert [p["BonusAmount"] for p in paid_on_server(mturk, aids[2])] == ["1.00"]  # WorkerId -> their assignment
    assert all(b.paid_at for b in ledger_bonuses(project).values())
    # A re-run pays nothing; a changed amount for a paid (assignment, reason) is ignored and said so.
    sheet.write_text(sheet.read_text().replace("0.25", "0.50"))
    again = plan_bonuses(project, csv_path=sheet)
    assert again.todo == [] and len(again.paid) == 3 and "$0.25 bonus for this reason (paid); $0.50 ignored" in again.notes[0]
    assert pay_bonuses(project, mturk, again).paid == 0
    assert len(paid_on_server(mturk, aids[0])) == 1


def test_bonus_csv_errors(done, tmp_path):
    project, aids, (w1, w2) = done
    sheet = tmp_path / "b.csv"
    for body, message in [
        (f"AssignmentId,amount,reason\n{aids[0]},0.1,x\n{aids[0]},0.2,x\n", "line 3 repeats the bonus of .*line 2"),
        (f"AssignmentId,amount\n{aids[0]},0.1\n", "needs a reason"),
        (f"AssignmentId,amount,reason\n{aids[0]},0.001,x\n", "line 2: amount '0.001' has more than two decimals"),
        ("AssignmentId,amount,reason\nNOPE,0.1,x\n", "assignment NOPE is not in the ledger"),
        (f"AssignmentId,WorkerId,amount,reason\n{aids[0]},{w2.worker_id},0.1,x\n", "was done by"),
        ("WorkerId,amount,reason\nAUNKNOWN,0.1,x\n", "worker AUNKNOWN has no assignment"),
        ("Who,What\n1,2\n", "expected columns AssignmentId"),
    ]:
        sheet.write_text(body)
        with pytest.raises(ResultsError, match=message):
            plan_bonuses(project, csv_path=sheet)
    # With --reason as the default, the first row is fine.
    sheet.write_text(f"AssignmentId,amount\n{aids[0]},0.1\n")
    assert plan_bonuses(project, csv_path=sheet, reason="Thanks").total_cents == 10


def test_rule_bonuses(done, mturk):
    project, aids, _ = done
    plan = plan_bonuses(project, rule=lambda r: (0.05 * len(r["label"]), "Per letter") if len(r["label"]) > 1 else None)
    assert sorted(b.amount_cents for b in plan.new) == [10, 15]
    plan = plan_bonuses(project, rule='0.02 if len(answers["label"]) == 3 else None', reason="Long label")
    assert [(b.assignment_id, b.amount_cents, b.reason) for b in plan.new] == [(aids[2], 2, "Long label")]
    with pytest.raises(ResultsError, match="needs a reason"):
        plan_bonuses(project, rule='0.02')
    pay_bonuses(project, mturk, plan)
    assert [p["BonusAmount"] for p in paid_on_server(mturk, aids[2])] == ["0.02"]


class Crashing:
    """Dies (like a kill) right after the n-th SendBonus reached the server."""

    def __init__(self, real, n: int) -> None:  # type: ignore[no-untyped-def]
        self.real, self.n, self.calls, self.meta = real, n, 0, real.meta

    def send_bonus(self, **kw):  # type: ignore[no-untyped-def]
        self.calls += 1
        out = self.real.send_bonus(**kw)
        if self.calls == self.n:
            raise SystemExit("killed")
        return out

    def __getattr__(self, name):  # type: ignore[no-untyped-def]
        return getattr(self.real, name)


def test_sent_but_not_recorded_is_found_not_repaid(done, mturk):
    project, aids, _ = done
    plan = plan_bonuses(project, items=[{"AssignmentId": a, "amount": "0.30", "reason": "Thanks"} for a in aids])
    with pytest.raises(SystemExit):
        pay_bonuses(project, Crashing(mturk, 1), plan, concurrency=1)
    unpaid = [b for b in ledger_bonuses(project).values() if b.paid_at is None]
    assert len(unpaid) >= 2
    again = plan_bonuses(project, items=[{"AssignmentId": a, "amount": "0.30", "reason": "Thanks"} for a in aids])
    assert len(again.unpaid) == len(unpaid) and again.new == []
    report = pay_bonuses(project, mturk, again)
    assert report.found_paid >= 1 and report.paid + report.found_paid == len(unpaid)
    assert [len(paid_on_server(mturk, a)) for a in aids] == [1, 1, 1]
    assert all(b.paid_at for b in ledger_bonuses(project).values())


class NoListing:
    """An endpoint whose ListBonusPayments shows nothing: only the request tokens stand between a re-run and a
    second payment."""

    def __init__(self, real) -> None:  # type: ignore[no-untyped-def]
        self.real, self.meta = real, real.meta

    def list_bonus_payments(self, **kw):  # type: ignore[no-untyped-def]
        return {"BonusPayments": [], "NumResults": 0}

    def __getattr__(self, name):  # type: ignore[no-untyped-def]
        return getattr(self.real, name)


def test_the_token_alone_prevents_a_second_payment(done, mturk):
    project, aids, _ = done
    items = [{"AssignmentId": aids[0], "amount": "0.40", "reason": "Thanks"}]
    with pytest.raises(SystemExit):
        pay_bonuses(project, Crashing(mturk, 1), plan_bonuses(project, items=items), concurrency=1)
    report = pay_bonuses(project, NoListing(mturk), plan_bonuses(project, items=items))
    assert (report.paid, report.found_paid) == (0, 1)  # DuplicateRequest: the endpoint had seen the token
    assert len(paid_on_server(mturk, aids[0])) == 1
    assert all(b.paid_at for b in ledger_bonuses(project).values())


def test_insufficient_funds_stops_cleanly(server, tmp_path):
    from tests.conftest import hit_params  # noqa: F401  (same server, a poor requester)

    poor = server.new_requester(balance_cents=200)
    mturk = server.client(poor)
    project = make_project(tmp_path, assignments=1, reward="0.50")
    hit_ids = launch(project, mturk, [{"text": "a"}, {"text": "b"}])  # 2 x $0.60 reserved; $0.80 left
    w = server.new_worker()
    aids = [server.do_hit(w, h, {"label": "x"}) for h in hit_ids]
    collect(project, mturk)
    plan = plan_bonuses(project, items=[{"AssignmentId": a, "amount": "0.50", "reason": "Thanks"} for a in aids])
    report = pay_bonuses(project, mturk, plan, concurrency=1)
    assert report.paid == 1 and report.stopped and "insufficient funds" in report.stopped
    assert sum(len(paid_on_server(mturk, a)) for a in aids) == 1
    left = [b for b in ledger_bonuses(project).values() if b.paid_at is None]
    assert len(left) == 1 and "InsufficientFunds" in left[0].last_error


def _paid(project) -> int:  # type: ignore[no-untyped-def]
    """Bonus rows the ledger marks paid: one cheap query, so polling keeps up with a fast child."""
    import sqlite3

    try:
        with sqlite3.connect(project.ledger_path, timeout=5) as db:
            return db.execute("SELECT count(*) FROM bonuses WHERE paid_at IS NOT NULL").fetchone()[0]
    except sqlite3.Error:  # the child is still creating its first rows
        return 0


@pytest.mark.slow
def test_kill_9_during_a_200_bonus_run_pays_each_exactly_once(server, mturk, tmp_path):
    """`hitkit bonus` killed with SIGKILL at random moments, re-run each time: every row paid exactly once."""
    project = make_project(tmp_path, assignments=5, reward="0.05")
    hit_ids = launch(project, mturk, [{"text": f"t{i}"} for i in range(40)])
    workers = [server.new_worker() for _ in range(5)]
    aids = [server.do_hit(w, h, {"label": "x"}) for h in hit_ids for w in workers]
    assert len(aids) == 200
    collect(project, mturk)
    sheet = tmp_path / "bonuses.csv"
    sheet.write_text("AssignmentId,amount,reason\n" + "".join(f"{a},0.{10 + i % 50:02d},Run bonus\n" for i, a in enumerate(aids)))
    env = {**os.environ, "AWS_ACCESS_KEY_ID": _keys(mturk)[0],
           "AWS_SECRET_ACCESS_KEY": _keys(mturk)[1], "AWS_DEFAULT_REGION": "us-east-1"}
    cmd = [sys.executable, "-m", "hitkit.cli.main", "bonus", str(project.root), "--csv", str(sheet), "--yes",
           "--endpoint-url", server.url, "--concurrency", "2"]
    rng = random.Random(20261123)
    kills = 0
    partial = 0
    for _ in range(40):
        if kills >= 6:
            break
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path)
        # Kill it at a random point of its progress (not a random time: a busy machine is slow to start), after
        # it has paid a few more rows than the runs before it.
        already = _paid(project)
        if already >= 190:
            break  # little left to interrupt: the final run below pays the rest
        target = already + rng.randint(1, 25)
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None and _paid(project) < target:
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.02))  # then anywhere in the next call or two
        if proc.poll() is not None:
            continue  # finished before the kill: nothing left to kill
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        partial += 0 < _paid(project) < 200
    assert kills >= 5 and partial >= 3, (kills, partial)
    final = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert final.returncode == 0, final.stderr
    counts = [len(paid_on_server(mturk, a)) for a in aids]
    assert counts == [1] * 200
    assert all(b.paid_at for b in ledger_bonuses(project).values()) and len(ledger_bonuses(project)) == 200
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert rerun.returncode == 0 and "already paid" in rerun.stdout + rerun.stderr
    assert [len(paid_on_server(mturk, a)) for a in aids] == [1] * 200


def _keys(client) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    creds = client._request_signer._credentials
    return creds.access_key, creds.secret_key


