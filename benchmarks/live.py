"""Live relay benchmark: N concurrent simulated chat pairs relayed through a hitkit server.

For each N (default 50, 200, 500) the script:

1. creates one ExternalQuestion HIT with MaxAssignments 2N pointing at `/live/bench-N` (boto3), and 2N workers
   who accept it through the worker API (set-up, not measured);
2. starts the requester's process (a child process): a SigV4-signed websocket to `/live/v1/requester/bench-N`
   that pairs the workers two by two (a `state` frame putting both in a world) and relays every `worker_message`
   to the partner with a `send` frame, as a LiveRunner world does;
3. opens 2N worker websockets (bearer tokens) from this process, waits until every pair is in its world, then each
   pair exchanges `--messages` messages, alternating sender, paced at `--rate` messages per second per pair (a
   random phase per pair), in open loop;
4. measures, per message, the time from the sender's `send` to the partner receiving it (both in this process,
   one monotonic clock): worker -> server (stored) -> requester process -> server (stored) -> partner.

Every message is stored twice on the server (the worker's message and its delivery to the partner), each before
it is forwarded. Everything is on 127.0.0.1; each N is bounded by its message count and `--seconds`.

    .venv/bin/python benchmarks/live.py                 # N = 50, 200, 500; 10 messages per pair at 1/s
    .venv/bin/python benchmarks/live.py --pairs 50 --messages 5 --seconds 60
    .venv/bin/python benchmarks/live.py --workers 2   # 2 server processes on PostgreSQL, relaying through Redis

With `--workers N` (N > 1) the server is `hitkit server run --workers N` on a fresh schema of `--postgres` with
`HITKIT_REDIS_URL=--redis` (a key prefix of its own): the worker and requester websockets land on whichever process
accepts them, so most frames cross processes through Redis. Server CPU is then the sum over its processes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import boto3
import httpx
import orjson
import websockets
from botocore.config import Config

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from hitkit.requester.live.connection import signed_headers  # noqa: E402


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """cpu_seconds of a process and its children (the server processes of `--workers N`)."""
    total = cpu_seconds(pid)
    path = Path(f"/proc/{pid}/task/{pid}/children")
    for child in (int(c) for c in path.read_text().split()) if path.exists() else ():
        try:
            total += cpu_seconds(child)
        except OSError:
            pass
    return total


def hitkit_cli(*args: str, env: dict) -> str:
    proc = subprocess.run([sys.executable, "-m", "hitkit.cli.main", *args], capture_output=True, text=True, env=env,
                          timeout=180)
    if proc.returncode != 0:
        raise RuntimeError(f"hitkit {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


class Server:
    """`hitkit server run --port 0` in a child process."""

    def __init__(self, data_dir: Path, env: dict, workers: int = 1) -> None:
        self.log = open(data_dir / "server.log", "w")
        extra = ["--workers", str(workers)] if workers > 1 else []
        self.proc = subprocess.Popen([sys.executable, "-m", "hitkit.cli.main", "server", "run", "--data-dir",
                                      str(data_dir), "--port", "0", *extra], stdout=subprocess.PIPE, stderr=self.log,
                                     text=True, env=env)
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        if not m:
            self.stop()
            raise RuntimeError(f"server did not start: {line!r}")
        self.url = m.group(1)
        for _ in range(600):
            try:
                if httpx.get(self.url + "/api/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


def make_workers(data_dir: Path, count: int) -> list[tuple[str, str]]:
    """(WorkerId, token) pairs, written to the database as `hitkit server worker create` does."""
    from hitkit.server.config import load_config
    from hitkit.server.domain import accounts
    from hitkit.server.store.db import make_engine

    engine = make_engine(load_config(data_dir).database_url)
    out = []
    with engine.begin() as conn:
        for i in range(count):
            out.append(accounts.create_worker(conn, f"bench-{i}", time.time()))
    engine.dispose()
    return out


def accept_all(url: str, hit_id: str, workers: list[tuple[str, str]]) -> list[str]:
    def accept(w: tuple[str, str]) -> str:
        with httpx.Client(base_url=url, timeout=60) as http:
            r = http.post(f"/api/worker/v1/hits/{hit_id}/accept", headers={"Authorization": f"Bearer {w[1]}"})
            r.raise_for_status()
            return r.json()["AssignmentId"]

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(accept, workers))


# ---------------------------------------------------------------- the requester's process (a child process)


def requester_main(url: str, key: str, secret: str, run_id: str, pairs: list[tuple[str, str]], ready, stop) -> None:  # type: ignore[no-untyped-def]
    asyncio.run(_requester(url, key, secret, run_id, pairs, ready, stop))


async def _requester(url, key, secret, run_id, pairs, ready, stop) -> None:  # type: ignore[no-untyped-def]
    partner = {}
    for a, b in pairs:
        partner[a], partner[b] = b, a
    joined: set[str] = set()
    http_url = f"{url}/live/v1/requester/{run_id}"
    creds = SimpleNamespace(access_key=key, secret_key=secret, token=None)
    async with websockets.connect(http_url.replace("http://", "ws://"), additional_headers=signed_headers(http_url, creds),
                                  max_size=2**24, max_queue=None, ping_interval=None) as ws:
        await ws.send(orjson.dumps({"type": "hello", "name": run_id, "config": {"heartbeat_timeout": 600}}).decode())
        while True:  # workers connect once the run is open (else their `worker_joined` would find no requester)
            frame = orjson.loads(await ws.recv())
            if frame["type"] == "welcome":
                joined.update(a["assignment_id"] for a in frame["agents"])
                break
        ready.set()

        async def stopper() -> None:
            while not stop.is_set():
                await asyncio.sleep(0.2)
            await ws.close()

        asyncio.create_task(stopper())
        try:
            async for raw in ws:
                frame = orjson.loads(raw)
                kind = frame["type"]
                if kind == "worker_message":
                    other = partner.get(frame["assignment_id"])
                    if other:
                        await ws.send(orjson.dumps({"type": "send", "assignment_id": other,
                                                    "message": {"id": "partner", **frame["message"]}}).decode())
                elif kind == "worker_joined":
                    aid = frame["assignment_id"]
                    joined.add(aid)
                    other = partner.get(aid)
                    if other in joined:
                        world = f"w-{min(aid, other)}"
                        for x in (aid, other):
                            await ws.send(orjson.dumps({"type": "state", "assignment_id": x, "status": "in_world",
                                                        "world_id": world}).decode())
        except websockets.ConnectionClosed:
            pass


# ---------------------------------------------------------------- the workers (this process)


async def run_pairs(url: str, run_id: str, pairs: list[tuple[str, str]], tokens: dict[str, tuple[str, str]],
                    messages: int, rate: float, seconds: float, server_pid: int) -> dict:
    base = url.replace("http://", "ws://")
    latencies: list[float] = []
    in_world: dict[str, asyncio.Event] = {}
    received = {"n": 0}
    errors = {"n": 0}
    conns = {}
    seen_errors: list = []
    closed: list = []

    async def open_one(aid: str) -> None:
        worker_id, token = tokens[aid]
        ws = await websockets.connect(f"{base}/live/v1/worker/{run_id}?assignmentId={aid}&workerId={worker_id}",
                                      additional_headers={"Authorization": f"Bearer {token}"}, max_queue=None,
                                      ping_interval=None, open_timeout=120)
        conns[aid] = ws
        in_world[aid] = asyncio.Event()

        async def reader() -> None:
            try:
                async for raw in ws:
                    frame = orjson.loads(raw)
                    if frame["type"] == "message":
                        latencies.append(time.monotonic() - float(frame["message"]["text"].split()[1]))
                        received["n"] += 1
                    elif frame["type"] == "state" and frame.get("status") == "in_world":
                        in_world[aid].set()
                    elif frame["type"] == "error":
                        errors["n"] += 1
                        seen_errors.append(frame.get("code"))
            except websockets.ConnectionClosed:
                pass
            closed.append(ws.close_code)

        asyncio.create_task(reader())

    sem = asyncio.Semaphore(50)

    async def guarded(aid: str) -> None:
        async with sem:
            await open_one(aid)

    t0 = time.monotonic()
    await asyncio.gather(*(guarded(a) for pair in pairs for a in pair))
    try:
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in in_world.values())), seconds)
    except asyncio.TimeoutError:
        paired = sum(e.is_set() for e in in_world.values())
        raise RuntimeError(f"only {paired} of {len(in_world)} workers were paired within {seconds:g} s; error frames "
                           f"{sorted(set(seen_errors))}, {len(closed)} connections closed ({sorted(set(closed), key=str)})")
    log(f"  {len(conns)} workers connected and paired in {time.monotonic() - t0:.1f} s")

    total = messages * len(pairs)
    cpu_before = tree_cpu_seconds(server_pid)
    start = time.monotonic()
    deadline = start + seconds

    async def pair_loop(a: str, b: str) -> None:
        await asyncio.sleep(random.random() / rate)
        for k in range(messages):
            if time.monotonic() > deadline:
                return
            sender = conns[a if k % 2 == 0 else b]
            await sender.send(orjson.dumps({"type": "message", "text": f"m {time.monotonic():.6f} {k}"}).decode())
            await asyncio.sleep(1 / rate)

    await asyncio.gather(*(pair_loop(a, b) for a, b in pairs))
    while received["n"] < total and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    elapsed = time.monotonic() - start
    server_cpu = tree_cpu_seconds(server_pid) - cpu_before
    for ws in conns.values():
        await ws.close()
    lat = sorted(latencies)
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")  # noqa: E731
    return {"pairs": len(pairs), "sent": total, "received": received["n"], "errors": errors["n"],
            "seconds": elapsed, "msgs_per_s": received["n"] / elapsed if elapsed else 0.0,
            "p50_ms": q(0.50), "p99_ms": q(0.99), "max_ms": lat[-1] * 1000 if lat else float("nan"),
            "mean_ms": statistics.fmean(lat) * 1000 if lat else float("nan"),
            "server_cpu_us_per_msg": server_cpu / max(1, received["n"]) * 1e6,
            "server_cpu_share": server_cpu / elapsed if elapsed else 0.0}


def bench(url: str, server_pid: int, data_dir: Path, creds: dict, n: int, args: argparse.Namespace) -> dict:
    run_id = f"bench-{n}-{int(time.time())}"
    client = boto3.client("mturk", endpoint_url=url, region_name="us-east-1",
                          aws_access_key_id=creds["aws_access_key_id"], aws_secret_access_key=creds["aws_secret_access_key"],
                          config=Config(retries={"total_max_attempts": 1}))
    question = ('<ExternalQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/'
                f'ExternalQuestion.xsd"><ExternalURL>{url}/live/{run_id}</ExternalURL><FrameHeight>600</FrameHeight>'
                '</ExternalQuestion>')
    hit_id = client.create_hit(Title="live bench", Description="live bench", Reward="0.01", MaxAssignments=2 * n,
                               LifetimeInSeconds=3600, AssignmentDurationInSeconds=3600, Question=question)["HIT"]["HITId"]
    workers = make_workers(data_dir, 2 * n)
    t0 = time.monotonic()
    aids = accept_all(url, hit_id, workers)
    log(f"N={n}: {2 * n} assignments accepted in {time.monotonic() - t0:.1f} s")
    tokens = dict(zip(aids, workers))
    pairs = [(aids[i], aids[i + 1]) for i in range(0, len(aids), 2)]
    ctx = multiprocessing.get_context("fork")
    ready, stop = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=requester_main, args=(url, creds["aws_access_key_id"], creds["aws_secret_access_key"],
                                                     run_id, pairs, ready, stop), daemon=True)
    proc.start()
    if not ready.wait(60):
        raise RuntimeError("the requester process did not connect")
    try:
        return asyncio.run(run_pairs(url, run_id, pairs, tokens, args.messages, args.rate, args.seconds, server_pid))
    finally:
        stop.set()
        proc.join(15)
        if proc.is_alive():
            proc.kill()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pairs", default="50,200,500", help="comma-separated pair counts")
    p.add_argument("--messages", type=int, default=10, help="messages per pair (alternating sender)")
    p.add_argument("--rate", type=float, default=1.0, help="messages per second per pair")
    p.add_argument("--seconds", type=float, default=120.0, help="time cap per pair count (pairing and sending)")
    p.add_argument("--json-out", help="write the results as JSON here")
    p.add_argument("--workers", type=int, default=1,
                   help="server processes (`hitkit server run --workers N`); N > 1 runs on PostgreSQL with Redis")
    p.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test",
                   help="PostgreSQL for --workers N > 1 (a fresh schema is made in it and dropped after)")
    p.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="Redis for --workers N > 1 (HITKIT_REDIS_URL)")
    args = p.parse_args(argv)
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    env.pop("HITKIT_DATABASE_URL", None)
    env.pop("HITKIT_REDIS_URL", None)
    schema = None
    if args.workers > 1:
        from sqlalchemy import create_engine, text

        schema = f"live_bench_{os.getpid()}_{int(time.time())}"
        with create_engine(args.postgres).begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        env["HITKIT_DATABASE_URL"] = f"{args.postgres}?options=-csearch_path%3D{schema}"
        os.environ["HITKIT_DATABASE_URL"] = env["HITKIT_DATABASE_URL"]  # make_workers writes there too
        env["HITKIT_REDIS_URL"] = args.redis
        env["HITKIT_REDIS_PREFIX"] = f"hitkit-live-bench:{schema}"
        log(f"{args.workers} server processes on PostgreSQL (schema {schema}), relaying through Redis at {args.redis}")
    results = []
    try:
        run_all(args, env, results)
    finally:
        if schema is not None:
            from sqlalchemy import create_engine, text

            with create_engine(args.postgres).begin() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    print(f"{'pairs':>6} {'messages':>9} {'received':>9} {'msgs/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
          f"{'errors':>7} {'server CPU us/msg':>18} {'server CPU %':>13}")
    for r in results:
        print(f"{r['pairs']:>6} {r['sent']:>9} {r['received']:>9} {r['msgs_per_s']:>8.0f} {r['p50_ms']:>8.1f} "
              f"{r['p99_ms']:>8.1f} {r['max_ms']:>8.1f} {r['errors']:>7} {r['server_cpu_us_per_msg']:>18.0f} "
              f"{100 * r['server_cpu_share']:>12.0f}%")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=2))
    return 0 if all(r["received"] == r["sent"] for r in results) else 1


def run_all(args: argparse.Namespace, env: dict, results: list[dict]) -> None:
    with tempfile.TemporaryDirectory(prefix="hitkit-live-bench-") as tmp:
        data_dir = Path(tmp)
        init = json.loads(hitkit_cli("server", "init", "--data-dir", tmp, "--no-profile", "--json", env=env))
        hitkit_cli("server", "funds", "add", "default", "1000000", "--data-dir", tmp, env=env)
        server = Server(data_dir, env, args.workers)
        try:
            for n in [int(x) for x in args.pairs.split(",")]:
                results.append(bench(server.url, server.proc.pid, data_dir, init["requester"], n, args))
                r = results[-1]
                log(f"N={n}: {r['received']}/{r['sent']} messages, {r['msgs_per_s']:.0f}/s, p99 {r['p99_ms']:.1f} ms")
        except BaseException:
            lines = (data_dir / "server.log").read_text(errors="replace").splitlines()
            log("the server's log, last lines:\n" + "\n".join(lines[-40:]))
            raise
        finally:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
