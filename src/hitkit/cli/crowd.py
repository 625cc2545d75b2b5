"""`hitkit crowd simulate`: a simulated crowd doing HITs on a hitkit server through the worker API."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Optional

from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

if TYPE_CHECKING:
    from hitkit.crowd.models import WorkerModel

# The crowd modules (and httpx) load inside the command: every other `hitkit` command starts faster without them.

app = typer.Typer(no_args_is_help=True, help="Simulated crowds.")
console = Console(stderr=True)


def _seconds(text: str) -> float:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*", text)
    if not m:
        raise typer.BadParameter(f"use a duration like 60s, 5m or 1h, not {text!r}")
    return float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]


def _workers_from_data_dir(data_dir: Path, names: list[str], models: list[WorkerModel]) -> list[tuple[str, str]]:
    from hitkit.server.config import load_config
    from hitkit.server.domain.accounts import worker_token
    from hitkit.server.store.db import make_engine

    engine = make_engine(load_config(data_dir).database_url)
    with engine.begin() as conn:
        out = [worker_token(conn, n, time.time(), country=m.country, subdivision=m.subdivision, adult=m.adult,
                            masters=m.masters) for n, m in zip(names, models, strict=True)]
    engine.dispose()
    return out


def _workers_from_admin(url: str, token: str, names: list[str], models: list[WorkerModel]) -> list[tuple[str, str]]:
    import httpx

    from hitkit.crowd.simulate import CrowdError

    out = []
    for name, m in zip(names, models, strict=True):
        r = httpx.post(f"{url.rstrip('/')}/api/admin/v1/workers", headers={"Authorization": f"Bearer {token}"},
                       json={"name": name, "country": m.country, "subdivision": m.subdivision, "adult": m.adult,
                             "masters": m.masters, "reuse": True}, timeout=30)
        if r.status_code != 200:
            raise CrowdError(f"creating worker {name} failed: HTTP {r.status_code} {r.text[:200]}")
        out.append((r.json()["WorkerId"], r.json()["token"]))
    return out


@app.command()
def simulate(
    endpoint_url: str = typer.Option(..., "--endpoint-url", help="The hitkit server, e.g. http://127.0.0.1:8642."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Make the workers in this server's database."),
    admin_token: Optional[str] = typer.Option(None, "--admin-token", help="Or make them through the admin API."),
    workers: Optional[int] = typer.Option(None, "--workers", help="How many workers (default: the profile's count, else 10)."),
    profile: Optional[Path] = typer.Option(None, "--profile", help="Worker models (TOML or JSON)."),
    seed: int = typer.Option(0, "--seed", help="Same seed, same answers."),
    duration: Optional[str] = typer.Option(None, "--duration", help="Stop after this long (60s, 5m)."),
    until_done: bool = typer.Option(False, "--until-done", help="Stop when no HIT any worker can do is left."),
    max_assignments: Optional[int] = typer.Option(None, "--max-assignments", help="Stop after this many assignments."),
) -> None:
    """Workers find, accept and do HITs through the worker API until done (or for --duration)."""
    import httpx

    from hitkit.crowd.models import ProfileError, WorkerModel, load_profile
    from hitkit.crowd.simulate import Crowd, CrowdError, SimWorker

    if (data_dir is None) == (admin_token is None):
        raise typer.BadParameter("give exactly one of --data-dir or --admin-token")
    if duration is None and not until_done and max_assignments is None:
        until_done = True
    try:
        prof = load_profile(profile, default_workers=workers or 10)
    except ProfileError as e:
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(1) from None
    models = prof.workers
    if workers is not None:  # --workers wins: repeat or trim the profile's models to that many
        base = models or [WorkerModel()]
        models = [base[i % len(base)] for i in range(workers)]
    prof.workers = models
    names = [f"crowd-{seed}-{i:03d}" for i in range(len(models))]
    try:
        creds = (_workers_from_data_dir(data_dir, names, models) if data_dir
                 else _workers_from_admin(endpoint_url, admin_token or "", names, models))
    except (CrowdError, httpx.HTTPError) as e:
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(1) from None
    sim_workers = [SimWorker(n, wid, tok, m) for n, (wid, tok), m in zip(names, creds, models, strict=True)]
    crowd = Crowd(endpoint_url, sim_workers, prof, seed=seed)
    columns = (TextColumn("[bold]crowd[/bold]"), BarColumn(), TextColumn("{task.fields[summary]}"), TimeElapsedColumn())
    try:
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task("crowd", total=max_assignments, summary="")

            def show(report) -> None:  # type: ignore[no-untyped-def]
                progress.update(task, completed=report.attempted, summary=(
                    f"{report.submitted} submitted, {report.returned} returned, {report.abandoned} abandoned"))

            report = crowd.run(duration=_seconds(duration) if duration else None, until_done=until_done,
                               max_assignments=max_assignments, on_progress=show)
    except (CrowdError, httpx.HTTPError) as e:
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(1) from None
    finally:
        crowd.close()
    console.print(f"{len(sim_workers)} workers: {report.submitted} submitted, {report.returned} returned, "
                  f"{report.abandoned} abandoned, {report.refused} refused, {len(report.errors)} errors")
    for line in report.errors[:10]:
        console.print(f"  [yellow]{line}[/yellow]")
    if report.errors:
        raise typer.Exit(1)
