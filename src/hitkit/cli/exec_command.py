"""`hitkit exec [--endpoint local | --endpoint-url URL] [--keep-credentials] -- CMD ARGS...`: run an
unmodified legacy MTurk script against a hitkit server.

The parent (this module) resolves the endpoint and its credentials, then runs CMD as a child process with
PYTHONPATH headed by `hitkit/requester/legacy_redirect`, whose `sitecustomize.py` patches botocore inside
every Python process of the child tree. It exits with the child's exit code and forwards SIGINT/SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import typer

from hitkit.cli.endpoint_options import (
    EndpointOpt,
    EndpointUrlOpt,
    endpoint_from_options,
    fail,
)

# The directory whose sitecustomize.py the child loads (found without importing boto3: `hitkit` starts fast).
REDIRECT_DIR = Path(__file__).resolve().parents[1] / "requester" / "legacy_redirect"
# Variables the child-side sitecustomize reads; stale values from an enclosing `hitkit exec` are replaced.
CHILD_VARS = ("HITKIT_EXEC_ENDPOINT_URL", "HITKIT_EXEC_ACCESS_KEY_ID", "HITKIT_EXEC_SECRET_ACCESS_KEY",
              "HITKIT_EXEC_SESSION_TOKEN", "HITKIT_EXEC_KEEP_CREDENTIALS")


def child_environment(url: str, creds: object | None, base: dict[str, str] | None = None) -> dict[str, str]:
    """The child's environment: `base` (default os.environ) plus the redirect's variables. `creds` None means
    keep the script's own credentials."""
    env = dict(os.environ if base is None else base)
    for var in CHILD_VARS:
        env.pop(var, None)
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and Path(p).resolve() != REDIRECT_DIR]
    env["PYTHONPATH"] = os.pathsep.join([str(REDIRECT_DIR), *paths])
    env["HITKIT_EXEC_ENDPOINT_URL"] = url
    env["AWS_ENDPOINT_URL_MTURK"] = url  # for non-Python tools (AWS CLI v2, SDKs that read it)
    if creds is None:
        env["HITKIT_EXEC_KEEP_CREDENTIALS"] = "1"
    else:
        env["HITKIT_EXEC_ACCESS_KEY_ID"] = creds.access_key  # type: ignore[attr-defined]
        env["HITKIT_EXEC_SECRET_ACCESS_KEY"] = creds.secret_key  # type: ignore[attr-defined]
        if getattr(creds, "token", None):
            env["HITKIT_EXEC_SESSION_TOKEN"] = creds.token  # type: ignore[attr-defined]
    return env


def _terminal_sent_it_to_the_child() -> bool:
    """True when we share the terminal's foreground process group with the child: a Ctrl-C there reached the
    child already, and forwarding it would deliver it twice."""
    try:
        fd = os.open("/dev/tty", os.O_RDONLY | getattr(os, "O_NOCTTY", 0))
    except OSError:
        return False
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False
    finally:
        os.close(fd)


def run_child(argv: list[str], env: dict[str, str]) -> int:
    """Run argv, forwarding SIGINT/SIGTERM; return its exit code (128 + N if signal N killed it)."""
    try:
        child = subprocess.Popen(argv, env=env)
    except FileNotFoundError:
        fail(f"command not found: {argv[0]}", code=127)
    except PermissionError:
        fail(f"cannot run {argv[0]}: permission denied", code=126)

    def forward(signum: int, _frame: object) -> None:
        if signum == signal.SIGINT and _terminal_sent_it_to_the_child():
            return
        if child.poll() is None:
            child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 128 - code if code < 0 else code


def exec_command(
    ctx: typer.Context,
    endpoint: str = EndpointOpt,
    endpoint_url: str | None = EndpointUrlOpt,
    keep_credentials: bool = typer.Option(
        False, "--keep-credentials",
        help="Keep the credentials the script passes (or its environment's); by default its MTurk clients sign with "
             "the endpoint's credentials, since hard-coded AWS keys mean nothing to hitkit."),
) -> None:
    """Run CMD with its boto3 MTurk clients pointed at a hitkit server: `hitkit exec -- python create_tasks.py`.

    Clients for MTurk's sandbox or production endpoint (or with no endpoint) go to the endpoint chosen here,
    without editing the script. Other AWS services are untouched. Put CMD after `--`.
    """
    argv = list(ctx.args)
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        fail("give the command to run after --, e.g. `hitkit exec -- python create_tasks.py`.", code=2)
    from hitkit.requester import endpoints
    from hitkit.requester.endpoints import EndpointError

    ep = endpoint_from_options(endpoint, endpoint_url)
    try:
        url = endpoints.endpoint_url(ep)
        creds = None if keep_credentials else endpoints.credentials(ep)
    except EndpointError as e:
        fail(str(e))
    raise typer.Exit(run_child(argv, child_environment(url, creds)))
