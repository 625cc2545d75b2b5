"""Reviewing a console batch: each assignment's answers as columns, per-item agreement and the aggregated label
(hitkit.analysis), per-worker agreement with that consensus and accuracy on gold, and MTurk's batch results CSV.

The label field is the one answer field that looks like a label (hitkit.analysis.label_fields), or the one the
requester picks. Answers that are not labels (free text, boxes) still show; the item then has no aggregated label.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Row

from hitkit.analysis.agreement import accuracy_on_gold, worker_agreement
from hitkit.analysis.label_fields import choose_field, label_value
from hitkit.analysis.long_format import AnalysisError
from hitkit.analysis.methods import DEFAULT_METHOD, METHODS, make_aggregator
from hitkit.mturk.answers import AnswerFormatError, parse_answer_xml
from hitkit.mturk.batch_csv import META, REVIEW_COLUMNS, csv_row, spreadsheet_safe
from hitkit.server.domain.console_projects import GOLD_PREFIX, batch_assignments, properties_of, rows_by_index

REVIEW_METHODS = ("hds", "ds", "mv", "glad", "mace", "wawa")
MIN_ANSWERS_FOR_MODELS = 10  # below this many answers per worker (median), worker models overfit: majority vote


def parse_answers(xml: str | None) -> dict[str, Any]:
    """An assignment's answers as columns; an unreadable Answer shows as such rather than failing the page."""
    if not xml:
        return {}
    try:
        return parse_answer_xml(xml)
    except AnswerFormatError as e:
        return {"(unreadable answer)": str(e)}


@dataclass
class ReviewAssignment:
    id: str
    hit_id: str
    worker_id: str
    status: str
    answers: dict[str, Any]
    submit_time: float | None
    work_seconds: float | None
    feedback: str | None
    label: str | None = None  # its answer to the label field, as a category


@dataclass
class ReviewItem:
    row_index: int
    row: dict[str, str]  # what the worker saw
    gold: dict[str, str]  # field -> known answer
    assignments: list[ReviewAssignment] = field(default_factory=list)
    label: str | None = None
    confidence: float | None = None
    agreement: float | None = None  # share of answers equal to the label


@dataclass
class WorkerQuality:
    worker_id: str
    answers: int = 0
    agreement: float | None = None  # with the aggregated labels
    gold_answers: int = 0
    gold_accuracy: float | None = None


@dataclass
class Review:
    items: list[ReviewItem]
    workers: list[WorkerQuality]
    fields: list[str]  # every answer field seen
    field: str | None = None  # the label field, when there is one
    method: str = DEFAULT_METHOD
    note: str | None = None  # why there is no aggregated label
    method_note: str | None = None  # why the method is not the one asked for


def review(conn: Connection, batch: Row, wanted_field: str | None = None, method: str | None = None) -> Review:
    """Everything the review page shows for `batch`. Without a method: hitkit's default, or majority vote while
    workers have given too few answers for a model of each worker."""
    chosen = method if method in REVIEW_METHODS else None
    rows = rows_by_index(conn, batch.id)
    items = {i: ReviewItem(i, {k: v for k, v in r.items() if not k.startswith(GOLD_PREFIX)},
                           {k[len(GOLD_PREFIX):]: v for k, v in r.items() if k.startswith(GOLD_PREFIX) and v != ""})
             for i, r in sorted(rows.items())}
    seen_fields: dict[str, None] = {}
    for a in batch_assignments(conn, batch.id):
        answers = parse_answers(a.answer)
        seen_fields.update(dict.fromkeys(answers))
        items[a.row_index].assignments.append(ReviewAssignment(
            a.id, a.hit_id, a.worker_id, a.status, answers, a.submit_time,
            None if a.submit_time is None else max(0.0, a.submit_time - a.accept_time), a.requester_feedback))
    out = Review(list(items.values()), [], list(seen_fields), method=chosen or DEFAULT_METHOD)
    voting = [ra for it in out.items for ra in it.assignments if ra.status != "Rejected"]
    if not voting:
        out.note = "No answers yet."
        return out
    try:
        out.field = choose_field([ra.answers for ra in voting], wanted_field or None, how="the field menu")
        for it in out.items:
            for ra in it.assignments:
                ra.label = label_value(ra.answers.get(out.field), out.field, f"assignment {ra.id}")
    except AnalysisError as e:
        out.note = str(e)
        out.field = None
        return out
    if chosen is None:
        per_worker = pd.Series([ra.worker_id for ra in voting if ra.label is not None]).value_counts()
        if len(per_worker) and per_worker.median() < MIN_ANSWERS_FOR_MODELS:
            out.method = "mv"
            out.method_note = (f"Majority vote: workers have given {per_worker.median():g} answers each (median), too "
                               f"few to model each worker ({MIN_ANSWERS_FOR_MODELS} or more); pick a method to override.")
    _aggregate(out, out.method)
    return out


