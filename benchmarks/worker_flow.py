#!/usr/bin/env python
"""The worker's cycle (accept, load, submit) under 16 concurrent workers: hitkit against Turkle, in one run.

hitkit: a fresh data directory, `hitkit server run --port 0` in a child process, HITs made through boto3
(HTMLQuestion with one text field, MaxAssignments 1), 16 workers (admin API), and 16 simulated workers, each
working through its own slice of the HIT ids: `POST /api/worker/v1/hits/{HITId}/accept`,
`GET /api/worker/v1/assignments/{AssignmentId}`, `POST .../submit` with one answer.

Turkle (the closest peer, see reference/performance.md): its own venv (pip install turkle gunicorn, cached in
/tmp/hitkit-bench-turkle-venv), a throw-away Django site with `turkle` in INSTALLED_APPS, SQLite, migrate, a
superuser and 16 worker accounts, a batch uploaded through its REST API (`/api/batches/` with `csv_text`) with the
same one-field template, `gunicorn <site>.wsgi` with 1 worker process, and 16 logged-in simulated workers doing
Turkle's cycle: accept next task, task page, task iframe, submit the form with its CSRF token.

Both sides are measured over a window of the same length, one after the other, each by a forked load-generator
process: for hitkit one asyncio loop with a minimal keep-alive HTTP/1.1 client (one connection per simulated
worker; `--client httpx` for a thread and an httpx.Client each), for Turkle a thread and an httpx.Client (own
cookie jar) per worker. Reported per system: assignments/s, full-cycle latency p50/p99, failed requests, the
server's CPU per assignment (utime + stime from /proc/PID/stat; for Turkle gunicorn's master and workers), and the
load generator's CPU per assignment. Only 127.0.0.1; every loop is bounded by the window and the run ends by itself.

    python benchmarks/worker_flow.py --quick      # 8 s windows: ~1 minute, a little more when Turkle's venv is new
    python benchmarks/worker_flow.py              # 20 s windows: ~2.5 minutes
    python benchmarks/worker_flow.py --no-turkle --seconds 30 --hits 40000 --py-spy /tmp/flow.svg

See benchmarks/README.md ("worker_flow.py").
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import multiprocessing as mp
import os
import queue
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from api import ChildServer, _no_proxy_env, _require_loopback, cpu_seconds, hitkit_cli, server_log_errors  # noqa: I001

TURKLE_VENV = Path(os.environ.get("HITKIT_BENCH_TURKLE_VENV", "/tmp/hitkit-bench-turkle-venv"))
WORKERS = 16
ANSWER = "benchmark answer"
T0 = time.monotonic()


def log(message: str) -> None:
    print(f"{time.monotonic() - T0:6.1f}s {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the task: one text field, the same on both sides


def hit_html(i: int) -> str:
    return f"<p>Item {i}: type anything.</p>\n<input name=\"answer\" type=\"text\"/>"


def html_question(i: int) -> str:
    return f"""<HTMLQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2011-11-11/HTMLQuestion.xsd">
