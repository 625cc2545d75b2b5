"""The verbs after launch as a user runs them: simple-amt's workflow end to end through `hitkit` commands
(launch -> workers -> collect -> status -> approve/reject with feedback -> block -> bonus -> expire -> delete ->
export), plus quals and the one-line errors."""

from __future__ import annotations

import csv
import json
from io import StringIO

import pandas as pd
import pytest

from tests.requester.test_collect import make_project
from tests.support.processes import hitkit


@pytest.fixture()
def env(server, requester, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL_MTURK", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", requester.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", requester.secret)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)
    return server


def run(*args: str, check: bool = True, url: str | None = None):  # type: ignore[no-untyped-def]
    return hitkit(*args, *(["--endpoint-url", url] if url else []), check=check)


def cli(*args: str, check: bool = True, url: str | None = None):  # type: ignore[no-untyped-def]
    """The same app in-process (typer's runner): a real subprocess costs seconds of start-up on a busy machine."""
    import subprocess

    from typer.testing import CliRunner

    from hitkit.cli.main import app

    full = [*args, *(["--endpoint-url", url] if url else [])]
    result = CliRunner().invoke(app, full)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    proc = subprocess.CompletedProcess(["hitkit", *full], result.exit_code, result.stdout, result.stderr)
    if check and proc.returncode != 0:
        raise AssertionError(f"hitkit {' '.join(full)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def one_line_error(proc) -> str:  # type: ignore[no-untyped-def]
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    return errors[0]


def test_simple_amt_workflow_end_to_end(env, tmp_path):
    server = env
    url = server.url
    make_project(tmp_path, name="labels", assignments=2)
    (tmp_path / "items.csv").write_text("text\nthe cat sat\n\"a dog, & a <bird>\"\nfish\n")
    run("launch", "labels", "--input", "items.csv", "--yes", url=url)
    status = json.loads(cli("status", "labels", "--json", url=url).stdout)
    assert (status["hits_open"], status["pending"], status["done"]) == (3, 6, 0)

    # Workers do the HITs; worker 2 leaves the label empty.
    import sqlite3

    with sqlite3.connect(tmp_path / "labels/.hitkit/ledger.sqlite") as db:
        hit_ids = [r[0] for r in db.execute("SELECT hit_id FROM hits ORDER BY row_index")]
    good, lazy = server.new_worker(), server.new_worker()
    for h in hit_ids:
        server.do_hit(good, h, {"label": "animal & co"})
        server.do_hit(lazy, h, {"label": ""})

    out = run("collect", "labels", url=url).stdout
    assert "6 new" in out
    assert "0 new, 0 updated, 6 unchanged" in cli("collect", "labels", "--all", url=url).stdout
    status = json.loads(cli("status", "labels", "--json", url=url).stdout)
    assert (status["submitted"], status["pending"]) == (6, 0)
    assert "Assignments: 6 done (6 submitted" in run("status", "labels", url=url).stdout

    # Review: a dry run changes nothing; --yes applies; a re-run has nothing left.
    rule = ["--rule", 'answers["label"] != ""', "--reject-failing", "The label was empty."]
    dry = run("review", "labels", *rule, url=url)
    assert "Would approve 3 and reject 3" in dry.stdout and "Dry run: nothing was sent" in dry.stdout
    assert json.loads(cli("status", "labels", "--json", url=url).stdout)["submitted"] == 6
    applied = run("review", "labels", *rule, "--yes", url=url)
    assert "Approved 3, rejected 3" in applied.stdout
    assert "Would approve 0 and reject 0" in cli("review", "labels", *rule, "--yes", url=url).stdout
    status = json.loads(cli("status", "labels", "--json", url=url).stdout)
    assert (status["approved"], status["rejected"], status["cost"]) == (3, 3, "1.80")

    # Block the lazy worker; bonus the good one (shown, then paid once).
    assert "Blocked 1 worker" in run("workers", "block", lazy.worker_id, "--reason", "Empty answers", url=url).stdout
    (tmp_path / "bonus.csv").write_text(f"WorkerId,amount,reason\n{good.worker_id},0.25,Careful labels\n")
    shown = run("bonus", "labels", "--csv", "bonus.csv", url=url).stdout
    assert "1 bonus to pay: $0.25 + $0.05 fees = $0.30" in shown and "nothing was paid" in shown
    assert "Paid 1 bonus ($0.25)" in run("bonus", "labels", "--csv", "bonus.csv", "--yes", url=url).stdout
    assert "1 already paid" in cli("bonus", "labels", "--csv", "bonus.csv", "--yes", url=url).stdout

    # Export before winding down: MTurk's batch results CSV on stdout.
    csv_text = run("export", "labels", "--output", "-").stdout
    df = pd.read_csv(StringIO(csv_text), dtype=str, keep_default_na=False)
    assert len(df) == 6 and set(df.AssignmentStatus) == {"Approved", "Rejected"}
    assert set(df["Input.text"]) == {"the cat sat", "a dog, & a <bird>", "fish"}
    assert set(df[df.AssignmentStatus == "Rejected"].RequesterFeedback) == {"The label was empty."}
    cli("export", "labels", "--format", "parquet", "--output", "r.parquet", "--split", "train=0.67,test=0.33",
        "--seed", "4")
    assert len(pd.read_parquet("r.train.parquet")) + len(pd.read_parquet("r.test.parquet")) == 6

    # Wind down: expire, then delete (asks first), everything recorded.
    assert "Extended 3 HITs" in run("extend", "labels", "--time", "1h", url=url).stdout
    assert "Expired 3 HITs" in run("expire", "labels", url=url).stdout
    assert "Dry run: would expire and delete 3 HITs" in run("delete", "labels", url=url).stdout
    assert "Deleted 3 HITs" in run("delete", "labels", "--yes", url=url).stdout
    status = json.loads(cli("status", "labels", "--json", "--no-collect").stdout)
    assert status["hits_deleted"] == 3
    assert "no HITs left to delete" in cli("delete", "labels", "--yes", url=url).stdout


def test_delete_refuses_until_collected_and_reviewed(env, tmp_path, mturk):
    server = env
    make_project(tmp_path, name="p", assignments=1)
    (tmp_path / "items.csv").write_text("text\na\n")
    cli("launch", "p", "--input", "items.csv", "--yes", url=server.url)
    import sqlite3

    with sqlite3.connect(tmp_path / "p/.hitkit/ledger.sqlite") as db:
        (hit_id,) = db.execute("SELECT hit_id FROM hits").fetchone()
    aid = server.do_hit(server.new_worker(), hit_id, {"label": "x"})
    line = one_line_error(cli("delete", "p", "--yes", url=server.url, check=False))
    assert "not in the ledger" in line and "hitkit collect" in line
    cli("collect", "p", url=server.url)
    line = one_line_error(cli("delete", "p", "--yes", url=server.url, check=False))
    assert "not approved or rejected yet" in line
    cli("review", "p", "--approve", aid, "--yes", url=server.url)
    assert "Deleted 1 HIT" in cli("delete", "p", "--yes", url=server.url).stdout


def test_quals_and_workers_commands(env, tmp_path):
    server = env
    url = server.url
    (tmp_path / "quiz.toml").write_text(
        'name = "Spotter"\ndescription = "Finds things"\nduration = "5m"\n'
        '[[questions]]\ntext = "2 + 2?"\nchoices = ["3", "4"]\nanswer = "4"\n')
    created = json.loads(cli("quals", "create", "--quiz", "quiz.toml", "--json", url=url).stdout)
    assert created["Name"] == "Spotter" and created["TestDurationInSeconds"] == 300
    w = server.new_worker()
    (tmp_path / "ids.txt").write_text(f"{w.worker_id}\n")
    assert "Granted to 1 worker" in cli("quals", "grant", "Spotter", "--file", "ids.txt", "--value", "80", url=url).stdout
    holders = json.loads(cli("quals", "list", "Spotter", "--json", url=url).stdout)
    assert [(h["WorkerId"], h["IntegerValue"]) for h in holders] == [(w.worker_id, 80)]
    assert "Spotter" in cli("quals", "list", url=url).stdout
    assert "Revoked from 1 worker" in cli("quals", "revoke", created["QualificationTypeId"], w.worker_id, url=url).stdout
    assert json.loads(cli("quals", "list", "Spotter", "--json", url=url).stdout) == []
    assert "Unblocked 1 worker" in cli("workers", "unblock", w.worker_id, "--reason", "ok", url=url).stdout
    notified = cli("workers", "notify", w.worker_id, "--subject", "Hi", "--message", "News", url=url, check=False)
    assert "has not worked for you" in notified.stderr.lower() or "failed" in notified.stderr.lower()


@pytest.mark.parametrize("args, message", [
    (["status", "nothing-here", "--no-collect"], "is not a hitkit project"),
    (["review", "p"], "Say what to review"),
    (["review", "p", "--rule", "__import__('os')"], "is not allowed"),
    (["review", "p", "--reject", "X" * 30], "needs feedback"),
    (["bonus", "p"], "Say which bonuses"),
    (["bonus", "p", "--csv", "missing.csv"], "cannot read it"),
    (["extend", "p"], "Say how to extend"),
    (["extend", "p", "--time", "soon"], "expected a duration"),
    (["export", "p", "--split", "train=0.5"], "add up to 0.5"),
    (["export", "p", "--status", "Lost"], "--status: choose from"),
    (["workers", "block", "A1"], "--reason is required"),
    (["workers", "notify", "A1", "--subject", "x"], "--message (or --message-file) is required"),
    (["quals", "create", "--name", "x"], "Give --quiz FILE, or --name and --description"),
    (["quals", "grant", "Nope", "A1"], "No qualification type of yours"),
])
def test_user_errors_are_one_line_and_exit_1(env, tmp_path, args, message):
    make_project(tmp_path, name="p")
    assert message in one_line_error(cli(*args, url=env.url if args[0] != "export" else None, check=False))


def test_unreachable_endpoint_and_bad_credentials(env, tmp_path, monkeypatch):
    make_project(tmp_path, name="p")
    line = one_line_error(run("collect", "p", url="http://127.0.0.1:9", check=False))
    assert "Cannot reach the MTurk endpoint at http://127.0.0.1:9" in line
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    line = one_line_error(run("status", "p", url=env.url, check=False))
    assert "refused the credentials" in line


def test_dynamic_overlap_aggregate_and_label_export(env, tmp_path):
    """`hitkit extend --until-agreement`, then `hitkit aggregate` and `hitkit export --labels`, as a user runs them."""
    import sqlite3

    server = env
    url = server.url
    make_project(tmp_path, name="pets", assignments=2)
    (tmp_path / "items.csv").write_text("text\ncat\ndog\nbird\n")
    cli("launch", "pets", "--input", "items.csv", "--yes", url=url)
    with sqlite3.connect(tmp_path / "pets/.hitkit/ledger.sqlite") as db:
        hit_ids = [r[0] for r in db.execute("SELECT hit_id FROM hits ORDER BY row_index")]
    w1, w2, w3 = (server.new_worker() for _ in range(3))
    for h, a, b in zip(hit_ids, ["cat", "dog", "bird"], ["cat", "cat", "bird"]):
        server.do_hit(w1, h, {"label": a})
        server.do_hit(w2, h, {"label": b})

    out = cli("extend", "pets", "--until-agreement", "2", "--max-assignments", "3", url=url).stdout
    assert "3 items: 2 done, 0 waiting for work in progress, 1 given 1 more assignment" in out
    server.do_hit(w3, hit_ids[1], {"label": "dog"})
    report = json.loads(cli("extend", "pets", "--until-agreement", "2", "--max-assignments", "3", "--json",
                            url=url).stdout)
    assert (report["done"], report["added"], report["waiting"]) == (3, 0, 0)

    shown = cli("aggregate", "pets", "--method", "mv").stdout
    assert "Aggregated 7 answers to `label` into 3 labels with mv" in shown and "Lowest worker skills" in shown
    summary = json.loads(cli("aggregate", "pets", "--json").stdout)
    assert summary["label_counts"] == {"bird": 1, "cat": 1, "dog": 1} and summary["workers"] == 3
    export = cli("export", "pets", "--labels", "--output", "-")
    rows = list(csv.DictReader(StringIO(export.stdout)))
    assert [(r["Input.text"], r["Aggregated.label"]) for r in rows] == [("cat", "cat"), ("dog", "dog"), ("bird", "bird")]
    assert "Approve" not in rows[0]

    assert one_line_error(cli("extend", "pets", "--until-agreement", "2", "--max-assignments", "1",
                              check=False, url=url)).startswith("error: --max-assignments 1 can never give 2")
    assert "unknown aggregation method 'best'" in one_line_error(cli("aggregate", "pets", "--method", "best",
                                                                     check=False))
