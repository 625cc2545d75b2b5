"""SQLite's disk fills up under a running server: every call that cannot be stored answers 503 ServiceUnavailable
saying the disk is full (boto3 would retry it), nothing acknowledged is lost, the database stays intact
(`PRAGMA integrity_check`), and once space is freed the same server works again. The disk is a small tmpfs the
test mounts (root only; skipped elsewhere outside CI)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from hitkit.server.config import ServerConfig
from tests.conftest import HTML_QUESTION, hit_params

pytestmark = pytest.mark.skipif(os.environ.get("HITKIT_TEST_DATABASE", "sqlite") != "sqlite",
                                reason="a SQLite file on a small disk")


@pytest.fixture()
def small_disk():  # type: ignore[no-untyped-def]
    mount = Path(tempfile.mkdtemp(prefix="hitkit-small-disk-"))
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        mount.rmdir()
        if os.environ.get("CI"):
            raise RuntimeError(f"cannot mount a tmpfs for the disk-full test: {done.stderr.strip()}")
        pytest.skip(f"mounting a tmpfs needs root: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
        mount.rmdir()


def test_disk_full_is_a_clear_retryable_error_and_loses_nothing(small_disk):
    from hitkit.server.embedded import bootstrap, serve_in_thread

    data = small_disk / "data"
    cfg = ServerConfig(data_dir=data, database_url=f"sqlite:///{data / 'hitkit.db'}", sweep_interval=0.5)
    boot = bootstrap(cfg)
    running = serve_in_thread(cfg)
    try:
        mturk = boto3.client("mturk", endpoint_url=running.url, region_name="us-east-1",
                             aws_access_key_id=boot.access_key, aws_secret_access_key=boot.secret,
                             config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))
        big = HTML_QUESTION.replace("</body>", "<p>" + "x" * 40_000 + "</p></body>")
        created, refusal = [], None
        for _ in range(200):
            try:
                created.append(mturk.create_hit(**hit_params(Question=big))["HIT"]["HITId"])
            except ClientError as e:
                refusal = e
                break
        assert refusal is not None, "the disk never filled"
        assert refusal.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert refusal.response["Error"]["Code"] == "ServiceUnavailable"
        assert "disk is full" in refusal.response["Error"]["Message"]
        assert len(created) > 3
        # Reading still works, and every acknowledged HIT is there.
        for hit_id in created:
            assert mturk.get_hit(HITId=hit_id)["HIT"]["HITId"] == hit_id
        # The administrator makes room (here: a bigger disk); the same server works again.
        subprocess.run(["mount", "-o", "remount,size=16m", str(small_disk)], check=True)
        again = mturk.create_hit(**hit_params())["HIT"]["HITId"]
        assert mturk.get_hit(HITId=again)["HIT"]["HITStatus"] == "Assignable"
    finally:
        running.stop()
    with sqlite3.connect(data / "hitkit.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {r[0] for r in db.execute("SELECT id FROM hits")}
    assert set(created) | {again} <= stored
