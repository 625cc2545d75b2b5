"""`aggregate`: one label per input row from its workers' answers, with the model's confidence and each worker's
skill, stored in the ledger (`aggregations`, `aggregated_labels`, `worker_skills`).

The answers are the collected Submitted and Approved assignments (rejected work does not vote). An item is one
input row of one batch, across all of its HITs. Gold rows take part in the fit (DawidSkene clamps them to their
known answer, so they teach it how each worker errs) but get no stored label. The newest run per answer field is
the current one: `hitkit export` and `Project.labels()` read it.
"""

from __future__ import annotations

import inspect
import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, insert, select

from hitkit.analysis.label_fields import choose_field, label_value
from hitkit.analysis.long_format import AnalysisError
from hitkit.analysis.methods import DEFAULT_METHOD, METHODS, make_aggregator, worker_skills
from hitkit.requester.collect import ResultsError
from hitkit.requester.ledger.store import record_event
from hitkit.requester.ledger.tables import (
    aggregated_labels,
    aggregations,
    assignments,
    gold_rows,
    hits,
    rows,
)
from hitkit.requester.ledger.tables import worker_skills as worker_skills_table

VOTING = ("Submitted", "Approved")


@dataclass
class Answers:
    """A field's answers in long format: `frame` has task (int), worker, label; `items[task]` is its
    (batch_id, row_index); `gold[task]` the expected label of a gold item."""

    field: str
    frame: pd.DataFrame
    items: list[tuple[str, int]]
    gold: dict[int, str] = field(default_factory=dict)
    inputs: dict[int, dict[str, Any]] = field(default_factory=dict)

    def gold_series(self) -> pd.Series:
        return pd.Series(self.gold, dtype=object)


@dataclass
class Aggregation:
    """One stored run: `labels` (one row per item: batch_id, row_index, Input.*, label, confidence, answers,
    agreement) and `skills` (one row per worker: worker_id, skill, answers, agreement)."""

    id: int
    field: str
    method: str
    labels: pd.DataFrame
    skills: pd.DataFrame
    answers: int

    def describe(self) -> str:
        n = len(self.labels)
        conf = float(self.labels["confidence"].mean()) if n else float("nan")
        low = int((self.labels["confidence"] < 0.7).sum()) if n else 0
        return (f"Aggregated {self.answers} answers to `{self.field}` into {n} label{'s' if n != 1 else ''} with "
                f"{self.method} (mean confidence {conf:.3f}; {low} below 0.7), from {len(self.skills)} workers.")

    def to_json(self) -> dict:
        counts = self.labels["label"].value_counts()
        return {
            "aggregation_id": self.id, "field": self.field, "method": self.method, "answers": self.answers,
            "items": len(self.labels), "workers": len(self.skills),
            "mean_confidence": float(self.labels["confidence"].mean()) if len(self.labels) else None,
            "label_counts": {str(k): int(v) for k, v in counts.items()},
            "lowest_skills": self.skills.nsmallest(5, "skill")[["worker_id", "skill", "answers"]].to_dict("records"),
        }


def _label(value: Any, fld: str, where: str) -> str | None:
    try:
        return label_value(value, fld, where)
    except AnalysisError as e:
        raise ResultsError(str(e)) from None


