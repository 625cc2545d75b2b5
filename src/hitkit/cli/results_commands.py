"""The verbs after launch: `hitkit status|collect|review|bonus|extend|expire|delete|export|aggregate NAME`, and
`hitkit workers block|unblock|notify`, `hitkit quals create|grant|revoke|list`.

Thin layers over `hitkit.requester` (collect, status, review, payments, hit_admin, export), which the Python API
uses too. NAME is the project folder, relative to the current folder. Every user error ends with one `error: ...`
line on stderr and exit status 1, with the ledger consistent (each verb writes it before and after each call).
`review`, `bonus` and `delete` show what they would do first and act only with `--yes` (or when you answer yes at a
terminal). The requester modules are imported inside the commands, so other `hitkit` commands stay fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.markup import escape

from hitkit.cli.endpoint_options import EndpointOpt, EndpointUrlOpt, client_from_options, fail

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

NameArg = typer.Argument(..., help="The project folder (holding hitkit.toml), relative to the current folder.")
ConcurrencyOpt = typer.Option(8, "--concurrency", min=1, max=64, help="Calls to the endpoint at once.")
JsonOpt = typer.Option(False, "--json", help="Print the outcome as JSON on stdout.")
YesOpt = typer.Option(False, "--yes", "-y", help="Apply without asking (otherwise: a dry run, or a question at a terminal).")
HitOpt = typer.Option(None, "--hit", help="Only this HIT (repeatable); default: all of the project's HITs.")

workers_app = typer.Typer(no_args_is_help=True, help="Block, unblock and message workers.")
quals_app = typer.Typer(no_args_is_help=True, help="Qualification types: create (with a quiz), grant, revoke, list.")


def register(app: typer.Typer) -> None:
    """Add these commands to the `hitkit` app."""
    for fn in (status, collect, review, bonus, extend, expire, delete, export, aggregate):
        app.command(fn.__name__)(fn)
    app.add_typer(workers_app, name="workers")
    app.add_typer(quals_app, name="quals")


# ----------------------------------------------------------------------------------------------------------------
# Shared
# ----------------------------------------------------------------------------------------------------------------


def _one_line(text: str) -> str:
    return "; ".join(part.strip() for part in str(text).strip().splitlines() if part.strip())


@contextmanager
def _errors(client: Any = None) -> Iterator[None]:
    """Every expected failure as one `error:` line and exit 1."""
    from botocore.exceptions import BotoCoreError, ClientError

    from hitkit.requester.collect import ResultsError, describe
    from hitkit.requester.endpoints import EndpointError
    from hitkit.requester.project import ProjectError
    from hitkit.requester.review import RuleError

    try:
        yield
    except (ResultsError, RuleError, ProjectError, EndpointError) as e:
        fail(_one_line(str(e)))
    except ClientError as e:
        fail(_one_line(describe(e)))
    except BotoCoreError as e:
        url = getattr(getattr(client, "meta", None), "endpoint_url", "the endpoint")
        fail(_one_line(f"Cannot use the MTurk endpoint at {url}: {e}"))
    except KeyboardInterrupt:
        err.print("[red]interrupted[/red]: what was done is recorded in the ledger; run the same command again to "
                  "finish.")
        raise typer.Exit(130) from None


def _project(name: str) -> Any:
    from hitkit.requester.project import Project

    with _errors():
        return Project.load(name)


def _client(endpoint: str, endpoint_url: Optional[str], concurrency: int = 8) -> Any:
    return client_from_options(endpoint, endpoint_url, check=True, max_pool_connections=concurrency + 2)


class _Bar:
    """A progress bar on stderr when it is a terminal."""

    def __init__(self, label: str) -> None:
        self.label, self.p, self.task = label, None, None

    def __call__(self, done: int, total: int) -> None:
        if not err.is_terminal:
            return
        if self.p is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress

            self.p = Progress(self.label, BarColumn(), MofNCompleteColumn(), console=err, transient=True)
            self.p.start()
            self.task = self.p.add_task(self.label, total=total)
        self.p.update(self.task, completed=done, total=total)

    def stop(self) -> None:
        if self.p is not None:
            self.p.stop()


def _confirm(question: str, yes: bool) -> bool:
    """--yes, or a yes at a terminal; False means: it was a dry run."""
    if yes:
        return True
    if sys.stdin.isatty() and err.is_terminal:
        try:
            return typer.confirm(question, default=False, err=True)
        except typer.Abort:
            return False
    return False


def _money(cents: int) -> str:
    from hitkit.mturk.fees import format_cents

    return "$" + format_cents(cents)


def _ids(ids: list[str] | None, file: Path | None, column: str = "WorkerId") -> list[str]:
    from hitkit.requester.hit_admin import read_ids

    found = list(ids or [])
    if file is not None:
        with _errors():
            found += read_ids(file, column)
    return found


def _list_failures(failed: list[str], what: str, limit: int = 10) -> None:
    for line in failed[:limit]:
        err.print(f"  [red]failed[/red] {escape(line)}")
    if len(failed) > limit:
        err.print(f"  ... and {len(failed) - limit} more {what}")


# ----------------------------------------------------------------------------------------------------------------
# status, collect
# ----------------------------------------------------------------------------------------------------------------


def status(
    name: str = NameArg,
    no_collect: bool = typer.Option(False, "--no-collect", help="From the ledger only (no calls to the endpoint)."),
    concurrency: int = ConcurrencyOpt,
    json_output: bool = JsonOpt,
    endpoint: str = EndpointOpt,
    endpoint_url: Optional[str] = EndpointUrlOpt,
) -> None:
    """Counts by state, cost so far, ETA, median work time and effective hourly wage (collects first)."""
    from hitkit.requester.status import status as project_status

    project = _project(name)
    client = None if no_collect else _client(endpoint, endpoint_url, concurrency)
    with _errors(client):
        st = project_status(project, client, refresh=not no_collect, concurrency=concurrency)
    if json_output:
        typer.echo(json.dumps(st.as_dict(), indent=2, default=str))
        return
    for line in st.lines():
        out.print(escape(line))
    if st.collected is not None and st.collected.errors:
        err.print(f"[yellow]{len(st.collected.errors)} HITs could not be collected[/yellow]")
        _list_failures(st.collected.errors, "HITs")


def collect(
    name: str = NameArg,
    all_hits: bool = typer.Option(False, "--all", help="Ask about complete HITs too."),
    concurrency: int = ConcurrencyOpt,
    json_output: bool = JsonOpt,
    endpoint: str = EndpointOpt,
    endpoint_url: Optional[str] = EndpointUrlOpt,
) -> None:
    """Bring every assignment into the ledger (incremental, idempotent; safe to interrupt and re-run)."""
    from hitkit.requester.collect import collect as run_collect

    project = _project(name)
    client = _client(endpoint, endpoint_url, concurrency)
    bar = _Bar("Collecting")
    with _errors(client):
        try:
            report = run_collect(project, client, concurrency=concurrency, all_hits=all_hits, progress=bar)
        finally:
            bar.stop()
    if json_output:
        typer.echo(json.dumps({k: v for k, v in report.__dict__.items()}, indent=2, default=str))
    else:
        out.print(escape(report.describe()))
    for w in report.warnings[:10]:
        err.print(f"[yellow]warning:[/yellow] {escape(w)}")
    if report.errors:
        _list_failures(report.errors, "HITs")
        fail(f"{len(report.errors)} HIT{'s' if len(report.errors) != 1 else ''} could not be collected "
             "(the rest are in the ledger); run the same command again")


# ----------------------------------------------------------------------------------------------------------------
# review
# ----------------------------------------------------------------------------------------------------------------


def review(
    name: str = NameArg,
    approve_all: bool = typer.Option(False, "--approve-all", help="Approve every submitted assignment."),
    rule: Optional[str] = typer.Option(
        None, "--rule",
        help="Approve where the rule says yes: an expression over answers/input/worker_id/work_time such as "
             "'answers[\"label\"] != \"\"', or module:function / file.py:function called with each result."),
    reject_failing: Optional[str] = typer.Option(
        None, "--reject-failing", help="Reject what the rule says no to, with this feedback (else it is left alone)."),
    csv_path: Optional[Path] = typer.Option(
        None, "--csv", help="Decisions: AssignmentId, action (approve|reject), feedback; or MTurk's batch results "
                            "with Approve/Reject columns."),
    approve: Optional[list[str]] = typer.Option(None, "--approve", help="Approve this assignment (repeatable)."),
    reject: Optional[list[str]] = typer.Option(None, "--reject", help="Reject this assignment (repeatable)."),
    feedback: Optional[str] = typer.Option(None, "--feedback", help="Feedback for --reject (required with it)."),
    no_collect: bool = typer.Option(False, "--no-collect", help="Do not collect first."),
    yes: bool = YesOpt,
    concurrency: int = ConcurrencyOpt,
    json_output: bool = JsonOpt,
    endpoint: str = EndpointOpt,
    endpoint_url: Optional[str] = EndpointUrlOpt,
) -> None:
    """Approve and reject submitted assignments: a dry run first; --yes applies (resumable, nothing sent twice)."""
    from hitkit.requester.collect import collect as run_collect
    from hitkit.requester.review import apply_review, plan_review

    project = _project(name)
    client = _client(endpoint, endpoint_url, concurrency)
    with _errors(client):
        if not no_collect:
            collected = run_collect(project, client, concurrency=concurrency)
            if collected.errors:
                err.print(f"[yellow]warning:[/yellow] {len(collected.errors)} HITs could not be collected; reviewing "
                          "what the ledger has")
        plan = plan_review(project, approve_all=approve_all, rule=rule, reject_failing=reject_failing,
                           csv_path=csv_path, approve=approve, reject=reject, feedback=feedback)
    for aid, why in plan.skipped[:20]:
        err.print(f"  [dim]skipped[/dim] {aid}: {escape(why)}")
    if len(plan.skipped) > 20:
        err.print(f"  ... and {len(plan.skipped) - 20} more skipped")
    for d in plan.todo[:10]:
        out.print(f"  {d.action:7} {d.assignment_id}  {escape(d.worker_id)}"
                  + (f"  [dim]{escape(d.feedback)}[/dim]" if d.feedback else ""))
    if len(plan.todo) > 10:
        out.print(f"  ... and {len(plan.todo) - 10} more")
    out.print(escape(plan.describe()[0]))
    if not plan.todo:
        if json_output:
            typer.echo(json.dumps({"approved": 0, "rejected": 0, "dry_run": False}))
        return
    if not _confirm("Apply these decisions?", yes):
        out.print("Dry run: nothing was sent. Run the same command with --yes to apply.")
        if json_output:
            typer.echo(json.dumps({"dry_run": True, "approve": plan.count("approve"), "reject": plan.count("reject")}))
        return
    bar = _Bar("Reviewing")
    with _errors(client):
        try:
            report = apply_review(project, client, plan, concurrency=concurrency, progress=bar)
        finally:
            bar.stop()
    out.print(escape(report.describe()))
    if json_output:
        typer.echo(json.dumps({"approved": report.approved, "rejected": report.rejected, "already": report.already,
                               "failed": report.failed, "dry_run": False}))
    if report.failed:
        _list_failures(report.failed, "assignments")
        fail(f"{len(report.failed)} decision{'s' if len(report.failed) != 1 else ''} could not be applied; they are "
             "recorded: run the same command again to retry")


# ----------------------------------------------------------------------------------------------------------------
# bonus
# ----------------------------------------------------------------------------------------------------------------


def bonus(
    name: str = NameArg,
    csv_path: Optional[Path] = typer.Option(None, "--csv", help="Bonuses: AssignmentId or WorkerId, amount, reason."),
    rule: Optional[str] = typer.Option(
        None, "--rule", help="module:function (or file.py:function, or an expression) over each result, giving an "
                             "amount or (amount, reason)."),
    reason: Optional[str] = typer.Option(None, "--reason", help="The reason for rows (or a rule) that give none."),
    yes: bool = YesOpt,
    concurrency: int = ConcurrencyOpt,
    json_output: bool = JsonOpt,
    endpoint: str = EndpointOpt,
    endpoint_url: Optional[str] = EndpointUrlOpt,
) -> None:
    """Pay bonuses: the total is shown first; --yes pays. Never pays an (assignment, reason) twice, even when killed."""
    from hitkit.requester.payments import pay_bonuses, plan_bonuses

    project = _project(name)
    with _errors():
        plan = plan_bonuses(project, csv_path=csv_path, rule=rule, reason=reason)
    for note in plan.notes[:20]:
        err.print(f"[yellow]note:[/yellow] {escape(note)}")
    out.print(escape(plan.describe()))
    if not plan.todo:
        if json_output:
            typer.echo(json.dumps({"paid": 0, "already_paid": len(plan.paid)}))
        return
    if not _confirm(f"Pay {_money(plan.total_cents + plan.fees_cents)}?", yes):
        out.print("Dry run: nothing was paid. Run the same command with --yes to pay.")
        if json_output:
            typer.echo(json.dumps({"dry_run": True, "total": _money(plan.total_cents)}))
        return
    client = _client(endpoint, endpoint_url, concurrency)
    bar = _Bar("Paying")
    with _errors(client):
        try:
            report = pay_bonuses(project, client, plan, concurrency=concurrency, progress=bar)
        finally:
            bar.stop()
    out.print(escape(report.describe()))
    if json_output:
        typer.echo(json.dumps({"paid": report.paid, "paid_total": _money(report.paid_cents),
                               "found_paid": report.found_paid, "failed": report.failed, "stopped": report.stopped}))
    if report.stopped:
        fail(report.stopped)
    if report.failed:
        _list_failures(report.failed, "bonuses")
        fail(f"{len(report.failed)} bonus{'es' if len(report.failed) != 1 else ''} could not be paid; they are recorded: "
             "run the same command again to retry")


# ----------------------------------------------------------------------------------------------------------------
# extend, expire, delete
# ----------------------------------------------------------------------------------------------------------------


def _hit_outcome(report: Any, verb: str, json_output: bool) -> None:
    out.print(escape(report.describe(verb)))
    if json_output:
        typer.echo(json.dumps({"done": report.done, "failed": report.failed, "note": report.note}))
    if report.failed:
        _list_failures(report.failed, "HITs")
        fail(f"{len(report.failed)} HIT{'s' if len(report.failed) != 1 else ''} failed (the others are recorded); "
             "run the same command again to retry")


def extend(
    name: str = NameArg,
    assignments: Optional[int] = typer.Option(None, "--assignments", min=1, help="Assignments to add to each HIT."),
    time: Optional[str] = typer.Option(None, "--time", help="Time to add to each HIT's lifetime: 2d, 6h, 90m, 3600."),
    until_agreement: Optional[int] = typer.Option(
        None, "--until-agreement", min=2, help="Dynamic overlap: add assignments to an item until N answers agree."),
    until_confidence: Optional[float] = typer.Option(
        None, "--until-confidence", help="Dynamic overlap: until the model's probability of the item's label >= P."),
    method: Optional[str] = typer.Option(None, "--method", help="The model for --until-confidence (default: "
                                                                 "hitkit aggregate's default)."),
    max_assignments: int = typer.Option(5, "--max-assignments", help="Dynamic overlap: never more assignments per "
                                                                      "item than this."),
    answer_field: Optional[str] = typer.Option(None, "--field", help="The answer field that must agree (default: "
                                                                      "the one label-like field)."),
    watch: bool = typer.Option(False, "--watch", help="Dynamic overlap: repeat rounds until every item is done or "
                                                      "capped."),
    poll: float = typer.Option(10.0, "--poll", min=0.1, help="Seconds between --watch rounds."),
    timeout: Optional[str] = typer.Option(None, "--timeout", help="Stop --watch after this long: 2h, 30m."),
    hit: Optional[list[str]] = HitOpt,
    concurrency: int = ConcurrencyOpt,
    json_output: bool = JsonOpt,
    endpoint: str = EndpointOpt,
    endpoint_url: Optional[str] = EndpointUrlOpt,
) -> None:
    """Add assignments (CreateAdditionalAssignmentsForHIT, with a token) and/or time (UpdateExpirationForHIT); or,
    with --until-agreement / --until-confidence, only to the items that need them (one idempotent round, or
    rounds until done with --watch)."""
    from hitkit.requester.collect import ResultsError
    from hitkit.requester.hit_admin import extend as run_extend, parse_duration

    project = _project(name)
    dynamic = until_agreement is not None or until_confidence is not None
    with _errors():
        seconds = parse_duration(time, "--time") if time is not None else None
        if dynamic:
            from hitkit.requester.dynamic_overlap import OverlapPolicy

            if assignments or hit:
                raise ResultsError("--until-agreement/--until-confidence choose the items themselves: drop "
                                   "--assignments and --hit")
            policy = OverlapPolicy(max_assignments=max_assignments, agreement=until_agreement,
                                   confidence=until_confidence, method=method, field=answer_field)
            limit = parse_duration(timeout, "--timeout") if timeout is not None else None
        elif not assignments and not seconds:
            raise ResultsError("Say how to extend: --assignments N and/or --time DURATION (e.g. 2d), or "
                               "--until-agreement N")
    client = _client(endpoint, endpoint_url, concurrency)
    if dynamic:
        from hitkit.requester.dynamic_overlap import extend_until

        def show(r: Any) -> None:
            if watch and not json_output:
                err.print(escape(r.describe()))

        with _errors(client):
            report = extend_until(project, client, policy, seconds=seconds, concurrency=concurrency, watch=watch,
                                  poll=poll, timeout=limit, on_round=show)
        if json_output:
            out.print(json.dumps(report.to_json(), indent=2), markup=False)
        else:
            out.print(escape(report.describe()))
            _list_failures(report.failed, "HITs")
        if report.failed:
            fail(f"{len(report.failed)} item{'s' if len(report.failed) != 1 else ''} could not be extended (the "
                 "others are recorded); run the same command again to retry")
        return
    with _errors(client):
        report = run_extend(project, client, assignments=assignments, seconds=seconds, hit_ids=hit or None,
                            concurrency=concurrency)
    _hit_outcome(report, "Extended", json_output)


def expire(
    name: str = NameArg,
    hit: Optional[list[str]] = HitOpt,
    concurrency: int = ConcurrencyOpt,
    json_output: bool = JsonOpt,
    endpoint: str = EndpointOpt,
    endpoint_url: Optional[str] = EndpointUrlOpt,
) -> None:
    """Expire the HITs now (workers who accepted one may still submit it)."""
    from hitkit.requester.hit_admin import expire as run_expire

    project = _project(name)
    client = _client(endpoint, endpoint_url, concurrency)
    with _errors(client):
        report = run_expire(project, client, hit_ids=hit or None, concurrency=concurrency)
    _hit_outcome(report, "Expired", json_output)


def delete(
    name: str = NameArg,
    hit: Optional[list[str]] = HitOpt,
    yes: bool = YesOpt,
    concurrency: int = ConcurrencyOpt,
    json_output: bool = JsonOpt,
    endpoint: str = EndpointOpt,
    endpoint_url: Optional[str] = EndpointUrlOpt,
) -> None:
    """Expire and delete the HITs; refuses while any result is not collected or not reviewed."""
    from hitkit.requester.collect import ledger_hits
    from hitkit.requester.hit_admin import delete as run_delete

    project = _project(name)
    with _errors():
        with project.ledger.connect() as conn:
            known = [h for h in ledger_hits(conn) if not hit or h["hit_id"] in hit]
    if known and not _confirm(f"Expire and delete {len(known)} HITs?", yes):
        out.print(f"Dry run: would expire and delete {len(known)} HIT{'s' if len(known) != 1 else ''}. Run the same "
                  "command with --yes to delete.")
        return
    client = _client(endpoint, endpoint_url, concurrency)
    with _errors(client):
        report = run_delete(project, client, hit_ids=hit or None, concurrency=concurrency)
    _hit_outcome(report, "Deleted", json_output)


# ----------------------------------------------------------------------------------------------------------------
# export
# ----------------------------------------------------------------------------------------------------------------


def export(
    name: str = NameArg,
    fmt: str = typer.Option("csv", "--format", "-f", help="csv (MTurk's batch results), jsonl or parquet."),
    output: Optional[str] = typer.Option(None, "--output", "-o", help="File to write (- for stdout); default "
                                                                      "NAME/results.FORMAT."),
    split: Optional[str] = typer.Option(None, "--split", help="Split by input item: train=0.8,test=0.2 (one file each)."),
    seed: int = typer.Option(0, "--seed", help="The split's seed (same seed, same split)."),
    status_filter: Optional[list[str]] = typer.Option(
        None, "--status", help="Only assignments with this status (Submitted, Approved, Rejected; repeatable)."),
    labels: bool = typer.Option(False, "--labels", help="One row per input item with its aggregated label, "
                                                        "confidence and agreement (run `hitkit aggregate` first)."),
) -> None:
    """Write the results from the ledger (run `hitkit collect` first for the newest). When `hitkit aggregate` has
    run, each assignment row also carries its item's aggregated label and confidence."""
    from hitkit.requester.collect import STATUSES, ResultsError
    from hitkit.requester.export import export as run_export

    project = _project(name)
    with _errors():
        statuses = tuple(s.capitalize() for s in status_filter or [])
        for s in statuses:
            if s not in STATUSES:
                raise ResultsError(f"--status: choose from {', '.join(STATUSES)}, not {s!r}")
        written = run_export(project, fmt, output, split=split, seed=seed, statuses=statuses or None,
                             labels=labels)
    what = "item" if labels else "assignment"
    for path, n in written:
        if str(path) != "-":
            err.print(f"Wrote {n} {what}{'s' if n != 1 else ''} to {escape(str(path))}")


