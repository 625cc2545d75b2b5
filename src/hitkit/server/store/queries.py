"""Reads used across the API and domain: a HIT joined with its type, an assignment with its HIT, and the combined
reads of the worker's accept/load/submit path."""

from __future__ import annotations

import json
from collections import namedtuple

from sqlalchemy import Boolean, Connection, Row, and_, bindparam, func, insert, or_, select, update

from hitkit.server.store.tables import (
    assignments,
    hit_types,
    hits,
    notification_settings,
    tokens,
    worker_blocks,
    workers,
)

HIT_TYPE_COLUMNS = (
    hit_types.c.title,
    hit_types.c.description,
    hit_types.c.keywords,
    hit_types.c.reward_cents,
    hit_types.c.assignment_duration,
    hit_types.c.auto_approval_delay,
    hit_types.c.requirements,
)

# The HIT type's notification settings come along (outer join), so recording an event needs no extra query.
NOTIFY_COLUMNS = (
    notification_settings.c.destination.label("notify_destination"),
    notification_settings.c.transport.label("notify_transport"),
    notification_settings.c.event_types.label("notify_event_types"),
    notification_settings.c.active.label("notify_active"),
)

hit_with_type = (
    select(hits, *HIT_TYPE_COLUMNS, *NOTIFY_COLUMNS)
    .join(hit_types, hit_types.c.id == hits.c.hit_type_id)
    .outerjoin(notification_settings, notification_settings.c.hit_type_id == hits.c.hit_type_id)
)


# Hot-path statements are built once: constructing a SQLAlchemy expression costs several times its execution.
_HIT = hit_with_type.where(hits.c.id == bindparam("hit_id"))
_HIT_OWN = _HIT.where(hits.c.requester_id == bindparam("requester_id"))
_HIT_QUERIES = {
    (False, False): _HIT,
    (False, True): _HIT.with_for_update(of=hits, key_share=True),
    (True, False): _HIT_OWN,
    (True, True): _HIT_OWN.with_for_update(of=hits, key_share=True),
}
_ASSIGNMENT = select(assignments).where(assignments.c.id == bindparam("assignment_id"))


def get_hit(conn: Connection, hit_id: str, *, requester_id: str | None = None, for_update: bool = False) -> Row | None:
    """The HIT with its type's properties, or None. `for_update` takes the row lock that settles races."""
    q = _HIT_QUERIES[(requester_id is not None, for_update)]
    return conn.execute(q, {"hit_id": hit_id, "requester_id": requester_id}).first()


def get_assignment(conn: Connection, assignment_id: str) -> Row | None:
    return conn.execute(_ASSIGNMENT, {"assignment_id": assignment_id}).first()


def requirements_of(row: Row) -> list[dict]:
    return json.loads(row.requirements or "[]")


# ---------------------------------------------------------------- statements run straight on the driver


class Prepared:
    """A statement built once, compiled once per dialect, and run on the DBAPI cursor of the caller's connection,
    inside the caller's transaction.

    `conn.execute` spends ~25 us of Python per statement before and after the driver's few us (cache lookup,
    parameter processing, result wrapping, events). The worker's hot path runs a handful of statements per
    request, so that overhead was a large share of its CPU. Errors come back wrapped as SQLAlchemy's
    (IntegrityError, OperationalError, DataError, ...), as from `conn.execute`, so retries and error mapping see
    the same exceptions. Parameters get the type's bind processing (e.g. SQLite's int to float); results are
    plain tuples, with Boolean columns turned into bool (the only result processing these tables' types need
    on SQLite or psycopg). Keep to statements without expanding IN parameters.
    """

    __slots__ = ("statement", "_by_dialect")

    def __init__(self, statement) -> None:  # type: ignore[no-untyped-def]
        self.statement = statement
        self._by_dialect: dict[str, tuple] = {}

    def _compiled(self, dialect) -> tuple:  # type: ignore[no-untyped-def]
        compiled = self.statement.compile(dialect=dialect)
        if getattr(compiled, "insert_prefetch", None) or getattr(compiled, "update_prefetch", None):
            raise ValueError("Prepared statements must set every column that has a Python-side default")
        defaults = compiled.construct_params(_check=False)
        binds = compiled.binds
        names = list(compiled.positiontup) if dialect.positional else list(defaults)
        # (name, value when the caller gives none: the statement's own literals, else None, bind processor)
        slots = tuple(
            (name, defaults[name], binds[name].type.dialect_impl(dialect).bind_processor(dialect)) for name in names
        )
        booleans = tuple(i for i, col in enumerate(compiled._result_columns) if isinstance(col[3], Boolean))
        entry = (compiled.string, slots, dialect.positional, booleans, dialect.loaded_dbapi.Error)
        self._by_dialect[dialect.name] = entry
        return entry

    def cursor(self, conn: Connection, params: dict, *, begin: bool = True):  # type: ignore[no-untyped-def]
        """Execute; returns the DBAPI cursor. `begin=False`: outside a transaction, run the statement on its own
        (Runtime.read) instead of beginning one as conn.execute would."""
        dialect = conn.dialect
        sql, slots, positional, _, dbapi_error = self._by_dialect.get(dialect.name) or self._compiled(dialect)
        get = params.get
        if positional:
            args = tuple([get(n, d) if p is None else p(get(n, d)) for n, d, p in slots])
        else:
            args = {n: get(n, d) if p is None else p(get(n, d)) for n, d, p in slots}
        if begin and not conn.in_transaction():
            conn.begin()  # as conn.execute would: the caller's commit() must cover this statement
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            cursor.execute(sql, args)
        except dbapi_error as e:
            # As conn.execute would: the right DBAPIError subclass, parameters hidden as the engine says, and a
            # connection the database dropped invalidated with the pool (connection_invalidated: run again).
            conn._handle_dbapi_exception(e, sql, args, cursor, None)
        return cursor

    def first(self, conn: Connection, params: dict, *, begin: bool = True) -> tuple | None:
        """Execute and return the first row (booleans as bool), or None."""
        cursor = self.cursor(conn, params, begin=begin)
        try:
            row = cursor.fetchone()
        finally:
            cursor.close()
        if row is None:
            return None
        booleans = self._by_dialect[conn.dialect.name][3]
        if booleans:
            row = list(row)
            for i in booleans:
                if row[i] is not None:
                    row[i] = bool(row[i])
        return tuple(row)

    def run(self, conn: Connection, params: dict) -> int:
        """Execute a statement that returns no rows; returns the row count."""
        cursor = self.cursor(conn, params)
        try:
            return cursor.rowcount
        finally:
            cursor.close()


