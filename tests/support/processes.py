"""Real `hitkit server` processes for tests that need the CLI or several processes on one database."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def hitkit(*args: str, env: dict | None = None, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess:
    """Run `hitkit ARGS` (the installed console script's module) and return the completed process."""
    proc = subprocess.run([sys.executable, "-m", "hitkit.cli.main", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120, input=stdin)
    if check and proc.returncode != 0:
        raise AssertionError(f"hitkit {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def hitkit_json(*args: str, env: dict | None = None, stdin: str | None = None) -> dict:
    return json.loads(hitkit(*args, "--json", env=env, stdin=stdin).stdout)


class ServerProcess:
    """`hitkit server run` in a child process; `url` once it listens."""

    def __init__(self, data_dir: Path, *, port: int = 0, env: dict | None = None, extra: tuple[str, ...] = (),
                 prefix: tuple[str, ...] = ()) -> None:
        # prefix: what runs it (`ip netns exec NS` for a host of its own)
        self.proc = subprocess.Popen(
            [*prefix, sys.executable, "-m", "hitkit.cli.main", "server", "run", "--data-dir", str(data_dir), "--port", str(port), *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})},
        )
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        m = re.search(r"listening on (http://\S+)", line)
        if not m:
            err = self.proc.stderr.read() if self.proc.stderr else ""
            self.proc.kill()
            raise AssertionError(f"server did not start: {line!r} {err}")
        self.url = m.group(1)
        _wait_http(self.url)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def _wait_http(url: str, timeout: float = 20) -> None:
    import httpx

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if httpx.get(url + "/api/admin/v1/health", timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{url} did not answer")
