"""`hitkit launch` and `hitkit balance` as a user runs them, against a live server: exit codes and one-line errors."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from hitkit.server.domain.ledger import deposit
from tests.requester.test_launch import all_hits, make_project
from tests.support.processes import free_port, hitkit


def write_csv(path: Path, n: int, *, blank_row: int | None = None) -> Path:
    lines = ["text,id"] + [f"{'' if i + 1 == blank_row else f'sentence {i}'},{i}" for i in range(n)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture()
def env(tmp_path: Path, requester) -> dict:  # type: ignore[no-untyped-def]
    """Credentials from the environment (what --endpoint-url uses); no user AWS files."""
    return {"AWS_ACCESS_KEY_ID": requester.access_key, "AWS_SECRET_ACCESS_KEY": requester.secret,
            "AWS_CONFIG_FILE": str(tmp_path / "aws-config"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-creds"),
            "AWS_DEFAULT_REGION": "us-east-1", "COLUMNS": "200"}


def run(tmp_path: Path, *args: str, env: dict, stdin: str | None = None):  # type: ignore[no-untyped-def]
    import os

    cwd = os.getcwd()
    os.chdir(tmp_path)  # NAME is a folder in the working directory, as for users
    try:
        return hitkit(*args, env=env, check=False, stdin=stdin)
    finally:
        os.chdir(cwd)


def error_lines(proc) -> list[str]:  # type: ignore[no-untyped-def]
    """The `error: ...` lines (one after an unanswered prompt shares its line: stdin is not echoed)."""
    return ["error:" + line.split("error:", 1)[1] for line in proc.stderr.splitlines() if "error:" in line]


def test_launch_yes_creates_every_hit_and_a_rerun_creates_none(server, env, mturk, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    make_project(tmp_path)
    write_csv(tmp_path / "items.csv", 7)
    first = run(tmp_path, "launch", "sentiment", "--input", "items.csv", "--assignments", "2", "--yes", "--json",
                "--endpoint-url", server.url, env=env)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["created_now"] == 7 and report["complete"] and report["cost"]["total"] == "1.68"
    assert "Cost: $1.68 for 7 HITs (14 assignments): $1.40 rewards + $0.28 fees" in first.stderr
    assert "MTurk's schedule" in first.stderr and "Balance: $10000.00 available" in first.stderr
    assert len(all_hits(mturk)) == 7
    again = run(tmp_path, "launch", "sentiment", "--input", "items.csv", "--assignments", "2", "--yes",
                "--endpoint-url", server.url, env=env)
    assert again.returncode == 0, again.stderr
    assert "created 0 HITs, 7 already existed; 0 of 7 remain" in again.stderr
    assert len(all_hits(mturk)) == 7


def test_launch_asks_before_spending(server, env, mturk, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    make_project(tmp_path)
    write_csv(tmp_path / "items.csv", 3)
    no = run(tmp_path, "launch", "sentiment", "-i", "items.csv", "--endpoint-url", server.url, env=env, stdin="n\n")
    assert no.returncode == 1 and "Create 3 HITs for up to $0.36?" in no.stderr
    assert error_lines(no) == ["error: not confirmed; nothing was created (pass --yes to skip the question)"]
    assert mturk.list_hits()["NumResults"] == 0
    yes = run(tmp_path, "launch", "sentiment", "-i", "items.csv", "--endpoint-url", server.url, env=env, stdin="y\n")
    assert yes.returncode == 0, yes.stderr
    assert mturk.list_hits()["NumResults"] == 3


def test_max_assignments_per_hit_flag(server, env, mturk, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    make_project(tmp_path)
    write_csv(tmp_path / "items.csv", 2)
    proc = run(tmp_path, "launch", "sentiment", "-i", "items.csv", "--assignments", "12", "--max-assignments-per-hit", "9",
               "--yes", "--json", "--endpoint-url", server.url, env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["hits_total"] == 4
    assert sorted(h["MaxAssignments"] for h in all_hits(mturk)) == [6, 6, 6, 6]


def test_unreachable_endpoint(env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    make_project(tmp_path)
    write_csv(tmp_path / "items.csv", 2)
    url = f"http://127.0.0.1:{free_port()}"
    proc = run(tmp_path, "launch", "sentiment", "-i", "items.csv", "--yes", "--endpoint-url", url, env=env)
    assert proc.returncode == 1
    assert error_lines(proc) == [f"error: Cannot reach the MTurk endpoint at {url} (connection refused): is the server running?"]


def test_wrong_credentials(server, env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    make_project(tmp_path)
    write_csv(tmp_path / "items.csv", 2)
    proc = run(tmp_path, "launch", "sentiment", "-i", "items.csv", "--yes", "--endpoint-url", server.url,
               env={**env, "AWS_SECRET_ACCESS_KEY": "not-the-secret"})
    assert proc.returncode == 1
    [line] = error_lines(proc)
    assert "refused the credentials" in line


def test_bad_input_file(server, env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    make_project(tmp_path)
    (tmp_path / "items.csv").write_text("text,id\nfine,1\ntoo,many,cells\n")
    proc = run(tmp_path, "launch", "sentiment", "-i", "items.csv", "--yes", "--endpoint-url", server.url, env=env)
    assert proc.returncode == 1
    assert error_lines(proc) == ["error: items.csv, row 2: has 3 cells but the header has 2 columns"]
    missing = run(tmp_path, "launch", "sentiment", "-i", "nope.csv", "--yes", "--endpoint-url", server.url, env=env)
    assert missing.returncode == 1 and error_lines(missing) == ["error: the input file nope.csv does not exist"]
    no_project = run(tmp_path, "launch", "elsewhere", "-i", "items.csv", "--yes", "--endpoint-url", server.url, env=env)
    assert no_project.returncode == 1 and "is not a hitkit project" in error_lines(no_project)[0]


def test_a_template_failing_on_row_17_posts_nothing(server, env, mturk, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    make_project(tmp_path, template="<p>{{ row.text.upper() }}</p><crowd-form></crowd-form>")
    (tmp_path / "items.jsonl").write_text("".join(
        json.dumps({"text": None if i == 17 else f"s{i}"}) + "\n" for i in range(1, 31)))
    proc = run(tmp_path, "launch", "sentiment", "-i", "items.jsonl", "--yes", "--endpoint-url", server.url, env=env)
    assert proc.returncode == 1
    [line] = error_lines(proc)
    assert line.startswith("error: items.jsonl, row 17") and line.endswith("nothing was posted"), line
    assert mturk.list_hits()["NumResults"] == 0


def test_insufficient_funds_then_funds_add_then_resume(server, env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    poor = server.new_requester(balance_cents=50)  # $0.12 a HIT: 4 of 10
    env = {**env, "AWS_ACCESS_KEY_ID": poor.access_key, "AWS_SECRET_ACCESS_KEY": poor.secret}
    make_project(tmp_path)
    write_csv(tmp_path / "items.csv", 10)
    args = ("launch", "sentiment", "-i", "items.csv", "--yes", "--workers", "3", "--endpoint-url", server.url)
    proc = run(tmp_path, *args, env=env)
    assert proc.returncode == 1
    assert "The balance is short by $0.70" in proc.stderr
    assert error_lines(proc) == [
        "error: insufficient funds: created 4 HITs; 6 of 10 remain; $0.70 more is needed for the rest. Add funds (on a "
        "hitkit server: `hitkit server funds add REQUESTER 0.70`) and run the same command again."]
    with server._engine.begin() as conn:
        deposit(conn, poor.requester_id, 70, time.time())
    again = run(tmp_path, *args, env=env)
    assert again.returncode == 0, again.stderr
    assert "created 6 HITs, 4 already existed; 0 of 10 remain" in again.stderr
    assert len(all_hits(server.client(poor))) == 10


def test_balance(server, env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc = run(tmp_path, "balance", "--endpoint-url", server.url, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"Available: $10000.00  On hold: $0.00  ({server.url})"
    as_json = run(tmp_path, "balance", "--json", "--endpoint-url", server.url, env=env)
    assert json.loads(as_json.stdout) == {"AvailableBalance": "10000.00", "OnHoldBalance": "0.00", "endpoint": server.url}


def test_balance_with_the_local_profile(server, requester, env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "aws-creds").write_text(
        f"[hitkit-local]\naws_access_key_id = {requester.access_key}\naws_secret_access_key = {requester.secret}\n")
    (tmp_path / "aws-config").write_text(f"[profile hitkit-local]\nregion = us-east-1\nendpoint_url = {server.url}\n")
    local_env = {k: v for k, v in env.items() if not k.startswith("AWS_ACCESS") and not k.startswith("AWS_SECRET")}
    proc = run(tmp_path, "balance", env=local_env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Available: $10000.00")


def test_launch_warns_about_columns_the_template_never_reads(tmp_path):
    """A misspelt header is worth a warning, not a refusal (the column may be meant for analysis)."""
    from typer.testing import CliRunner

    from hitkit.cli.main import app

    project = tmp_path / "p"
    project.mkdir()
    (project / "hitkit.toml").write_text('[hit]\ntitle = "t"\ndescription = "d"\nreward = "0.05"\n')
    (project / "template.html").write_text("<form><p>{{ row.text }}</p><input name=a></form>")
    (tmp_path / "in.csv").write_text("text,txet_typo\nhello,x\n")
    result = CliRunner().invoke(app, ["launch", str(project), "--input", str(tmp_path / "in.csv"), "--yes",
                                      "--endpoint-url", "http://127.0.0.1:9"])
    assert "never reads column txet_typo" in result.output
    assert result.exit_code == 1  # nothing listens on port 9: the launch itself is refused
