"""The launch guarantee: `hitkit launch` killed with SIGKILL at any moment and run again creates exactly one HIT per
row, and the ledger knows every HIT the server has. A 500-row launch against a `hitkit server run` process is
killed at 12 seeded random moments (some by time after start, covering start-up and the intents transaction; most
when the server has reached a random HIT count, i.e. mid-creation, between the server's commit and the ledger's),
each followed by a re-run, then run to completion. A 500-row launch takes about two seconds, so kills are timed by
polling the server's database (read-only) for its HIT count."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from sqlalchemy import create_engine, select

from hitkit.requester.ledger.tables import batches, hits
from tests.requester.test_launch import all_hits, make_project
from tests.support.processes import ServerProcess, hitkit_json

pytestmark = pytest.mark.slow

ROWS = 500
KILLS = 12
SEED = 20261123


def server_hit_count(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute("SELECT count(*) FROM hits").fetchone()[0]
    finally:
        conn.close()


def ledger_created(ledger: Path) -> int:
    if not ledger.exists():
        return 0
    conn = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute("SELECT count(*) FROM hits WHERE hit_id IS NOT NULL").fetchone()[0]
    except sqlite3.OperationalError:  # killed before the ledger's tables were made
        return 0
    finally:
        conn.close()


def settled_count(db: Path) -> int:
    count, stable_since = server_hit_count(db), time.monotonic()
    while time.monotonic() - stable_since < 0.15:
        time.sleep(0.02)
        now = server_hit_count(db)
        if now != count:
            count, stable_since = now, time.monotonic()
    return count


def test_kill_minus_nine_at_random_moments_still_gives_exactly_one_hit_per_row(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    data_dir = tmp_path / "server"
    init = hitkit_json("server", "init", "--data-dir", str(data_dir), "--no-profile")
    creds = init["requester"]
    server = ServerProcess(data_dir)
    try:
        env = {**os.environ, "AWS_ACCESS_KEY_ID": creds["aws_access_key_id"],
               "AWS_SECRET_ACCESS_KEY": creds["aws_secret_access_key"], "AWS_DEFAULT_REGION": "us-east-1",
               "AWS_CONFIG_FILE": str(tmp_path / "aws-config"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-creds")}
        make_project(tmp_path)
        (tmp_path / "items.csv").write_text("text\n" + "".join(f"sentence {i}\n" for i in range(ROWS)))
        cmd = [sys.executable, "-m", "hitkit.cli.main", "launch", "sentiment", "--input", "items.csv", "--yes",
               "--workers", "16", "--endpoint-url", server.url]
        db = data_dir / "hitkit.db"
        ledger_path = tmp_path / "sentiment" / ".hitkit" / "ledger.sqlite"
        mid_creation = kills = unrecorded = 0
        log = []
        for i in range(2 * KILLS):  # until KILLS launches were killed while running (one may finish first)
            if kills == KILLS:
                break
            before = server_hit_count(db)
            proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            started = time.monotonic()
            if i % 4 == 0:  # by time, before the first new HIT: start-up, rendering, intents, CreateHITType
                deadline = started + rng.uniform(0.3, 3.0)
                while time.monotonic() < deadline and proc.poll() is None and server_hit_count(db) == before:
                    time.sleep(0.002)
            else:  # mid-creation: when the server has a few more HITs (a random number)
                target = min(ROWS - 50, before + rng.randint(2, 25))
                while proc.poll() is None and server_hit_count(db) < target and time.monotonic() - started < 60:
                    time.sleep(rng.uniform(0.0, 0.005))
            running = proc.poll() is None
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            after = settled_count(db)  # requests in flight when the client died still complete on the server
            kills += running
            mid_creation += running and before < after < ROWS
            lost = after - ledger_created(ledger_path)  # HITs the server made that the ledger has no id for yet
            unrecorded += lost > 0
            log.append((i, "killed" if running else "finished", round(time.monotonic() - started, 2), before, after, lost))
        print("kills (iteration, outcome, seconds, HITs before, after, not in the ledger):", log)
        assert kills == KILLS and mid_creation >= KILLS // 2 and unrecorded >= 1, log
        assert server_hit_count(db) < ROWS, log  # the final run has work left
        final = subprocess.run([*cmd, "--json"], check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert final.returncode == 0, final.stderr
        report = json.loads(final.stdout)
        assert report["complete"] and report["remaining"] == 0

        client = boto3.client("mturk", endpoint_url=server.url, region_name="us-east-1",
                              aws_access_key_id=creds["aws_access_key_id"],
                              aws_secret_access_key=creds["aws_secret_access_key"],
                              config=Config(retries={"total_max_attempts": 1}))
        server_hits = all_hits(client)
        assert len(server_hits) == ROWS, log
        engine = create_engine(f"sqlite:///{tmp_path / 'sentiment' / '.hitkit' / 'ledger.sqlite'}")
        with engine.connect() as conn:
            assert conn.execute(select(batches.c.id)).all() == [(report["batch_id"],)]
            ledger = conn.execute(select(hits)).all()
        engine.dispose()
        assert sorted(r.row_index for r in ledger) == list(range(1, ROWS + 1))  # exactly one HIT per row
        assert all(r.state == "created" and r.hit_id for r in ledger)
        by_id = {h["HITId"]: h for h in server_hits}
        assert {r.hit_id for r in ledger} == set(by_id)  # no HIT the ledger does not know, none it invented
        for r in ledger:
            assert by_id[r.hit_id]["RequesterAnnotation"] == f"hitkit:{r.token}"
            assert f"sentence {r.row_index - 1}<" in by_id[r.hit_id]["Question"]
    finally:
        server.stop()
