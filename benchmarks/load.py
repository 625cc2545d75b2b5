#!/usr/bin/env python
"""Load: many simulated workers and a few requesters on one hitkit server, side by side for SQLite with one
process and PostgreSQL with 1, 2 and 4 processes (`hitkit server run --workers N`), with an audit at the end.

For each setup: a fresh data directory (and, for PostgreSQL, a fresh schema in the `test` database on
127.0.0.1:5432), `hitkit server init`, R requesters (`hitkit server requester create`), the server, W workers (admin
API), and H HITs (MaxAssignments 1, one text field) made through boto3 by the requesters in turn. Then a window
of S seconds:

- the workers, in a forked load-generator process (one asyncio loop, one keep-alive connection each; see
  worker_flow.py's raw client), each go through their own slice of the HIT ids: accept, submit;
- each requester, in a thread with boto3, reviews as work arrives: ListReviewableHITs, ListAssignmentsForHIT,
  ApproveAssignment, and a SendBonus (with a UniqueRequestToken) for every tenth approval.

Reported per setup: assignments/s (acknowledged submissions / window), worker cycle (accept + submit) latency
p50 / p99, requester call latency p50 / p99, approvals/s, errors (HTTP 5xx, connection errors, other refusals),
where the CPU went per assignment (server, PostgreSQL and kernel, load generator, requesters; api.cpu_census),
and the audit, read from the database after the window: every acknowledged submission present (none lost), no
HIT with two live assignments (none duplicated), every acknowledged approval Approved with exactly one reward row
in the ledger, every acknowledged bonus exactly once in `bonuses`. Everything is on 127.0.0.1; every loop ends
with its window; the run stops by itself.

    python benchmarks/load.py --quick                  # 300 workers, 6,000 HITs, 20 s windows: ~3 minutes
    python benchmarks/load.py                          # 2,000 workers, 100,000 HITs, 300 s windows (~31 min)
    python benchmarks/load.py --setups postgres:1,postgres:2 --seconds 60 --hits 30000 --workers 1000

See benchmarks/README.md ("load.py").
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from api import (ChildServer, _no_proxy_env, census_delta, cpu_census, drop_pg_url, fresh_pg_url, hitkit_cli,  # noqa: E402
                 server_log_errors)
from worker_flow import _RawConnection, _create_hits_part  # noqa: E402

T0 = time.monotonic()
ANSWER = json.dumps({"answers": {"answer": "load"}}).encode()


def log(message: str) -> None:
    print(f"{time.monotonic() - T0:7.1f}s {message}", file=sys.stderr, flush=True)


@dataclass
class Result:
    setup: str
    processes: int
    window: float = 0.0
    submitted: list[str] = field(default_factory=list)
    times: list[float] = field(default_factory=list)  # monotonic time of each acknowledged submission
    cycle: list[float] = field(default_factory=list)
    failures: Counter = field(default_factory=Counter)
    approved: list[str] = field(default_factory=list)
    bonused: list[str] = field(default_factory=list)
    requester_lat: list[float] = field(default_factory=list)
    requester_errors: Counter = field(default_factory=Counter)
    audit: dict = field(default_factory=dict)
    server_errors: str = ""
    started: float = 0.0  # monotonic time the window started
    events: dict = field(default_factory=dict)  # what a fault scenario did and when
    cpu: dict = field(default_factory=dict)  # CPU seconds per process group over the window (api.cpu_census)


def server_errors(fails: Counter) -> int:
    """How many answers were HTTP 5xx."""
    return sum(n for k, n in fails.items() if k.startswith("HTTP 5"))


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


# ---------------------------------------------------------------- the workers (a forked process)


def _workers_main(url: str, jobs: list, seconds: float, ready_q, start_ev, result_q) -> None:
    import asyncio
    from urllib.parse import urlsplit

    parts = urlsplit(url)

    async def worker(conn: _RawConnection, hit_ids: list[str], go: asyncio.Event, box: dict, out: dict) -> None:
        await go.wait()
        deadline = box["deadline"]
        for hit_id in hit_ids:
            if time.monotonic() >= deadline:
                break
            t = time.perf_counter()
            try:
                status, data = await conn.request("POST", f"/api/worker/v1/hits/{hit_id}/accept")
                if status != 200:
                    out["failures"][f"accept {status}" if status < 500 else f"HTTP {status}"] += 1
                    continue
                aid = json.loads(data)["AssignmentId"]
                status, data = await conn.request("POST", f"/api/worker/v1/assignments/{aid}/submit", ANSWER)
                if status != 200:
                    out["failures"][f"submit {status}" if status < 500 else f"HTTP {status}"] += 1
                    continue
            except Exception as e:  # noqa: BLE001 - a dropped connection: not acknowledged, reconnect
                out["failures"][f"connection: {type(e).__name__}"] += 1
                conn.close()
                try:
                    await conn.connect()
                except OSError:
                    await asyncio.sleep(0.5)
                    try:
                        await conn.connect()
                    except OSError:
                        return
                continue
            out["cycle"].append(time.perf_counter() - t)
            out["submitted"].append(aid)
            out["times"].append(time.monotonic())

    async def main() -> None:
        conns = []
        try:
            for token, _ in jobs:
                c = _RawConnection(parts.hostname, parts.port, token)
                await c.connect()
                conns.append(c)
        except BaseException as e:  # noqa: BLE001
            ready_q.put(f"{type(e).__name__}: {e}")
            return
        go, box = asyncio.Event(), {}
        out: dict = {"cycle": [], "submitted": [], "times": [], "failures": Counter()}
        tasks = [asyncio.create_task(worker(c, ids, go, box, out)) for c, (_, ids) in zip(conns, jobs)]
        ready_q.put(None)
        loop = asyncio.get_running_loop()
        if not await loop.run_in_executor(None, start_ev.wait, 600):
            return
        start = time.monotonic()
        box["deadline"] = start + seconds
        go.set()
        await asyncio.wait(tasks, timeout=seconds + 120)
        for c in conns:
            c.close()
        result_q.put((out, time.monotonic() - start))

    asyncio.run(main())


# ---------------------------------------------------------------- the requesters (threads in this process)


def _requester_loop(url: str, creds: dict, stop: threading.Event, res: Result, lock: threading.Lock) -> None:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError, EndpointConnectionError

    client = boto3.client("mturk", endpoint_url=url, region_name="us-east-1",
                          aws_access_key_id=creds["aws_access_key_id"],
                          aws_secret_access_key=creds["aws_secret_access_key"],
                          config=Config(retries={"total_max_attempts": 1}, read_timeout=60, proxies={}))
    approvals = 0

    def call(op: str, **kw):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        try:
            return getattr(client, op)(**kw)
        except ClientError as e:
            code = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            with lock:
                res.requester_errors[f"HTTP {code}" if code >= 500 else f"{op} {e.response['Error']['Code']}"] += 1
            return None
        except (EndpointConnectionError, OSError) as e:
            with lock:
                res.requester_errors[f"connection: {type(e).__name__}"] += 1
            return None
        finally:
            with lock:
                res.requester_lat.append(time.perf_counter() - t)

    while not stop.is_set():
        page = call("list_reviewable_hits", MaxResults=50)
        hits = (page or {}).get("HITs", [])
        if not hits:
            stop.wait(0.2)
            continue
        for hit in hits:
            if stop.is_set():
                return
            listed = call("list_assignments_for_hit", HITId=hit["HITId"], AssignmentStatuses=["Submitted"])
            for a in (listed or {}).get("Assignments", []):
                aid = a["AssignmentId"]
                if call("approve_assignment", AssignmentId=aid) is None:
                    continue
                with lock:
                    res.approved.append(aid)
                approvals += 1
                if approvals % 10 == 0 and call("send_bonus", WorkerId=a["WorkerId"], AssignmentId=aid,
                                                BonusAmount="0.05", Reason="load benchmark bonus",
                                                UniqueRequestToken=f"load-{aid}") is not None:
                    with lock:
                        res.bonused.append(aid)


# ---------------------------------------------------------------- one setup


def audit(database_url: str, res: Result) -> dict:
    """What the database holds for the acknowledged work."""
    from sqlalchemy import bindparam, create_engine, text

    engine = create_engine(database_url)
    out: dict = {}
    try:
        with engine.connect() as conn:
            def present(sql: str, ids: list[str]) -> list:
                rows = []
                for k in range(0, len(ids), 5000):
                    rows += conn.execute(text(sql).bindparams(bindparam("ids", expanding=True)),
                                         {"ids": ids[k:k + 5000]}).all()
                return rows

            stored = {r[0]: r[1] for r in present("SELECT id, status FROM assignments WHERE id IN :ids", res.submitted)}
            out["lost submissions"] = len(set(res.submitted) - set(stored))
            out["duplicated submissions"] = len(res.submitted) - len(set(res.submitted)) + conn.execute(text(
                "SELECT count(*) FROM (SELECT hit_id FROM assignments WHERE status IN ('Submitted', 'Approved', "
                "'Rejected') GROUP BY hit_id HAVING count(*) > 1) AS x")).scalar_one()
            approved = dict(present("SELECT id, status FROM assignments WHERE id IN :ids", res.approved))
            out["lost approvals"] = sum(1 for a in res.approved if approved.get(a) != "Approved")
            rewards = Counter(r[0] for r in present(
                "SELECT assignment_id FROM ledger WHERE kind = 'reward' AND assignment_id IN :ids", res.approved))
            out["approvals not paid once"] = sum(1 for a in set(res.approved) if rewards[a] != 1)
            bonuses = Counter(r[0] for r in present("SELECT assignment_id FROM bonuses WHERE assignment_id IN :ids",
                                                     res.bonused))
            out["bonuses not paid once"] = sum(1 for a in set(res.bonused) if bonuses[a] != 1)
    finally:
        engine.dispose()
    return out


def run_setup(kind: str, processes: int, args: argparse.Namespace,
              during: Callable[[ChildServer, Result], None] | None = None) -> Result:
    """One setup's run; `during(server, result)`, when given, runs in a thread once the window has started (the
    fault scenarios of faults.py)."""
    res = Result(f"{'SQLite' if kind == 'sqlite' else 'PostgreSQL'}", processes)
    tmp = tempfile.TemporaryDirectory(prefix="hitkit-bench-load-")
    root = Path(tmp.name)
    data = root / "data"
    pg_url = fresh_pg_url("hitkit_load") if kind == "postgres" else None
    env = _no_proxy_env({"HITKIT_DATABASE_URL": pg_url} if pg_url else None, drop=("HITKIT_DATABASE_URL",))
    server = None
    try:
        init = json.loads(hitkit_cli("server", "init", "--data-dir", str(data), "--no-profile", "--json", env=env))
        admin_token = init["admin"]["token"]
        requesters = [init["requester"]] + [
            json.loads(hitkit_cli("server", "requester", "create", f"load-{k}", "--data-dir", str(data), "--json",
                                  env=env)) for k in range(1, args.requesters)]
        server = ChildServer(f"hitkit {kind} x{processes}", [
            sys.executable, "-m", "hitkit.cli.main", "server", "run", "--data-dir", str(data), "--port", "0",
            "--workers", str(processes)], env, root / "server.log")
        log(f"[{res.setup} x{processes}] server at {server.url}")
        import httpx

        tokens = []
        with httpx.Client(base_url=server.url, timeout=60, trust_env=False) as c:
            for i in range(args.workers):
                r = c.post("/api/admin/v1/workers", json={"name": f"load-worker-{i}"},
                           headers={"Authorization": f"Bearer {admin_token}"})
                r.raise_for_status()
                tokens.append(r.json()["token"])
        t = time.monotonic()
        per = args.hits // len(requesters)
        parts = []
        for k, req in enumerate(requesters):
            for p in range(args.create_procs):
                first = k * per + p * per // args.create_procs
                count = (p + 1) * per // args.create_procs - p * per // args.create_procs
                parts.append((server.url, req["aws_access_key_id"], req["aws_secret_access_key"], first, count))
        with mp.get_context("fork").Pool(args.create_procs) as pool:
            hit_ids = [h for part in pool.map(_create_hits_part, parts) for h in part]
        log(f"[{res.setup} x{processes}] {len(hit_ids)} HITs in {time.monotonic() - t:.0f} s; "
            f"{len(tokens)} workers, {len(requesters)} requesters, {args.seconds:g} s window")
        random.Random(1).shuffle(hit_ids)
        jobs = [(tokens[w], hit_ids[w::len(tokens)]) for w in range(len(tokens))]
        ctx = mp.get_context("fork")
        ready_q, result_q, start_ev = ctx.Queue(), ctx.Queue(), ctx.Event()
        gen = ctx.Process(target=_workers_main, args=(server.url, jobs, args.seconds, ready_q, start_ev, result_q))
        gen.start()
        problem = ready_q.get(timeout=300)
        if problem:
            raise RuntimeError(f"load generator: {problem}")
        stop, lock = threading.Event(), threading.Lock()
        threads = [threading.Thread(target=_requester_loop, args=(server.url, req, stop, res, lock), daemon=True)
                   for req in requesters]
        groups = {"server": {server.pid}, "load generator": {gen.pid}, "requesters": {os.getpid()}}
        census = cpu_census(groups)
        start_ev.set()
        res.started = time.monotonic()
        if during is not None:
            threads.append(threading.Thread(target=during, args=(server, res), daemon=True))
        for th in threads:
            th.start()
        out, window = result_q.get(timeout=args.seconds + 300)
        res.cpu = census_delta(census, cpu_census(groups))
        stop.set()
        for th in threads:
            th.join(timeout=120)
        gen.join(timeout=60)
        res.window, res.submitted, res.cycle, res.failures = window, out["submitted"], out["cycle"], out["failures"]
        res.times = out["times"]
        res.audit = audit(pg_url or f"sqlite:///{data / 'hitkit.db'}", res)
        log(f"[{res.setup} x{processes}] {len(res.submitted)} assignments in {window:.1f} s "
            f"({len(res.submitted) / window:.0f}/s), {len(res.approved)} approved, audit {res.audit}")
    finally:
        if server is not None:
            server.stop()
            res.server_errors = server_log_errors(server.log_path)
        if pg_url:
            drop_pg_url(pg_url)
        tmp.cleanup()
    return res


def report(results: list[Result]) -> str:
    base = next((r for r in results if r.setup == "PostgreSQL" and r.processes == 1), None)
    lines = ["| setup | processes | assignments/s | vs PostgreSQL x1 | worker cycle p50 / p99 | requester call p50 / p99 "
             "| approvals/s | errors (5xx / connection / refused) | lost | duplicated | payments not once |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        rate = len(r.submitted) / r.window if r.window else 0
        ratio = f"{rate / (len(base.submitted) / base.window):.2f}x" if base and base.window and base.submitted else "—"
        fails = r.failures + r.requester_errors
        e5 = server_errors(fails)
        conn = sum(n for k, n in fails.items() if k.startswith("connection"))
        refused = sum(fails.values()) - e5 - conn
        a = r.audit
        lines.append(
            f"| {r.setup} | {r.processes} | {rate:.0f} | {ratio} | {pct(r.cycle, .5) * 1000:.0f} / {pct(r.cycle, .99) * 1000:.0f} ms "
            f"| {pct(r.requester_lat, .5) * 1000:.0f} / {pct(r.requester_lat, .99) * 1000:.0f} ms "
            f"| {len(r.approved) / r.window if r.window else 0:.0f} | {e5} / {conn} / {refused} "
            f"| {a.get('lost submissions', '?') + a.get('lost approvals', 0) if a else '?'} "
            f"| {a.get('duplicated submissions', '?') if a else '?'} "
            f"| {a.get('approvals not paid once', 0) + a.get('bonuses not paid once', 0) if a else '?'} |")
    lines += ["", "Where the CPU went during each window, in ms of CPU per acknowledged assignment (server: all its "
              "processes; PostgreSQL and kernel: the machine's busy time less the other columns; machine: share of all "
              "cores busy):", "",
              "| setup | processes | server | PostgreSQL and kernel | load generator | requesters | other | machine busy |",
              "|---|---|---|---|---|---|---|---|"]
    for r in results:
        n = len(r.submitted)
        if not r.cpu or not n:
            continue
        ms = {k: r.cpu.get(k, 0.0) / n * 1000 for k in ('server', 'load generator', 'requesters', 'other')}
        # PostgreSQL's backends come and go (a backend that exits takes its CPU time with it), and the kernel's
        # loopback networking is charged to no process: the machine's busy time less what was attributed is both.
        ms['postgres'] = max(0.0, r.cpu["busy"] / n * 1000 - sum(ms.values()))
        busy = r.cpu["busy"] / (r.cpu["busy"] + r.cpu["idle"]) if r.cpu["busy"] + r.cpu["idle"] else 0
        lines.append(f"| {r.setup} | {r.processes} | {ms['server']:.2f} | {ms['postgres']:.2f} | {ms['load generator']:.2f} "
                     f"| {ms['requesters']:.2f} | {ms['other']:.2f} | {busy:.0%} |")
    notes = []
    for r in results:
        fails = r.failures + r.requester_errors
        if fails:
            notes.append(f"{r.setup} x{r.processes} refusals: " + ", ".join(f"{k} x{n}" for k, n in fails.most_common(6)))
        if r.server_errors:
            notes.append(f"{r.setup} x{r.processes}: {r.server_errors}")
    return "\n".join(lines + [""] + notes)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--setups", default="sqlite:1,postgres:1,postgres:2,postgres:4",
                   help="comma-separated DATABASE:PROCESSES (default: %(default)s)")
    p.add_argument("--workers", type=int, default=2000, help="simulated workers (default: %(default)s)")
    p.add_argument("--requesters", type=int, default=4, help="requesters (default: %(default)s)")
    p.add_argument("--hits", type=int, default=100_000, help="HITs per setup (default: %(default)s)")
    p.add_argument("--seconds", type=float, default=300, help="window per setup (default: %(default)s)")
    p.add_argument("--create-procs", type=int, default=2, help="boto3 processes creating HITs (default: %(default)s)")
    p.add_argument("--quick", action="store_true", help="300 workers, 6,000 HITs, 20 s windows")
    args = p.parse_args(argv)
    if args.quick:
        args.workers, args.hits, args.seconds = 300, 6_000, 20.0
    if not 1 <= args.workers <= 5000 or not 1 <= args.requesters <= 50 or not 0 < args.seconds <= 900:
        p.error("bounds: 1-5000 workers, 1-50 requesters, a window of at most 900 s")
    setups = []
    for item in args.setups.split(","):
        kind, _, n = item.strip().partition(":")
        if kind not in ("sqlite", "postgres") or not n.isdigit() or not 1 <= int(n) <= 8:
            p.error(f"--setups: {item!r} is not DATABASE:PROCESSES with DATABASE sqlite or postgres, 1-8 processes")
        setups.append((kind, int(n)))
    log(f"{len(setups)} setups; {os.cpu_count()} CPUs")
    results = [run_setup(kind, n, args) for kind, n in setups]
    print(f"\nload.py: {args.workers} workers, {args.requesters} requesters, {args.hits:,} HITs, {args.seconds:g} s "
          f"windows, {os.cpu_count()} CPUs (the load generator shares them)\n")
    print(report(results))
    bad = any(r.audit.get(k) for r in results for k in r.audit) or any(
        server_errors(r.failures + r.requester_errors) for r in results)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