def aggregate(
    name: str = NameArg,
    method: Optional[str] = typer.Option(None, "--method", "-m", help="mv, wawa, zbs, ds, onecoin, glad, mace ... "
                                                                      "(default: the robust default; see docs)."),
    answer_field: Optional[str] = typer.Option(None, "--field", help="The answer field to aggregate (default: the "
                                                                      "one label-like field)."),
    json_output: bool = JsonOpt,
) -> None:
    """Combine each item's answers into one label with a confidence, and score each worker; stored in the ledger
    (the newest run is what `hitkit export` and Project.labels() use). Run `hitkit collect` first."""
    from hitkit.requester.aggregate import aggregate as run_aggregate

    project = _project(name)
    with _errors():
        result = run_aggregate(project, method, answer_field)
    if json_output:
        out.print(json.dumps(result.to_json(), indent=2, default=str), markup=False)
        return
    out.print(escape(result.describe()))
    low = result.skills.head(5)
    if len(low):
        out.print("Lowest worker skills: " + ", ".join(
            f"{escape(str(r.worker_id))} {r.skill:.2f} ({r.answers} answers)" for r in low.itertuples()))


# ----------------------------------------------------------------------------------------------------------------
# workers
# ----------------------------------------------------------------------------------------------------------------

IdsArg = typer.Argument(None, help="Worker ids.")
FileOpt = typer.Option(None, "--file", help="More ids: one per line, or a CSV with a WorkerId column.")


