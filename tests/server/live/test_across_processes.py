"""Live tasks across server processes, through Redis (HITKIT_REDIS_URL; Redis at 127.0.0.1:6379, PostgreSQL at
127.0.0.1:5432): two real `hitkit server run` processes on one PostgreSQL database, the requester's runner
connected to one and the workers' websockets to the other (a worker reconnecting from one to the other mid-
conversation, the requester's process killed and restarted against the other process), and one
`--workers 2` server. Each test has its own Redis key prefix. Waits are bounded, never asserted as timings."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import time

import pytest

from hitkit.requester.live import LiveTask
from tests.server.live.processes import VANISHED_LIMIT, Proc, events, live_runner, pair_in_world, redis_server
from tests.server.live.support import LIMIT, SimWorker, finish, join, start_runner, wait_for_hits
from tests.support.processes import ServerProcess, hitkit_json
from tests.support.server import Requester, drop_database, fresh_database_url

pytestmark = pytest.mark.postgres

REDIS_URL = os.environ.get("HITKIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture()
def cluster(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """A PostgreSQL database, its requester, and a function starting server processes on it with Redis."""
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL_MTURK", "HITKIT_DATABASE_URL"):
        monkeypatch.delenv(var, raising=False)
    try:
        url = fresh_database_url(tmp_path, "postgres")
    except Exception as e:  # noqa: BLE001
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL is not available: {e}")
    prefix = "hitkit-test:" + secrets.token_hex(6)
    env = {"HITKIT_DATABASE_URL": url, "HITKIT_REDIS_URL": REDIS_URL, "HITKIT_REDIS_PREFIX": prefix}
    init = hitkit_json("server", "init", "--data-dir", str(tmp_path / "d0"), "--no-profile", env={"HITKIT_DATABASE_URL": url})
    creds = init["requester"]
    requester = Requester(creds["requester_id"], creds["aws_access_key_id"], creds["aws_secret_access_key"])
    started: list[Proc] = []

    def start(*extra: str, redis_url: str = REDIS_URL) -> Proc:
        data_dir = tmp_path / f"d{len(started)}"
        proc = Proc(ServerProcess(data_dir, env={**env, "HITKIT_REDIS_URL": redis_url}, extra=extra), url)
        started.append(proc)
        return proc

    try:
        yield start, requester, env
    finally:
        for proc in started:
            proc.stop()
        drop_database(url)


async def chat(world):  # type: ignore[no-untyped-def]
    a, b = world.humans
    turn = 0
    while True:
        speaker, listener = (a, b) if turn % 2 == 0 else (b, a)
        message = await speaker.act()
        if message.get("event"):
            return {"ended": message["event"], "completed": False}
        await listener.observe(message)
        if message.get("text", "").endswith("[DONE]"):
            return {"turns": turn + 1}
        turn += 1


def _task(name: str) -> LiveTask:
    return LiveTask(name=name, world=chat, humans_per_world=2, waiting_timeout=300, act_timeout=300, grace_seconds=5)


def _texts(worker: SimWorker) -> list[str]:
    return [f["message"]["text"] for f in worker.frames if f["type"] == "message"]


def test_requester_on_one_process_workers_on_another_with_a_reconnect_across(cluster):  # type: ignore[no-untyped-def]
    start, requester, _ = cluster
    a_srv, b_srv = start(), start()

    async def scenario() -> None:
        runner, running = start_runner(a_srv, requester, _task("across"), conversations=1)
        hits = await wait_for_hits(a_srv, requester, runner.run_id, 2)
        a = await join(b_srv, runner.run_id, hits[0])
        await a.wait_state("waiting")  # `a` is the world's first human: it speaks first
        b = await join(b_srv, runner.run_id, hits[1])
        await a.wait_state("in_world")
        await b.wait_state("in_world")
        sent_a, sent_b = [], []
        for i in range(3):
            sent_a.append(f"a{i}")
            await a.say(f"a{i}")
            await b.wait_message(f"a{i}")
            sent_b.append(f"b{i}")
            await b.say(f"b{i}")
            await a.wait_message(f"b{i}")

        # `a` opens the task again, now through the other process, without closing the first window
        a2 = await SimWorker(a_srv, a.worker, runner.run_id, a.hit_id, a.assignment_id).connect()
        replaced = await a.wait(lambda f: f["type"] == "error" and f["code"] == "replaced")
        assert "another window" in replaced["message"]
        history = await a2.wait(lambda f: f["type"] == "history")
        assert [m["text"] for m in history["messages"]] == [x for pair in zip(sent_a, sent_b) for x in pair]
        assert [m["own"] for m in history["messages"]] == [True, False] * 3
        state = await a2.wait_state("in_world")
        assert state["requester_connected"] is True
        for i in range(3, 8):  # a burst from each side: they arrive in order
            sent_a.append(f"a{i}")
            await a2.say(f"a{i}")
            await b.wait_message(f"a{i}")
            sent_b.append(f"b{i}")
            await b.say(f"b{i}")
            await a2.wait_message(f"b{i}")
        await a2.say("bye [DONE]")
        await b.wait_message("bye [DONE]")
        assert _texts(b) == sent_a + ["bye [DONE]"]
        assert [t for t in _texts(a) + _texts(a2)] == sent_b
        await a2.wait_state("done")
        await b.wait_state("done")
        for w in (a2, b):
            assert (await asyncio.to_thread(w.submit)).status_code == 200
        summary = await finish(running)
        assert summary.completed_worlds == 1 and summary.approved == 2
        for _ in range(int(LIMIT / 0.1)):  # the first window was closed by the other process
            if a.closed is not None:
                break
            await asyncio.sleep(0.1)
        assert a.closed == 4000
        for w in (a2, b):
            await w.drop()

    asyncio.run(scenario())


def test_requester_gone_and_back_reach_workers_on_another_process(cluster, tmp_path):  # type: ignore[no-untyped-def]
    start, requester, _ = cluster
    a_srv, b_srv = start(), start()
    run_id = "across-restart-" + secrets.token_hex(3)

    async def scenario() -> None:
        with live_runner(a_srv.url, requester, tmp_path, run_id) as proc:
            a, b = await pair_in_world(b_srv, requester, run_id, a_srv)

            proc.send_signal(signal.SIGKILL)  # the requester's process, connected to the other server process, dies
            proc.wait(timeout=LIMIT)
            for w in (a, b):
                gone = await w.wait(lambda f: f["type"] == "requester_gone")
                assert "return the HIT" in gone["message"]
            mark = len(a.frames)
            await a.say("anyone?")
            refused = await a.wait(lambda f: f["type"] == "error", start=mark)
            assert refused["code"] == "requester_gone"

        with live_runner(b_srv.url, requester, tmp_path, run_id):  # back, through the workers' process this time
            for w in (a, b):
                await w.wait(lambda f: f["type"] == "requester_back")
                state = await w.wait(lambda f: f["type"] == "state" and f.get("outcome") == "interrupted")
                assert state["can_submit"] is True
                assert (await asyncio.to_thread(w.submit)).status_code == 200
            for w in (a, b):
                await w.drop()

    asyncio.run(scenario())


def test_a_killed_server_process_holding_the_requester_is_announced_to_workers_elsewhere(cluster, tmp_path):  # type: ignore[no-untyped-def]
    """SIGKILL the server process the requester's program is connected to: it says nothing, so the workers'
    process must notice (its liveness key lapses) and tell them, within seconds."""
    start, requester, _ = cluster
    a_srv, b_srv = start(), start()
    run_id = "killed-server-" + secrets.token_hex(3)

    async def scenario() -> None:
        with live_runner(a_srv.url, requester, tmp_path, run_id):
            a, b = await pair_in_world(b_srv, requester, run_id, a_srv)
            a_srv.process.stop(signal.SIGKILL)
            for w in (a, b):
                gone = await w.wait(lambda f: f["type"] == "requester_gone", limit=VANISHED_LIMIT)
                assert "return the HIT" in gone["message"]
            mark = len(a.frames)
            await a.say("anyone?")
            refused = await a.wait(lambda f: f["type"] == "error", start=mark)
            assert refused["code"] == "requester_gone"
            for w in (a, b):
                await w.drop()

    asyncio.run(scenario())
    assert events(b_srv, run_id, "requester_gone") == 1  # recorded once, though both workers were told


def test_a_killed_server_process_holding_workers_is_announced_to_the_requester(cluster, tmp_path):  # type: ignore[no-untyped-def]
    """SIGKILL the server process the workers are connected to: the requester's process records (and tells its
    program) `worker_disconnected` for each, once, within seconds."""
    start, requester, _ = cluster
    a_srv, b_srv = start(), start()
    run_id = "killed-workers-" + secrets.token_hex(3)

    async def scenario() -> None:
        with live_runner(a_srv.url, requester, tmp_path, run_id):
            a, b = await pair_in_world(b_srv, requester, run_id, a_srv)
            b_srv.process.stop(signal.SIGKILL)
            deadline = time.monotonic() + VANISHED_LIMIT
            while events(a_srv, run_id, "worker_disconnected") < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            assert events(a_srv, run_id, "worker_disconnected") == 2
            for w in (a, b):
                await w.drop()

    asyncio.run(scenario())


def test_conversations_on_a_two_process_server(cluster):  # type: ignore[no-untyped-def]
    start, requester, _ = cluster
    srv = start("--workers", "2")

    async def scenario() -> None:
        runner, running = start_runner(srv, requester, _task("workers2"), conversations=3)
        hits = await wait_for_hits(srv, requester, runner.run_id, 6)
        pairs: list[tuple[SimWorker, SimWorker]] = []
        for i in range(3):  # the first of each pair waits before the second joins: it speaks first
            first = await join(srv, runner.run_id, hits[2 * i])
            await first.wait_state("waiting")
            second = await join(srv, runner.run_id, hits[2 * i + 1])
            # The next pair joins once this one is in its world: joins that reach different processes at once may
            # reach the requester's process in either order, so pairing them is not decided by join order.
            assert (await first.wait_state("in_world"))["world_id"] == (await second.wait_state("in_world"))["world_id"]
            pairs.append((first, second))
        workers = [w for pair in pairs for w in pair]
        for first, second in pairs:
            speaker, listener = first, second
            for i in range(4):
                await speaker.say(f"m{i}")
                await listener.wait_message(f"m{i}")
                speaker, listener = listener, speaker
            await speaker.say("end [DONE]")
            await listener.wait_message("end [DONE]")
            assert _texts(second) == ["m0", "m2", "end [DONE]"] and _texts(first) == ["m1", "m3"]
        for w in workers:
            await w.wait_state("done")
            assert (await asyncio.to_thread(w.submit)).status_code == 200
        summary = await finish(running)
        assert summary.completed_worlds == 3 and summary.approved == 6
        for w in workers:
            await w.drop()

    asyncio.run(scenario())


def test_a_redis_outage_closes_live_connections_and_the_server_keeps_serving(cluster):  # type: ignore[no-untyped-def]
    import shutil

    from tests.support.processes import free_port

    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    start, requester, _ = cluster
    port = free_port()
    redis_proc, _ = redis_server(port=port)
    try:
        srv = start(redis_url=f"redis://127.0.0.1:{port}/0")

        async def scenario() -> None:
            runner, running = start_runner(srv, requester, _task("outage"), conversations=1)
            try:
                hits = await wait_for_hits(srv, requester, runner.run_id, 2)
                w = await join(srv, runner.run_id, hits[0])
                await w.wait_state("waiting")
                redis_proc.kill()
                redis_proc.wait(timeout=LIMIT)
                error = await w.wait(lambda f: f["type"] == "error")
                assert error["code"] == "relay_unavailable" and "Redis" in error["message"]
                for _ in range(int(LIMIT / 0.1)):
                    if w.closed is not None:
                        break
                    await asyncio.sleep(0.1)
                assert w.closed == 4503
                # the rest of the server serves: the MTurk API, and a clear refusal for a new live connection
                assert (await asyncio.to_thread(srv.http.get, "/api/admin/v1/health")).status_code == 200
                assert (await asyncio.to_thread(lambda: srv.client(requester).get_account_balance()))["AvailableBalance"]
                again = await SimWorker(srv, w.worker, runner.run_id, w.hit_id, w.assignment_id).connect()
                refused = await again.wait(lambda f: f["type"] == "error")
                assert refused["code"] == "relay_unavailable"
                await again.drop()
                # Redis is back: a reconnect works again
                restarted, _ = redis_server(port=port)
                try:
                    for _ in range(int(LIMIT / 0.5)):
                        back = await SimWorker(srv, w.worker, runner.run_id, w.hit_id, w.assignment_id).connect()
                        first = await back.wait(lambda f: f["type"] in ("state", "error"))
                        if first["type"] == "state":
                            break
                        await back.drop()
                        await asyncio.sleep(0.5)
                    assert first["type"] == "state"
                    await back.drop()
                finally:
                    restarted.kill()
                    restarted.wait(timeout=LIMIT)
            finally:
                running.cancel()

        asyncio.run(scenario())
    finally:
        if redis_proc.poll() is None:
            redis_proc.kill()
        redis_proc.wait(timeout=LIMIT)
