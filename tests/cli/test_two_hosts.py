"""Two hosts behind a reverse proxy: the test makes two network namespaces (each with its own address on a veth
pair), runs `hitkit server run` in each on one PostgreSQL (reached through its Unix socket, which namespaces
share), and a small round-robin TCP proxy on 127.0.0.1 in front of both. Requesters (boto3) and workers go through
the proxy; both hosts serve; one host is killed with SIGKILL and the other carries on; at the end every
acknowledged submission is in the database exactly once. Root only (namespaces); skipped elsewhere outside CI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import boto3
import httpx
import pytest
from botocore.config import Config

from tests.conftest import hit_params
from tests.support.namespaces import Namespaces, RoundRobinProxy, pg_schema_over_socket, require_root
from tests.support.processes import hitkit_json

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture()
def two_hosts(tmp_path):  # type: ignore[no-untyped-def]
    require_root()
    with pg_schema_over_socket() as url, Namespaces() as ns:
        yield ns, url, tmp_path


def test_two_hosts_behind_a_proxy_one_killed(two_hosts):
    ns, url, tmp = two_hosts
    env = {**os.environ, "HITKIT_DATABASE_URL": url}
    env.pop("AWS_PROFILE", None)
    init = hitkit_json("server", "init", "--data-dir", str(tmp / "srv"), "--no-profile", env={"HITKIT_DATABASE_URL": url})
    procs = []
    for k, name in enumerate(ns.names):
        procs.append(subprocess.Popen(
            ["ip", "netns", "exec", name, sys.executable, "-m", "hitkit.cli.main", "server", "run", "--data-dir",
             str(tmp / "srv"), "--host", ns.addresses[k], "--port", "8642"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
    proxy = None
    try:
        for p in procs:
            line = p.stdout.readline() if p.stdout else ""
            assert "listening on" in line, (line, p.stderr.read() if p.stderr else "")
        proxy = RoundRobinProxy([(addr, 8642) for addr in ns.addresses])
        base = f"http://127.0.0.1:{proxy.port}"
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                if httpx.get(base + "/api/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        creds = init["requester"]
        mturk = boto3.client("mturk", endpoint_url=base, region_name="us-east-1",
                             aws_access_key_id=creds["aws_access_key_id"],
                             aws_secret_access_key=creds["aws_secret_access_key"],
                             config=Config(retries={"total_max_attempts": 3, "mode": "standard"}))
        hit_ids = [mturk.create_hit(**hit_params(MaxAssignments=4))["HIT"]["HITId"] for _ in range(6)]
        workers = [hitkit_json("server", "worker", "create", f"w{i}", "--data-dir", str(tmp / "srv"),
                               env={"HITKIT_DATABASE_URL": url}) for i in range(4)]
        acknowledged = []

        def work(w: dict, ids: list[str]) -> None:
            for hit_id in ids:
                # A fresh connection per call, so the proxy spreads them over both hosts.
                try:
                    r = httpx.post(f"{base}/api/worker/v1/hits/{hit_id}/accept", timeout=10,
                                   headers={"Authorization": f"Bearer {w['token']}"})
                    if r.status_code != 200:
                        continue
                    aid = r.json()["AssignmentId"]
                    s = httpx.post(f"{base}/api/worker/v1/assignments/{aid}/submit", json={"answers": {"a": "b"}},
                                   timeout=10, headers={"Authorization": f"Bearer {w['token']}"})
                    assert s.status_code < 500, s.text
                    if s.status_code == 200:
                        acknowledged.append(aid)
                except httpx.HTTPError:
                    pass  # the killed host's connection: not acknowledged

        for w in workers[:2]:
            work(w, hit_ids[:3])
        assert all(n > 0 for n in proxy.served), proxy.served  # both hosts served
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait(10)
        for w in workers[2:]:
            work(w, hit_ids)
        for w in workers[:2]:
            work(w, hit_ids[3:])
        stored = [a["AssignmentId"] for h in hit_ids for a in mturk.list_assignments_for_hit(HITId=h)["Assignments"]]
        assert len(stored) == len(set(stored))
        assert set(acknowledged) <= set(stored) and len(acknowledged) >= 16
    finally:
        if proxy:
            proxy.close()
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()