def _worker_outcome(report: Any, verb: str, json_output: bool) -> None:
    n = len(report.done)
    out.print(f"{verb} {n} worker{'s' if n != 1 else ''}" + (f"; {len(report.failed)} failed" if report.failed else "") + ".")
    if json_output:
        typer.echo(json.dumps({"done": report.done, "failed": report.failed}))
    if report.failed:
        _list_failures(report.failed, "workers")
        if not n:
            fail(f"{len(report.failed)} worker{'s' if len(report.failed) != 1 else ''} failed: {report.failed[0]}")


def _change_blocks(block: bool, worker_ids, file, reason, json_output, endpoint, endpoint_url) -> None:  # type: ignore[no-untyped-def]
    """Block or unblock workers: the ids and the reason are checked before any call."""
    from hitkit.requester.hit_admin import _ids as check_ids, _reason, block_workers, unblock_workers

    ids = _ids(worker_ids, file)
    with _errors():
        check_ids(ids)
        _reason(reason, "block them" if block else "unblock them")
    client = _client(endpoint, endpoint_url)
    with _errors(client):
        report = (block_workers if block else unblock_workers)(client, ids, reason)
    _worker_outcome(report, "Blocked" if block else "Unblocked", json_output)


@workers_app.command("block")
def workers_block(
    worker_ids: Optional[list[str]] = IdsArg,
    file: Optional[Path] = FileOpt,
    reason: Optional[str] = typer.Option(None, "--reason", help="Why (required)."),
    json_output: bool = JsonOpt,
    endpoint: str = EndpointOpt,
    endpoint_url: Optional[str] = EndpointUrlOpt,
) -> None:
    """Block workers from your HITs (CreateWorkerBlock)."""
    _change_blocks(True, worker_ids, file, reason, json_output, endpoint, endpoint_url)