def load_answers(conn: Connection, fld: str | None = None) -> Answers:
    """The voting answers to one field (see `choose_field`) in long format, with gold items marked."""
    q = (
        select(assignments.c.worker_id, assignments.c.answers, assignments.c.assignment_id, hits.c.batch_id,
               hits.c.row_index)
        .select_from(assignments.join(hits, hits.c.hit_id == assignments.c.hit_id))
        .where(assignments.c.status.in_(VOTING))
        .order_by(hits.c.batch_id, hits.c.row_index, assignments.c.submit_time, assignments.c.assignment_id)
    )
    fetched = [(r.worker_id, json.loads(r.answers or "{}"), r.assignment_id, r.batch_id, r.row_index)
               for r in conn.execute(q)]
    if not fetched:
        raise ResultsError("There are no submitted or approved answers in the ledger yet (run `hitkit collect` "
                           "first)")
    try:
        fld = choose_field([a for _, a, *_ in fetched], fld)
    except AnalysisError as e:
        raise ResultsError(str(e)) from None
    index: dict[tuple[str, int], int] = {}
    task_col, worker_col, label_col = [], [], []
    for worker, answers, aid, batch_id, row_index in fetched:
        label = _label(answers.get(fld), fld, f"assignment {aid}")
        if label is None:
            continue
        task = index.setdefault((batch_id, row_index), len(index))
        task_col.append(task)
        worker_col.append(worker)
        label_col.append(label)
    if not task_col:
        raise ResultsError(f"No answer gives a value for `{fld}`")
    items = list(index)
    answers = Answers(fld, pd.DataFrame({"task": task_col, "worker": worker_col, "label": label_col}), items)
    batch_ids = sorted({b for b, _ in items})
    for g in conn.execute(select(gold_rows).where(gold_rows.c.batch_id.in_(batch_ids))):
        task = index.get((g.batch_id, g.row_index))
        expected = json.loads(g.expected).get(fld)
        if task is not None and expected not in (None, ""):
            answers.gold[task] = _label(expected, fld, f"gold row {g.row_index}") or ""
    for r in conn.execute(select(rows).where(rows.c.batch_id.in_(batch_ids))):
        task = index.get((r.batch_id, r.row_index))
        if task is not None:
            answers.inputs[task] = json.loads(r.data)
    return answers


def new_model(method: str | None = None, **params: Any) -> tuple[str, Any]:
    """(short method name, unfitted aggregator); ResultsError for an unknown method or parameter."""
    name = (method or DEFAULT_METHOD).lower()
    try:
        model = make_aggregator(name, **params)
    except TypeError as e:
        raise ResultsError(f"--method {name}: {e}") from None
    except AnalysisError as e:
        raise ResultsError(str(e)) from None
    return next((short for short, (cls, _) in METHODS.items() if cls == type(model).__name__), name), model


def fit_model(answers: Answers, method: str | None = None, **params: Any) -> tuple[str, Any]:
    """(short method name, fitted model) over `answers`; gold clamps the methods that accept true labels."""
    name, model = new_model(method, **params)
    kwargs: dict[str, Any] = {}
    if answers.gold and "true_labels" in inspect.signature(model.fit).parameters:
        kwargs["true_labels"] = answers.gold_series()
    try:
        model.fit(answers.frame, **kwargs)
    except AnalysisError as e:
        raise ResultsError(f"{name}: {e}") from None
    return name, model


def item_confidence(answers: Answers, model: Any) -> pd.DataFrame:
    """Per task (index): label, confidence (the model's probability of it), answers and agreement."""
    probas: pd.DataFrame = model.probas_
    labels: pd.Series = model.labels_
    frame = answers.frame
    counts = frame.groupby("task").size()
    agree = (frame["label"].to_numpy() == labels.reindex(frame["task"]).to_numpy())
    agreeing = pd.Series(agree, index=frame["task"]).groupby(level=0).sum()
    cols = probas.columns.get_indexer(labels.to_numpy())
    conf = probas.to_numpy()[np.arange(len(probas)), cols]
    out = pd.DataFrame({"label": labels.to_numpy(), "confidence": conf}, index=labels.index)
    out["answers"] = counts.reindex(out.index).to_numpy()
    out["agreement"] = (agreeing.reindex(out.index) / counts.reindex(out.index)).to_numpy()
    return out