# ---------------------------------------------------------------- the worker's hot path
#
# A worker's accept, load and submit each run as few statements as the rules allow: the worker (by bearer token),
# the HIT, the assignment and the counts the rules need come back in one row where the database makes that safe.
# On SQLite the whole transaction holds the writer lock from BEGIN IMMEDIATE, so the counts read with the HIT are
# the counts the transaction acts on. On PostgreSQL the HIT's row lock must come first and the counts after it, in
# a statement of their own (READ COMMITTED gives each statement a fresh snapshot; one taken before waiting for the
# lock would miss the winner's assignment), so those statements come in two parts there.
#
# Rows of these statements are split into plain named tuples with the same fields as `get_hit`, `get_assignment`
# and a `workers` row, so the rules read them the same way.

WORKER_COLUMNS = tuple(workers.c)
HIT_COLUMNS = tuple(hit_with_type.selected_columns)
ASSIGNMENT_COLUMNS = tuple(assignments.c)

WorkerRow = namedtuple("WorkerRow", [c.key for c in WORKER_COLUMNS])  # type: ignore[misc]
HitRow = namedtuple("HitRow", list(hit_with_type.selected_columns.keys()))  # type: ignore[misc]
AssignmentRow = namedtuple("AssignmentRow", [c.key for c in ASSIGNMENT_COLUMNS])  # type: ignore[misc]

_NW, _NH, _NA = len(WORKER_COLUMNS), len(HIT_COLUMNS), len(ASSIGNMENT_COLUMNS)

_counted = assignments.alias("counted")


def _number(hit_id, condition):  # type: ignore[no-untyped-def]
    """How many of the HIT's assignments meet `condition` (a scalar subquery on an alias of `assignments`)."""
    return (
        select(func.count()).select_from(_counted).where(_counted.c.hit_id == hit_id, condition)
        .correlate_except(_counted).scalar_subquery()
    )


def _in_flight():  # type: ignore[no-untyped-def]
    return and_(_counted.c.status == "Accepted", _counted.c.deadline > bindparam("now"))


def _counts(hit_id) -> tuple:  # type: ignore[no-untyped-def]
    """pending, submitted, approved, rejected: the fields of `hit_state.HitCounts`, in order."""
    return (
        _number(hit_id, _in_flight()),
        _number(hit_id, _counted.c.status == "Submitted"),
        _number(hit_id, _counted.c.status == "Approved"),
        _number(hit_id, _counted.c.status == "Rejected"),
    )


def _accept_checks(hit_id, requester_id, worker_id) -> tuple:  # type: ignore[no-untyped-def]
    """mine (the worker's live or visible assignments of the HIT), blocked (0/1), then the HIT's counts."""
    mine = _number(hit_id, and_(
        _counted.c.worker_id == worker_id,
        # OR of equalities rather than IN: an IN of literals expands at every execution
        or_(_counted.c.status == "Submitted", _counted.c.status == "Approved", _counted.c.status == "Rejected",
            _in_flight()),
    ))
    blocked = (
        select(func.count()).select_from(worker_blocks)
        .where(worker_blocks.c.requester_id == requester_id, worker_blocks.c.worker_id == worker_id)
        .correlate_except(worker_blocks).scalar_subquery()
    )
    return (mine, blocked, *_counts(hit_id))


_TOKEN = and_(tokens.c.token_hash == bindparam("token_hash"), tokens.c.kind == "worker")


