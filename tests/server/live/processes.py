"""Helpers for live tests across server processes and hosts: a server process as the live test helpers expect a
server (support.py), the requester's program (`hitkit live run`) in a process of its own, and what a run recorded."""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Iterator

import httpx
import orjson
import redis
from sqlalchemy import select

from hitkit.server.domain import accounts
from hitkit.server.store import db
from hitkit.server.store.tables import live_events
from tests.server.live.support import LIMIT, SimWorker, join, wait_for_hits
from tests.support.processes import ServerProcess
from tests.support.server import Requester, Worker


class Proc:
    """A `hitkit server run` process, with the helpers tests/server/live/support.py expects of a server."""

    def __init__(self, process: ServerProcess, database_url: str) -> None:
        self.process, self.url, self.database_url = process, process.url, database_url
        self.http = httpx.Client(base_url=self.url, timeout=30)

    def new_worker(self) -> Worker:
        engine = db.make_engine(self.database_url)
        try:
            with engine.begin() as conn:
                wid, token = accounts.create_worker(conn, "w-" + secrets.token_hex(4), time.time())
        finally:
            engine.dispose()
        return Worker(wid, token)

    def client(self, requester: Requester):  # type: ignore[no-untyped-def]
        import boto3
        from botocore.config import Config

        return boto3.client("mturk", endpoint_url=self.url, region_name="us-east-1", aws_access_key_id=requester.access_key,
                            aws_secret_access_key=requester.secret,
                            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))

    def accept(self, worker: Worker, hit_id: str) -> str:
        r = self.http.post(f"/api/worker/v1/hits/{hit_id}/accept", headers={"Authorization": f"Bearer {worker.token}"})
        assert r.status_code == 200, r.text
        return r.json()["AssignmentId"]

    def submit(self, worker: Worker, assignment_id: str, answers: dict) -> httpx.Response:
        return self.http.post(f"/api/worker/v1/assignments/{assignment_id}/submit", json={"answers": answers},
                              headers={"Authorization": f"Bearer {worker.token}"})

    def stop(self) -> None:
        self.http.close()
        self.process.stop()


TASK = textwrap.dedent('''
    from hitkit.requester.live import LiveTask

    async def chat(world):
        a, b = world.humans
        while True:
            message = await a.act()
            if message.get("event"):
                return {"ended": message["event"], "completed": False}
            await b.observe(message)

    task = LiveTask(name="moving", world=chat, humans_per_world=2, waiting_timeout=300, act_timeout=300,
                    grace_seconds=300)
''')


def live_run(url: str, requester: Requester, task_file: Path, run_id: str) -> subprocess.Popen:
    """`hitkit live run` for one conversation; what it prints goes to `task_file` + ".log" (read it when it fails)."""
    env = {**os.environ, "AWS_ACCESS_KEY_ID": requester.access_key, "AWS_SECRET_ACCESS_KEY": requester.secret,
           "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_DEFAULT_REGION": "us-east-1"}
    with open(f"{task_file}.log", "a") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "hitkit.cli.main", "live", "run", str(task_file), "--endpoint-url", url,
             "--conversations", "1", "--reward", "0.40", "--run", run_id, "--settle-timeout", "5"],
            env=env, stdout=subprocess.DEVNULL, stderr=log, text=True)


@contextlib.contextmanager
def live_runner(url: str, requester: Requester, folder: Path, run_id: str) -> Iterator[subprocess.Popen]:
    """`live_run` of TASK (written to `folder`/task.py), killed afterwards if it is still running."""
    task_file = folder / "task.py"
    task_file.write_text(TASK)
    proc = live_run(url, requester, task_file, run_id)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=LIMIT)


def redis_server(*, port: int | None = None, folder: Path | None = None) -> tuple[subprocess.Popen, str]:
    """A Redis of the test's own, without persistence: on 127.0.0.1:`port`, or only on a Unix socket in `folder`
    (whose path must be short); the process and its URL once it answers."""
    if folder is not None:
        where = ["--port", "0", "--unixsocket", str(folder / "redis.sock"), "--unixsocketperm", "700"]
        url = f"unix://{folder / 'redis.sock'}"
    else:
        where, url = ["--port", str(port), "--bind", "127.0.0.1"], f"redis://127.0.0.1:{port}/0"
    proc = subprocess.Popen(["redis-server", *where, "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + LIMIT
    while time.monotonic() < deadline:
        with contextlib.suppress(redis.RedisError, OSError):
            if redis.Redis.from_url(url, socket_connect_timeout=1).ping():
                return proc, url
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("redis-server did not start")


VANISHED_LIMIT = 20.0  # s: well inside the directory entries' 30 s TTL, which alone would never announce it


async def pair_in_world(srv: Proc, requester: Requester, run_id: str, runner_srv: Proc) -> tuple[SimWorker, SimWorker]:
    """Two workers through `srv` join the run's first two HITs (listed through `runner_srv`) and exchange a message."""
    hits = await wait_for_hits(runner_srv, requester, run_id, 2)
    a = await join(srv, run_id, hits[0])
    await a.wait_state("waiting")
    b = await join(srv, run_id, hits[1])
    await a.wait_state("in_world")
    await b.wait_state("in_world")
    await a.say("hello")
    await b.wait_message("hello")
    return a, b


def events(srv: Proc, run_id: str, event: str) -> int:
    """How many `event` events the run recorded."""
    engine = db.make_engine(srv.database_url)
    try:
        with engine.connect() as conn:
            bodies = conn.execute(select(live_events.c.body).where(live_events.c.run_id == run_id,
                                                                   live_events.c.kind == "event")).scalars().all()
    finally:
        engine.dispose()
    return sum(1 for body in bodies if orjson.loads(body).get("event") == event)
