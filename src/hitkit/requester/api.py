"""The Python API: the requester verbs for notebooks and scripts, on one object.

    import hitkit

    p = hitkit.Project("my-task")                    # the folder `hitkit new my-task` made; endpoint "local"
    p.launch(df, assignments=3)                      # or a CSV / JSONL / Parquet path
    p.collect()
    df = p.results()                                 # one row per assignment: Input.* and Answer.* columns
    p.status()
    p.approve(lambda r: r["label"] != "")            # or p.approve() for all, or p.approve(ids)
    p.reject(ids, "The label was empty.")
    p.bonus([{"AssignmentId": a, "amount": "0.25", "reason": "Great work"}])
    p.extend(assignments=2); p.expire(); p.delete()
    p.export("csv", split="train=0.8,test=0.2", seed=1)

Every call writes the project's ledger exactly as the `hitkit` commands do (they are thin layers over the same
functions). Calls that spend or decide apply at once by default (`yes=True`); `yes=False` returns the plan (the
dry run) instead. `endpoint="local"` is the server `hitkit server init` set up; `endpoint_url=` any MTurk-compatible
server (credentials from boto3's usual chain); `client=` any boto3 MTurk client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from hitkit.requester.collect import DEFAULT_CONCURRENCY, CollectReport, ResultsError
from hitkit.requester.export import Result


class Project:
    """A project folder and the endpoint it talks to (see the module docstring)."""

    def __init__(self, path: str | Path, endpoint: str = "local", endpoint_url: str | None = None, *,
                 client: Any = None, concurrency: int = DEFAULT_CONCURRENCY) -> None:
        from hitkit.requester.project import Project as Folder

        self.folder = Folder.load(path)
        self.endpoint = endpoint
        self.endpoint_url = endpoint_url
        self.concurrency = concurrency
        self._client = client

    def __repr__(self) -> str:
        where = self.endpoint_url or self.endpoint
        return f"hitkit.Project({str(self.folder.root)!r}, endpoint={where!r})"

    @property
    def root(self) -> Path:
        return self.folder.root

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def client(self) -> Any:
        """The boto3 MTurk client (made on first use)."""
        if self._client is None:
            from hitkit.requester.endpoints import make_client, resolve_endpoint

            ep = resolve_endpoint(self.endpoint, self.endpoint_url)
            if ep.notice:
                import warnings

                warnings.warn(ep.notice, stacklevel=3)
            self._client = make_client(ep, max_pool_connections=max(10, self.concurrency))
        return self._client

    def close(self) -> None:
        self.folder.close()

    # -- launch and results -------------------------------------------------------------------------------------

    def launch(self, data: Any, assignments: int | None = None, *, yes: bool = True,
               max_assignments_per_hit: int | None = None, progress: Callable[[int, int], None] | None = None) -> Any:
        """Create one HIT per row of `data` (a DataFrame, a list of dicts, or a CSV/JSONL/Parquet path), resumably.
        With `yes=False` nothing is created: the returned report says what would be (stopped='declined')."""
        from hitkit.requester.inputs import read_input
        from hitkit.requester.launch import launch_batch

        if isinstance(data, list):
            import pandas as pd

            data = pd.DataFrame(data)
        source = read_input(data)
        return launch_batch(self.folder, self.client, source, assignments=assignments,
                            max_assignments_per_hit=max_assignments_per_hit, progress=progress,
                            confirm=None if yes else (lambda plan: False))

    def collect(self, *, all_hits: bool = False, quality_control: bool = True) -> CollectReport:
        """Bring every assignment into the ledger (incremental; complete HITs are not asked again), then apply the
        project's quality-control rules' worker actions (unless `quality_control=False`)."""
        from hitkit.requester.collect import collect

        return collect(self.folder, self.client, concurrency=self.concurrency, all_hits=all_hits,
                       quality_control=quality_control)

    def quality_control(self, *, dry_run: bool = False, rules: list | None = None) -> Any:
        """As `hitkit qc`: evaluate the rules (the project's, or `rules`) over the ledger and apply every action,
        approve and reject included; with `dry_run` only the plan (QCPlan) is returned, else a QCReport."""
        from hitkit.requester.quality_control import run

        return run(self.folder, self.client, rules, dry_run=dry_run, concurrency=self.concurrency)

    def qc_actions(self):  # type: ignore[no-untyped-def]
        """Every quality-control action the ledger holds (worker, rule, action, when decided and applied)."""
        import pandas as pd

        from hitkit.requester.quality_control import actions_taken

        return pd.DataFrame(actions_taken(self.folder))

    def results(self, statuses: Iterable[str] | None = None, *, collect: bool = False):  # type: ignore[no-untyped-def]
        """A pandas DataFrame, one row per assignment (HITId ... WorkTimeInSeconds, Input.*, Answer.*, and
        Aggregated.<field> with its confidence once `aggregate` has run), from the ledger (after a collect when
        `collect=True`)."""
        from hitkit.requester.export import add_aggregated, columns_of, frame, load_results

        if collect:
            self.collect()
        with self.folder.ledger.connect() as conn:
            results = load_results(conn, tuple(statuses) if statuses else None)
            return frame(results, columns_of(results) + add_aggregated(conn, results))

    def assignments(self, statuses: Iterable[str] | None = None) -> list[Result]:
        """The results as Result objects (dicts of answers with .input, .worker_id, .work_time ...)."""
        from hitkit.requester.export import load_results

        with self.folder.ledger.connect() as conn:
            return load_results(conn, tuple(statuses) if statuses else None)

    def status(self, *, refresh: bool = True) -> Any:
        """Counts, cost so far, ETA, median work time and wage (collects first unless `refresh=False`)."""
        from hitkit.requester.status import status

        return status(self.folder, self.client if refresh else None, refresh=refresh, concurrency=self.concurrency)

    # -- review ---------------------------------------------------------------------------------------------------

    def review(self, *, yes: bool = True, **how: Any) -> Any:
        """`plan_review` options (approve_all, rule, reject_failing, csv_path, approve, reject, feedback); applies
        them unless `yes=False` (then the plan is returned)."""
        from hitkit.requester.review import apply_review, plan_review

        plan = plan_review(self.folder, **how)
        if not yes:
            return plan
        return apply_review(self.folder, self.client, plan, concurrency=self.concurrency)

    def approve(self, predicate: Callable[[Result], Any] | str | Iterable[str] | None = None, *,
                feedback: str | None = None, reject_failing: str | None = None, yes: bool = True) -> Any:
        """Approve all submitted assignments (no argument), those a rule says yes to (a function of a Result, or an
        expression such as 'answers["label"] != ""'; with `reject_failing` the others are rejected with that
        feedback), or the given assignment ids (a list, Series or Index)."""
        if predicate is None:
            return self.review(approve_all=True, approve_feedback=feedback, yes=yes)
        if callable(predicate) or isinstance(predicate, str):
            if isinstance(predicate, str) and _looks_like_id(predicate):
                return self.review(approve=[predicate], approve_feedback=feedback, yes=yes)
            return self.review(rule=predicate, reject_failing=reject_failing, approve_feedback=feedback, yes=yes)
        return self.review(approve=_id_list(predicate), approve_feedback=feedback, yes=yes)

    def reject(self, ids: Iterable[str] | str, feedback: str, *, yes: bool = True) -> Any:
        """Reject the given assignments with feedback for the workers."""
        return self.review(reject=_id_list(ids), feedback=feedback, yes=yes)

    # -- money and HITs -----------------------------------------------------------------------------------------

    def bonus(self, data: Any = None, *, rule: Callable[[Result], Any] | str | None = None, reason: str | None = None,
              yes: bool = True) -> Any:
        """Pay bonuses from rows (a CSV path, a DataFrame or dicts with AssignmentId or WorkerId, amount, reason) or a
        rule over the results returning an amount or (amount, reason). Never pays an (assignment, reason) twice."""
        from hitkit.requester.payments import pay_bonuses, plan_bonuses

        csv_path = data if isinstance(data, (str, Path)) else None
        items = data if data is not None and csv_path is None else None
        plan = plan_bonuses(self.folder, csv_path=csv_path, items=items, rule=rule, reason=reason)
        if not yes:
            return plan
        return pay_bonuses(self.folder, self.client, plan, concurrency=self.concurrency)

    def extend(self, assignments: int | None = None, time: str | int | None = None, *,
               hits: Iterable[str] | None = None) -> Any:
        """More assignments per HIT and/or more time ("2d", "6h", or seconds)."""
        from hitkit.requester.hit_admin import extend, parse_duration

        seconds = parse_duration(time, "time") if time is not None else None
        return extend(self.folder, self.client, assignments=assignments, seconds=seconds,
                      hit_ids=list(hits) if hits else None, concurrency=self.concurrency)

    def extend_until(self, agreement: int | None = None, *, confidence: float | None = None,
                     max_assignments: int = 5, method: str | None = None, field: str | None = None,
                     time: str | int | None = None, watch: bool = False, poll: float = 10.0,
                     timeout: float | None = None) -> Any:
        """Dynamic overlap: more assignments only where answers do not yet agree (`agreement` equal answers) or
        the model is not yet sure (`confidence`, with `method`), up to `max_assignments` per item. One round, or
        rounds until done with `watch=True`; returns an OverlapReport."""
        from hitkit.requester.dynamic_overlap import OverlapPolicy, extend_until
        from hitkit.requester.hit_admin import parse_duration

        policy = OverlapPolicy(max_assignments=max_assignments, agreement=agreement, confidence=confidence,
                               method=method, field=field)
        seconds = parse_duration(time, "time") if time is not None else None
        return extend_until(self.folder, self.client, policy, seconds=seconds, concurrency=self.concurrency,
                            watch=watch, poll=poll, timeout=timeout)

    # -- labels -------------------------------------------------------------------------------------------------

    def aggregate(self, method: str | None = None, *, field: str | None = None, **params: Any) -> Any:
        """Aggregate the collected answers (`method`: mv, ds, glad ... or the default) and store the run; returns
        an Aggregation with `.labels` and `.skills` DataFrames."""
        from hitkit.requester.aggregate import aggregate

        return aggregate(self.folder, method, field, **params)

    def labels(self, field: str | None = None):  # type: ignore[no-untyped-def]
        """The newest aggregation's labels: one row per item (batch_id, row_index, Input.*, label, confidence,
        answers, agreement); empty before `aggregate`."""
        from hitkit.requester.aggregate import stored_labels

        with self.folder.ledger.connect() as conn:
            return stored_labels(conn, field)

    def worker_skills(self, field: str | None = None):  # type: ignore[no-untyped-def]
        """The newest aggregation's worker skills (worker_id, skill, answers, agreement), lowest first."""
        from hitkit.requester.aggregate import stored_skills

        with self.folder.ledger.connect() as conn:
            return stored_skills(conn, field)

    def expire(self, *, hits: Iterable[str] | None = None) -> Any:
        from hitkit.requester.hit_admin import expire

        return expire(self.folder, self.client, hit_ids=list(hits) if hits else None, concurrency=self.concurrency)

    def delete(self, *, hits: Iterable[str] | None = None) -> Any:
        """Expire and delete the HITs; refuses while results are not collected or not reviewed."""
        from hitkit.requester.hit_admin import delete

        return delete(self.folder, self.client, hit_ids=list(hits) if hits else None, concurrency=self.concurrency)

    def export(self, format: str = "csv", output: str | Path | None = None, *, split: str | None = None,
               seed: int = 0, labels: bool = False) -> list[tuple[Path | str, int]]:
        """Write the results (MTurk's batch CSV, JSONL or Parquet), or with `labels` one row per aggregated item;
        returns [(path, rows)]."""
        from hitkit.requester.export import export

        return export(self.folder, format, output, split=split, seed=seed, labels=labels)


def _looks_like_id(text: str) -> bool:
    return text.isalnum() and text.isupper() and 20 <= len(text) <= 64


def _id_list(ids: Any) -> list[str]:
    if isinstance(ids, str):
        return [ids]
    out = [str(i) for i in ids]
    if not out:
        raise ResultsError("No assignment ids given")
    return out
