#!/usr/bin/env python
"""MTurk API throughput and server CPU per call: hitkit (SQLite and PostgreSQL) against a bare insert endpoint.

For each database this starts a fresh `hitkit server run --port 0` in a child process, prepares what the
operations need (workers, funds, a HIT with submitted assignments, a pool of submitted assignments to approve),
and drives CreateHIT, GetHIT, ListHITs, ListAssignmentsForHIT and ApproveAssignment with 1 and with 4 boto3
client processes. The peer, measured in the same run with the same client processes, is benchmarks/
bare_insert_app.py: one SQLite insert per `POST /`, answering a fixed GetAccountBalance body.

Per cell (database, operation, client processes) it reports calls/s and the server child's own CPU time per
call (utime + stime from /proc/PID/stat, read just before the clients start and after the last one ends).
Everything talks to 127.0.0.1 only; every cell is bounded by a call count and a time cap.

    python benchmarks/api.py --quick              # smoke test, ~2 minutes
    python benchmarks/api.py                      # 400 calls per process, 3 repeats, at most ~10 minutes
    python benchmarks/api.py --databases sqlite --calls 1000 --seconds 30

See benchmarks/README.md for how to read the table.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import queue
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

HERE = Path(__file__).resolve().parent
BARE_APP = HERE / "bare_insert_app.py"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PG_BASE = os.environ.get("HITKIT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}

BARE = "bare insert"
OPERATIONS = ["CreateHIT", "GetHIT", "ListHITs", "ListAssignmentsForHIT", "ApproveAssignment"]
ASSIGNMENTS_PER_HIT = 9  # below 10, so MTurk's extra 20 % fee for big HITs does not apply

HTML_QUESTION = """<HTMLQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2011-11-11/HTMLQuestion.xsd">
<HTMLContent><![CDATA[<!DOCTYPE html><html><head><meta charset="utf-8"/></head><body>
<form name="mturk_form" method="post" id="mturk_form" action="https://www.mturk.com/mturk/externalSubmit">
<input type="hidden" name="assignmentId" id="assignmentId" value=""/><input name="a" type="text"/>
<input type="submit"/></form></body></html>]]></HTMLContent><FrameHeight>450</FrameHeight></HTMLQuestion>"""


def create_hit_kwargs(max_assignments: int = 1) -> dict:
    return dict(
        Title="Benchmark HIT",
        Description="A HIT made by benchmarks/api.py",
        Keywords="benchmark",
        Reward="0.01",
        MaxAssignments=max_assignments,
        LifetimeInSeconds=7 * 86400,
        AssignmentDurationInSeconds=3600,
        AutoApprovalDelayInSeconds=30 * 86400,  # the sweeper must not approve the pool before we do
        Question=HTML_QUESTION,
    )


T0 = time.monotonic()


def log(message: str) -> None:
    print(f"{time.monotonic() - T0:6.1f}s {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- processes and CPU time


def _proc_stat(pid: int | str) -> tuple[str, int, float]:
    """A process's name, parent pid, and utime + stime (all its threads) in seconds, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        data = f.read()
    name, rest = data.split(" (", 1)[1].rsplit(")", 1)
    fields = rest.split()  # fields[0] is field 3 (state); ppid is field 4; utime and stime are fields 14 and 15
    return name, int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    return _proc_stat(pid)[2]


def cpu_census(groups: dict[str, set[int]]) -> dict:
    """The CPU seconds used so far by every process, each put in a named group (a pid counts with its
    descendants), "postgres" (PostgreSQL's processes) or "other", and the whole machine's busy and idle seconds
    (/proc/stat). `census_delta` of two censuses says where a window's CPU went."""
    parents: dict[int, int] = {}
    procs: dict[int, tuple[str, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            name, parents[int(entry)], used = _proc_stat(entry)
        except OSError:  # gone meanwhile
            continue
        procs[int(entry)] = (name, used)
    tagged = {}
    for pid, (name, t) in procs.items():
        group, p, hops = None, pid, 0
        while p > 1 and group is None and hops < 64:
            group = next((g for g, roots in groups.items() if p in roots), None)
            p, hops = parents.get(p, 0), hops + 1
        tagged[pid] = (group or ("postgres" if name == "postgres" else "other"), t)
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return {"procs": tagged, "idle": idle / CLK_TCK, "busy": (sum(ticks[:8]) - idle) / CLK_TCK}


def census_delta(before: dict, after: dict) -> dict[str, float]:
    """CPU seconds per group between two censuses, and the machine's busy and idle seconds. A process that
    exited in between loses the time it used in the window (so the groups are lower bounds)."""
    out: dict[str, float] = {"busy": after["busy"] - before["busy"], "idle": after["idle"] - before["idle"]}
    for pid, (group, t) in after["procs"].items():
        out[group] = out.get(group, 0.0) + t - before["procs"].get(pid, (group, 0.0))[1]
    return out


def _no_proxy_env(extra: dict | None = None, drop: tuple[str, ...] = ()) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in drop}
    for name in ("NO_PROXY", "no_proxy"):
        env[name] = ",".join(x for x in (env.get(name, ""), "127.0.0.1,localhost") if x)
    env.update(extra or {})
    return env


def _http_get(url: str, timeout: float = 2) -> int:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=timeout) as r:
        return r.status


