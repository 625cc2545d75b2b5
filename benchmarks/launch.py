#!/usr/bin/env python
"""HITs created per second: `launch_batch` (hitkit's launcher: validation, ledger, 16 threads) beside a plain
sequential boto3 loop (one create_hit per row, as the MTurk tutorial and simple-amt do), in one run, in two settings:

- direct: straight to a local `hitkit server run` (a fresh data directory for every measurement);
- proxy:  through an asyncio proxy in this script that holds every request for 50 ms before forwarding it (a
          server across the internet).

Both sides render the same project template for every row (simple-amt renders a Jinja template per HIT too).
launch_batch's time is end to end: reading nothing from disk (the rows are in memory for both), validating and
rendering every row, the ledger's intents transaction, CreateHITType, the creation calls and the ledger's result
transactions (SQLite, synchronous=FULL). The sequential loop keeps its HIT ids in a list and writes them to a file
at the end, as simple-amt's scripts print them.

The sequential loop is capped in time (`--seq-seconds`): through the proxy it makes ~19 calls/s, and 10 000 rows
would take nine minutes. Its rate is steady, so the rate over the cap is its rate; the table says how many rows it
did. launch_batch always does every row (and the script checks the server and the ledger have exactly one HIT per
row afterwards).

    python benchmarks/launch.py --quick       # 2000 rows, sequential loop capped at 20 s: about 3 minutes
    python benchmarks/launch.py               # 10 000 rows, sequential loop capped at 60 s: about 6 minutes
    python benchmarks/launch.py --rows 5000 --settings proxy --delay-ms 100

Only 127.0.0.1 traffic. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
from botocore.config import Config

TEMPLATE = """<p>Is this sentence positive?</p><blockquote>{{ row.text }}</blockquote>
<crowd-form><crowd-radio-group><crowd-radio-button name="yes">Yes</crowd-radio-button>
<crowd-radio-button name="no">No</crowd-radio-button></crowd-radio-group></crowd-form>
"""
TOML = """[hit]
title = "Is this sentence positive?"
description = "Read one sentence and say whether it is positive."
keywords = ["text", "sentiment"]
reward = "0.05"
assignments = 1
lifetime = "1d"
duration = "5m"
auto_approval_delay = "1d"
"""


CLK_TCK = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the 50 ms proxy


async def _pipe_requests(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, upstream: tuple[str, int],
                         delay: float) -> None:
    """HTTP/1.1 keep-alive: each request (headers + Content-Length body) is held `delay` seconds, then sent on
    this connection's own upstream connection, and the response (Content-Length body) copied back."""
    up_reader = up_writer = None
    try:
        up_reader, up_writer = await asyncio.open_connection(*upstream)
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            m = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.IGNORECASE)
            body = await reader.readexactly(int(m.group(1))) if m else b""
            await asyncio.sleep(delay)
            up_writer.write(head + body)
            await up_writer.drain()
            rhead = await up_reader.readuntil(b"\r\n\r\n")
            m = re.search(rb"\r\ncontent-length:\s*(\d+)", rhead, re.IGNORECASE)
            if not m:
                raise RuntimeError("the proxy needs Content-Length responses")
            rbody = await up_reader.readexactly(int(m.group(1)))
            writer.write(rhead + rbody)
            await writer.drain()
    finally:
        for w in (writer, up_writer):
            if w is not None:
                w.close()


def _proxy_main(upstream_port: int, delay: float, ready) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        server = await asyncio.start_server(
            lambda r, w: _pipe_requests(r, w, ("127.0.0.1", upstream_port), delay), "127.0.0.1", 0, backlog=1024)
        ready.send(server.sockets[0].getsockname()[1])
        async with server:
            await server.serve_forever()

    asyncio.run(main())


class Proxy:
    """The proxy in a child process (its event loop does not share the benchmark's GIL)."""

    def __init__(self, upstream_url: str, delay: float) -> None:
        port = int(upstream_url.rsplit(":", 1)[1])
        parent, child = mp.Pipe()
        self.proc = mp.get_context("fork").Process(target=_proxy_main, args=(port, delay, child), daemon=True)
        self.proc.start()
        self.url = f"http://127.0.0.1:{parent.recv()}"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.join(5)


# ---------------------------------------------------------------- a fresh server


