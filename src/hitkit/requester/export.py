"""Results out of the ledger: one row per assignment, joined to its HIT, batch and input row.

`load_results(conn)` gives `Result` objects (the parsed answers as a dict, plus the assignment's facts and its
input row) for rules and notebooks; `records(...)` gives the rows in MTurk's batch results layout; `export(...)`
writes them as CSV (MTurk's batch results format), JSON Lines or Parquet, whole or split by input item.

Columns, in this order: HITId, HITTypeId, Title, Reward, AssignmentId, WorkerId, AssignmentStatus, AcceptTime,
SubmitTime, AutoApprovalTime, ApprovalTime, RejectionTime, RequesterFeedback, WorkTimeInSeconds, Input.<column>...
(in the input's column order), Answer.<field>... (in the order they first appear), and in CSV MTurk's two empty
review columns Approve and Reject (fill them in and `hitkit review NAME --csv FILE` applies them).

CSV cells are MTurk's: times like `Mon Nov 23 07:33:47 UTC 2026` (UTC, whole seconds), Reward `$0.50`, several
selected values joined with `|`, other non-text values (numbers, true/false, objects) as JSON, nothing as an empty
cell. JSON Lines and Parquet keep types: times as UTC timestamps (ISO 8601 in JSON), Reward a number of dollars,
lists as lists.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import random
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from hitkit.mturk.batch_csv import META, REVIEW_COLUMNS, TIMES, csv_row
from hitkit.requester.collect import ResultsError
from hitkit.requester.ledger.tables import assignments, batches, hits, rows

FORMATS = ("csv", "jsonl", "parquet")


class Result(dict):
    """One assignment: the dict is its parsed answers (`r["label"]`); attributes give the rest."""

    def __init__(self, answers: dict[str, Any], *, assignment_id: str, hit_id: str, worker_id: str, status: str,
                 input: dict[str, Any], record: dict[str, Any], item: str, decision: str | None = None,
                 row: tuple[str, int] | None = None) -> None:
        super().__init__(answers)
        self.assignment_id = assignment_id
        self.hit_id = hit_id
        self.worker_id = worker_id
        self.status = status
        self.input = input
        self.record = record  # the results row (META + Input. + Answer. columns)
        self.item = item  # the input row's identity (its content's hash)
        self.decision = decision  # approve | reject when a decision is recorded
        self.row = row  # (batch id, 1-based row index) of the input row, when the HIT is the ledger's

    @property
    def answers(self) -> dict[str, Any]:
        return dict(self)

    @property
    def work_time(self) -> float | None:
        a, s = self.record.get("AcceptTime"), self.record.get("SubmitTime")
        return s - a if a is not None and s is not None else None

    def __repr__(self) -> str:
        return f"Result({self.assignment_id}, worker={self.worker_id}, status={self.status}, answers={dict(self)!r})"


def item_key(data: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str, ensure_ascii=False).encode()).hexdigest()[:16]


def load_results(conn: Connection, statuses: tuple[str, ...] | None = None) -> list[Result]:
    """Every assignment in the ledger (or those with one of `statuses`), ordered by input row, then submit time."""
    from hitkit.requester.ledger.tables import decisions

    q = (
        select(assignments, hits.c.batch_id, hits.c.row_index, hits.c.part, hits.c.hit_type_id.label("hit_type"),
               batches.c.hit_type_id.label("batch_hit_type"), batches.c.reward_cents, batches.c.properties,
               rows.c.data.label("row_data"), decisions.c.action.label("decision"))
        .select_from(assignments)
        .outerjoin(hits, hits.c.hit_id == assignments.c.hit_id)
        .outerjoin(batches, batches.c.id == hits.c.batch_id)
        .outerjoin(rows, (rows.c.batch_id == hits.c.batch_id) & (rows.c.row_index == hits.c.row_index))
        .outerjoin(decisions, decisions.c.assignment_id == assignments.c.assignment_id)
        .order_by(hits.c.batch_id, hits.c.row_index, hits.c.part, assignments.c.submit_time, assignments.c.assignment_id)
    )
    if statuses:
        q = q.where(assignments.c.status.in_(statuses))
    out: list[Result] = []
    for r in conn.execute(q):
        answers = json.loads(r.answers or "{}")
        data = json.loads(r.row_data) if r.row_data else {}
        props = json.loads(r.properties) if r.properties else {}
        work = (r.submit_time - r.accept_time) if r.submit_time is not None and r.accept_time is not None else None
        record: dict[str, Any] = {
            "HITId": r.hit_id,
            "HITTypeId": r.hit_type or r.batch_hit_type,
            "Title": props.get("Title"),
            "Reward": r.reward_cents / 100 if r.reward_cents is not None else None,
            "AssignmentId": r.assignment_id,
            "WorkerId": r.worker_id,
            "AssignmentStatus": r.status,
            "AcceptTime": r.accept_time,
            "SubmitTime": r.submit_time,
            "AutoApprovalTime": r.auto_approval_time,
            "ApprovalTime": r.approval_time,
            "RejectionTime": r.rejection_time,
            "RequesterFeedback": r.requester_feedback,
            "WorkTimeInSeconds": int(work) if work is not None else None,
        }
        record.update({f"Input.{k}": v for k, v in data.items()})
        record.update({f"Answer.{k}": v for k, v in answers.items()})
        key = item_key(data) if r.row_data else f"hit:{r.hit_id}"
        out.append(Result(answers, assignment_id=r.assignment_id, hit_id=r.hit_id, worker_id=r.worker_id,
                          status=r.status, input=data, record=record, item=key, decision=r.decision,
                          row=(r.batch_id, r.row_index) if r.batch_id is not None else None))
    return out


def columns_of(results: list[Result]) -> list[str]:
    inputs: dict[str, None] = {}
    answers: dict[str, None] = {}
    for res in results:
        for k in res.record:
            if k.startswith("Input."):
                inputs.setdefault(k)
            elif k.startswith("Answer."):
                answers.setdefault(k)
    return META + list(inputs) + list(answers)


def typed_record(record: dict[str, Any], columns: list[str]) -> dict[str, Any]:
    out = {}
    for c in columns:
        v = record.get(c)
        if c in TIMES and v is not None:
            v = datetime.fromtimestamp(v, timezone.utc)
        out[c] = v
    return out


def frame(results: list[Result], columns: list[str] | None = None):  # type: ignore[no-untyped-def]
    """The results as a pandas DataFrame (one row per assignment, typed)."""
    import pandas as pd

    columns = columns or columns_of(results)
    df = pd.DataFrame([typed_record(r.record, columns) for r in results], columns=columns)
    for c in TIMES:
        if c in df.columns:
            df[c] = pd.to_datetime(df[c], utc=True)
    if "WorkTimeInSeconds" in df.columns:
        df["WorkTimeInSeconds"] = df["WorkTimeInSeconds"].astype("Int64")
    return df


def _parquet_safe(df):  # type: ignore[no-untyped-def]
    """Columns Arrow cannot type (mixed text/lists/numbers) become JSON text, except plain text cells."""
    for c in df.columns:
        if df[c].dtype != object:
            continue
        kinds = {type(v) for v in df[c] if v is not None and not (isinstance(v, float) and math.isnan(v))}
        if len(kinds) <= 1 and not (kinds & {dict}):
            if kinds == {list} and not all(isinstance(x, str) for v in df[c] if isinstance(v, list) for x in v):
                df[c] = [None if v is None else json.dumps(v, default=str) for v in df[c]]
            continue
        df[c] = [None if v is None else v if isinstance(v, str) else json.dumps(v, default=str) for v in df[c]]
    return df


def parse_split(text: str) -> list[tuple[str, float]]:
    """`train=0.8,test=0.2` -> [("train", 0.8), ("test", 0.2)]; the fractions must add up to 1."""
    parts: list[tuple[str, float]] = []
    for piece in text.split(","):
        name, sep, frac = piece.partition("=")
        name = name.strip()
        try:
            value = float(frac)
        except ValueError:
            value = -1.0
        if not sep or not name or not name.replace("-", "").replace("_", "").isalnum() or not 0 < value <= 1:
            raise ResultsError(f"--split: expected NAME=FRACTION pairs like train=0.8,test=0.2, not {piece.strip()!r}")
        if name in (n for n, _ in parts):
            raise ResultsError(f"--split: {name!r} is named twice")
        parts.append((name, value))
    if abs(sum(v for _, v in parts) - 1) > 1e-6:
        raise ResultsError(f"--split: the fractions add up to {sum(v for _, v in parts):g}, not 1")
    return parts


def split_of(items: list[str], split: list[tuple[str, float]], seed: int) -> dict[str, str]:
    """Each item key's split name: the sorted keys shuffled by `seed`, then cut by the fractions."""
    items = sorted(items)
    random.Random(seed).shuffle(items)
    assign: dict[str, str] = {}
    cum = 0.0
    start = 0
    for i, (name, frac) in enumerate(split):
        cum += frac
        end = len(items) if i == len(split) - 1 else round(cum * len(items))
        for it in items[start:end]:
            assign[it] = name
        start = end
    return assign


