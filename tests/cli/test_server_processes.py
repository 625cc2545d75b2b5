"""`hitkit server run --workers N` on PostgreSQL: several processes share the port, one holds the sweeper lease,
and when one process is killed with SIGKILL under load the others keep serving, the supervisor starts a new one,
and every acknowledged submission is in the database exactly once."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import boto3
import httpx
import pytest
from botocore.config import Config
from sqlalchemy import create_engine, text

from tests.conftest import hit_params
from tests.support.processes import ServerProcess, hitkit_json
from tests.support.server import drop_database, fresh_database_url

pytestmark = pytest.mark.postgres


def _children(pid: int) -> list[int]:
    """The server processes the supervisor `pid` runs (not multiprocessing's resource tracker)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    out = []
    for child in (int(p) for p in path.read_text().split()) if path.exists() else ():
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"resource_tracker" not in cmdline:
            out.append(child)
    return out


def _workers(url: str, n: int, db_env: dict, data: Path) -> list[tuple[str, str]]:
    out = []
    for i in range(n):
        w = hitkit_json("server", "worker", "create", f"w{i}", "--data-dir", str(data), env=db_env)
        out.append((w["WorkerId"], w["token"]))
    return out


@pytest.fixture()
def pg_data(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL_MTURK", "HITKIT_DATABASE_URL"):
        monkeypatch.delenv(var, raising=False)
    try:
        url = fresh_database_url(tmp_path, "postgres")
    except Exception as e:  # noqa: BLE001
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL is not available: {e}")
    yield tmp_path / "srv", {"HITKIT_DATABASE_URL": url}
    drop_database(url)


def test_kill_9_one_of_two_processes_under_load_loses_nothing(pg_data):
    data, env = pg_data
    out = hitkit_json("server", "init", "--data-dir", str(data), "--no-profile", env=env)
    server = ServerProcess(data, env=env, extra=("--workers", "2"))
    try:
        deadline = time.time() + 30
        while len(_children(server.proc.pid)) < 2 and time.time() < deadline:
            time.sleep(0.1)
        children = _children(server.proc.pid)
        assert len(children) == 2, children
        creds = out["requester"]
        mturk = boto3.client("mturk", endpoint_url=server.url, region_name="us-east-1",
                             aws_access_key_id=creds["aws_access_key_id"],
                             aws_secret_access_key=creds["aws_secret_access_key"],
                             config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))
        hit_ids = [mturk.create_hit(**hit_params(MaxAssignments=8))["HIT"]["HITId"] for _ in range(10)]
        workers = _workers(server.url, 6, env, data)

        # One lease holder among the children, within a few sweeper passes.
        engine = create_engine(env["HITKIT_DATABASE_URL"])
        holder = None
        for _ in range(100):
            with engine.connect() as conn:
                raw = conn.execute(text("SELECT value FROM settings WHERE key = 'lease:background'")).scalar()
            if raw:
                holder = json.loads(raw)["holder"]
                break
            time.sleep(0.1)
        assert holder and int(holder.split(":")[1]) in children

        acknowledged: list[str] = []
        errors: list[str] = []
        lock = threading.Lock()
        stop = threading.Event()

        def work(worker_id: str, token: str) -> None:
            with httpx.Client(base_url=server.url, timeout=10, headers={"Authorization": f"Bearer {token}"}) as http:
                for hit_id in hit_ids:
                    if stop.is_set():
                        return
                    try:
                        r = http.post(f"/api/worker/v1/hits/{hit_id}/accept")
                        if r.status_code != 200:
                            continue
                        aid = r.json()["AssignmentId"]
                        s = http.post(f"/api/worker/v1/assignments/{aid}/submit", json={"answers": {"label": "x"}})
                        if s.status_code == 200:
                            with lock:
                                acknowledged.append(aid)
                        elif s.status_code >= 500:
                            errors.append(f"{s.status_code} {s.text[:200]}")
                    except httpx.HTTPError:
                        pass  # the killed process's connections: not acknowledged, so not counted

        threads = [threading.Thread(target=work, args=w) for w in workers]
        for t in threads:
            t.start()
        time.sleep(0.3)
        os.kill(children[0], signal.SIGKILL)
        for t in threads:
            t.join(timeout=60)
        stop.set()
        assert errors == []

        # The supervisor replaced the dead process; the server keeps answering.
        deadline = time.time() + 30
        while (children[0] in _children(server.proc.pid) or len(_children(server.proc.pid)) < 2) and time.time() < deadline:
            time.sleep(0.1)
        assert len(_children(server.proc.pid)) == 2 and children[0] not in _children(server.proc.pid)
        stored = []
        for hit_id in hit_ids:
            for page in mturk.get_paginator("list_assignments_for_hit").paginate(HITId=hit_id):
                stored += [a["AssignmentId"] for a in page["Assignments"]]
        assert len(stored) == len(set(stored))
        assert set(acknowledged) <= set(stored), "an acknowledged submission is missing"
        assert len(acknowledged) > 0
        engine.dispose()
    finally:
        assert server.stop(signal.SIGTERM) == 0