@workers_app.command("unblock")
def workers_unblock(
    worker_ids: Optional[list[str]] = IdsArg,
    file: Optional[Path] = FileOpt,
    reason: Optional[str] = typer.Option(None, "--reason", help="Why (required)."),
    json_output: bool = JsonOpt,
    endpoint: str = EndpointOpt,
    endpoint_url: Optional[str] = EndpointUrlOpt,
) -> None:
    """Unblock workers (DeleteWorkerBlock)."""
    _change_blocks(False, worker_ids, file, reason, json_output, endpoint, endpoint_url)


@workers_app.command("notify")
def workers_notify(
    worker_ids: Optional[list[str]] = IdsArg,
    file: Optional[Path] = FileOpt,
    subject: Optional[str] = typer.Option(None, "--subject", help="The subject (required, at most 200 characters)."),
    message: Optional[str] = typer.Option(None, "--message", help="The message (at most 4096 characters)."),
    message_file: Optional[Path] = typer.Option(None, "--message-file", help="Or read the message from a file."),
    json_output: bool = JsonOpt,
    endpoint: str = EndpointOpt,
    endpoint_url: Optional[str] = EndpointUrlOpt,
) -> None:
    """Message workers who have worked for you (NotifyWorkers, in batches of 100)."""
    from hitkit.requester.collect import ResultsError
    from hitkit.requester.hit_admin import notify_workers

    ids = _ids(worker_ids, file)
    with _errors():
        if message_file is not None:
            try:
                message = message_file.read_text(encoding="utf-8")
            except OSError as e:
                raise ResultsError(f"{message_file}: cannot read it: {e.strerror}") from None
        from hitkit.requester.hit_admin import _ids as check_ids

        check_ids(ids)
        if not subject or not subject.strip():
            raise ResultsError("--subject is required")
        if not message or not message.strip():
            raise ResultsError("--message (or --message-file) is required")
    client = _client(endpoint, endpoint_url)
    with _errors(client):
        report = notify_workers(client, ids, subject, message)
    _worker_outcome(report, "Notified", json_output)


