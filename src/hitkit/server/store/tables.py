"""Every table of the marketplace. Timestamps are epoch seconds (float) from the injected clock.

Status and counters of HITs are not stored: they are derived from these facts and the clock
(see domain/hit_state.py). Money lives only in `ledger`, an append-only table.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# Surrogate integer keys (`seq`) give every list a stable order for pagination; the public MTurk ids are `id`.
Seq = lambda: Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)  # noqa: E731

settings = Table(
    "settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

requesters = Table(
    "requesters",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
)

access_keys = Table(
    "access_keys",
    metadata,
    Column("access_key_id", String(64), primary_key=True),
    Column("requester_id", String(64), ForeignKey("requesters.id"), nullable=False, index=True),
    Column("secret", String(128), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
)

# Bearer tokens for admins and workers; only a SHA-256 of the token is kept.
tokens = Table(
    "tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("subject_id", String(64), nullable=False, index=True),
    Column("created_at", Float, nullable=False),
)

admins = Table(
    "admins",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("password_hash", String(256)),
    Column("created_at", Float, nullable=False),
)

workers = Table(
    "workers",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("country", String(2)),
    Column("subdivision", String(3)),
    Column("adult", Boolean, nullable=False, default=False),
    Column("masters", Boolean, nullable=False, default=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", Float, nullable=False),
)

hit_types = Table(
    "hit_types",
    metadata,
    Seq(),
    Column("id", String(64), nullable=False, unique=True),
    Column("requester_id", String(64), ForeignKey("requesters.id"), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("keywords", Text),
    Column("reward_cents", BigInteger, nullable=False),
    Column("assignment_duration", BigInteger, nullable=False),
    Column("auto_approval_delay", BigInteger, nullable=False),
    Column("requirements", Text, nullable=False, default="[]"),  # JSON, botocore output shape
    Column("created_at", Float, nullable=False),
    UniqueConstraint("requester_id", "fingerprint", name="uq_hit_types_fingerprint"),
)

hits = Table(
    "hits",
    metadata,
    Seq(),
    Column("id", String(64), nullable=False, unique=True),
    Column("requester_id", String(64), ForeignKey("requesters.id"), nullable=False),
    Column("hit_type_id", String(64), ForeignKey("hit_types.id"), nullable=False, index=True),
    Column("created_at", Float, nullable=False),
    Column("expiration", Float, nullable=False),
    Column("max_assignments", Integer, nullable=False),
    Column("question", Text),
    Column("requester_annotation", Text),
    Column("layout_id", String(64)),
    Column("layout_parameters", Text),
    Column("assignment_review_policy", Text),
    Column("hit_review_policy", Text),
    Column("reviewing", Boolean, nullable=False, default=False),  # UpdateHITReviewStatus flag
    Column("hit_review_status", String(32), nullable=False, default="NotReviewed"),
    Column("disposed_at", Float),
    Index("ix_hits_requester_seq", "requester_id", "seq"),
    Index("ix_hits_expiration", "expiration"),
)

# status: Accepted, Returned, Abandoned, Submitted, Approved, Rejected. An Accepted row whose deadline has passed
# counts as abandoned at once (the sweeper later records it); only Submitted/Approved/Rejected are visible to requesters.
assignments = Table(
    "assignments",
    metadata,
    Seq(),
    Column("id", String(64), nullable=False, unique=True),
    Column("hit_id", String(64), ForeignKey("hits.id"), nullable=False),
    Column("worker_id", String(64), ForeignKey("workers.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("accept_time", Float, nullable=False),
    Column("deadline", Float, nullable=False),
    Column("submit_time", Float),
    Column("auto_approval_time", Float),
    Column("approval_time", Float),
    Column("rejection_time", Float),
    Column("ended_time", Float),  # returned/abandoned
    Column("answer", Text),
    Column("requester_feedback", Text),
    Index("ix_assignments_hit_status_deadline", "hit_id", "status", "deadline"),  # see migration 0006
    Index("ix_assignments_worker_hit", "worker_id", "hit_id"),
    Index("ix_assignments_status_deadline", "status", "deadline"),
    Index("ix_assignments_status_auto", "status", "auto_approval_time"),
)

# The append-only money ledger. account: 'available' or 'held'; amount in cents, signed; each row carries the
# account's balance after it, so a balance is one indexed read and an audit can re-add the whole chain.
ledger = Table(
    "ledger",
    metadata,
    Seq(),
    Column("requester_id", String(64), ForeignKey("requesters.id"), nullable=False),
    Column("account", String(16), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("balance_after", BigInteger, nullable=False),  # running balance of this account, so reads are O(1)
    Column("kind", String(24), nullable=False),
    Column("hit_id", String(64)),
    Column("assignment_id", String(64)),
    Column("bonus_id", String(64)),
    Column("worker_id", String(64)),
    Column("created_at", Float, nullable=False),
    Column("memo", Text),
    Index("ix_ledger_requester_account_seq", "requester_id", "account", "seq"),
    Index("ix_ledger_hit", "hit_id"),
    Index("ix_ledger_worker", "worker_id"),
)

bonuses = Table(
    "bonuses",
    metadata,
    Seq(),
    Column("id", String(64), nullable=False, unique=True),
    Column("requester_id", String(64), ForeignKey("requesters.id"), nullable=False),
    Column("worker_id", String(64), nullable=False),
    Column("assignment_id", String(64), nullable=False, index=True),
    Column("hit_id", String(64), nullable=False, index=True),
    Column("amount_cents", BigInteger, nullable=False),
    Column("fee_cents", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("grant_time", Float, nullable=False),
)

# UniqueRequestToken memory (24 h). scope: 'hit' (CreateHIT*), 'extend', 'bonus'.
request_tokens = Table(
    "request_tokens",
    metadata,
    Column("requester_id", String(64), primary_key=True),
    Column("scope", String(16), primary_key=True),
    Column("token", String(64), primary_key=True),
    Column("result_id", String(64), nullable=False),
    Column("created_at", Float, nullable=False, index=True),
)

qualification_types = Table(
    "qualification_types",
    metadata,
    Seq(),
    Column("id", String(64), nullable=False, unique=True),
    Column("requester_id", String(64), ForeignKey("requesters.id"), nullable=False, index=True),
    Column("name", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("keywords", Text),
    Column("status", String(16), nullable=False),
    Column("test", Text),
    Column("test_duration", BigInteger),
    Column("answer_key", Text),
    Column("retry_delay", BigInteger),
    Column("auto_granted", Boolean, nullable=False, default=False),
    Column("auto_granted_value", Integer),
    Column("created_at", Float, nullable=False),
    Column("deleted_at", Float),
)

qualifications = Table(
    "qualifications",
    metadata,
    Column("type_id", String(64), primary_key=True),
    Column("worker_id", String(64), ForeignKey("workers.id"), primary_key=True),
    Column("integer_value", Integer),
    Column("country", String(2)),
    Column("subdivision", String(3)),
    Column("status", String(16), nullable=False),  # Granted | Revoked
    Column("grant_time", Float, nullable=False),
    Column("revoke_reason", Text),
    Index("ix_qualifications_worker", "worker_id"),
)

qualification_requests = Table(
    "qualification_requests",
    metadata,
    Seq(),
    Column("id", String(64), nullable=False, unique=True),
    Column("type_id", String(64), nullable=False, index=True),
    Column("worker_id", String(64), ForeignKey("workers.id"), nullable=False),
    Column("test", Text),
    Column("answer", Text),
    Column("submit_time", Float, nullable=False),
    Column("status", String(16), nullable=False),  # Pending | Approved | Rejected | Granted(auto)
    Column("resolved_time", Float),
    Column("reason", Text),
    Index("ix_qualreq_worker_type", "worker_id", "type_id"),
)

worker_blocks = Table(
    "worker_blocks",
    metadata,
    Seq(),
    Column("requester_id", String(64), ForeignKey("requesters.id"), nullable=False),
    Column("worker_id", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("requester_id", "worker_id", name="uq_worker_blocks"),
)

worker_messages = Table(
    "worker_messages",
    metadata,
    Seq(),
    Column("requester_id", String(64), nullable=False),
    Column("worker_id", String(64), nullable=False, index=True),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)

notification_settings = Table(
    "notification_settings",
    metadata,
    Column("hit_type_id", String(64), primary_key=True),
    Column("destination", Text, nullable=False),
    Column("transport", String(8), nullable=False),
    Column("version", String(16), nullable=False),
    Column("event_types", Text, nullable=False),  # JSON list
    Column("active", Boolean, nullable=False, default=True),
)

# Event outbox: every marketplace event, delivered by HTTP POST where a destination is set.
events = Table(
    "events",
    metadata,
    Seq(),
    Column("requester_id", String(64), nullable=False, index=True),
    Column("hit_type_id", String(64)),
    Column("hit_id", String(64)),
    Column("assignment_id", String(64)),
    Column("event_type", String(32), nullable=False),
    Column("event_time", Float, nullable=False),
    Column("destination", Text),  # set when a notification must be delivered
    Column("delivered_at", Float),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Index("ix_events_pending", "destination", "delivered_at"),
)

review_results = Table(
    "review_results",
    metadata,
    Seq(),
    Column("hit_id", String(64), nullable=False, index=True),
    Column("level", String(16), nullable=False),  # Assignment | HIT
    Column("policy_name", String(64), nullable=False),
    Column("kind", String(8), nullable=False),  # result | action
    Column("body", Text, nullable=False),  # JSON of ReviewResultDetail / ReviewActionDetail
)

# ---- the worker web site (migration 0002) ----

# A worker's username and argon2 password hash; workers made by the CLI or the admin API have none until set.
worker_logins = Table(
    "worker_logins",
    metadata,
    Column("worker_id", String(64), ForeignKey("workers.id"), primary_key=True),
    Column("username", String(64), nullable=False, unique=True),  # stored lower-cased
    Column("password_hash", String(256), nullable=False),
    Column("created_at", Float, nullable=False),
)

# Invitation links (`/join/CODE`); only the code's hash is stored, so a database leak hands out no invitations.
invitations = Table(
    "invitations",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("created_by", String(64), nullable=False),  # an admin id (M...) or a requester id (R...)
    Column("note", Text),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float),
    Column("max_uses", Integer, nullable=False, default=1),
    Column("uses", Integer, nullable=False, default=0),
)

# Browser sessions: the cookie holds a random id, the table its hash. `kind` is login or participant.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("worker_id", String(64), ForeignKey("workers.id"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("auto_accept", Boolean, nullable=False, default=False),
)

# Recruitment links for studies (`/p/CODE`): whoever opens one becomes a participant worker of that HIT type.
participant_links = Table(
    "participant_links",
    metadata,
    Column("code", String(64), primary_key=True),
    Column("requester_id", String(64), ForeignKey("requesters.id"), nullable=False, index=True),
    Column("hit_type_id", String(64), nullable=False),
    Column("label", Text),
    Column("completion_code", String(64)),  # shown after a submission, as study platforms expect
    Column("created_at", Float, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
)

participants = Table(
    "participants",
    metadata,
    Column("worker_id", String(64), ForeignKey("workers.id"), primary_key=True),
    Column("link_code", String(64), nullable=False, index=True),
    Column("created_at", Float, nullable=False),
)

# HITs a worker skipped in the web site: they come last when the worker takes the next HIT of a group.
worker_skips = Table(
    "worker_skips",
    metadata,
    Column("worker_id", String(64), primary_key=True),
    Column("hit_id", String(64), primary_key=True),
    Column("created_at", Float, nullable=False),
)

# ---- the requester console and administration (migration 0003) ----

# Web logins of requesters and admins: `role` is requester or admin, `subject_id` the requester (R...) or admin
# (M...) id. A username is unique within its role; the password is an argon2id hash.
staff_logins = Table(
    "staff_logins",
    metadata,
    Column("role", String(16), primary_key=True),
    Column("subject_id", String(64), primary_key=True),
    Column("username", String(64), nullable=False),  # stored lower-cased
    Column("password_hash", String(256), nullable=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("role", "username", name="uq_staff_logins_username"),
)

# Console and admin browser sessions (cookies `hitkit_console` and `hitkit_admin`); only the id's hash is kept.
staff_sessions = Table(
    "staff_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("subject_id", String(64), nullable=False, index=True),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)

# Failed sign-ins, for rate limiting every login form (worker, console, admin) across server processes.
login_failures = Table(
    "login_failures",
    metadata,
    Seq(),
    Column("form", String(16), nullable=False),  # worker | requester | admin
    Column("username", String(64), nullable=False),
    Column("ip", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_login_failures_username", "username", "created_at"),
    Index("ix_login_failures_ip", "ip", "created_at"),
)

# Console projects: a task template and its HIT properties (hitkit.toml's [hit] and [qualifications] as JSON),
# edited in the browser. A batch copies both when it is uploaded, so editing the project never changes a batch.
console_projects = Table(
    "console_projects",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("requester_id", String(64), ForeignKey("requesters.id"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("properties", Text, nullable=False),
    Column("template", Text, nullable=False),
    Column("template_kind", String(32), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("requester_id", "name", name="uq_console_projects_name"),
)

console_batches = Table(
    "console_batches",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("requester_id", String(64), ForeignKey("requesters.id"), nullable=False, index=True),
    Column("project_id", String(32), ForeignKey("console_projects.id"), nullable=False, index=True),
    Column("name", String(256), nullable=False),
    Column("properties", Text, nullable=False),
    Column("template", Text, nullable=False),
    Column("template_kind", String(32), nullable=False),
    Column("columns", Text, nullable=False),  # JSON list, in the CSV's order
    Column("row_count", Integer, nullable=False),
    Column("hit_type_id", String(64), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("published_at", Float, nullable=True),
    Column("cancelled_at", Float, nullable=True),
)

# One row per CSV data row; hit_id is set when that row's HIT exists (publishing is resumable row by row).
console_batch_rows = Table(
    "console_batch_rows",
    metadata,
    Column("batch_id", String(32), ForeignKey("console_batches.id"), primary_key=True),
    Column("row_index", Integer, primary_key=True),  # 1 = the first data row
    Column("row", Text, nullable=False),  # JSON object, column -> text
    Column("hit_id", String(64), nullable=True, index=True),
)

# Live tasks (hitkit.server.live): a run is one requester process's live task (chat, model evaluation, ...);
# an agent is one assignment taking part in it; every message and event is a row of live_events as it happens.
live_runs = Table(
    "live_runs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("requester_id", String(64), ForeignKey("requesters.id"), nullable=False, index=True),
    Column("name", String(128), nullable=False),
    Column("config", Text, nullable=False),  # JSON: grace period, heartbeat, title, refuse_mobile, ...
    Column("created_at", Float, nullable=False),
    Column("requester_connected", Boolean, nullable=False, default=False),
    Column("requester_seen_at", Float, nullable=True),
)

live_agents = Table(
    "live_agents",
    metadata,
    Column("assignment_id", String(64), primary_key=True),
    Column("run_id", String(64), ForeignKey("live_runs.id"), nullable=False, index=True),
    Column("worker_id", String(64), nullable=False, index=True),
    Column("hit_id", String(64), nullable=False),
    Column("status", String(24), nullable=False),  # joined | waiting | onboarding | in_world | done | released | left
    Column("world_id", String(64), nullable=True),
    Column("outcome", String(32), nullable=True),  # what the requester decided: completed, partner_left, ...
    Column("state", Text, nullable=False),  # JSON: what the worker's page shows (text, can_submit, task_data)
    Column("connected", Boolean, nullable=False, default=False),
    Column("joined_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

live_events = Table(
    "live_events",
    metadata,
    Seq(),
    Column("run_id", String(64), nullable=False),
    Column("world_id", String(64), nullable=True),
    Column("assignment_id", String(64), nullable=True, index=True),
    Column("kind", String(16), nullable=False),  # message (a worker's) | delivery (to a worker) | world | event
    Column("body", Text, nullable=False),  # JSON
    Column("created_at", Float, nullable=False),
    Index("ix_live_events_run", "run_id", "seq"),
    Index("ix_live_events_world", "run_id", "world_id"),
)