def aggregate(project: Any, method: str | None = None, field: str | None = None, **params: Any) -> Aggregation:
    """Fit `method` (default: hitkit.analysis.methods.DEFAULT_METHOD) to the project's answers and store the run."""
    new_model(method, **params)  # an unknown method fails before the ledger is read
    with project.ledger.connect() as conn:
        answers = load_answers(conn, field)
    name, model = fit_model(answers, method, **params)
    per_item = item_confidence(answers, model)
    per_item = per_item[~per_item.index.isin(list(answers.gold))]
    frame = answers.frame
    consensus = model.labels_.reindex(frame["task"]).to_numpy()
    by_worker = pd.DataFrame({"worker": frame["worker"], "agree": frame["label"].to_numpy() == consensus})
    stats = by_worker.groupby("worker")["agree"].agg(["size", "mean"])
    skills = worker_skills(model).reindex(stats.index)
    skill_rows = pd.DataFrame({"worker_id": stats.index.astype(str), "skill": skills.to_numpy(dtype=float),
                               "answers": stats["size"].to_numpy(), "agreement": stats["mean"].to_numpy()})
    label_rows = pd.DataFrame({
        "batch_id": [answers.items[t][0] for t in per_item.index],
        "row_index": [answers.items[t][1] for t in per_item.index],
        "label": per_item["label"].astype(str).to_numpy(),
        "confidence": per_item["confidence"].to_numpy(dtype=float),
        "answers": per_item["answers"].to_numpy(),
        "agreement": per_item["agreement"].to_numpy(dtype=float),
    })
    with project.ledger.begin() as conn:
        run_id = conn.execute(insert(aggregations).values(
            created_at=time.time(), field=answers.field, method=name, params=json.dumps(params, default=str),
            answers=len(frame), tasks=len(per_item), workers=len(skill_rows))).inserted_primary_key[0]
        if len(label_rows):
            conn.execute(insert(aggregated_labels), [dict(r, aggregation_id=run_id) for r in _records(label_rows)])
        if len(skill_rows):
            conn.execute(insert(worker_skills_table), [dict(r, aggregation_id=run_id) for r in _records(skill_rows)])
        record_event(conn, "aggregate", id=run_id, field=answers.field, method=name, items=len(label_rows),
                     workers=len(skill_rows))
        labels = _with_inputs(conn, label_rows)
    return Aggregation(run_id, answers.field, name, labels, skill_rows.sort_values("skill").reset_index(drop=True),
                       len(frame))


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts of plain Python values (numpy scalars are not SQL parameters)."""
    return [{k: (v.item() if isinstance(v, np.generic) else v) for k, v in r.items()} for r in df.to_dict("records")]


def _with_inputs(conn: Connection, labels: pd.DataFrame) -> pd.DataFrame:
    """`labels` with the Input.<column> values of each item, between row_index and label."""
    if labels.empty:
        return labels
    data = {(r.batch_id, r.row_index): json.loads(r.data)
            for r in conn.execute(select(rows).where(rows.c.batch_id.in_(sorted(set(labels["batch_id"])))))}
    inputs = pd.DataFrame([data.get((b, i), {}) for b, i in zip(labels["batch_id"], labels["row_index"])])
    inputs.columns = [f"Input.{c}" for c in inputs.columns]
    out = pd.concat([labels[["batch_id", "row_index"]].reset_index(drop=True), inputs,
                     labels.drop(columns=["batch_id", "row_index"]).reset_index(drop=True)], axis=1)
    return out.sort_values(["batch_id", "row_index"]).reset_index(drop=True)


def current_run(conn: Connection, fld: str | None = None) -> Any:
    """The newest aggregation row (for `fld`, or any field), or None."""
    q = select(aggregations).order_by(aggregations.c.id.desc()).limit(1)
    if fld is not None:
        q = q.where(aggregations.c.field == fld)
    return conn.execute(q).first()


def stored_labels(conn: Connection, fld: str | None = None) -> pd.DataFrame:
    """The current run's labels (see Aggregation.labels); empty when nothing was aggregated."""
    run = current_run(conn, fld)
    if run is None:
        return pd.DataFrame(columns=["batch_id", "row_index", "label", "confidence", "answers", "agreement"])
    q = select(aggregated_labels).where(aggregated_labels.c.aggregation_id == run.id)
    df = pd.DataFrame([dict(r._mapping) for r in conn.execute(q)]).drop(columns="aggregation_id")
    return _with_inputs(conn, df)


def stored_skills(conn: Connection, fld: str | None = None) -> pd.DataFrame:
    """The current run's worker skills (worker_id, skill, answers, agreement), lowest skill first."""
    run = current_run(conn, fld)
    if run is None:
        return pd.DataFrame(columns=["worker_id", "skill", "answers", "agreement"])
    q = select(worker_skills_table).where(worker_skills_table.c.aggregation_id == run.id)
    df = pd.DataFrame([dict(r._mapping) for r in conn.execute(q)]).drop(columns="aggregation_id")
    return df.sort_values("skill").reset_index(drop=True)
