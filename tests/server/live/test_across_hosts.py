"""Live tasks across hosts: two network namespaces made by the test (each its own host, address and loopback),
`hitkit server run` in each on one PostgreSQL and one Redis, both reached through their Unix sockets (the only
thing the namespaces share, as two machines would share a database and a Redis host). The requester's program
talks to host 0, the workers to host 1; a worker moves to host 0 mid-conversation and finds its history; then host
0 is killed with SIGKILL and the worker left on host 1 is told the requester is gone, once. Root only
(namespaces); skipped elsewhere outside CI."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.server.live.processes import VANISHED_LIMIT, Proc, events, live_runner, pair_in_world, redis_server
from tests.server.live.support import LIMIT, SimWorker
from tests.support.namespaces import Namespaces, RoundRobinProxy, pg_schema_over_socket, require_root
from tests.support.processes import ServerProcess, hitkit_json
from tests.support.server import Requester

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
PORT = 8642


@pytest.fixture()
def hosts(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """Two hosts (namespaces) running hitkit on one PostgreSQL schema and one Redis, and the requester."""
    require_root()
    if shutil.which("redis-server") is None:
        if os.environ.get("CI"):
            raise RuntimeError("redis-server is not installed")
        pytest.skip("redis-server is not installed")
    for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL_MTURK", "HITKIT_DATABASE_URL"):
        monkeypatch.delenv(var, raising=False)
    short = Path(tempfile.mkdtemp(prefix="hkr"))  # a Unix socket's path must be short
    redis_proc, redis_url = redis_server(folder=short)
    started: list[Proc] = []
    try:
        with pg_schema_over_socket() as url, Namespaces() as ns:
            init = hitkit_json("server", "init", "--data-dir", str(tmp_path / "h0"), "--no-profile",
                               env={"HITKIT_DATABASE_URL": url})
            creds = init["requester"]
            requester = Requester(creds["requester_id"], creds["aws_access_key_id"], creds["aws_secret_access_key"])
            env = {"HITKIT_DATABASE_URL": url, "HITKIT_REDIS_URL": redis_url,
                   "HITKIT_REDIS_PREFIX": "hitkit-test:" + secrets.token_hex(6)}
            try:
                for k, name in enumerate(ns.names):
                    process = ServerProcess(tmp_path / f"h{k}", port=PORT, env=env, extra=("--host", ns.addresses[k]),
                                            prefix=("ip", "netns", "exec", name))
                    started.append(Proc(process, url))
                yield started, requester
            finally:  # before the namespaces go
                for proc in started:
                    proc.stop()
    finally:
        redis_proc.kill()
        redis_proc.wait(timeout=LIMIT)
        shutil.rmtree(short, ignore_errors=True)


def test_a_conversation_across_two_hosts_and_the_requesters_host_killed(hosts, tmp_path):  # type: ignore[no-untyped-def]
    (h0, h1), requester = hosts
    assert h0.url != h1.url and "127.0.0.1" not in h0.url + h1.url
    run_id = "across-hosts-" + secrets.token_hex(3)

    # The requester's program reaches host 0 through a proxy on 127.0.0.1, as it would through the load balancer's
    # https:// name: the live page's URL goes into ExternalQuestion, which takes http:// for loopback only.
    front = RoundRobinProxy([(urlsplit(h0.url).hostname, PORT)])

    async def scenario() -> None:
        with live_runner(f"http://127.0.0.1:{front.port}", requester, tmp_path, run_id):
            a, b = await pair_in_world(h1, requester, run_id, h0)  # the requester on host 0, the workers on host 1

            # `a` opens the task again through host 0: the window on host 1 is closed, the history follows
            a2 = await SimWorker(h0, a.worker, run_id, a.hit_id, a.assignment_id).connect()
            replaced = await a.wait(lambda f: f["type"] == "error" and f["code"] == "replaced")
            assert "another window" in replaced["message"]
            history = await a2.wait(lambda f: f["type"] == "history")
            assert [m["text"] for m in history["messages"]] == ["hello"]
            await a2.wait_state("in_world")
            await a2.say("from host 0")
            await b.wait_message("from host 0")

            h0.process.stop(signal.SIGKILL)  # the requester's host dies without a word
            gone = await b.wait(lambda f: f["type"] == "requester_gone", limit=VANISHED_LIMIT)
            assert "return the HIT" in gone["message"]
            await b.drop()

    try:
        asyncio.run(scenario())
    finally:
        front.close()
    assert events(h1, run_id, "requester_gone") == 1
