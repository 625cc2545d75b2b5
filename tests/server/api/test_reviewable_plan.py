"""ListReviewableHITs stays an index range per HIT on PostgreSQL whatever the statistics say. Its in-flight count
(Accepted, deadline ahead) is a correlated subquery; on fresh statistics (a new deployment, a bulk load, before
autovacuum's ANALYZE) the planner served it from (status, deadline) with a filter on hit_id, reading every
in-flight assignment once per HIT: minutes per call at 25,000 HITs and 2,000 workers (benchmarks/load.py), while
the call held a database connection and a core. Migration 0006's (hit_id, status, deadline) index closes that.
PostgreSQL only (SQLite plans these from the index's columns alone)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text
from sqlalchemy.dialects import postgresql

from hitkit.server.api.hits import hit_with_type, hits
from hitkit.server.domain import hit_state
from hitkit.server.store import db
from tests.conftest import hit_params
from tests.support.server import test_database as database_kind

pytestmark = pytest.mark.skipif(database_kind() != "postgres", reason="PostgreSQL's planner")

HITS = 3000


def test_the_in_flight_count_is_read_by_hit_on_fresh_statistics(server, mturk, requester):  # type: ignore[no-untyped-def]
    first = mturk.create_hit(**hit_params(MaxAssignments=1, Reward="0.01"))["HIT"]["HITId"]
    worker = server.new_worker()
    engine = db.make_engine(server.config.database_url)
    now = time.time()
    try:
        with engine.begin() as conn:
            for table in ("hits", "assignments"):  # keep the statistics as fresh as a new deployment's
                conn.execute(text(f"ALTER TABLE {table} SET (autovacuum_enabled = false)"))
            conn.execute(text(f"""
                INSERT INTO hits (id, requester_id, hit_type_id, created_at, expiration, max_assignments, question,
                    requester_annotation, layout_id, layout_parameters, assignment_review_policy, hit_review_policy,
                    reviewing, hit_review_status, disposed_at)
                SELECT md5(g::text), requester_id, hit_type_id, created_at, expiration, max_assignments, question,
                    requester_annotation, layout_id, layout_parameters, assignment_review_policy, hit_review_policy,
                    reviewing, hit_review_status, disposed_at
                FROM hits, generate_series(1, {HITS}) g WHERE id = :first"""), {"first": first})
            # every second HIT has an assignment: one in six of those in flight, the rest submitted (reviewable)
            conn.execute(text("""
                INSERT INTO assignments (id, hit_id, worker_id, status, accept_time, deadline, submit_time)
                SELECT md5(h.id || 'a'), h.id, :w, CASE WHEN h.seq % 12 = 0 THEN 'Accepted' ELSE 'Submitted' END,
                    :now, :now + 3600, :now
                FROM hits h WHERE h.seq % 2 = 0 AND h.id <> :first"""), {"w": worker.worker_id, "now": now, "first": first})
            expected = conn.execute(text("SELECT count(*) FROM assignments WHERE status = 'Submitted'")).scalar()
        query = hit_with_type.where(hits.c.requester_id == requester.requester_id, hits.c.disposed_at.is_(None),
                                    hit_state.reviewable_condition(now, reviewing=False)).order_by(hits.c.seq)
        sql = str(query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
        with engine.connect() as conn:
            plan = "\n".join(conn.execute(text("EXPLAIN " + sql)).scalars())
    finally:
        engine.dispose()
    assert "Filter: ((hit_id)::text = (hits.id)::text)" not in plan, plan

    listed, token = [], None
    while True:
        page = mturk.list_reviewable_hits(MaxResults=100, **({"NextToken": token} if token else {}))
        listed += [h["HITId"] for h in page["HITs"]]
        token = page.get("NextToken")
        if not token:
            break
    assert len(listed) == len(set(listed)) == expected