# ----------------------------------------------------------------------------------------------------------------
# quals
# ----------------------------------------------------------------------------------------------------------------


@quals_app.command("create")
def quals_create(
    quiz: Optional[Path] = typer.Option(None, "--quiz", help="A qualification test as a TOML quiz (name, description, "
                                                             "duration, [[questions]] with choices/answer/points)."),
    name: Optional[str] = typer.Option(None, "--name", help="The qualification's name (or the quiz's)."),
    description: Optional[str] = typer.Option(None, "--description", help="What it means (or the quiz's)."),
    keywords: Optional[str] = typer.Option(None, "--keywords", help="Comma-separated keywords workers can search for."),
    auto_granted: bool = typer.Option(False, "--auto-granted", help="Granted to any worker who asks (no test)."),
    auto_granted_value: int = typer.Option(1, "--auto-granted-value", help="The value an auto-granted "
                                                                           "qualification is given (with --auto-granted)."),
    retry_delay: Optional[str] = typer.Option(None, "--retry-delay", help="When a worker may ask again: 1d, 6h..."),
    json_output: bool = JsonOpt,
    endpoint: str = EndpointOpt,
    endpoint_url: Optional[str] = EndpointUrlOpt,
) -> None:
    """Create a qualification type, optionally with a test and answer key from a TOML quiz."""
    from hitkit.requester.hit_admin import create_qualification, load_quiz, parse_duration

    with _errors():
        loaded = load_quiz(quiz) if quiz is not None else None
        delay = parse_duration(retry_delay, "--retry-delay") if retry_delay else None
        if loaded is None and (not name or not description):
            from hitkit.requester.collect import ResultsError

            raise ResultsError("Give --quiz FILE, or --name and --description")
    client = _client(endpoint, endpoint_url)
    with _errors(client):
        q = create_qualification(client, name=name, description=description, quiz=loaded, keywords=keywords,
                                 auto_granted=auto_granted, auto_granted_value=auto_granted_value, retry_delay=delay)
    if json_output:
        typer.echo(json.dumps(q, indent=2, default=str))
    else:
        test = f", with a {len(loaded.questions)}-question test" if loaded else ""
        out.print(f"Created {escape(q['Name'])}: {q['QualificationTypeId']}{test}.")