def write(results: list[Result], fmt: str, target: Path | str, columns: list[str], *,
          review_columns: bool = True) -> None:
    """Write results to a path, or to stdout when target is "-" (csv and jsonl only). CSV ends with MTurk's empty
    Approve and Reject columns unless `review_columns` is False."""
    to_stdout = str(target) == "-"
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, quoting=csv.QUOTE_ALL)
        tail = REVIEW_COLUMNS if review_columns else []
        w.writerow(columns + tail)
        for r in results:
            w.writerow(csv_row(r.record, columns + tail))
        if to_stdout:
            sys.stdout.write(buf.getvalue())
        else:
            Path(target).write_text(buf.getvalue(), encoding="utf-8", newline="")
    elif fmt == "jsonl":
        lines = []
        for r in results:
            rec = typed_record(r.record, columns)
            lines.append(json.dumps({k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in rec.items()},
                                    ensure_ascii=False, default=str))
        text = "".join(line + "\n" for line in lines)
        if to_stdout:
            sys.stdout.write(text)
        else:
            Path(target).write_text(text, encoding="utf-8")
    elif fmt == "parquet":
        if to_stdout:
            raise ResultsError("--output -: Parquet cannot go to the terminal; give a file name")
        _parquet_safe(frame(results, columns)).to_parquet(target, index=False)
    else:
        raise ResultsError(f"--format: choose one of {', '.join(FORMATS)}, not {fmt!r}")