<HTMLContent><![CDATA[<!DOCTYPE html><html><head><meta charset="utf-8"/></head><body>
<form name="mturk_form" method="post" id="mturk_form" action="https://www.mturk.com/mturk/externalSubmit">
<input type="hidden" name="assignmentId" id="assignmentId" value=""/>
{hit_html(i)}
<input type="submit"/></form></body></html>]]></HTMLContent><FrameHeight>450</FrameHeight></HTMLQuestion>"""


TURKLE_TEMPLATE = '<p>${text}: type anything.</p>\n<input name="answer" type="text"/>'


def turkle_csv(n: int) -> str:
    return "text\r\n" + "".join(f"Item {i}\r\n" for i in range(n))


# ---------------------------------------------------------------- measurements


@dataclass
class Side:
    system: str
    completed: int = 0
    wall: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds, full cycle, completed assignments only
    requests: int = 0
    failed: Counter = field(default_factory=Counter)
    server_cpu: float = math.nan  # seconds during the window
    client_cpu: float = math.nan
    ran_out: int = 0  # simulated workers that ran out of work before the window ended
    notes: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.completed / self.wall if self.wall > 0 else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return math.nan
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, max(0, math.ceil(q * len(xs)) - 1))] * 1000

    @property
    def failed_total(self) -> int:
        return sum(self.failed.values())

    def per_assignment_ms(self, seconds: float) -> float:
        return seconds / self.completed * 1000 if self.completed else math.nan


def _proc_children(pid: int) -> list[int]:
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def tree_cpu(pid: int) -> dict[int, float]:
    """CPU seconds of a process and its children (gunicorn's master and workers), by pid."""
    out = {}
    for p in [pid, *_proc_children(pid)]:
        try:
            out[p] = cpu_seconds(p)
        except OSError:
            pass
    return out


def tree_delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(t - before.get(p, 0.0) for p, t in after.items())


def _short(text: str) -> str:
    return re.sub(r"\d{3,}", "N", text)[:160]


# ---------------------------------------------------------------- the load generator (a forked child process)


def _hitkit_worker(url: str, token: str, hit_ids: list[str], go: threading.Event, ready: threading.Barrier,
                   box: dict, out: list) -> None:
    import httpx

    auth = {"Authorization": f"Bearer {token}"}
    submit_body = json.dumps({"answers": {"answer": ANSWER}}).encode()
    submit_headers = {**auth, "Content-Type": "application/json"}
    lat: list[float] = []
    failed: Counter = Counter()
    requests = done = 0
    ran_out = False
    with httpx.Client(base_url=url, timeout=60, trust_env=False) as c:
        c.get("/")  # connect before the window
        ready.wait()
        go.wait()
        deadline = box["deadline"]
        it = iter(hit_ids)
        while True:
            if time.monotonic() >= deadline:
                break
            hit_id = next(it, None)
            if hit_id is None:
                ran_out = True
                break
            t = time.perf_counter()
            try:
                requests += 1
                r = c.post(f"/api/worker/v1/hits/{hit_id}/accept", headers=auth)
                if r.status_code != 200:
                    failed[f"accept {r.status_code} {_short(r.text)}"] += 1
                    continue
                aid = r.json()["AssignmentId"]
                requests += 1
                r = c.get(f"/api/worker/v1/assignments/{aid}", headers=auth)
                if r.status_code != 200:
                    failed[f"get {r.status_code} {_short(r.text)}"] += 1
                    continue
                requests += 1
                r = c.post(f"/api/worker/v1/assignments/{aid}/submit", content=submit_body, headers=submit_headers)
                if r.status_code != 200:
                    failed[f"submit {r.status_code} {_short(r.text)}"] += 1
                    continue
            except Exception as e:  # noqa: BLE001 - a failed request
                failed[f"{type(e).__name__}: {_short(str(e))}"] += 1
                continue
            lat.append(time.perf_counter() - t)
            done += 1
        end = time.monotonic()
    out.append((done, lat, failed, requests, end, ran_out))


class _RawConnection:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams, for hitkit's JSON API only (every answer has a
    Content-Length). About a tenth of httpx's CPU per request, so on a 2-core machine the load generator leaves the
    server more of the CPU (client CPU per assignment is in the table)."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port = host, port
        self.head = f"Host: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
        self.reader = self.writer = None

    async def connect(self) -> None:
        import asyncio
        import socket

        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        extra = "Content-Type: application/json\r\n" if body else ""
        self.writer.write(f"{method} {path} HTTP/1.1\r\n{self.head}{extra}Content-Length: {len(body)}\r\n\r\n".encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
        if not m:
            raise RuntimeError(f"answer without Content-Length: {head[:200]!r}")
        data = await self.reader.readexactly(int(m.group(1)))
        if re.search(rb"(?i)\r\nconnection:\s*close", head):
            self.writer.close()
            await self.connect()
        return status, data

    def close(self) -> None:
        if self.writer:
            self.writer.close()


def _hitkit_raw_main(url: str, jobs: list, seconds: float, ready_q, start_ev, result_q) -> None:
    """hitkit's load generator with the raw client: one asyncio loop, one coroutine and connection per worker."""
    import asyncio
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    submit_body = json.dumps({"answers": {"answer": ANSWER}}).encode()

    async def worker(conn: _RawConnection, hit_ids: list[str], go: asyncio.Event, box: dict, out: list) -> None:
        lat: list[float] = []
        failed: Counter = Counter()
        requests = done = 0
        ran_out = False
        await go.wait()
        deadline = box["deadline"]
        for hit_id in hit_ids:
            if time.monotonic() >= deadline:
                break
            t = time.perf_counter()
            try:
                requests += 1
                status, data = await conn.request("POST", f"/api/worker/v1/hits/{hit_id}/accept")
                if status != 200:
                    failed[f"accept {status} {_short(data.decode('utf-8', 'replace'))}"] += 1
                    continue
                aid = json.loads(data)["AssignmentId"]
                requests += 1
                status, data = await conn.request("GET", f"/api/worker/v1/assignments/{aid}")
                if status != 200:
                    failed[f"get {status} {_short(data.decode('utf-8', 'replace'))}"] += 1
                    continue
                requests += 1
                status, data = await conn.request("POST", f"/api/worker/v1/assignments/{aid}/submit", submit_body)
                if status != 200:
                    failed[f"submit {status} {_short(data.decode('utf-8', 'replace'))}"] += 1
                    continue
            except Exception as e:  # noqa: BLE001 - a failed request; start over on a new connection
                failed[f"{type(e).__name__}: {_short(str(e))}"] += 1
                conn.close()
                try:
                    await conn.connect()
                except OSError:
                    break
                continue
            lat.append(time.perf_counter() - t)
            done += 1
        else:
            ran_out = time.monotonic() < deadline
        out.append((done, lat, failed, requests, time.monotonic(), ran_out))

    async def main() -> None:
        conns = []
        try:
            for _ in jobs:
                c = _RawConnection(parts.hostname, parts.port, "")
                await c.connect()
                conns.append(c)
        except BaseException as e:  # noqa: BLE001
            ready_q.put(f"{type(e).__name__}: {e}")
            return
        for c, (token, _) in zip(conns, jobs):
            c.head = f"Host: {parts.hostname}:{parts.port}\r\nAuthorization: Bearer {token}\r\n"
        go, box, out = asyncio.Event(), {}, []
        tasks = [asyncio.create_task(worker(c, ids, go, box, out)) for c, (_, ids) in zip(conns, jobs)]
        ready_q.put(None)
        loop = asyncio.get_running_loop()
        if not await loop.run_in_executor(None, start_ev.wait, 600):
            return
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        start = time.monotonic()
        box["deadline"] = start + seconds
        go.set()
        await asyncio.wait(tasks, timeout=seconds + 300)
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        for c in conns:
            c.close()
        result_q.put((out, start, (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)))

    asyncio.run(main())


_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_ASSIGNMENT_URL = re.compile(r"^/task/(\d+)/assignment/(\d+)/$")


def _django_messages(cookie: str | None) -> str:
    """The text of Django's signed `messages` cookie (not verified: we only want to know why we were sent away)."""
    if not cookie:
        return ""
    try:
        value = cookie.strip('"').rsplit(":", 1)[0]
        compressed = value.startswith(".")
        raw = base64.urlsafe_b64decode(value.lstrip(".") + "=" * (-len(value.lstrip(".")) % 4))
        return (zlib.decompress(raw) if compressed else raw).decode("utf-8", "replace")
    except Exception:  # noqa: BLE001
        return cookie[:80]


def _turkle_worker(url: str, user: dict, batch_id: int, go: threading.Event, ready: threading.Barrier,
                   box: dict, out: list) -> None:
    import httpx

    lat: list[float] = []
    failed: Counter = Counter()
    requests = done = 0
    ran_out = False
    end = time.monotonic()
    with httpx.Client(base_url=url, timeout=60, trust_env=False, follow_redirects=False) as c:
        try:
            r = c.get("/login/")
            token = _CSRF.search(r.text).group(1)
            r = c.post("/login/", data={"username": user["username"], "password": user["password"],
                                        "csrfmiddlewaretoken": token, "next": "/"})
            if r.status_code != 302:
                raise RuntimeError(f"login answered {r.status_code}")
        except Exception as e:  # noqa: BLE001
            failed[f"login failed: {type(e).__name__}: {_short(str(e))}"] += 1
            ready.wait()
            out.append((0, [], failed, 1, end, False))
            return
        ready.wait()
        go.wait()
        deadline = box["deadline"]
        while time.monotonic() < deadline:
            t = time.perf_counter()
            try:
                requests += 1
                r = c.get(f"/batch/{batch_id}/accept_next_task/")
                m = _ASSIGNMENT_URL.match(r.headers.get("location", "")) if r.status_code == 302 else None
                if not m:
                    why = _django_messages(r.cookies.get("messages"))
                    c.cookies.delete("messages")  # a browser would show the index page, which consumes the message
                    if "No more Tasks" in why:
                        ran_out = True
                        break
                    m2 = re.search(r"(database is busy[^\"\\]*|Cannot find[^\"\\]*)", why)
                    failed[f"accept {r.status_code} -> {r.headers.get('location', '')} {m2.group(1) if m2 else _short(why)}"] += 1
                    continue
                page = m.group(0)
                task_id, assignment_id = m.group(1), m.group(2)
                requests += 1
                r = c.get(page)
                if r.status_code != 200:
                    failed[f"task page {r.status_code}"] += 1
                    continue
                requests += 1
                r = c.get(f"/task/{task_id}/assignment/iframe/{assignment_id}/")
                token = _CSRF.search(r.text) if r.status_code == 200 else None
                if token is None:
                    failed[f"iframe {r.status_code}"] += 1
                    continue
                requests += 1
                r = c.post(page, data={"csrfmiddlewaretoken": token.group(1), "answer": ANSWER})
                if r.status_code != 302 or "accept_next_task" not in r.headers.get("location", ""):
                    failed[f"submit {r.status_code} -> {r.headers.get('location', '')}"] += 1
                    continue
            except Exception as e:  # noqa: BLE001
                failed[f"{type(e).__name__}: {_short(str(e))}"] += 1
                continue
            lat.append(time.perf_counter() - t)
            done += 1
        end = time.monotonic()
    out.append((done, lat, failed, requests, end, ran_out))


def _load_main(kind: str, url: str, jobs: list, extra: dict, seconds: float, ready_q, start_ev, result_q) -> None:
    """The load generator: one thread per simulated worker; reports (results, start, client CPU seconds)."""
    try:
        go = threading.Event()
        ready = threading.Barrier(len(jobs) + 1)
        box: dict = {}
        out: list = []
        target = _hitkit_worker if kind == "hitkit" else _turkle_worker
        threads = []
        for job in jobs:
            args = (url, *job, go, ready, box, out) if kind == "hitkit" else (url, job, extra["batch_id"], go, ready, box, out)
            threads.append(threading.Thread(target=target, args=args, daemon=True))
        for t in threads:
            t.start()
        ready.wait(timeout=300)
        ready_q.put(None)
    except BaseException as e:  # noqa: BLE001
        ready_q.put(f"{type(e).__name__}: {e}")
        return
    if not start_ev.wait(600):
        return
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    start = time.monotonic()
    box["deadline"] = start + seconds
    go.set()
    for t in threads:
        t.join(seconds + 300)
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    result_q.put((out, start, cpu))


def run_window(side: Side, kind: str, url: str, jobs: list, seconds: float, server_cpu, extra: dict | None = None) -> None:
    """Fork the load generator, wait until every simulated worker is connected (and logged in), read the server's
    CPU, start the window, collect."""
    ctx = mp.get_context("fork")
    ready_q, result_q, start_ev = ctx.Queue(), ctx.Queue(), ctx.Event()
    if kind == "hitkit-raw":
        child = ctx.Process(target=_hitkit_raw_main, args=(url, jobs, seconds, ready_q, start_ev, result_q), daemon=True)
    else:
        child = ctx.Process(target=_load_main, args=(kind, url, jobs, extra or {}, seconds, ready_q, start_ev, result_q),
                            daemon=True)
    child.start()
    try:
        err = ready_q.get(timeout=360)
        if err:
            raise RuntimeError(f"load generator failed to start: {err}")
        before = server_cpu()
        start_ev.set()
        try:
            out, start, client_cpu = result_q.get(timeout=seconds + 420)
        except queue.Empty:
            raise RuntimeError("the load generator did not report back") from None
        after = server_cpu()
    finally:
        child.join(timeout=30)
        if child.is_alive():
            child.kill()
            child.join()
    side.server_cpu = after - before if isinstance(after, float) else tree_delta(before, after)
    side.client_cpu = client_cpu
    end = max((o[4] for o in out), default=start)
    side.wall = end - start
    for done, lat, failed, requests, _, ran_out in out:
        side.completed += done
        side.latencies += lat
        side.failed.update(failed)
        side.requests += requests
        side.ran_out += int(ran_out)
    if len(out) < len(jobs):
        side.failed[f"{len(jobs) - len(out)} simulated worker(s) never reported"] += 1


# ---------------------------------------------------------------- hitkit


def _create_hits_part(args) -> list[str]:  # type: ignore[no-untyped-def]
    url, key, secret, first, count = args
    import boto3
    from botocore.config import Config

    client = boto3.client("mturk", endpoint_url=url, region_name="us-east-1", aws_access_key_id=key,
                          aws_secret_access_key=secret,
                          config=Config(retries={"total_max_attempts": 3}, read_timeout=60, proxies={}))
    ids = []
    for i in range(first, first + count):
        hit = client.create_hit(
            Title="Worker-flow benchmark HIT", Description="One text field", Keywords="benchmark", Reward="0.01",
            MaxAssignments=1, LifetimeInSeconds=86400, AssignmentDurationInSeconds=3600,
            AutoApprovalDelayInSeconds=30 * 86400, Question=html_question(i),
        )
        ids.append(hit["HIT"]["HITId"])
    return ids


def bench_hitkit(args: argparse.Namespace) -> Side:
    import httpx

    side = Side("hitkit")
    tmp = tempfile.TemporaryDirectory(prefix="hitkit-bench-flow-")
    root = Path(tmp.name)
    data_dir = root / "hitkit-data"
    env = _no_proxy_env(drop=("HITKIT_DATABASE_URL",))
    server = None
    try:
        log(f"[hitkit] initialising {data_dir}")
        init = json.loads(hitkit_cli("server", "init", "--data-dir", str(data_dir), "--no-profile", "--json", env=env))
        req, admin_token = init["requester"], init["admin"]["token"]
        server = ChildServer("hitkit server", [sys.executable, "-m", "hitkit.cli.main", "server", "run", "--data-dir",
                                               str(data_dir), "--port", "0"], env, root / "hitkit-server.log")
        log(f"[hitkit] server at {server.url} (pid {server.pid})")
        workers = []
        with httpx.Client(base_url=server.url, timeout=60, trust_env=False) as c:
            for i in range(WORKERS):
                r = c.post("/api/admin/v1/workers", json={"name": f"flow-worker-{i}"},
                           headers={"Authorization": f"Bearer {admin_token}"})
                r.raise_for_status()
                workers.append(r.json()["token"])
        t = time.monotonic()
        n, procs = args.hits, args.create_procs
        parts = [(server.url, req["aws_access_key_id"], req["aws_secret_access_key"], k * n // procs,
                  (k + 1) * n // procs - k * n // procs) for k in range(procs)]
        log(f"[hitkit] creating {n} HITs with {procs} boto3 client processes")
        with mp.get_context("fork").Pool(procs) as pool:
            hit_ids = [h for part in pool.map(_create_hits_part, parts) for h in part]
        log(f"[hitkit] {len(hit_ids)} HITs in {time.monotonic() - t:.1f} s ({len(hit_ids) / (time.monotonic() - t):.0f}/s)")
        idle = 2.0
        c0 = server.cpu()
        time.sleep(idle)
        side.notes.append(f"the idle server (sweeper) used {(server.cpu() - c0) / idle * 1000:.0f} ms of CPU per second")
        jobs = [(workers[w], hit_ids[w::WORKERS]) for w in range(WORKERS)]
        log(f"[hitkit] {WORKERS} workers ({args.client} client), {args.seconds:g} s window")
        spy = None
        if args.py_spy:
            fmt = {".svg": "flamegraph", ".txt": "raw"}.get(args.py_spy.suffix, "speedscope")
            spy = subprocess.Popen(["py-spy", "record", "--pid", str(server.pid), "--duration", str(math.ceil(args.seconds) + 2),
                                    "--rate", "200", "--format", fmt, "-o", str(args.py_spy)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            time.sleep(1)
            side.notes.append(f"py-spy recorded the server into {args.py_spy} ({fmt}); it took CPU from the run")
        run_window(side, "hitkit-raw" if args.client == "raw" else "hitkit", server.url, jobs, args.seconds, server.cpu)
        if spy:
            try:
                spy.wait(timeout=60)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait()
            if spy.returncode:
                side.notes.append(f"py-spy failed ({spy.returncode}): {spy.stderr.read().strip()[-300:]}")
        log(f"[hitkit] {side.completed} assignments in {side.wall:.1f} s = {side.rate:.0f}/s, "
            f"server CPU {side.per_assignment_ms(side.server_cpu):.2f} ms/assignment, {side.failed_total} failed")
        try:  # the work really happened: submitted assignments with our answer in hitkit's database
            import sqlite3

            with sqlite3.connect(f"file:{data_dir / 'hitkit.db'}?mode=ro", uri=True, timeout=30) as db:
                stored = db.execute("SELECT count(*) FROM assignments WHERE status = 'Submitted' AND answer LIKE ?",
                                    (f"%{ANSWER}%",)).fetchone()[0]
            side.notes.append(f"check: {stored} submitted assignments with the answer in hitkit's database "
                              f"({'matches' if stored == side.completed else 'DOES NOT match'} the {side.completed} counted)")
        except Exception as e:  # noqa: BLE001
            side.notes.append(f"check skipped: cannot read hitkit's database: {type(e).__name__}: {e}")
        if side.ran_out:
            side.notes.append(f"{side.ran_out} of {WORKERS} simulated workers ran out of HITs before the window ended "
                              f"(raise --hits): the rate covers a partly idle tail")
    finally:
        if server:
            server.stop()
            logged = server_log_errors(server.log_path)
            if logged:
                side.notes.append(logged)
            if args.keep_logs:
                args.keep_logs.mkdir(parents=True, exist_ok=True)
                shutil.copy(server.log_path, args.keep_logs / "hitkit-server.log")
        tmp.cleanup()
    return side


# ---------------------------------------------------------------- Turkle

SETTINGS = '''\
import os
BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
SECRET_KEY = {secret!r}
DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": os.path.join(BASE_DIR, "db.sqlite3")}}}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
TIME_ZONE = "UTC"
USE_TZ = True
USE_I18N = True
STATIC_URL = "/static/"
ROOT_URLCONF = "bench_site.urls"
WSGI_APPLICATION = "bench_site.wsgi.application"
# As Turkle's docs/APP.rst and its own turkle_site: turkle before django.contrib.admin (its templates win),
# guardian for permissions, DRF for the REST API, djaa_list_filter2 for its admin.
INSTALLED_APPS = [
    "django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions", "django.contrib.messages",
    "django.contrib.staticfiles",
    "turkle", "django.contrib.admin",
    "rest_framework", "rest_framework.authtoken", "turkle.api",
    "guardian", "djaa_list_filter2",
]
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend", "guardian.backends.ObjectPermissionBackend"]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
TEMPLATES = [{{
    "BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [], "APP_DIRS": True,
    "OPTIONS": {{"context_processors": [
        "django.template.context_processors.request", "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages", "turkle.utils.turkle_vars",
    ]}},
}}]
REST_FRAMEWORK = {{
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication",
                                       "rest_framework.authentication.TokenAuthentication"],
}}
DATA_UPLOAD_MAX_MEMORY_SIZE = 104857600
TURKLE_TEMPLATE_LIMIT = 64
TURKLE_AUTO_ACCEPT_DEFAULT = True
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "index"
LOGOUT_REDIRECT_URL = "index"
'''

# --turkle-sqlite wal: the SQLite settings hitkit runs with (WAL, synchronous=NORMAL), on every connection Django
# opens. Django 4.2 has no init_command for SQLite, so a connection_created handler sets them.
SQLITE_LIKE_HITKIT = '''
from django.db.backends.signals import connection_created


def _hitkit_like_sqlite(sender, connection, **kwargs):
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")


connection_created.connect(_hitkit_like_sqlite)
'''

URLS = '''\
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),  # Turkle 3.x registers its model admins on the default site
    path("api/", include("turkle.api.urls")),
    path("", include("django.contrib.auth.urls")),
    path("", include("turkle.urls")),
]
'''

WSGI = '''\
import os
from django.core.wsgi import get_wsgi_application
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench_site.settings")
application = get_wsgi_application()
'''

SETUP = '''\
"""Run with the Turkle venv's python: a superuser with an API token and the worker accounts, as JSON on stdout."""
import json, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench_site.settings")
import django
django.setup()
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from rest_framework.authtoken.models import Token
User = get_user_model()
n, password = int(sys.argv[1]), sys.argv[2]
admin = User.objects.create_superuser("bench-admin", "admin@example.invalid", password)
token = Token.objects.create(user=admin).key
hashed = make_password(password)  # hash once: every worker has the same password
users = User.objects.bulk_create([User(username=f"worker{i}", password=hashed) for i in range(n)])
print(json.dumps({"token": token, "users": [u.username for u in users]}))
'''


def turkle_python() -> Path:
    return TURKLE_VENV / "bin" / "python"


def ensure_turkle_venv() -> str:
    """The cached Turkle venv, made when missing; returns Turkle's version."""
    check = [str(turkle_python()), "-c", ("import django, gunicorn, rest_framework, guardian, turkle; "
             "from importlib.metadata import version; print(version('turkle'), version('gunicorn'), django.get_version())")]
    if turkle_python().exists():
        p = subprocess.run(check, check=False, capture_output=True, text=True, timeout=120)
        if p.returncode == 0:
            log(f"[turkle] reusing {TURKLE_VENV} (turkle, gunicorn, Django: {p.stdout.strip()})")
            return p.stdout.strip()
        log(f"[turkle] {TURKLE_VENV} is broken, making it again: {p.stderr.strip()[-200:]}")
        shutil.rmtree(TURKLE_VENV, ignore_errors=True)
    building = TURKLE_VENV.with_name(TURKLE_VENV.name + f".building-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    t = time.monotonic()
    log(f"[turkle] making {TURKLE_VENV}: python -m venv, pip install turkle gunicorn")
    base_python = getattr(sys, "_base_executable", None) or sys.executable
    subprocess.run([base_python, "-m", "venv", str(building)], check=True, capture_output=True, text=True, timeout=300)
    p = subprocess.run([str(building / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q",
                        "turkle", "gunicorn"], check=False, capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        shutil.rmtree(building, ignore_errors=True)
        raise RuntimeError(f"pip install turkle gunicorn failed ({p.returncode}): {(p.stderr or p.stdout).strip()[-600:]}")
    try:
        building.rename(TURKLE_VENV)  # scripts in bin/ keep the old path in their #!, so we only use bin/python -m
    except OSError:
        shutil.rmtree(building, ignore_errors=True)  # another run made it meanwhile
    p = subprocess.run(check, check=False, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError(f"the new Turkle venv does not import: {p.stderr.strip()[-400:]}")
    log(f"[turkle] venv ready in {time.monotonic() - t:.0f} s (turkle, gunicorn, Django: {p.stdout.strip()})")
    return p.stdout.strip()


class Gunicorn:
    def __init__(self, site: Path, log_path: Path, env: dict, workers: int, timeout: float = 60) -> None:
        self.log_path = log_path
        self._log = open(log_path, "w")
        self.proc = subprocess.Popen(
            [str(turkle_python()), "-m", "gunicorn", "bench_site.wsgi", "--bind", "127.0.0.1:0", "--workers", str(workers),
             "--chdir", str(site)],
            stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=site, start_new_session=True,
        )
        self.pid = self.proc.pid
        deadline = time.monotonic() + timeout
        self.url = None
        while time.monotonic() < deadline and self.proc.poll() is None:
            m = re.search(r"Listening at: (http://\S+)", log_path.read_text(errors="replace"))
            if m and len(_proc_children(self.pid)) >= workers:
                self.url = m.group(1)
                break
            time.sleep(0.1)
        if not self.url:
            tail = self.log_tail()
            self.stop()
            raise RuntimeError(f"gunicorn did not start:\n{tail}")
        _require_loopback(self.url)

    def cpu(self) -> dict[int, float]:
        return tree_cpu(self.pid)

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the master stops its worker
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def bench_turkle(args: argparse.Namespace) -> Side:
    import httpx

    side = Side("Turkle")
    version = ensure_turkle_venv()
    side.notes.append(f"Turkle {version.split()[0]} (gunicorn {version.split()[1]}, Django {version.split()[2]}), "
                      f"{args.gunicorn_workers} gunicorn sync worker process(es), SQLite "
                      f"({'WAL, synchronous=NORMAL, as hitkit' if args.turkle_sqlite == 'wal' else 'Django defaults: rollback journal, synchronous=FULL'}), "
                      f"a batch of {args.turkle_tasks} tasks")
    tmp = tempfile.TemporaryDirectory(prefix="hitkit-bench-turkle-")
    root = Path(tmp.name)
    site = root / "site"
    (site / "bench_site").mkdir(parents=True)
    (site / "bench_site" / "__init__.py").write_text("")
    settings = SETTINGS.format(secret=os.urandom(24).hex())
    if args.turkle_sqlite == "wal":
        settings += SQLITE_LIKE_HITKIT
    (site / "bench_site" / "settings.py").write_text(settings)
    (site / "bench_site" / "urls.py").write_text(URLS)
    (site / "bench_site" / "wsgi.py").write_text(WSGI)
    (site / "setup_bench.py").write_text(SETUP)
    env = _no_proxy_env({"DJANGO_SETTINGS_MODULE": "bench_site.settings", "PYTHONPATH": str(site)},
                        drop=("VIRTUAL_ENV", "PYTHONHOME"))
    server = None
    try:
        t = time.monotonic()
        p = subprocess.run([str(turkle_python()), "-m", "django", "migrate", "--noinput"], cwd=site, env=env,
                           check=False, capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            raise RuntimeError(f"migrate failed: {(p.stderr or p.stdout).strip()[-600:]}")
        password = "bench-" + os.urandom(8).hex()
        p = subprocess.run([str(turkle_python()), "setup_bench.py", str(WORKERS), password], cwd=site, env=env,
                           check=False, capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            raise RuntimeError(f"creating the accounts failed: {(p.stderr or p.stdout).strip()[-600:]}")
        accounts = json.loads(p.stdout.strip().splitlines()[-1])
        log(f"[turkle] site migrated, superuser and {WORKERS} workers made in {time.monotonic() - t:.1f} s")
        server = Gunicorn(site, root / "gunicorn.log", env, args.gunicorn_workers)
        log(f"[turkle] gunicorn at {server.url} (master pid {server.pid}, worker {_proc_children(server.pid)})")
        api = {"Authorization": f"Token {accounts['token']}"}
        t = time.monotonic()
        with httpx.Client(base_url=server.url, timeout=300, trust_env=False) as c:
            r = c.post("/api/projects/", headers=api, json={
                "name": "Worker-flow benchmark", "html_template": TURKLE_TEMPLATE, "filename": "flow.html",
                "assignments_per_task": 1, "login_required": True})
            if r.status_code != 201:
                raise RuntimeError(f"POST /api/projects/ answered {r.status_code}: {r.text[:300]}")
            project = r.json()["id"]
            r = c.post("/api/batches/", headers=api, json={
                "project": project, "name": "flow", "filename": "flow.csv", "csv_text": turkle_csv(args.turkle_tasks)})
            if r.status_code != 201:
                raise RuntimeError(f"POST /api/batches/ answered {r.status_code}: {r.text[:300]}")
            batch = r.json()
            r = c.get(f"/api/batches/{batch['id']}/progress/", headers=api)
            progress = r.json() if r.status_code == 200 else {}
        log(f"[turkle] batch {batch['id']} uploaded through the REST API in {time.monotonic() - t:.1f} s "
            f"(published={batch.get('published')}, progress {progress})")
        side.notes.append(f"uploading the {args.turkle_tasks}-task batch through /api/batches/ took "
                          f"{time.monotonic() - t:.1f} s")
        users = [{"username": u, "password": password} for u in accounts["users"]]
        log(f"[turkle] {WORKERS} workers log in, {args.seconds:g} s window")
        run_window(side, "turkle", server.url, users, args.seconds, server.cpu,
                   extra={"batch_id": batch["id"]})
        log(f"[turkle] {side.completed} assignments in {side.wall:.1f} s = {side.rate:.1f}/s, "
            f"server CPU {side.per_assignment_ms(side.server_cpu):.1f} ms/assignment, {side.failed_total} failed")
        with httpx.Client(base_url=server.url, timeout=60, trust_env=False) as c:
            r = c.get(f"/api/batches/{batch['id']}/progress/", headers=api)
        if r.status_code == 200:
            stored = r.json().get("total_finished_task_assignments")
            side.notes.append(f"check: Turkle's progress API counts {stored} finished assignments "
                              f"({'matches' if stored == side.completed else 'DOES NOT match'} the {side.completed} counted)")
        else:
            side.notes.append(f"check skipped: Turkle's progress API answered {r.status_code}")
        import sqlite3

        with sqlite3.connect(f"file:{site / 'db.sqlite3'}?mode=ro", uri=True, timeout=30) as db:
            side.notes.append(f"Turkle's database journal_mode: {db.execute('PRAGMA journal_mode').fetchone()[0]}")
        if side.ran_out:
            side.notes.append(f"{side.ran_out} Turkle workers ran out of tasks before the window ended (raise --turkle-tasks)")
        boots = len(re.findall(r"Booting worker", server.log_path.read_text(errors="replace")))
        if boots > args.gunicorn_workers:
            side.notes.append(f"gunicorn restarted a worker during the run ({boots - args.gunicorn_workers}x, see "
                              f"--keep-logs): the CPU of the ones that ended is not counted")
    finally:
        if server:
            server.stop()
            if args.keep_logs:
                args.keep_logs.mkdir(parents=True, exist_ok=True)
                shutil.copy(server.log_path, args.keep_logs / "gunicorn.log")
        tmp.cleanup()
    return side


# ---------------------------------------------------------------- report


def _fmt(x: float, digits: int = 0) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def report(sides: list[Side], turkle_missing: str | None, args: argparse.Namespace, notes: list[str], elapsed: float) -> str:
    hk = next((s for s in sides if s.system == "hitkit"), None)
    tk = next((s for s in sides if s.system == "Turkle"), None)
    headers = ["system", "assignments", "assignments/s", "p50 ms", "p99 ms", "failed requests",
               "server CPU ms/assignment", "client CPU ms/assignment", "vs Turkle"]
    rows = []
    for s in sides:
        ratio = s.rate / tk.rate if tk and tk.rate > 0 else math.nan
        rows.append([s.system, str(s.completed), _fmt(s.rate, 1 if s.rate < 100 else 0), _fmt(s.pct(0.50)), _fmt(s.pct(0.99)),
                     str(s.failed_total), _fmt(s.per_assignment_ms(s.server_cpu), 2), _fmt(s.per_assignment_ms(s.client_cpu), 2),
                     "-" if math.isnan(ratio) else f"{ratio:.1f}x"])
    if turkle_missing:
        rows.append(["Turkle", "-", "-", "-", "-", "-", "-", "-", "-"])
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    la = os.getloadavg()
    out = [(f"worker flow: {WORKERS} concurrent simulated workers, {args.seconds:g} s window per system, "
            f"{os.cpu_count()} CPUs, load average {la[0]:.2f} {la[1]:.2f} {la[2]:.2f} (at the end)"), "",
           line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    out.append("")
    if hk:
        if tk and tk.rate > 0:
            ratio = f"{hk.rate / tk.rate:.1f}x"
        else:
            ratio = "n/a (Turkle not measured)" if turkle_missing or not tk else "n/a (Turkle completed nothing)"
        if tk and tk.completed and hk.completed:
            out.append(f"server CPU per assignment, Turkle / hitkit: "
                       f"{tk.per_assignment_ms(tk.server_cpu) / hk.per_assignment_ms(hk.server_cpu):.1f}x")
        out.append(f"hitkit assignments/s vs Turkle: {ratio} (goal >= 20x); hitkit failed requests: {hk.failed_total} "
                   f"(goal 0); hitkit p99: {_fmt(hk.pct(0.99))} ms (goal < 100 ms)")
    if turkle_missing:
        out += ["", f"Turkle's row is missing: {turkle_missing}"]
    for s in sides:
        if s.failed:
            out += ["", f"{s.system} failed requests:"] + [f"  x{n} {what}" for what, n in s.failed.most_common(8)]
    out += ["", "notes:"]
    for s in sides:
        out.append(f"  {s.system}: {s.requests} requests, {s.completed} assignments in {s.wall:.2f} s; "
                   f"server CPU {s.server_cpu:.2f} s = {100 * s.server_cpu / s.wall if s.wall else 0:.0f} % of one core; "
                   f"load generator CPU {s.client_cpu:.2f} s")
        out += [f"  {s.system}: {n}" for n in s.notes]
    out += [f"  {n}" for n in notes]
    out.append(f"  total time {elapsed:.0f} s")
    return "\n".join(out)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Worker cycle (accept, load, submit) with 16 workers: hitkit vs Turkle.")
    p.add_argument("--seconds", type=float, default=None, help="measured window per system (default 20; --quick 8)")
    p.add_argument("--hits", type=int, default=None,
                   help="HITs made for hitkit, split between the workers (default 30000; --quick 12000)")
    p.add_argument("--turkle-tasks", type=int, default=2000, help="tasks in Turkle's batch (default 2000)")
    p.add_argument("--turkle-sqlite", choices=("wal", "django"), default="wal",
                   help="Turkle's SQLite settings: wal = the same as hitkit's (WAL, synchronous=NORMAL; default), "
                        "django = Django's defaults (rollback journal, synchronous=FULL)")
    p.add_argument("--gunicorn-workers", type=int, default=1,
                   help="gunicorn worker processes for Turkle (default 1, as reference/performance.md; with 2, SQLite "
                        "locking makes Turkle answer 'database is busy')")
    p.add_argument("--create-procs", type=int, default=3, help="boto3 processes creating the HITs (not measured)")
    p.add_argument("--client", choices=("raw", "httpx"), default="raw",
                   help="hitkit's load generator: raw (asyncio, a minimal HTTP/1.1 client, the default: least client CPU) "
                        "or httpx (a thread and an httpx.Client per worker, as for Turkle)")
    p.add_argument("--no-turkle", action="store_true", help="measure hitkit only")
    p.add_argument("--no-hitkit", action="store_true", help="measure Turkle only")
    p.add_argument("--quick", action="store_true", help="8 s windows and fewer HITs: a run in about a minute")
    p.add_argument("--py-spy", type=Path, metavar="FILE",
                   help="record hitkit's server with py-spy during its window (FILE.svg: flame graph, FILE.txt: "
                        "collapsed stacks, else speedscope JSON); needs py-spy on PATH")
    p.add_argument("--keep-logs", type=Path, help="copy the servers' logs into this directory")
    p.add_argument("--json-out", type=Path, help="also write the raw figures to this JSON file")
    args = p.parse_args(argv)
    args.seconds = args.seconds or (8.0 if args.quick else 20.0)
    args.hits = args.hits or (12000 if args.quick else 30000)
    if args.seconds <= 0 or args.seconds > 300 or args.hits < WORKERS or args.turkle_tasks < WORKERS:
        p.error(f"--seconds must be in (0, 300] and --hits/--turkle-tasks at least {WORKERS}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    notes: list[str] = []
    sides: list[Side] = []
    turkle_missing = None
    interrupted = False
    try:
        if not args.no_hitkit:
            try:
                sides.append(bench_hitkit(args))
            except KeyboardInterrupt:
                raise
            except Exception as e:  # noqa: BLE001 - say so, and still measure Turkle
                notes.append(f"hitkit not measured: {type(e).__name__}: {e}")
                log(notes[-1])
        if args.no_turkle:
            turkle_missing = "--no-turkle"
        else:
            try:
                sides.append(bench_turkle(args))
            except KeyboardInterrupt:
                raise
            except Exception as e:  # noqa: BLE001 - hitkit's figures still stand; say why Turkle's are missing
                turkle_missing = f"{type(e).__name__}: {e}"
                log(f"[turkle] not measured: {turkle_missing}")
    except KeyboardInterrupt:
        interrupted = True
        notes.append("interrupted")
    print(report(sides, turkle_missing, args, notes, time.monotonic() - started), flush=True)
    if args.json_out:
        args.json_out.write_text(json.dumps([
            {"system": s.system, "assignments": s.completed, "wall_s": s.wall, "rate": s.rate, "p50_ms": s.pct(0.5),
             "p99_ms": s.pct(0.99), "requests": s.requests, "failed": dict(s.failed), "server_cpu_s": s.server_cpu,
             "client_cpu_s": s.client_cpu, "load_average": os.getloadavg()} for s in sides], indent=2) + "\n")
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