@quals_app.command("grant")
def quals_grant(
    qualification: str = typer.Argument(..., help="The qualification's id or name."),
    worker_ids: Optional[list[str]] = IdsArg,
    file: Optional[Path] = FileOpt,
    value: int = typer.Option(1, "--value", help="The integer value to grant."),
    notify: bool = typer.Option(False, "--notify", help="Tell the workers."),
    json_output: bool = JsonOpt,
    endpoint: str = EndpointOpt,
    endpoint_url: Optional[str] = EndpointUrlOpt,
) -> None:
    """Grant a qualification to workers (AssociateQualificationWithWorker)."""
    from hitkit.requester.hit_admin import grant

    ids = _ids(worker_ids, file)
    client = _client(endpoint, endpoint_url)
    with _errors(client):
        report = grant(client, qualification, ids, value=value, notify=notify)
    _worker_outcome(report, "Granted to", json_output)


@quals_app.command("revoke")
def quals_revoke(
    qualification: str = typer.Argument(..., help="The qualification's id or name."),
    worker_ids: Optional[list[str]] = IdsArg,
    file: Optional[Path] = FileOpt,
    reason: Optional[str] = typer.Option(None, "--reason", help="Why (shown to the worker)."),
    json_output: bool = JsonOpt,
    endpoint: str = EndpointOpt,
    endpoint_url: Optional[str] = EndpointUrlOpt,
) -> None:
    """Revoke a qualification from workers (DisassociateQualificationFromWorker)."""
    from hitkit.requester.hit_admin import revoke

    ids = _ids(worker_ids, file)
    client = _client(endpoint, endpoint_url)
    with _errors(client):
        report = revoke(client, qualification, ids, reason=reason)
    _worker_outcome(report, "Revoked from", json_output)


@quals_app.command("list")
def quals_list(
    qualification: Optional[str] = typer.Argument(None, help="List the workers holding this one (id or name)."),
    json_output: bool = JsonOpt,
    endpoint: str = EndpointOpt,
    endpoint_url: Optional[str] = EndpointUrlOpt,
) -> None:
    """Your qualification types, or the workers holding one."""
    from rich.table import Table

    from hitkit.requester.hit_admin import list_qualifications, list_qualified_workers

    client = _client(endpoint, endpoint_url)
    with _errors(client):
        rows = list_qualified_workers(client, qualification) if qualification else list_qualifications(client)
    if json_output:
        typer.echo(json.dumps(rows, indent=2, default=str))
        return
    if qualification:
        table = Table("WorkerId", "Value", "Granted")
        for r in rows:
            table.add_row(r["WorkerId"], str(r.get("IntegerValue", "")), str(r.get("GrantTime", ""))[:19])
    else:
        table = Table("QualificationTypeId", "Name", "Test", "Status")
        for r in rows:
            table.add_row(r["QualificationTypeId"], escape(r["Name"]), "yes" if r.get("Test") else "",
                          r.get("QualificationTypeStatus", ""))
    out.print(table)
