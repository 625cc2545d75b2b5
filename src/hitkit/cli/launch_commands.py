"""`hitkit launch NAME --input FILE` and `hitkit balance`: thin over `hitkit.requester.launch`.

Each user error (unreachable endpoint, refused credentials, a bad input file, a row the template cannot render,
insufficient funds) ends with one `error: ...` line on stderr and exit status 1, after the ledger has recorded
what was done. The requester modules are imported inside the commands: every `hitkit` command loads this module.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.console import Console
from rich.markup import escape

from hitkit.cli.endpoint_options import EndpointOpt, EndpointUrlOpt, client_from_options, fail

if TYPE_CHECKING:
    from hitkit.requester.launch import LaunchPlan, LaunchReport

err_console = Console(stderr=True)


def _money(cents: int) -> str:
    from hitkit.mturk.fees import format_cents

    return "$" + format_cents(cents)


def _show_plan(plan: LaunchPlan) -> None:
    state = f"resuming, {plan.already_created} of {plan.hits_total} HITs exist" if plan.resumed else "new"
    err_console.print(f"Batch [bold]{plan.batch_id[:12]}[/bold] ({state}): {plan.rows} rows -> {plan.hits_total} HITs "
                      f"on {escape(plan.endpoint)}", soft_wrap=True, highlight=False)
    err_console.print(f"Cost: {escape(plan.cost.describe())}", soft_wrap=True, highlight=False)
    err_console.print(f"      [dim]({escape(plan.cost.note)})[/dim]", soft_wrap=True, highlight=False)
    err_console.print(f"Balance: {_money(plan.balance_cents)} available", highlight=False)
    if plan.shortfall_cents:
        err_console.print(f"[yellow]The balance is short by {_money(plan.shortfall_cents)}[/yellow]: the launch stops "
                          "when the money runs out (run the same command again after adding funds).",
                          soft_wrap=True, highlight=False)


def _summary(report: LaunchReport) -> str:
    parts = [f"created {report.created_now} HIT{'s' if report.created_now != 1 else ''}"]
    if report.already_created:
        parts.append(f"{report.already_created} already existed")
    if report.recovered:
        parts.append(f"{report.recovered} of them found by their request token")
    return f"{', '.join(parts)}; {report.remaining} of {report.hits_total} remain"


def launch(
    name: str = typer.Argument(..., help="The project folder (hitkit.toml and the template)."),
    input_file: Path = typer.Option(..., "--input", "-i", help="Rows to launch: a .csv, .jsonl or .parquet file."),
    assignments: Optional[int] = typer.Option(None, "--assignments", min=1,
                                              help="Assignments per row (default: hit.assignments in hitkit.toml)."),
    max_assignments_per_hit: Optional[int] = typer.Option(
        None, "--max-assignments-per-hit", min=1,
        help="Spread each row's assignments over several HITs of at most N (9 stays under MTurk's 10-assignment fee)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before spending."),
    workers: int = typer.Option(16, "--workers", min=1, max=128, help="Concurrent CreateHIT calls."),
    json_output: bool = typer.Option(False, "--json", help="Print the launch report as JSON on stdout."),
    endpoint: str = EndpointOpt,
    endpoint_url: Optional[str] = EndpointUrlOpt,
) -> None:
    """Create one HIT per input row (resumable: run the same command again to finish an interrupted launch)."""
    from hitkit.requester.inputs import InputError, read_input
    from hitkit.requester.launch import LaunchError, launch_batch
    from hitkit.requester.project import Project, ProjectError
    from hitkit.templates.task_template import TemplateError

    try:
        project = Project.load(name)
    except ProjectError as e:
        fail(str(e))
    try:
        data = read_input(input_file)
    except InputError as e:
        fail(str(e))
    unused = project.template.unused_columns(data.rows)
    if unused:
        err_console.print(f"[yellow]warning:[/yellow] the template never reads column{'s' if len(unused) > 1 else ''} "
                      f"{', '.join(sorted(unused))} of {input_file} (a misspelt header?); they are kept in the ledger.")
    client = client_from_options(endpoint, endpoint_url, check=True, max_pool_connections=workers + 2, retries=0)

    def confirm(plan: LaunchPlan) -> bool:
        _show_plan(plan)
        if yes:
            return True
        try:
            return typer.confirm(f"Create {plan.to_create} HITs for up to {_money(plan.cost.total_cents)}?",
                                 default=False, err=True)
        except typer.Abort:
            return False

    bar: dict = {}

    def progress(done: int, total: int) -> None:
        if "p" not in bar:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

            bar["p"] = Progress("Creating HITs", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                                console=err_console, transient=False)
            bar["p"].start()
            bar["t"] = bar["p"].add_task("create", total=total)
        bar["p"].update(bar["t"], completed=done, total=total)

    try:
        report = launch_batch(project, client, data, assignments=assignments,
                              max_assignments_per_hit=max_assignments_per_hit, workers=workers,
                              progress=progress, confirm=confirm)
    except TemplateError as e:
        problems = getattr(e, "problems", None) or []
        fail(f"{data.name}, {problems[0]}; nothing was posted" if len(problems) == 1 else str(e))
    except LaunchError as e:
        fail(str(e))
    except KeyboardInterrupt:
        if "p" in bar:
            bar["p"].stop()
        err_console.print("[red]interrupted[/red]: the HITs created so far are recorded; run the same command again "
                          "to create the rest.", soft_wrap=True)
        raise typer.Exit(130) from None
    finally:
        project.close()
    if "p" in bar:
        bar["p"].stop()
    if json_output:
        typer.echo(json.dumps(report.to_json(), indent=2, default=str))
    if report.stopped == "declined":
        fail("not confirmed; nothing was created (pass --yes to skip the question)")
    if report.stopped == "insufficient-funds":
        missing = _money(report.missing_cents or 0)
        fail(f"insufficient funds: {_summary(report)}; {missing} more is needed for the rest. Add funds (on a hitkit "
             f"server: `hitkit server funds add REQUESTER {missing[1:]}`) and run the same command again.")
    if report.stopped == "error":
        fail(f"{report.message} ({_summary(report)}; fix it and run the same command again to resume)")
    if report.stopped:
        fail(f"{report.message} ({_summary(report)}; run the same command again to resume)")
    if not json_output:
        err_console.print(f"Batch {report.batch_id[:12]}: {_summary(report)}. HIT type {report.hit_type_id}.",
                          highlight=False, soft_wrap=True)


def balance(
    json_output: bool = typer.Option(False, "--json", help="Print {AvailableBalance, OnHoldBalance, endpoint} as JSON."),
    endpoint: str = EndpointOpt,
    endpoint_url: Optional[str] = EndpointUrlOpt,
) -> None:
    """The requester's available and on-hold balance on the endpoint."""
    from hitkit.requester.launch import account_balance

    client = client_from_options(endpoint, endpoint_url, check=True, retries=2)
    available, on_hold = account_balance(client)
    url = client.meta.endpoint_url
    if json_output:
        from hitkit.mturk.fees import format_cents

        typer.echo(json.dumps({"AvailableBalance": format_cents(available), "OnHoldBalance": format_cents(on_hold),
                               "endpoint": url}))
    else:
        typer.echo(f"Available: {_money(available)}  On hold: {_money(on_hold)}  ({url})")