def _require_loopback(url: str) -> None:
    host = urlsplit(url).hostname
    if host not in LOOPBACK:
        raise SystemExit(f"refusing to send traffic to {host!r}: this benchmark talks to 127.0.0.1 only")


class ChildServer:
    """A server in a child process that prints '... listening on URL' on its first stdout line."""

    def __init__(self, name: str, argv: list[str], env: dict, log_path: Path, start_timeout: float = 60) -> None:
        self.name = name
        self.log_path = log_path
        self._log = open(log_path, "w")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self._log, text=True, env=env)
        self.pid = self.proc.pid
        first: list[str] = []
        reader = threading.Thread(target=lambda: first.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(start_timeout)
        m = re.search(r"listening on (http://\S+)", first[0]) if first else None
        if not m:
            self.stop()
            raise RuntimeError(f"{name} did not start: {first!r}\n{self.log_tail()}")
        self.url = m.group(1)
        _require_loopback(self.url)
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                if _http_get(self.url + "/") < 500:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"{name} at {self.url} did not answer\n{self.log_tail()}")
            time.sleep(0.05)

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 15) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        self._log.close()


_EXC_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Detected|Fault|Exit|Interrupt)\b")


def server_log_errors(path: Path) -> str:
    """A summary of the errors a server wrote to its log ("" when none): how many, with which log message, which
    exception each ended in, and the end of the last one."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    chained = ("The above exception was the direct cause", "During handling of the above exception")
    starts = []  # (index of the message line, message) of each logged error
    for i, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last)"):
            j = next((j for j in range(i - 1, -1, -1) if lines[j].strip()), None)
            if j is None or not lines[j].startswith(chained):
                starts.append((j if j is not None else i, (lines[j].strip() if j is not None else "")[:120] or "(no message)"))
    if not starts:
        return ""
    messages: Counter = Counter(m for _, m in starts)
    finals: Counter = Counter()
    last_block: list[str] = []
    for k, (i, _) in enumerate(starts):
        block = lines[i: starts[k + 1][0] if k + 1 < len(starts) else len(lines)]
        exc = [n for n, line in enumerate(block) if _EXC_LINE.match(line)]
        if exc:
            finals[re.sub(r"\d{4,}", "N", block[exc[-1]].strip())[:160]] += 1
            last_block = block[max(0, exc[-1] - 4): exc[-1] + 8]
    out = [f"the server logged {len(starts)} error(s):"]
    out += [f"  x{n} {m}" for m, n in messages.most_common(5)]
    out += ["ending in:"] + [f"  x{n} {m}" for m, n in finals.most_common(5)]
    if last_block:
        out += ["the last one ends:"] + [f"  {line}" for line in last_block if line.strip()]
    return "\n      ".join(out)


def hitkit_cli(*args: str, env: dict) -> str:
    proc = subprocess.run([sys.executable, "-m", "hitkit.cli.main", *args], capture_output=True, text=True,
                          env=env, timeout=180)
    if proc.returncode != 0:
        raise RuntimeError(f"hitkit {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


# ---------------------------------------------------------------- PostgreSQL schema (as tests/support/server.py)


def fresh_pg_url(tag: str) -> str:
    from sqlalchemy import create_engine, text

    _require_loopback(PG_BASE.replace("postgresql+psycopg", "http", 1))
    schema = "hk_bench_" + secrets.token_hex(5)
    engine = create_engine(PG_BASE)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    finally:
        engine.dispose()
    # application_name lets us find hitkit's backends and read their CPU time too
    return f"{PG_BASE}?application_name={tag}&options=-csearch_path%3D{schema}"


def drop_pg_url(url: str) -> None:
    from sqlalchemy import create_engine, text

    schema = url.rsplit("%3D", 1)[1]
    engine = create_engine(PG_BASE)
    try:
        with engine.begin() as conn:
            # a query of the stopped server can outlive it (PostgreSQL notices the client is gone only when it
            # answers) and would hold the schema's locks: end every backend of that server first
            name = parse_qs(urlsplit(url).query).get("application_name", [""])[0]
            if name:
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE application_name = :n AND pid <> pg_backend_pid()"), {"n": name})
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    finally:
        engine.dispose()


class PgBackends:
    """CPU time of the PostgreSQL backends serving hitkit (found by application_name; backends that close
    during a cell lose their time, so this is a lower bound)."""

    def __init__(self, application_name: str) -> None:
        from sqlalchemy import create_engine

        self.application_name = application_name
        self.engine = create_engine(PG_BASE, pool_size=1, max_overflow=0)

    def snapshot(self) -> dict[int, float]:
        from sqlalchemy import text

        try:
            with self.engine.connect() as conn:
                pids = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE application_name = :n"),
                                    {"n": self.application_name}).scalars().all()
        except Exception:
            return {}
        out = {}
        for pid in pids:
            try:
                out[pid] = cpu_seconds(pid)
            except OSError:  # not visible (other host or namespace) or gone
                pass
        return out

    @staticmethod
    def delta(before: dict[int, float], after: dict[int, float]) -> float:
        return sum(t - before.get(pid, 0.0) for pid, t in after.items())

    def close(self) -> None:
        self.engine.dispose()


# ---------------------------------------------------------------- client processes


@dataclass
class Target:
    url: str
    key: str
    secret: str


def _describe(e: BaseException) -> str:
    response = getattr(e, "response", None)
    if isinstance(response, dict) and "Error" in response:
        err = response["Error"]
        text = f"{err.get('Code')}: {str(err.get('Message'))[:160]}"
    else:
        text = f"{type(e).__name__}: {str(e)[:160]}"
    return re.sub(r"\d{6,}", "N", text)  # request ids and the like, so equal errors count together


def _client_main(index: int, target: Target, op: str, items: list[str], arg: str | None, calls: int, seconds: float,
                 ready_q, start_ev, result_q) -> None:  # type: ignore[no-untyped-def]
    """One client process: make one boto3 client, warm it up, wait for the start signal, make the calls."""
    try:
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "mturk", endpoint_url=target.url, region_name="us-east-1",
            aws_access_key_id=target.key, aws_secret_access_key=target.secret,
            # total_max_attempts=1: no retries, so every failed request is counted ({"max_attempts": 1} would mean
            # one retry, hiding half the ServiceFaults); proxies={}: straight to 127.0.0.1 whatever the environment says
            config=Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=60, proxies={}),
        )
        client.get_account_balance()  # warm-up: TCP connection, signer, response parser
        kwargs = create_hit_kwargs()
        if op == BARE:
            call = lambda i: client.get_account_balance()  # noqa: E731
        elif op == "CreateHIT":
            call = lambda i: client.create_hit(**kwargs)  # noqa: E731
        elif op == "GetHIT":
            call = lambda i: client.get_hit(HITId=arg)  # noqa: E731
        elif op == "ListHITs":
            call = lambda i: client.list_hits(MaxResults=100)  # noqa: E731
        elif op == "ListAssignmentsForHIT":
            call = lambda i: client.list_assignments_for_hit(HITId=arg, MaxResults=100)  # noqa: E731
        elif op == "ApproveAssignment":
            call = lambda i: client.approve_assignment(AssignmentId=items[i])  # noqa: E731
            calls = min(calls, len(items))
        else:
            raise ValueError(f"unknown operation {op}")
    except BaseException as e:  # noqa: BLE001 - reported to the parent
        ready_q.put((index, f"client setup failed: {_describe(e)}"))
        return
    ready_q.put((index, None))
    if not start_ev.wait(300):
        return
    errors: Counter = Counter()
    made = 0
    t0 = time.monotonic()
    deadline = t0 + seconds
    for i in range(calls):
        if time.monotonic() >= deadline:
            break
        try:
            call(i)
        except Exception as e:  # noqa: BLE001 - any failure is an error to count
            errors[_describe(e)] += 1
        made += 1
    t1 = time.monotonic()
    result_q.put((index, made, dict(errors), t0, t1))


@dataclass
class Cell:
    calls: int
    wall: float
    cpu: float  # seconds of server-process CPU during the cell
    pg_cpu: float | None
    errors: Counter = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return self.calls / self.wall if self.wall > 0 else 0.0

    @property
    def cpu_us(self) -> float:
        return self.cpu / self.calls * 1e6 if self.calls else math.nan

    @property
    def pg_us(self) -> float | None:
        return self.pg_cpu / self.calls * 1e6 if self.calls and self.pg_cpu is not None else None


def run_cell(server: ChildServer, target: Target, op: str, procs: int, calls: int, seconds: float, *,
             items: list[str] | None = None, arg: str | None = None, pg: PgBackends | None = None) -> Cell:
    ctx = mp.get_context("fork")
    ready_q, result_q, start_ev = ctx.Queue(), ctx.Queue(), ctx.Event()
    items = items or []
    share = math.ceil(len(items) / procs) if items else 0
    children = [
        ctx.Process(target=_client_main, daemon=True,
                    args=(i, target, op, items[i * share:(i + 1) * share], arg, calls, seconds, ready_q, start_ev, result_q))
        for i in range(procs)
    ]
    for c in children:
        c.start()
    errors: Counter = Counter()
    ready = 0
    deadline = time.monotonic() + 120
    while ready + sum(errors.values()) < procs and time.monotonic() < deadline:
        try:
            _, err = ready_q.get(timeout=1)
        except queue.Empty:
            if not any(c.is_alive() for c in children):
                break
            continue
        if err:
            errors[err] += 1
        else:
            ready += 1
    pg_before = pg.snapshot() if pg else None
    cpu0 = server.cpu()
    start_ev.set()
    results = []
    deadline = time.monotonic() + seconds + 120
    while len(results) < ready and time.monotonic() < deadline:
        try:
            results.append(result_q.get(timeout=1))
        except queue.Empty:
            if not any(c.is_alive() for c in children) and result_q.empty():
                break
    cpu1 = server.cpu()
    pg_cpu = PgBackends.delta(pg_before, pg.snapshot()) if pg else None
    for c in children:
        c.join(timeout=10)
        if c.is_alive():
            c.kill()
            c.join()
    if len(results) < ready:
        errors["client process ended without a result"] += ready - len(results)
    made = sum(r[1] for r in results)
    for r in results:
        errors.update(r[2])
    wall = (max(r[4] for r in results) - min(r[3] for r in results)) if results else 0.0
    return Cell(made, wall, cpu1 - cpu0, pg_cpu, errors)


# ---------------------------------------------------------------- preparing a hitkit server


@dataclass
class Prepared:
    get_hit_id: str
    list_hit_id: str
    list_assignments: int
    pool: list[str]
    hits_total: int
    prep_errors: Counter


def _worker_submissions(url: str, hit_ids: list[str], workers: list[dict], threads: int) -> tuple[dict[str, list[str]], Counter]:
    """Every worker accepts and submits each HIT (through the worker API); HITs split between threads."""
    import httpx

    done: dict[str, list[str]] = {}
    errors: Counter = Counter()
    lock = threading.Lock()

    def work(part: list[str]) -> None:
        with httpx.Client(base_url=url, timeout=60, trust_env=False) as http:
            for hit_id in part:
                got = []
                for w in workers:
                    auth = {"Authorization": f"Bearer {w['token']}"}
                    try:
                        r = http.post(f"/api/worker/v1/hits/{hit_id}/accept", headers=auth)
                        if r.status_code != 200:
                            raise RuntimeError(f"accept {r.status_code}: {r.text[:160]}")
                        aid = r.json()["AssignmentId"]
                        r = http.post(f"/api/worker/v1/assignments/{aid}/submit", headers=auth, json={"answers": {"a": "x"}})
                        if r.status_code != 200:
                            raise RuntimeError(f"submit {r.status_code}: {r.text[:160]}")
                        got.append(aid)
                    except Exception as e:  # noqa: BLE001
                        with lock:
                            errors[_describe(e)] += 1
                with lock:
                    done[hit_id] = got

    parts = [hit_ids[i::threads] for i in range(threads)]
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, [p for p in parts if p]))
    return done, errors


def prepare(url: str, target: Target, workers: list[dict], pool_size: int, *, parallel_creates: int) -> Prepared:
    import boto3
    from botocore.config import Config

    client = boto3.client("mturk", endpoint_url=url, region_name="us-east-1", aws_access_key_id=target.key,
                          aws_secret_access_key=target.secret,
                          config=Config(retries={"total_max_attempts": 3}, read_timeout=60, proxies={},
                                        max_pool_connections=16))
    per_hit = len(workers)
    get_hit_id = client.create_hit(**create_hit_kwargs(1))["HIT"]["HITId"]
    list_hit_id = client.create_hit(**create_hit_kwargs(per_hit))["HIT"]["HITId"]
    n_pool = math.ceil(pool_size / per_hit)
    sizes = [per_hit] * n_pool + [1] * max(0, 110 - 2 - n_pool)  # ListHITs(MaxResults=100) should see a full page
    with ThreadPoolExecutor(parallel_creates) as ex:  # botocore clients may be shared between threads
        made_ids = list(ex.map(lambda n: client.create_hit(**create_hit_kwargs(n))["HIT"]["HITId"], sizes))
    pool_hits = made_ids[:n_pool]
    made = 2 + len(made_ids)
    done, errors = _worker_submissions(url, [list_hit_id, *pool_hits], workers, threads=12)
    pool = [aid for h in pool_hits for aid in done.get(h, [])]
    listed = client.list_assignments_for_hit(HITId=list_hit_id, MaxResults=100)["NumResults"]
    page = client.list_hits(MaxResults=100)["NumResults"]
    if page < 100:
        errors[f"ListHITs returned {page} HITs, expected 100"] += 1
    client.close()
    return Prepared(get_hit_id, list_hit_id, listed, pool, made, errors)


# ---------------------------------------------------------------- time budget


class Budget:
    """Shrinks the per-cell time cap when needed so the whole run ends near --budget seconds."""

    CELL_OVERHEAD = 1.0  # starting client processes, boto3 clients, joins
    MIN_CAP = 1.0

    def __init__(self, seconds: float, cells: int, setups: int, pool_size: int) -> None:
        self.end = time.monotonic() + seconds
        self.cells_left = cells
        self.setups_left = setups
        # a database's set-up and preparation: ~20 s plus ~10 ms per assignment of the approve pool, until measured
        self.setup_estimate = 20.0 + 0.01 * pool_size
        self.smallest_cap = math.inf

    def setup_done(self, seconds: float) -> None:
        self.setup_estimate = max(self.setup_estimate, seconds)

    def cap(self, wanted: float) -> float:
        spare = self.end - time.monotonic() - self.setups_left * self.setup_estimate - self.cells_left * self.CELL_OVERHEAD
        cap = min(wanted, max(self.MIN_CAP, spare / max(1, self.cells_left)))
        self.smallest_cap = min(self.smallest_cap, cap)
        return cap


# ---------------------------------------------------------------- one database


def pool_size(args: argparse.Namespace) -> int:
    """Submitted assignments the ApproveAssignment cells may use."""
    return args.repeats * args.calls * sum(args.clients) if "ApproveAssignment" in args.operations else 0



Results = dict  # (database, operation, procs) -> list[Cell]


def bench_database(database: str, args: argparse.Namespace, results: Results, notes: list[str], budget: Budget) -> None:
    cells = args.repeats * (1 + len(args.operations)) * len(args.clients)
    budget.setups_left -= 1
    tmp = tempfile.TemporaryDirectory(prefix=f"hitkit-bench-{database}-")
    root = Path(tmp.name)
    data_dir = root / "hitkit-data"
    pg_url = None
    pg = None
    servers: list[ChildServer] = []
    try:
        if database == "postgres":
            app_name = "hk_bench_" + secrets.token_hex(4)
            try:
                pg_url = fresh_pg_url(app_name)
            except Exception as e:  # noqa: BLE001
                notes.append(f"postgres skipped: cannot create a schema at {PG_BASE}: {_describe(e)}")
                log(notes[-1])
                budget.cells_left -= cells
                return
            env = _no_proxy_env({"HITKIT_DATABASE_URL": pg_url})
            pg = PgBackends(app_name)
        else:
            env = _no_proxy_env(drop=("HITKIT_DATABASE_URL",))
        setup_started = time.monotonic()
        log(f"[{database}] initialising {data_dir}")
        init = json.loads(hitkit_cli("server", "init", "--data-dir", str(data_dir), "--no-profile", "--json", env=env))
        req = init["requester"]
        hitkit_cli("server", "funds", "add", "default", "1000000", "--data-dir", str(data_dir), env=env)
        names = [f"bench-worker-{i}" for i in range(ASSIGNMENTS_PER_HIT)]
        with ThreadPoolExecutor(3) as ex:
            workers = list(ex.map(lambda n: json.loads(hitkit_cli("server", "worker", "create", n, "--json",
                                                                  "--data-dir", str(data_dir), env=env)), names))

        hitkit = ChildServer(f"hitkit server ({database})",
                             [sys.executable, "-m", "hitkit.cli.main", "server", "run", "--data-dir", str(data_dir), "--port", "0"],
                             env, root / "hitkit-server.log")
        servers.append(hitkit)
        bare = ChildServer("bare insert endpoint", [sys.executable, str(BARE_APP), "--db", str(root / "bare.db"), "--port", "0"],
                           _no_proxy_env(), root / "bare.log")
        servers.append(bare)
        log(f"[{database}] hitkit at {hitkit.url} (pid {hitkit.pid}), bare insert endpoint at {bare.url} (pid {bare.pid})")

        hk_target = Target(hitkit.url, req["aws_access_key_id"], req["aws_secret_access_key"])
        bare_target = Target(bare.url, "AKIDBAREBENCH0000000", "bare-secret-not-checked")
        approve_calls = args.calls
        pool = pool_size(args)
        t = time.monotonic()
        log(f"[{database}] preparing: {ASSIGNMENTS_PER_HIT} workers, a HIT with {ASSIGNMENTS_PER_HIT} submitted "
            f"assignments, {pool} submitted assignments to approve")
        # On PostgreSQL concurrent CreateHITs of one requester can deadlock (see the README), so create one at a time.
        prep = prepare(hitkit.url, hk_target, workers, pool, parallel_creates=1 if database == "postgres" else 8)
        budget.setup_done(time.monotonic() - setup_started)
        log(f"[{database}] prepared in {time.monotonic() - t:.1f} s: {prep.hits_total} HITs, {len(prep.pool)} assignments "
            f"in the approve pool, ListAssignmentsForHIT returns {prep.list_assignments}")
        if prep.prep_errors:
            for what, n in prep.prep_errors.most_common():
                notes.append(f"{database}: preparation error x{n}: {what}")
                log(notes[-1])

        idle = args.idle_seconds
        if idle > 0:
            c0 = hitkit.cpu()
            time.sleep(idle)
            idle_ms = (hitkit.cpu() - c0) / idle * 1000
            notes.append(f"{database}: idle hitkit server (sweeper only) used {idle_ms:.0f} ms of CPU per second "
                         f"over {idle:g} s (counted in every cell; 1 tick = {1000 / CLK_TCK:.0f} ms)")
            log(notes[-1])

        pool = list(prep.pool)
        for rep in range(args.repeats):
            for op in [BARE, *args.operations]:
                for procs in args.clients:
                    items = None
                    if op == "ApproveAssignment":
                        items, pool = pool[: procs * approve_calls], pool[procs * approve_calls:]
                    arg = prep.get_hit_id if op == "GetHIT" else prep.list_hit_id
                    server, target = (bare, bare_target) if op == BARE else (hitkit, hk_target)
                    calls = args.bare_calls if op == BARE else args.calls
                    cap = budget.cap(args.seconds)
                    cell = run_cell(server, target, op, procs, calls, cap, items=items, arg=arg,
                                    pg=pg if op != BARE else None)
                    budget.cells_left -= 1
                    cells -= 1
                    results.setdefault((database, op, procs), []).append(cell)
                    pg_part = f", +{cell.pg_us:.0f} us PG backend" if cell.pg_us is not None else ""
                    log(f"[{database}] run {rep + 1}/{args.repeats} {op:<22} {procs} client(s): {cell.calls:5d} calls "
                        f"(cap {cap:4.1f} s) "
                        f"in {cell.wall:5.2f} s = {cell.rate:7.0f}/s, server CPU {cell.cpu_us:6.0f} us/call{pg_part}"
                        f"{', ' + str(sum(cell.errors.values())) + ' errors' if cell.errors else ''}")
                    if hitkit.proc.poll() is not None:
                        raise RuntimeError(f"hitkit server exited ({hitkit.proc.returncode}):\n{hitkit.log_tail()}")
    finally:
        budget.cells_left -= cells  # those never run, after an error
        for s in servers:
            s.stop()
        if servers:
            logged = server_log_errors(servers[0].log_path)  # the hitkit server's
            if logged:
                notes.append(f"{database}: {logged}")
        if args.keep_logs:
            args.keep_logs.mkdir(parents=True, exist_ok=True)
            for s in servers:
                if s.log_path.exists():
                    shutil.copy(s.log_path, args.keep_logs / f"{database}-{s.log_path.name}")
        if pg:
            pg.close()
        if pg_url:
            try:
                drop_pg_url(pg_url)
            except Exception as e:  # noqa: BLE001
                log(f"could not drop the benchmark schema: {_describe(e)}")
        tmp.cleanup()


# ---------------------------------------------------------------- report


def _median(values: list[float]) -> float:
    values = [v for v in values if not math.isnan(v)]
    return statistics.median(values) if values else math.nan


def report(results: Results, args: argparse.Namespace, notes: list[str], elapsed: float) -> str:
    headers = ["database", "operation", "clients", "calls", "calls/s", "server CPU us/call", "CPU vs bare",
               "calls/s vs bare", "PG backend us/call", "errors"]
    rows: list[list[str]] = []
    goals: list[str] = []
    for database in args.databases:
        bare = {p: results.get((database, BARE, p)) for p in args.clients}
        bare_rate = {p: _median([c.rate for c in cells]) if cells else math.nan for p, cells in bare.items()}
        bare_cpu = {p: _median([c.cpu_us for c in cells]) if cells else math.nan for p, cells in bare.items()}
        bare_cpu_all = _median([c.cpu_us for cells in bare.values() if cells for c in cells])
        for op in [BARE, *args.operations]:
            for procs in args.clients:
                cells = results.get((database, op, procs))
                if not cells:
                    continue
                rate = _median([c.rate for c in cells])
                cpu = _median([c.cpu_us for c in cells])
                pg_values = [c.pg_us for c in cells if c.pg_us is not None]
                errors = sum(sum(c.errors.values()) for c in cells)
                ref_cpu = bare_cpu.get(procs, math.nan)
                rows.append([
                    database, op, str(procs), f"{_median([c.calls for c in cells]):.0f}", f"{rate:.0f}", f"{cpu:.0f}",
                    f"{cpu / ref_cpu:.1f}x" if ref_cpu > 0 else "-",
                    f"{100 * rate / bare_rate[procs]:.0f} %" if bare_rate.get(procs, 0) > 0 else "-",
                    f"{_median(pg_values):.0f}" if pg_values else "",
                    str(errors),
                ])
        least = min(args.clients)
        waits = []
        for op in args.operations:
            cells = results.get((database, op, least))
            if least == 1 and cells and bare_rate.get(1, 0) > 0:
                latency_ms = 1000 / _median([c.rate for c in cells])
                cpu_ms = _median([c.cpu_us for c in cells]) / 1000
                if latency_ms - cpu_ms > 25 and 1000 / bare_rate[1] < 10:
                    waits.append(f"{op} {latency_ms:.0f} ms (server CPU {cpu_ms:.1f} ms)")
        if waits:
            notes.append(f"{database}: one client's calls take far longer than the server's CPU time for them while the "
                         f"bare endpoint answers in {1000 / bare_rate[1]:.1f} ms: " + ", ".join(waits)
                         + ". The server is waiting, not working: lock waits, or ~40 ms per call when Nagle's algorithm "
                           "meets delayed ACKs (listening socket without TCP_NODELAY; see benchmarks/README.md).")
        most = max(args.clients)
        create = results.get((database, "CreateHIT", most))
        if create and "CreateHIT" in args.operations:
            cpu_ratio = _median([c.cpu_us for c in create]) / bare_cpu.get(most, bare_cpu_all)
            rate_ratio = _median([c.rate for c in create]) / bare_rate[most]
            goals.append(f"{database}: CreateHIT server CPU per call vs bare insert: {cpu_ratio:.1f}x (goal <= 3x) "
                         f"[{most} clients] {'met' if cpu_ratio <= 3 else 'NOT met'}")
            goals.append(f"{database}: {most}-client calls/s vs bare endpoint: {100 * rate_ratio:.0f} % (goal >= 50 %) "
                         f"[CreateHIT] {'met' if rate_ratio >= 0.5 else 'NOT met'}")

    right = {2, 3, 4, 5, 6, 7, 8, 9}
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    out = [
        f"hitkit MTurk API benchmark: {args.calls} calls per client process ({args.bare_calls} for the bare endpoint), "
        f"cap {args.seconds:g} s per cell, "
        f"median of {args.repeats} run(s); {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}",
        "",
        line(headers),
        line(["-" * w for w in widths]),
    ]
    previous = None
    for r in rows:
        if previous is not None and r[0] != previous:
            out.append("")
        previous = r[0]
        out.append(line(r))
    out.append("")
    out.extend(goals)
    all_errors: Counter = Counter()
    for (database, op, procs), cells in results.items():
        for c in cells:
            for what, n in c.errors.items():
                all_errors[f"{database} {op} {procs} client(s): {what}"] += n
    if all_errors:
        out.append("")
        out.append("errors:")
        out.extend(f"  x{n} {what}" for what, n in all_errors.most_common())
    out.append("")
    out.append("notes:")
    out.extend(f"  {n}" for n in notes)
    out.append(f"  total time {elapsed:.0f} s")
    return "\n".join(out)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="hitkit MTurk API throughput and server CPU per call vs a bare insert endpoint.")
    p.add_argument("--databases", default="sqlite,postgres", help="comma-separated: sqlite, postgres (default both)")
    p.add_argument("--operations", default=",".join(OPERATIONS), help=f"comma-separated subset of {','.join(OPERATIONS)}")
    p.add_argument("--clients", default="1,4", help="client process counts (default 1,4)")
    p.add_argument("--calls", type=int, default=None, help="calls per client process per cell (default 400; --quick 60)")
    p.add_argument("--bare-calls", type=int, default=None,
                   help="calls per client process for the bare endpoint, which is cheap and needs more calls to span "
                        "enough clock ticks (default max(--calls, 1000); --quick max(--calls, 500))")
    p.add_argument("--seconds", type=float, default=None, help="time cap per cell in seconds (default 20; --quick 5)")
    p.add_argument("--budget", type=float, default=None,
                   help="aim to finish the whole run within this many seconds by shrinking per-cell caps (default 600; "
                        "--quick 170)")
    p.add_argument("--repeats", type=int, default=None, help="runs per cell, the median is shown (default 3; --quick 1)")
    p.add_argument("--idle-seconds", type=float, default=None, help="measure the idle server's CPU for this long (default 3; --quick 1)")
    p.add_argument("--quick", action="store_true", help="small counts and one run: a smoke test in about 2 minutes")
    p.add_argument("--keep-logs", type=Path, help="copy the servers' logs (stderr) into this directory")
    p.add_argument("--json-out", type=Path, help="also write every cell's raw figures to this JSON file")
    args = p.parse_args(argv)
    quick = args.quick
    args.calls = args.calls or (60 if quick else 400)
    args.bare_calls = args.bare_calls or max(args.calls, 500 if quick else 1000)
    args.seconds = args.seconds or (5.0 if quick else 20.0)
    args.repeats = args.repeats or (1 if quick else 3)
    args.budget = args.budget or (170.0 if quick else 600.0)
    args.idle_seconds = args.idle_seconds if args.idle_seconds is not None else (1.0 if quick else 3.0)
    args.databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    args.operations = [o.strip() for o in args.operations.split(",") if o.strip()]
    args.clients = sorted({int(c) for c in args.clients.split(",") if c.strip()})
    for d in args.databases:
        if d not in ("sqlite", "postgres"):
            p.error(f"unknown database {d!r}")
    for o in args.operations:
        if o not in OPERATIONS:
            p.error(f"unknown operation {o!r}")
    if args.calls < 1 or args.seconds <= 0 or args.repeats < 1 or not args.clients or min(args.clients) < 1 or max(args.clients) > 16:
        p.error("--calls, --seconds and --repeats must be positive and --clients between 1 and 16")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    results: Results = {}
    notes: list[str] = []
    interrupted = False
    budget = Budget(args.budget, len(args.databases) * args.repeats * (1 + len(args.operations)) * len(args.clients),
                    len(args.databases), pool_size(args))
    try:
        for database in args.databases:
            try:
                bench_database(database, args, results, notes, budget)
            except KeyboardInterrupt:
                raise
            except Exception as e:  # noqa: BLE001 - report what was measured, go on with the next database
                notes.append(f"{database}: stopped early: {type(e).__name__}: {e}")
                log(notes[-1])
    except KeyboardInterrupt:
        interrupted = True
        notes.append("interrupted: the table shows the cells finished so far")
    if budget.smallest_cap < args.seconds:
        notes.append(f"to fit --budget {args.budget:g} s, some cells were capped at {budget.smallest_cap:.1f} s "
                     f"instead of --seconds {args.seconds:g} (see the calls column)")
    print(report(results, args, notes, time.monotonic() - started), flush=True)
    if args.json_out:
        raw = [
            {"database": d, "operation": op, "clients": p,
             "runs": [{"calls": c.calls, "wall_s": c.wall, "server_cpu_s": c.cpu, "pg_backend_cpu_s": c.pg_cpu,
                       "errors": dict(c.errors)} for c in cells]}
            for (d, op, p), cells in results.items()
        ]
        args.json_out.write_text(json.dumps(raw, indent=2) + "\n")
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
