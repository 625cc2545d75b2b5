"""64 workers accept a HIT with 5 slots at the same moment: exactly 5 succeed, on SQLite and PostgreSQL, and with
several server processes sharing one database."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import httpx
import pytest

from hitkit.server.domain import accounts
from hitkit.server.store import db
from tests.conftest import hit_params
from tests.support.processes import ServerProcess, hitkit_json
from tests.support.server import drop_database, fresh_database_url

N_WORKERS = 64
SLOTS = 5


def race(urls: list[str], tokens: list[str], hit_id: str) -> list[int]:
    barrier = threading.Barrier(len(tokens))

    def one(i: int) -> int:
        with httpx.Client(base_url=urls[i % len(urls)], timeout=60) as c:
            barrier.wait()
            return c.post(f"/api/worker/v1/hits/{hit_id}/accept", headers={"Authorization": f"Bearer {tokens[i]}"}).status_code

    with ThreadPoolExecutor(len(tokens)) as pool:
        return list(pool.map(one, range(len(tokens))))


def test_accept_race_in_one_process(server, mturk):
    hit_id = mturk.create_hit(**hit_params(MaxAssignments=SLOTS))["HIT"]["HITId"]
    tokens = [server.new_worker().token for _ in range(N_WORKERS)]
    codes = race([server.url], tokens, hit_id)
    assert codes.count(200) == SLOTS and all(c == 409 for c in codes if c != 200)
    h = mturk.get_hit(HITId=hit_id)["HIT"]
    assert (h["NumberOfAssignmentsPending"], h["NumberOfAssignmentsAvailable"]) == (SLOTS, 0)


@pytest.mark.slow
@pytest.mark.parametrize(("database", "processes"), [("sqlite", 2), ("postgres", 4)])
def test_accept_race_across_server_processes(tmp_path, monkeypatch, database, processes):
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    url = fresh_database_url(tmp_path, database)
    env = {"HITKIT_DATABASE_URL": url}
    servers: list[ServerProcess] = []
    try:
        init = hitkit_json("server", "init", "--data-dir", str(tmp_path / "d0"), "--no-profile", env=env)
        engine = db.make_engine(url)
        with engine.begin() as conn:  # set-up only: 64 CLI start-ups would dominate the test's time
            tokens = [accounts.create_worker(conn, f"w{i}", time.time())[1] for i in range(N_WORKERS)]
        engine.dispose()
        for i in range(processes):
            data_dir = tmp_path / f"d{i}"
            servers.append(ServerProcess(data_dir, env=env))
        creds = init["requester"]
        mturk = boto3.client("mturk", endpoint_url=servers[0].url, region_name="us-east-1",
                             aws_access_key_id=creds["aws_access_key_id"], aws_secret_access_key=creds["aws_secret_access_key"])
        for _ in range(3):  # three rounds, three HITs
            hit_id = mturk.create_hit(**hit_params(MaxAssignments=SLOTS))["HIT"]["HITId"]
            codes = race([s.url for s in servers], tokens, hit_id)
            assert codes.count(200) == SLOTS, codes
            assert all(c == 409 for c in codes if c != 200), codes
            h = mturk.get_hit(HITId=hit_id)["HIT"]
            assert (h["NumberOfAssignmentsPending"], h["NumberOfAssignmentsAvailable"]) == (SLOTS, 0)
    finally:
        for s in servers:
            s.stop()
        drop_database(url)
