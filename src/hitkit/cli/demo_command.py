"""`hitkit demo`: the SageMaker + MTurk iris annotation loop on a server started in this process (see
hitkit.demo.annotation_loop), with progress bars and a summary table."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def demo(
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Keep the server's database and the projects "
                                                                     "here (default: a temporary folder, removed "
                                                                     "at the end)."),
    keep_running: bool = typer.Option(False, "--keep-running", help="Leave the server up afterwards to explore "
                                                                    "(Ctrl-C stops it)."),
    seed: int = typer.Option(7, "--seed", help="The crowd's and the split's seed (same seed, same run)."),
    json_output: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout."),
) -> None:
    """Run the whole loop on this machine in under a minute: a server in-process, 150 iris flowers labelled by a
    simulated crowd of 12 (more workers where two disagree), a model trained on the labels, and its least
    confident predictions checked by the crowd."""
    from hitkit.demo.annotation_loop import Demo, DemoOptions

    temporary = data_dir is None
    root = Path(tempfile.mkdtemp(prefix="hitkit-demo-")) if temporary else data_dir.expanduser().resolve()
    if not temporary and root.exists() and any(root.iterdir()):
        err.print(f"error: {root} is not empty; give --data-dir a new or empty folder")
        raise typer.Exit(1)
    root.mkdir(parents=True, exist_ok=True)
    columns = (TextColumn("{task.description:<18}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    progress = Progress(*columns, console=err, transient=False, disable=json_output)
    tasks: dict[str, int] = {}

    def show(phase: str, done: int, total: int | None) -> None:
        if phase not in tasks:
            tasks[phase] = progress.add_task(phase, total=total)
        progress.update(tasks[phase], completed=done, total=total)

    demo_run = Demo(DemoOptions(data_dir=root, seed=seed), show)
    try:
        with progress:
            url = demo_run.start_server()
            err.print(f"hitkit server on {url} (data in {root})") if not json_output else None
            summary = demo_run.run()
    except Exception as e:  # noqa: BLE001 - one line for the user; the loop's parts raise their own error types
        demo_run.stop()
        err.print(f"error: the demo stopped: {type(e).__name__}: {e}")
        raise typer.Exit(1) from None
    if json_output:
        out.print(json.dumps(summary.to_json(), indent=2, default=str), markup=False)
    else:
        table = Table(title="hitkit demo: the iris annotation loop", show_header=False, title_justify="left")
        table.add_column(style="bold")
        table.add_column()
        for what, value in summary.rows():
            table.add_row(what, value)
        out.print(table)
        out.print(f"Labels with measurements: {root / 'iris-labels.csv'}" + (" (removed on exit)" if temporary else ""))
        out.print(f"Worker site: {summary.url}/  (join as a worker: {summary.invitation_url})")
        out.print(f"MTurk endpoint: {summary.url}  (requester key {demo_run.boot.access_key})")  # type: ignore[union-attr]
    try:
        if keep_running:
            err.print("The server keeps running; press Ctrl-C to stop it.")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    finally:
        demo_run.stop()
        if temporary:
            shutil.rmtree(root, ignore_errors=True)