def _with_type(j):  # type: ignore[no-untyped-def]
    return j.join(hit_types, hit_types.c.id == hits.c.hit_type_id).outerjoin(
        notification_settings, notification_settings.c.hit_type_id == hits.c.hit_type_id
    )


_WORKER = tokens.join(workers, workers.c.id == tokens.c.subject_id)

# The worker by token and the HIT by id (no row: either is missing).
_TOKEN_HIT = select(*WORKER_COLUMNS, *HIT_COLUMNS).select_from(
    _with_type(_WORKER.join(hits, hits.c.id == bindparam("hit_id")))
).where(_TOKEN)
# SQLite: with the checks of queries.ACCEPT_CHECKS at the end.
TOKEN_HIT_CHECKS = Prepared(_TOKEN_HIT.add_columns(*_accept_checks(hits.c.id, hits.c.requester_id, workers.c.id)))
# PostgreSQL: takes the HIT's lock; then ACCEPT_CHECKS.
TOKEN_HIT_LOCKED = Prepared(_TOKEN_HIT.with_for_update(of=hits, key_share=True))
ACCEPT_CHECKS = Prepared(select(*_accept_checks(bindparam("hit_id"), bindparam("requester_id"), bindparam("worker_id"))))

# The worker by token, one of its own assignments by id, and that assignment's HIT (no row: one of them is missing,
# or the assignment is another worker's).
_TOKEN_ASSIGNMENT_HIT = select(*WORKER_COLUMNS, *ASSIGNMENT_COLUMNS, *HIT_COLUMNS).select_from(
    _with_type(
        _WORKER.join(assignments, and_(assignments.c.id == bindparam("assignment_id"),
                                       assignments.c.worker_id == workers.c.id))
        .join(hits, hits.c.id == assignments.c.hit_id)
    )
).where(_TOKEN)
TOKEN_ASSIGNMENT_HIT = Prepared(_TOKEN_ASSIGNMENT_HIT)
# SQLite: with the HIT's counts (hit_state.HitCounts) at the end.
TOKEN_ASSIGNMENT_HIT_COUNTS = Prepared(_TOKEN_ASSIGNMENT_HIT.add_columns(*_counts(hits.c.id)))
# PostgreSQL: takes the HIT's lock; then ASSIGNMENT_COUNTS reads the assignment again, with the counts.
TOKEN_ASSIGNMENT_HIT_LOCKED = Prepared(_TOKEN_ASSIGNMENT_HIT.with_for_update(of=hits, key_share=True))
ASSIGNMENT_COUNTS = Prepared(
    select(*ASSIGNMENT_COLUMNS, *_counts(assignments.c.hit_id)).where(assignments.c.id == bindparam("assignment_id"))
)

# Writes of the hot path. (A bind parameter may not share a column's name in an INSERT or UPDATE: hence `v_`.)
_INSERT_ASSIGNMENT = Prepared(
    insert(assignments).values({c.key: bindparam("v_" + c.key) for c in ASSIGNMENT_COLUMNS if c.key != "seq"})
    .returning(assignments.c.seq)
)
_SUBMIT_ASSIGNMENT = Prepared(
    update(assignments).where(assignments.c.id == bindparam("v_id")).values(
        status="Submitted", submit_time=bindparam("v_submit_time"),
        auto_approval_time=bindparam("v_auto_approval_time"), answer=bindparam("v_answer"),
    )
)


def insert_assignment(conn: Connection, values: dict) -> int:
    """Insert an assignment (every column but seq); returns its seq."""
    cursor = _INSERT_ASSIGNMENT.cursor(conn, {"v_" + k: v for k, v in values.items()})
    try:
        return cursor.fetchone()[0]
    finally:
        cursor.close()


def mark_submitted(conn: Connection, assignment_id: str, submit_time: float, auto_approval_time: float, answer: str) -> None:
    _SUBMIT_ASSIGNMENT.run(conn, {"v_id": assignment_id, "v_submit_time": submit_time,
                                  "v_auto_approval_time": auto_approval_time, "v_answer": answer})


def split_worker_hit(row: Row) -> tuple[WorkerRow, HitRow, tuple]:
    """A row of TOKEN_HIT_*: (worker, HIT, the remaining columns)."""
    values = tuple(row)
    return WorkerRow._make(values[:_NW]), HitRow._make(values[_NW:_NW + _NH]), values[_NW + _NH:]


def split_worker_assignment_hit(row: Row) -> tuple[WorkerRow, AssignmentRow, HitRow, tuple]:
    """A row of TOKEN_ASSIGNMENT_HIT*: (worker, assignment, HIT, the remaining columns)."""
    values = tuple(row)
    end_a = _NW + _NA
    return (WorkerRow._make(values[:_NW]), AssignmentRow._make(values[_NW:end_a]),
            HitRow._make(values[end_a:end_a + _NH]), values[end_a + _NH:])


def split_assignment(row: Row) -> tuple[AssignmentRow, tuple]:
    """A row of ASSIGNMENT_COUNTS (or `get_assignment`): (assignment, the remaining columns)."""
    values = tuple(row)
    return AssignmentRow._make(values[:_NA]), values[_NA:]