class Server:
    def __init__(self, root: Path) -> None:
        self.data_dir = root / "server"
        out = subprocess.run([sys.executable, "-m", "hitkit.cli.main", "server", "init", "--data-dir", str(self.data_dir),
                              "--no-profile", "--json"], capture_output=True, text=True, check=True)
        creds = json.loads(out.stdout)["requester"]
        self.key, self.secret = creds["aws_access_key_id"], creds["aws_secret_access_key"]
        subprocess.run([sys.executable, "-m", "hitkit.cli.main", "server", "funds", "add", "default", "100000",
                        "--data-dir", str(self.data_dir)], capture_output=True, check=True)
        self.log = open(root / "server.log", "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "hitkit.cli.main", "server", "run", "--data-dir",
                                      str(self.data_dir), "--port", "0"], stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        m = re.search(r"listening on (http://\S+)", line)
        if not m:
            self.proc.kill()
            raise RuntimeError(f"the server did not start: {line!r} (see {root / 'server.log'})")
        self.url = m.group(1)

    def hit_count(self) -> int:
        conn = sqlite3.connect(f"file:{self.data_dir / 'hitkit.db'}?mode=ro", uri=True, timeout=30)
        try:
            return conn.execute("SELECT count(*) FROM hits").fetchone()[0]
        finally:
            conn.close()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def client(url: str, server: Server, **config) -> object:  # type: ignore[no-untyped-def]
    return boto3.client("mturk", endpoint_url=url, region_name="us-east-1", aws_access_key_id=server.key,
                        aws_secret_access_key=server.secret, config=Config(**config) if config else None)


# ---------------------------------------------------------------- the two ways


def make_project(root: Path):  # type: ignore[no-untyped-def]
    from hitkit.requester.project import Project

    folder = root / "sentiment"
    folder.mkdir(parents=True)
    (folder / "hitkit.toml").write_text(TOML)
    (folder / "template.html").write_text(TEMPLATE)
    return Project.load(folder)


def run_sequential(root: Path, url: str, server: Server, data, seconds: float) -> dict:  # type: ignore[no-untyped-def]
    """The tutorial's loop: one create_hit per row with the rendered question; HIT ids written at the end."""
    project = make_project(root)
    props = project.properties
    mturk = client(url, server)
    mturk.get_account_balance()  # connect (both sides start connected)
    hit_ids = []
    started = time.perf_counter()
    for number, row in enumerate(data.rows, start=1):
        question = project.render(row, number)
        r = mturk.create_hit(Title=props.title, Description=props.description, Keywords=props.keywords,
                             Reward=props.reward, MaxAssignments=1, LifetimeInSeconds=props.lifetime,
                             AssignmentDurationInSeconds=props.duration,
                             AutoApprovalDelayInSeconds=props.auto_approval_delay, Question=question)
        hit_ids.append(r["HIT"]["HITId"])
        if time.perf_counter() - started > seconds:
            break
    (root / "hit_ids.txt").write_text("\n".join(hit_ids) + "\n")
    elapsed = time.perf_counter() - started
    project.close()
    return {"hits": len(hit_ids), "seconds": elapsed, "capped": len(hit_ids) < len(data.rows)}


