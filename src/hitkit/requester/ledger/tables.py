"""The ledger's tables. Times are epoch seconds (float). A HIT row exists *before* CreateHIT is called (with its
UniqueRequestToken and no HIT id) and gets its id after, so an interrupted launch knows exactly what it sent."""

from __future__ import annotations

from sqlalchemy import Column, Float, ForeignKey, Index, Integer, MetaData, String, Table, Text, UniqueConstraint

metadata = MetaData()

# One launch of a project over one input file (or DataFrame).
batches = Table(
    "batches",
    metadata,
    Column("id", String(64), primary_key=True),  # derived from the input's content: the same input resumes the batch
    Column("created_at", Float, nullable=False),
    Column("input_name", Text, nullable=False),  # file path, or "DataFrame"
    Column("input_sha256", String(64), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("assignments_per_row", Integer, nullable=False),
    Column("max_assignments_per_hit", Integer, nullable=False),
    Column("hit_type_id", String(64)),
    Column("endpoint", Text, nullable=False),
    Column("reward_cents", Integer, nullable=False),
    Column("properties", Text, nullable=False),  # JSON of the CreateHITType parameters used
)

# Input rows, as launched (JSON), so results can be joined back to their inputs.
rows = Table(
    "rows",
    metadata,
    Column("batch_id", String(64), ForeignKey("batches.id"), primary_key=True),
    Column("row_index", Integer, primary_key=True),  # 1-based: the row's number in messages ("row 17")
    Column("data", Text, nullable=False),  # JSON object
)

hits = Table(
    "hits",
    metadata,
    Column("token", String(64), primary_key=True),  # the UniqueRequestToken: batch + row + part
    Column("batch_id", String(64), ForeignKey("batches.id"), nullable=False, index=True),
    Column("row_index", Integer, nullable=False),  # 1-based, as rows.row_index
    Column("part", Integer, nullable=False),  # > 0 when redundancy is spread over several HITs
    Column("max_assignments", Integer, nullable=False),
    Column("hit_id", String(64), unique=True),  # set once CreateHIT answered
    Column("hit_type_id", String(64)),
    Column("created_at", Float),
    Column("expiration", Float),
    Column("state", String(16), nullable=False),  # intended | created | expired | deleted
    Column("last_error", Text),
    UniqueConstraint("batch_id", "row_index", "part", name="uq_hits_row_part"),
)

assignments = Table(
    "assignments",
    metadata,
    Column("assignment_id", String(64), primary_key=True),
    Column("hit_id", String(64), nullable=False, index=True),
    Column("worker_id", String(64), nullable=False, index=True),
    Column("status", String(16), nullable=False),  # Submitted | Approved | Rejected, as the endpoint last said
    Column("accept_time", Float),
    Column("submit_time", Float),
    Column("auto_approval_time", Float),
    Column("approval_time", Float),
    Column("rejection_time", Float),
    Column("requester_feedback", Text),
    Column("answer_xml", Text, nullable=False),  # the raw Answer, exactly as received
    Column("answers", Text, nullable=False),  # JSON object of parsed columns
    Column("collected_at", Float, nullable=False),
)

# What the requester decided, written before the call that applies it (applied_at set after).
decisions = Table(
    "decisions",
    metadata,
    Column("assignment_id", String(64), primary_key=True),
    Column("action", String(8), nullable=False),  # approve | reject
    Column("feedback", Text),
    Column("decided_at", Float, nullable=False),
    Column("applied_at", Float),
    Column("last_error", Text),
)

bonuses = Table(
    "bonuses",
    metadata,
    Column("token", String(64), primary_key=True),  # UniqueRequestToken: assignment + reason
    Column("assignment_id", String(64), nullable=False, index=True),
    Column("worker_id", String(64), nullable=False),
    Column("amount_cents", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    Column("decided_at", Float, nullable=False),
    Column("paid_at", Float),
    Column("last_error", Text),
)

events = Table(
    "events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("time", Float, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("detail", Text, nullable=False),  # JSON
    Index("ix_events_kind", "kind"),
)

# Gold (honeypot) rows: input rows whose answers are known, mixed into a batch. Their rows live in `rows` like any
# other (numbered after the batch's own rows), so results join back the same way; aggregation and exports of
# labels leave them out.
gold_rows = Table(
    "gold_rows",
    metadata,
    Column("batch_id", String(64), ForeignKey("batches.id"), primary_key=True),
    Column("row_index", Integer, primary_key=True),
    Column("expected", Text, nullable=False),  # JSON object: answer field -> the correct value
    Column("feedback", Text),  # shown to a worker who answers it wrongly
)

# One `hitkit aggregate` run over one answer field: its labels and worker skills below. The newest run per field
# is the current one (exports and the Python API read it); older runs stay for comparison.
aggregations = Table(
    "aggregations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", Float, nullable=False),
    Column("field", Text, nullable=False),
    Column("method", String(32), nullable=False),
    Column("params", Text, nullable=False),  # JSON
    Column("answers", Integer, nullable=False),
    Column("tasks", Integer, nullable=False),
    Column("workers", Integer, nullable=False),
    Index("ix_aggregations_field", "field", "id"),
)

aggregated_labels = Table(
    "aggregated_labels",
    metadata,
    Column("aggregation_id", Integer, ForeignKey("aggregations.id"), primary_key=True),
    Column("batch_id", String(64), primary_key=True),
    Column("row_index", Integer, primary_key=True),
    Column("label", Text, nullable=False),
    Column("confidence", Float, nullable=False),  # the model's posterior of `label`
    Column("answers", Integer, nullable=False),
    Column("agreement", Float, nullable=False),  # share of this row's answers equal to `label`
)

worker_skills = Table(
    "worker_skills",
    metadata,
    Column("aggregation_id", Integer, ForeignKey("aggregations.id"), primary_key=True),
    Column("worker_id", String(64), primary_key=True),
    Column("skill", Float, nullable=False),  # the model's P(answer is right), hitkit.analysis.methods.worker_skills
    Column("answers", Integer, nullable=False),
    Column("agreement", Float, nullable=False),  # share of the worker's answers equal to the aggregated label
)

# Quality control (hitkit.requester.quality_control): each action on a worker or a HIT (soft block, hard block,
# set a qualification value, add assignments) is written here before the call that applies it and marked applied
# after, so a run killed at any moment and run again sends nothing twice. Approve and reject go to `decisions`.
qc_actions = Table(
    "qc_actions",
    metadata,
    Column("key", String(255), primary_key=True),  # action:worker[:target]: the same action is never recorded twice
    Column("rule", Text, nullable=False),  # the name of the rule that decided it
    Column("worker_id", String(64), nullable=False, index=True),
    Column("action", String(32), nullable=False),  # soft_block | hard_block | set_qualification | add_assignments
    Column("target", String(64)),  # the qualification type id or the HIT id
    Column("params", Text, nullable=False),  # JSON: value, assignments, reason, UniqueRequestToken ...
    Column("why", Text, nullable=False),  # JSON: the collector's figures when the rule fired
    Column("decided_at", Float, nullable=False),
    Column("applied_at", Float),
    Column("state", String(16), nullable=False),  # pending | applied | failed (the endpoint refused: not retried)
    Column("last_error", Text),
)

# Returns and abandons by worker, which the MTurk API does not list: recorded by
# `quality_control.record_worker_event` (from notifications that carry a WorkerId, or any other source); read by the
# `returns` and `abandons` collectors.
worker_events = Table(
    "worker_events",
    metadata,
    Column("assignment_id", String(64), primary_key=True),
    Column("worker_id", String(64), nullable=False, index=True),
    Column("hit_id", String(64)),
    Column("kind", String(16), nullable=False),  # returned | abandoned
    Column("time", Float, nullable=False),
)
