"""PostgreSQL drops every connection of a running server (a restart, a failover, an administrator's
pg_terminate_backend): the next calls are answered normally, not with a 5xx. The pool does not ping a connection
before each use (a round trip per transaction), so the first statement on a dropped connection fails; that must
invalidate the pool and run the transaction again on a fresh connection, whichever path ran the statement (the
worker's hot path executes its statements below SQLAlchemy, store/queries.Prepared). PostgreSQL only."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import hit_params
from tests.support.server import PG_BASE, test_database as database_kind

pytestmark = pytest.mark.skipif(database_kind() != "postgres", reason="PostgreSQL connections (HITKIT_TEST_DATABASE=postgres)")

WORKERS = 24  # more than the pool keeps, so every pooled connection is in use before the drop


def _terminate_backends(application_name: str) -> int:
    engine = create_engine(PG_BASE)
    try:
        with engine.begin() as conn:
            return len(conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :n AND pid <> pg_backend_pid()"
            ), {"n": application_name}).all())
    finally:
        engine.dispose()


def _cycle(server, worker, hit_id: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """Accept and submit through the worker API (no client retries); the two HTTP statuses."""
    r = server.worker_call(worker, "POST", f"/api/worker/v1/hits/{hit_id}/accept")
    if r.status_code != 200:
        return r.status_code, 0
    s = server.worker_call(worker, "POST", f"/api/worker/v1/assignments/{r.json()['AssignmentId']}/submit",
                           json={"answers": {"answer": "x"}})
    return r.status_code, s.status_code


def test_calls_after_postgresql_drops_every_connection_are_answered(server, mturk):
    name = parse_qs(urlsplit(server.config.database_url).query)["application_name"][0]
    hit = mturk.create_hit(**hit_params(MaxAssignments=3 * WORKERS, Reward="0.05"))["HIT"]["HITId"]
    workers = [server.new_worker() for _ in range(2 * WORKERS)]
    with ThreadPoolExecutor(WORKERS) as pool:
        warm = list(pool.map(lambda w: _cycle(server, w, hit), workers[:WORKERS]))
    assert warm == [(200, 200)] * WORKERS

    assert _terminate_backends(name) >= 2, "the server should hold pooled connections to drop"

    with ThreadPoolExecutor(WORKERS) as pool:
        after = list(pool.map(lambda w: _cycle(server, w, hit), workers[WORKERS:]))
    assert after == [(200, 200)] * WORKERS
    # The MTurk API (boto3 with retries off: a 503 would raise) reads what was stored, once each.
    assert _terminate_backends(name) >= 1
    listed = mturk.list_assignments_for_hit(HITId=hit, MaxResults=100)["Assignments"]
    assert len(listed) == 2 * WORKERS
    assert len({a["AssignmentId"] for a in listed}) == 2 * WORKERS
