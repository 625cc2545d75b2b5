"""`hitkit live run TASK.py` and `hitkit live export RUN`: live multi-party tasks (chat, model evaluation,
interactive worlds). A thin layer over `hitkit.requester.live`: the task file defines `task = LiveTask(...)`; this
process runs its worlds and connects out to the server's live relay; `--run RUN` resumes a run after a crash."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape

from hitkit.cli.endpoint_options import EndpointOpt, EndpointUrlOpt, client_from_options, fail

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Live tasks: chat, model evaluation and multi-agent worlds with workers and bots.")
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


@app.command("run")
def run(
    task_file: Path = typer.Argument(..., help="A Python file defining `task = LiveTask(...)`."),
    conversations: int = typer.Option(1, "--conversations", min=1, max=100_000, help="Completed worlds to collect."),
    reward: str = typer.Option("0.50", "--reward", help="Reward per HIT in USD, e.g. 0.50."),
    run_id: Optional[str] = typer.Option(None, "--run", help="Resume this run (its id was printed when it started)."),
    max_hits: Optional[int] = typer.Option(None, "--max-hits", min=1, help="At most this many HITs (default: "
                                           "3 x conversations x humans per world, replacements included)."),
    settle_timeout: float = typer.Option(600.0, "--settle-timeout", min=0, help="Seconds to wait, after the last "
                                         "conversation, for workers to submit before the run ends."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what the runner does."),
    endpoint: str = EndpointOpt,
    endpoint_url: Optional[str] = EndpointUrlOpt,
) -> None:
    """Run a live task: create its HITs, pair workers (and bots), run the worlds, pay by the task's policy."""
    from hitkit.requester.live import LiveRunner
    from hitkit.requester.live.connection import LiveConnectionError
    from hitkit.requester.live.loader import TaskFileError, load_task

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(asctime)s %(message)s")
    try:
        task = load_task(task_file)
    except TaskFileError as e:
        fail(str(e))
    client = client_from_options(endpoint, endpoint_url, check=True)
    runner = LiveRunner(task, client, client.meta.endpoint_url, run_id=run_id, conversations=conversations,
                        reward=reward, max_hits=max_hits, settle_timeout=settle_timeout)
    out.print(f"run {escape(runner.run_id)}: {conversations} conversation(s) of {escape(task.name)}, "
              f"${escape(reward)} per HIT")
    out.print(f"resume after a crash with: hitkit live run {escape(str(task_file))} --run {escape(runner.run_id)}")
    try:
        summary = asyncio.run(runner.run())
    except LiveConnectionError as e:
        fail(f"the server refused the live connection: {e}")
    except KeyboardInterrupt:
        err.print(f"stopped; resume with --run {escape(runner.run_id)}")
        raise typer.Exit(130)
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(summary.outcomes.items())) or "none"
    out.print(f"run {escape(summary.run_id)} done: {summary.completed_worlds} conversation(s), {summary.hits_created} "
              f"HIT(s), approved {summary.approved}, rejected {summary.rejected}; outcomes: {outcomes}")


@app.command("export")
def export(
    run_id: str = typer.Argument(..., help="The run id `hitkit live run` printed."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="The JSONL file (default: RUN.jsonl)."),
    include_onboarding: bool = typer.Option(False, "--include-onboarding", help="Also export onboarding sessions."),
    endpoint: str = EndpointOpt,
    endpoint_url: Optional[str] = EndpointUrlOpt,
) -> None:
    """Write a live run's conversations as JSONL in a ParlAI-like format (one world per line)."""
    from hitkit.requester.live.connection import client_credentials
    from hitkit.requester.live.export import ExportError, export_jsonl, fetch_run

    client = client_from_options(endpoint, endpoint_url)
    try:
        run = fetch_run(client.meta.endpoint_url, client_credentials(client), run_id)
    except ExportError as e:
        fail(str(e))
    except OSError as e:
        fail(f"cannot reach {client.meta.endpoint_url}: {e}")
    path = output or Path(f"{run_id}.jsonl")
    n = export_jsonl(run, path, include_onboarding=include_onboarding)
    out.print(f"{n} conversation(s) written to {escape(str(path))}")


def register(app_: typer.Typer) -> None:
    app_.add_typer(app, name="live")
