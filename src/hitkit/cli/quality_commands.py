"""`hitkit qc NAME`: evaluate the project's quality-control rules and apply what they decide.

Collects first (unless `--no-collect`); `--dry-run` shows, per worker caught, the rule, its figures and what would
be done, and sends nothing. Without it every action is applied (each recorded in the ledger before it is sent):
soft and hard blocks, qualification values, extra assignments, and the rules' approve / reject decisions.
A thin layer over `hitkit.requester.quality_control`.
"""

from __future__ import annotations

import json
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape

from hitkit.cli.endpoint_options import EndpointOpt, EndpointUrlOpt, client_from_options, fail

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _one_line(text: str) -> str:
    return "; ".join(part.strip() for part in str(text).strip().splitlines() if part.strip())


def qc(
    name: str = typer.Argument(..., help="The project folder (holding hitkit.toml), relative to the current folder."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be done per worker and why; send nothing."),
    no_collect: bool = typer.Option(False, "--no-collect", help="Judge what the ledger has (no collect first)."),
    concurrency: int = typer.Option(8, "--concurrency", min=1, max=64, help="Calls to the endpoint at once."),
    json_output: bool = typer.Option(False, "--json", help="Print the outcome as JSON on stdout."),
    endpoint: str = EndpointOpt,
    endpoint_url: Optional[str] = EndpointUrlOpt,
) -> None:
    """Quality control: evaluate the project's quality_control rules in hitkit.toml and apply their actions (--dry-run: show)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from hitkit.requester.collect import ResultsError, collect, describe
    from hitkit.requester.project import Project, ProjectError
    from hitkit.requester.quality_control import apply, evaluate
    from hitkit.requester.review import RuleError

    try:
        project = Project.load(name)
    except ProjectError as e:
        fail(_one_line(str(e)))
    if not project.quality_control:
        fail(f"{project.root / 'hitkit.toml'} has no [[quality_control]] rules (see docs/quality-control.md)")
    client = None
    if not (no_collect and dry_run):
        client = client_from_options(endpoint, endpoint_url, check=True, max_pool_connections=concurrency + 2)
    try:
        if not no_collect:
            collected = collect(project, client, concurrency=concurrency, quality_control=False)
            if collected.errors:
                err.print(f"[yellow]warning:[/yellow] {len(collected.errors)} HITs could not be collected; judging "
                          "what the ledger has")
        plan = evaluate(project)
        if dry_run:
            if json_output:
                typer.echo(json.dumps({"dry_run": True, **plan.to_json()}, indent=2, default=str))
                return
            for line in plan.describe():
                out.print(escape(line))
            for a in plan.todo:
                out.print(f"  would {escape(a.describe())} for {escape(a.worker_id)}  [dim]({escape(a.rule)})[/dim]")
            for d in plan.decisions:
                out.print(f"  would {d.action} {d.assignment_id} of {escape(d.worker_id)}  [dim]({escape(d.rule)})[/dim]")
            out.print("Dry run: nothing was sent.")
            return
        report = apply(project, client, plan, concurrency=concurrency)
    except (ResultsError, RuleError) as e:
        fail(_one_line(str(e)))
    except ClientError as e:
        fail(_one_line(describe(e)))
    except BotoCoreError as e:
        fail(_one_line(f"Cannot use the MTurk endpoint: {e}"))
    except KeyboardInterrupt:
        err.print("[red]interrupted[/red]: what was done is recorded in the ledger; run the same command again to "
                  "finish.")
        raise typer.Exit(130) from None
    finally:
        project.close()
    if json_output:
        typer.echo(json.dumps({"dry_run": False, **report.to_json()}, indent=2, default=str))
    else:
        for line in report.describe():
            out.print(escape(line))
    if report.failed:
        fail(f"{len(report.failed)} quality-control action{'s' if len(report.failed) != 1 else ''} could not be "
             "applied; they are recorded: run the same command again to retry")


def register(app: typer.Typer) -> None:
    app.command("qc")(qc)