def _aggregate(out: Review, method: str) -> None:
    answers = [(it.row_index, ra.worker_id, ra.label) for it in out.items for ra in it.assignments
               if ra.status != "Rejected" and ra.label is not None]
    if not answers:
        out.note = f"No answer gives a value for `{out.field}`."
        return
    frame = pd.DataFrame(answers, columns=["task", "worker", "label"])
    try:
        model = make_aggregator(method).fit(frame)
    except AnalysisError as e:
        out.note = f"{METHODS[method][0]}: {e}"
        return
    labels: pd.Series = model.labels_
    probas: pd.DataFrame = model.probas_
    for it in out.items:
        if it.row_index not in labels.index:
            continue
        it.label = str(labels[it.row_index])
        it.confidence = float(probas.loc[it.row_index, labels[it.row_index]])
        votes = [ra.label for ra in it.assignments if ra.status != "Rejected" and ra.label is not None]
        it.agreement = sum(v == it.label for v in votes) / len(votes) if votes else None
    quality = {w: WorkerQuality(w) for w in frame["worker"].unique()}
    agree = worker_agreement(frame, consensus=labels)
    for w, r in agree.iterrows():
        quality[w].answers = int(r["n"])
        quality[w].agreement = None if r["n"] == 0 else float(r["agreement"])
    gold = pd.Series({it.row_index: it.gold[out.field] for it in out.items if out.field in it.gold})
    if len(gold) and frame["task"].isin(gold.index).any():
        per_worker = accuracy_on_gold(frame, gold).per_worker
        for w, r in per_worker.iterrows():
            quality[w].gold_answers, quality[w].gold_accuracy = int(r["n"]), float(r["accuracy"])
    out.workers = sorted(quality.values(), key=lambda q: (q.agreement is None, q.agreement or 0, q.worker_id))


def results_csv(conn: Connection, batch: Row) -> str:
    """The batch's submitted, approved and rejected assignments in MTurk's batch results CSV."""
    props = properties_of(batch)
    rows = rows_by_index(conn, batch.id)
    inputs = json.loads(batch.columns)
    records, answer_cols = [], {}
    for a in batch_assignments(conn, batch.id):
        answers = parse_answers(a.answer)
        rec: dict[str, Any] = {
            "HITId": a.hit_id, "HITTypeId": batch.hit_type_id, "Title": props.title,
            "Reward": props.reward_cents / 100, "AssignmentId": a.id, "WorkerId": a.worker_id,
            "AssignmentStatus": a.status, "AcceptTime": a.accept_time, "SubmitTime": a.submit_time,
            "AutoApprovalTime": a.auto_approval_time, "ApprovalTime": a.approval_time,
            "RejectionTime": a.rejection_time, "RequesterFeedback": a.requester_feedback,
            "WorkTimeInSeconds": None if a.submit_time is None else int(max(0.0, a.submit_time - a.accept_time)),
        }
        for c in inputs:
            rec[f"Input.{c}"] = rows.get(a.row_index, {}).get(c)
        for k, v in answers.items():
            answer_cols.setdefault(f"Answer.{k}")
            rec[f"Answer.{k}"] = v
        records.append(rec)
    columns = META + [f"Input.{c}" for c in inputs] + list(answer_cols) + REVIEW_COLUMNS
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(columns)
    for rec in records:
        writer.writerow([spreadsheet_safe(c) for c in csv_row(rec, columns)])
    return buf.getvalue()