def run_launch(root: Path, url: str, server: Server, data, workers: int) -> dict:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from hitkit.requester.launch import launch_batch
    from hitkit.requester.ledger.tables import hits

    project = make_project(root)
    mturk = client(url, server, retries={"mode": "standard", "max_attempts": 0}, max_pool_connections=workers + 2)
    mturk.get_account_balance()
    marks: list[float] = []
    started = time.perf_counter()
    report = launch_batch(project, mturk, data, workers=workers, progress=lambda done, total: marks.append(time.perf_counter()))
    elapsed = time.perf_counter() - started
    with project.ledger.connect() as conn:
        recorded = conn.execute(select(func.count()).select_from(hits).where(hits.c.hit_id.is_not(None))).scalar_one()
    project.close()
    if not report.complete or recorded != len(data.rows) or server.hit_count() != len(data.rows):
        raise RuntimeError(f"launch_batch did not create exactly one HIT per row: {report.to_json()}, "
                           f"ledger {recorded}, server {server.hit_count()}")
    create_phase = marks[-1] - marks[0] if len(marks) > 1 else elapsed
    return {"hits": report.created_now, "seconds": elapsed, "capped": False, "create_seconds": create_phase,
            "retries": report.retries}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=None, help="rows per launch (default 10000; --quick: 2000)")
    ap.add_argument("--quick", action="store_true", help="2000 rows, sequential loop capped at 20 s")
    ap.add_argument("--seq-seconds", type=float, default=None, help="time cap of the sequential loop (default 60; --quick 20)")
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--delay-ms", type=float, default=50.0, help="what the proxy adds to every request")
    ap.add_argument("--settings", default="direct,proxy", help="comma-separated: direct, proxy")
    ap.add_argument("--repeats", type=int, default=1, help="interleaved runs of each way per setting (median shown)")
    ap.add_argument("--json-out", type=Path, help="write the measurements as JSON")
    args = ap.parse_args()
    rows = args.rows or (2000 if args.quick else 10_000)
    seq_cap = args.seq_seconds or (20.0 if args.quick else 60.0)
    settings = [s.strip() for s in args.settings.split(",") if s.strip()]

    import pandas as pd

    from hitkit.requester.inputs import read_input

    data = read_input(pd.DataFrame({"text": [f"Sentence number {i}: the service was {'great' if i % 3 else 'slow'}."
                                             for i in range(rows)]}))
    log(f"rows {rows}, workers {args.workers}, proxy delay {args.delay_ms:.0f} ms, sequential cap {seq_cap:.0f} s, "
        f"{args.repeats} run(s), load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    results = []
    for setting in settings:
        for repeat in range(args.repeats):  # interleaved, so both ways see the same machine load
            for method in ("sequential boto3 loop", "launch_batch"):
                with tempfile.TemporaryDirectory(prefix="hitkit-bench-launch-") as tmp:
                    root = Path(tmp)
                    server = Server(root)
                    proxy = Proxy(server.url, args.delay_ms / 1000) if setting == "proxy" else None
                    try:
                        url = proxy.url if proxy else server.url
                        log(f"{setting} (run {repeat + 1}/{args.repeats}): {method} ...")
                        load = os.getloadavg()[0]
                        server_cpu, own_cpu = process_cpu(server.proc.pid), time.process_time()
                        if method == "launch_batch":
                            r = run_launch(root, url, server, data, args.workers)
                        else:
                            r = run_sequential(root, url, server, data, seq_cap)
                        r["client_cpu_ms"] = 1000 * (time.process_time() - own_cpu) / r["hits"]
                        r["server_cpu_ms"] = 1000 * (process_cpu(server.proc.pid) - server_cpu) / r["hits"]
                        r["load"] = (load + os.getloadavg()[0]) / 2
                    finally:
                        if proxy:
                            proxy.stop()
                        server.stop()
                r.update(setting=setting, method=method, repeat=repeat, rate=r["hits"] / r["seconds"])
                log(f"  {r['hits']} HITs in {r['seconds']:.1f} s: {r['rate']:.0f}/s; CPU per HIT: client "
                    f"{r['client_cpu_ms']:.2f} ms, server {r['server_cpu_ms']:.2f} ms; load {r['load']:.1f}")
                results.append(r)

    def median_run(setting: str, method: str) -> dict:
        runs = sorted((r for r in results if r["setting"] == setting and r["method"] == method), key=lambda r: r["rate"])
        return runs[len(runs) // 2]

    print(f"\nHITs created per second, {rows} rows, {args.workers} workers ({time.strftime('%Y-%m-%d')}, "
          f"{os.cpu_count()} CPUs shared; median of {args.repeats} interleaved run{'s' if args.repeats > 1 else ''})\n")
    header = (f"{'setting':<14} {'method':<22} {'HITs':>6} {'seconds':>8} {'HITs/s':>7} {'vs loop':>8} "
              f"{'client CPU/HIT':>15} {'server CPU/HIT':>15} {'load':>5}  notes")
    print(header)
    print("-" * len(header))
    verdicts = []
    for setting in settings:
        seq = median_run(setting, "sequential boto3 loop")
        launch = median_run(setting, "launch_batch")
        for r in (seq, launch):
            notes = []
            if r["capped"]:
                notes.append(f"time-capped at {seq_cap:.0f} s")
            if r["method"] == "launch_batch":
                notes.append(f"end to end; creation phase {r['hits'] / r['create_seconds']:.0f}/s; {r['retries']} retries")
            rates = [x["rate"] for x in results if x["setting"] == setting and x["method"] == r["method"]]
            if len(rates) > 1:
                notes.append("runs " + ", ".join(f"{x:.0f}" for x in rates))
            label = "direct" if setting == "direct" else f"proxy +{args.delay_ms:.0f} ms"
            print(f"{label:<14} {r['method']:<22} {r['hits']:>6} {r['seconds']:>8.1f} {r['rate']:>7.0f} "
                  f"{r['rate'] / seq['rate']:>7.1f}x {r['client_cpu_ms']:>12.2f} ms {r['server_cpu_ms']:>12.2f} ms "
                  f"{r['load']:>5.1f}  {'; '.join(notes)}")
        ratio = launch["rate"] / seq["rate"]
        goal = 10.0 if setting == "proxy" else 1.0
        verdicts.append(f"goal {setting}: launch_batch >= {goal:.0f}x the loop: {ratio:.1f}x, "
                        f"{'met' if ratio >= goal else 'NOT met'}")
    print()
    for v in verdicts:
        print(v)
    if args.json_out:
        args.json_out.write_text(json.dumps({"rows": rows, "results": results}, indent=2))


if __name__ == "__main__":
    main()
