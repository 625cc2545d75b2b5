"""Two hosts behind a reverse proxy: the test makes two network namespaces (each with its own address on a veth
pair), runs `hitkit server run` in each on one PostgreSQL (reached through its Unix socket, which namespaces
share), and a small round-robin TCP proxy on 127.0.0.1 in front of both. Requesters (boto3) and workers go through
the proxy; both hosts serve; one host is killed with SIGKILL and the other carries on; at the end every
acknowledged submission is in the database exactly once. Root only (namespaces); skipped elsewhere outside CI."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import threading
import time

import boto3
import httpx
import pytest
from botocore.config import Config
from sqlalchemy import create_engine, text

from tests.conftest import hit_params
from tests.support.processes import hitkit_json

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
PG_SOCKET_URL = "postgresql+psycopg://postgres@/test?host=/var/run/postgresql"


def _sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, text=True)


class Namespaces:
    """Two network namespaces, each joined to this one by a veth pair: host k is 10.231.<net>.<4k+2>."""

    def __init__(self) -> None:
        self.tag = secrets.token_hex(3)
        self.net = 100 + secrets.randbelow(100)
        self.names = [f"hk{self.tag}{k}" for k in range(2)]
        self.addresses = [f"10.231.{self.net}.{4 * k + 2}" for k in range(2)]

    def __enter__(self) -> "Namespaces":
        for k, ns in enumerate(self.names):
            outer, inner = f"hko{self.tag}{k}", f"hki{self.tag}{k}"
            _sh("ip", "netns", "add", ns)
            _sh("ip", "link", "add", outer, "type", "veth", "peer", "name", inner)
            _sh("ip", "link", "set", inner, "netns", ns)
            _sh("ip", "addr", "add", f"10.231.{self.net}.{4 * k + 1}/30", "dev", outer)
            _sh("ip", "link", "set", outer, "up")
            _sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"{self.addresses[k]}/30", "dev", inner)
            _sh("ip", "netns", "exec", ns, "ip", "link", "set", inner, "up")
            _sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        return self

    def __exit__(self, *exc) -> None:  # type: ignore[no-untyped-def]
        for k, ns in enumerate(self.names):
            subprocess.run(["ip", "link", "del", f"hko{self.tag}{k}"], capture_output=True)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


class RoundRobinProxy:
    """A TCP proxy on 127.0.0.1: each new connection goes to the next backend that accepts it."""

    def __init__(self, backends: list[tuple[str, int]]) -> None:
        self.backends = backends
        self.served = [0] * len(backends)
        self.next = 0
        self.port = 0
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait(10)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = self.server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()
        self.loop.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream = None
        for _ in range(len(self.backends)):
            k = self.next % len(self.backends)
            self.next += 1
            try:
                upstream = await asyncio.wait_for(asyncio.open_connection(*self.backends[k]), 2)
                self.served[k] += 1
                break
            except (OSError, asyncio.TimeoutError):
                continue
        if upstream is None:
            writer.close()
            return
        up_reader, up_writer = upstream

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def _shutdown(self) -> None:
        self.server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture()
def two_hosts(tmp_path):  # type: ignore[no-untyped-def]
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            raise RuntimeError("the two-host test needs root for network namespaces")
        pytest.skip("network namespaces need root")
    schema = "hk_" + secrets.token_hex(6)
    engine = create_engine(PG_SOCKET_URL)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{PG_SOCKET_URL}&options=-csearch_path%3D{schema}"
    try:
        with Namespaces() as ns:
            yield ns, url, tmp_path
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()


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
