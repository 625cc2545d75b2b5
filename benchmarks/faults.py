#!/usr/bin/env python
"""Fault scenarios under load, each with the audit of load.py at the end (every acknowledged submission, approval
and bonus present exactly once).

- `postgres-restart`: PostgreSQL (127.0.0.1:5432) is restarted a third of the way into the window, under a hitkit
  server with P processes (`pg_ctlcluster VERSION main restart`). Clients get retryable errors (HTTP 503
  ServiceUnavailable, which boto3 retries by itself) while it is down, then the server recovers on its own.
  Reported: how long the restart took, the longest gap between acknowledged submissions around it, the errors
  by kind, and the audit. It restarts the machine's PostgreSQL: run it when nothing else uses that server.

The other faults of issue 9 are tests that run in CI: kill -9 of one of two server processes under load
(tests/cli/test_server_processes.py), SQLite's disk filling up (tests/server/test_disk_full.py), the clock jumping
an hour (tests/server/test_clock_jump.py), and a launch or a bonus run killed at random points
(tests/requester/test_launch_crash.py, tests/requester/test_payments.py).

    python benchmarks/faults.py                           # 2 processes, 200 workers, 20 s window
    python benchmarks/faults.py --processes 1 --seconds 30
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load import Result, log, report, run_setup, server_errors  # noqa: E402


def _cluster() -> tuple[str, str]:
    """(version, name) of the local PostgreSQL cluster, as pg_lsclusters lists it."""
    out = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=True).stdout.split()
    return out[0], out[1]


def restart_postgres(at_fraction: float, seconds: float):  # type: ignore[no-untyped-def]
    def during(server, res: Result) -> None:  # type: ignore[no-untyped-def]
        time.sleep(seconds * at_fraction)
        version, name = _cluster()
        log(f"restarting PostgreSQL {version}/{name}")
        t = time.monotonic()
        done = subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, name, "restart"],
                              capture_output=True, text=True)
        res.events = {"restart_at": t, "restart_took": time.monotonic() - t, "restart_rc": done.returncode,
                      "restart_err": done.stderr.strip()[-300:]}
        log(f"PostgreSQL restarted in {res.events['restart_took']:.1f} s (rc {done.returncode})")

    return during


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scenario", default="postgres-restart", choices=["postgres-restart"])
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--workers", type=int, default=200)
    p.add_argument("--requesters", type=int, default=2)
    p.add_argument("--hits", type=int, default=16000)  # enough that work goes on to the end of the window
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--create-procs", type=int, default=2)
    args = p.parse_args(argv)
    if not 1 <= args.workers <= 2000 or not 0 < args.seconds <= 300:
        p.error("bounds: 1-2000 workers, a window of at most 300 s")
    res = run_setup("postgres", args.processes, args, during=restart_postgres(1 / 3, args.seconds))
    ev = res.events
    after = [t for t in res.times if t >= ev.get("restart_at", float("inf"))]
    times = sorted(res.times)
    gap = max((b - a for a, b in zip(times, times[1:])), default=float("nan"))  # the outage as clients saw it
    fails = res.failures + res.requester_errors
    print(f"\nfaults.py postgres-restart: {args.processes} server processes, {args.workers} workers, "
          f"{args.requesters} requesters, {args.seconds:g} s window\n")
    print(report([res]))
    print()
    print("| restart took | longest gap between acknowledged submissions | submissions after the restart | 503 (retryable) "
          "| other 5xx | connection errors | lost | duplicated | payments not once |")
    print("|---|---|---|---|---|---|---|---|---|")
    a = res.audit
    other5 = server_errors(fails) - fails.get("HTTP 503", 0)
    print(f"| {ev.get('restart_took', float('nan')):.1f} s | {gap:.1f} s | {len(after)} | {fails.get('HTTP 503', 0)} "
          f"| {other5} | {sum(n for k, n in fails.items() if k.startswith('connection'))} "
          f"| {a.get('lost submissions', 0) + a.get('lost approvals', 0)} | {a.get('duplicated submissions', 0)} "
          f"| {a.get('approvals not paid once', 0) + a.get('bonuses not paid once', 0)} |")
    if ev.get("restart_rc"):
        print(f"\npg_ctlcluster failed: {ev.get('restart_err')}")
    bad = any(a.values()) or other5 or not after or ev.get("restart_rc")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