def split_path(path: Path, name: str) -> Path:
    """results.csv + train -> results.train.csv"""
    return path.with_name(f"{path.stem}.{name}{path.suffix}")


class LabelRow:
    """One item of a `--labels` export, shaped like a Result for `write`: `record` and `item`."""

    def __init__(self, record: dict[str, Any], item: str) -> None:
        self.record = record
        self.item = item


def _aggregated_prefix(conn: Connection) -> tuple[str, Any] | None:
    from hitkit.requester.aggregate import current_run

    run = current_run(conn)
    return (f"Aggregated.{run.field}", run) if run is not None else None


def add_aggregated(conn: Connection, results: list[Result]) -> list[str]:
    """Put the current aggregation's label and confidence into each result's record (columns
    `Aggregated.<field>` and `Aggregated.<field>.confidence`); returns the columns added."""
    from hitkit.requester.aggregate import stored_labels

    found = _aggregated_prefix(conn)
    if found is None:
        return []
    prefix, run = found
    labels = stored_labels(conn, run.field)
    by_row = {(b, i): (lab, conf) for b, i, lab, conf in
              zip(labels["batch_id"], labels["row_index"], labels["label"], labels["confidence"])}
    for r in results:
        label, conf = by_row.get(r.row, (None, None)) if r.row else (None, None)
        r.record[prefix] = label
        r.record[f"{prefix}.confidence"] = None if conf is None else float(conf)
    return [prefix, f"{prefix}.confidence"]


def label_rows(conn: Connection) -> tuple[list[LabelRow], list[str]]:
    """One row per aggregated item (BatchId, RowIndex, Input.*, Aggregated.<field> and its confidence, answers,
    agreement and method), from the current aggregation."""
    from hitkit.requester.aggregate import stored_labels

    found = _aggregated_prefix(conn)
    if found is None:
        raise ResultsError("Nothing is aggregated yet: run `hitkit aggregate NAME` first")
    prefix, run = found
    labels = stored_labels(conn, run.field)
    inputs = [c for c in labels.columns if c.startswith("Input.")]
    columns = ["BatchId", "RowIndex", *inputs, prefix, f"{prefix}.confidence", f"{prefix}.answers",
               f"{prefix}.agreement", f"{prefix}.method"]
    out = []
    for rec in labels.to_dict("records"):
        data = {c[len("Input."):]: rec[c] for c in inputs if not _missing(rec[c])}
        record = {"BatchId": rec["batch_id"], "RowIndex": int(rec["row_index"]),
                  **{c: (None if _missing(rec[c]) else rec[c]) for c in inputs},
                  prefix: rec["label"], f"{prefix}.confidence": float(rec["confidence"]),
                  f"{prefix}.answers": int(rec["answers"]), f"{prefix}.agreement": float(rec["agreement"]),
                  f"{prefix}.method": run.method}
        out.append(LabelRow(record, item_key(data)))
    return out, columns


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def export(project: Any, fmt: str = "csv", output: str | Path | None = None, *, split: str | None = None,
           seed: int = 0, statuses: tuple[str, ...] | None = None, labels: bool = False) -> list[tuple[Path | str, int]]:
    """Write the project's results; returns [(path, rows written)]. `output` defaults to `results.<fmt>` (with
    `labels`, one row per item: `labels.<fmt>`) in the project folder; with `split`, one file per split named
    `results.<split>.<fmt>`. Splits are by item, so the same seed splits assignments and labels alike."""
    if fmt not in FORMATS:
        raise ResultsError(f"--format: choose one of {', '.join(FORMATS)}, not {fmt!r}")
    parts = parse_split(split) if split else None
    with project.ledger.connect() as conn:
        if labels:
            results, columns = label_rows(conn)  # type: ignore[assignment]
        else:
            results = load_results(conn, statuses)
            columns = columns_of(results) + add_aggregated(conn, results)
    default = "labels" if labels else "results"
    target: Path | str = output if output is not None else project.root / f"{default}.{fmt}"
    if parts and str(target) == "-":
        raise ResultsError("--split writes one file per split: give --output FILE, not -")
    if str(target) != "-":
        target = Path(target)
        if target.parent and not target.parent.exists():
            raise ResultsError(f"--output: the folder {target.parent} does not exist")
    if not parts:
        write(results, fmt, target, columns, review_columns=not labels)
        return [(target, len(results))]
    assign = split_of(sorted({r.item for r in results}), parts, seed)
    written = []
    for name, _ in parts:
        group = [r for r in results if assign[r.item] == name]
        path = split_path(Path(target), name)
        write(group, fmt, path, columns, review_columns=not labels)
        written.append((path, len(group)))
    return written
