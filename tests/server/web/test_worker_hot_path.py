"""The worker's accept, load and submit read the worker, the HIT, the assignment and the counts in as few statements
as the database allows (server/store/queries.py, "the worker's hot path"). Every rule still holds through those
combined reads, the events and the ledger rows are still written, and the statement budget stays small."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

import pytest
from sqlalchemy import bindparam, event, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from hitkit.server.store import db
from hitkit.server.store.queries import Prepared
from hitkit.server.store.tables import events, workers
from tests.conftest import HTML_QUESTION, hit_params
from tests.support.server import drop_database, fresh_database_url, start_server
from tests.support.server import test_database as current_database


def _call(server, worker, method: str, path: str, **kw):  # type: ignore[no-untyped-def]
    r = server.worker_call(worker, method, path, **kw)
    return r.status_code, r.json()


def _code(server, worker, method: str, path: str, **kw):  # type: ignore[no-untyped-def]
    status, body = _call(server, worker, method, path, **kw)
    return status, body.get("error", {}).get("code")


def _events(server, hit_id: str) -> list[str]:
    """The HIT's recorded events after its creation."""
    with server._engine.connect() as conn:
        return list(conn.execute(
            select(events.c.event_type)
            .where(events.c.hit_id == hit_id, events.c.event_type != "HITCreated")
            .order_by(events.c.seq)
        ).scalars())


def test_every_refusal_still_holds_through_the_combined_reads(server, mturk):
    hit_id = mturk.create_hit(**hit_params(MaxAssignments=1))["HIT"]["HITId"]
    alice, bob = server.new_worker(), server.new_worker()
    accept = f"/api/worker/v1/hits/{hit_id}/accept"

    # Tokens: missing, forged, deactivated worker; unknown HIT.
    assert server.http.post(accept).json()["error"]["code"] == "unauthenticated"
    forged = type(alice)("W0", "hk_w_forged")
    assert _code(server, forged, "POST", accept) == (401, "invalid_token")
    assert _code(server, forged, "POST", "/api/worker/v1/hits/NOSUCHHIT/accept") == (401, "invalid_token")
    assert _code(server, alice, "POST", "/api/worker/v1/hits/NOSUCHHIT/accept") == (404, "hit_not_found")
    gone = server.new_worker()
    with server._engine.begin() as conn:
        conn.execute(update(workers).where(workers.c.id == gone.worker_id).values(active=False))
    assert _code(server, gone, "POST", accept) == (403, "worker_inactive")
    assert _code(server, gone, "POST", "/api/worker/v1/hits/NOSUCHHIT/accept") == (403, "worker_inactive")

    # One slot: alice takes it, takes it again (refused), bob finds none.
    status, body = _call(server, alice, "POST", accept)
    assert status == 200 and body["HITId"] == hit_id and body["Deadline"] > body["AcceptTime"]
    aid = body["AssignmentId"]
    assert _code(server, alice, "POST", accept) == (409, "already_accepted")
    assert _code(server, bob, "POST", accept) == (409, "no_slots")

    # Loading and submitting: only alice's own assignment, only once.
    own = f"/api/worker/v1/assignments/{aid}"
    status, body = _call(server, alice, "GET", own)
    assert status == 200 and (body["Status"], body["WorkerId"], body["QuestionKind"]) == ("Accepted", alice.worker_id, "HTMLQuestion")
    assert body["Question"] == HTML_QUESTION and body["Reward"] == "0.50"
    assert _code(server, bob, "GET", own) == (404, "assignment_not_found")
    assert _code(server, forged, "GET", own) == (401, "invalid_token")
    assert _code(server, bob, "POST", own + "/submit", json={"answers": {"answer": "mine"}}) == (404, "assignment_not_found")
    assert _code(server, alice, "POST", own + "/submit", json={"answers": {"answer": 3}}) == (400, "invalid_answer")
    status, body = _call(server, alice, "POST", own + "/submit", json={"answers": {"answer": "yes"}})
    assert (status, body["Status"]) == (200, "Submitted") and body["SubmitTime"] is not None
    assert _code(server, alice, "POST", own + "/submit", json={"answers": {"answer": "again"}}) == (409, "already_submitted")
    assert _code(server, alice, "POST", accept) == (409, "already_accepted")  # a submitted assignment counts too
    assert _call(server, alice, "GET", own)[1]["Status"] == "Submitted"

    # A returned assignment frees its slot and can no longer be submitted.
    other = mturk.create_hit(**hit_params(MaxAssignments=1))["HIT"]["HITId"]
    rid = server.accept(bob, other)
    assert _call(server, bob, "POST", f"/api/worker/v1/assignments/{rid}/return") == (200, {"AssignmentId": rid, "Status": "Returned"})
    assert _code(server, bob, "POST", f"/api/worker/v1/assignments/{rid}/submit", json={"answers": {"answer": "x"}}) == (410, "assignment_ended")
    assert _call(server, alice, "POST", f"/api/worker/v1/hits/{other}/accept")[0] == 200


def test_blocks_qualifications_and_expiry_are_checked_at_accept(server, mturk):
    worker = server.new_worker()
    blocked_hit = mturk.create_hit(**hit_params())["HIT"]["HITId"]
    mturk.create_worker_block(WorkerId=worker.worker_id, Reason="spam")
    assert _code(server, worker, "POST", f"/api/worker/v1/hits/{blocked_hit}/accept") == (403, "blocked")
    mturk.delete_worker_block(WorkerId=worker.worker_id, Reason="ok now")
    assert _call(server, worker, "POST", f"/api/worker/v1/hits/{blocked_hit}/accept")[0] == 200

    qual = mturk.create_qualification_type(Name=f"skill-{time.time_ns()}", Description="d", QualificationTypeStatus="Active")
    type_id = qual["QualificationType"]["QualificationTypeId"]
    req = [{"QualificationTypeId": type_id, "Comparator": "GreaterThan", "IntegerValues": [50], "ActionsGuarded": "Accept"}]
    gated = mturk.create_hit(**hit_params(QualificationRequirements=req))["HIT"]["HITId"]
    assert _code(server, worker, "POST", f"/api/worker/v1/hits/{gated}/accept") == (403, "not_qualified")
    mturk.associate_qualification_with_worker(QualificationTypeId=type_id, WorkerId=worker.worker_id, IntegerValue=80,
                                              SendNotification=False)
    assert _call(server, worker, "POST", f"/api/worker/v1/hits/{gated}/accept")[0] == 200

    expired = mturk.create_hit(**hit_params())["HIT"]["HITId"]
    mturk.update_expiration_for_hit(HITId=expired, ExpireAt=datetime(2015, 1, 1, tzinfo=timezone.utc))
    assert _code(server, worker, "POST", f"/api/worker/v1/hits/{expired}/accept") == (410, "hit_expired")
    mturk.delete_hit(HITId=expired)  # no assignments: disposed at once
    assert _code(server, worker, "POST", f"/api/worker/v1/hits/{expired}/accept") == (404, "hit_not_found")


def test_the_last_submission_makes_the_hit_reviewable_once(server, mturk):
    hit_id = mturk.create_hit(**hit_params(MaxAssignments=2))["HIT"]["HITId"]
    first, second = server.new_worker(), server.new_worker()
    server.do_hit(first, hit_id)
    assert mturk.get_hit(HITId=hit_id)["HIT"]["HITStatus"] == "Assignable"
    aid = server.accept(second, hit_id)
    assert mturk.get_hit(HITId=hit_id)["HIT"]["HITStatus"] == "Unassignable"
    assert server.submit(second, aid, {"answer": "b"}).status_code == 200
    hit = mturk.get_hit(HITId=hit_id)["HIT"]
    assert (hit["HITStatus"], hit["NumberOfAssignmentsPending"], hit["NumberOfAssignmentsAvailable"]) == ("Reviewable", 0, 0)
    assert _events(server, hit_id) == ["AssignmentAccepted", "AssignmentSubmitted", "AssignmentAccepted",
                                       "AssignmentSubmitted", "HITReviewable"]
    answers = mturk.list_assignments_for_hit(HITId=hit_id)["Assignments"]
    assert sorted(a["WorkerId"] for a in answers) == sorted([first.worker_id, second.worker_id])


def test_another_workers_pending_assignment_keeps_the_hit_unassignable(server, mturk):
    hit_id = mturk.create_hit(**hit_params(MaxAssignments=2))["HIT"]["HITId"]
    first, second = server.new_worker(), server.new_worker()
    a1 = server.accept(first, hit_id)
    a2 = server.accept(second, hit_id)
    assert server.submit(second, a2, {"answer": "b"}).status_code == 200
    assert mturk.get_hit(HITId=hit_id)["HIT"]["HITStatus"] == "Unassignable"  # a1 still pending
    assert "HITReviewable" not in _events(server, hit_id)
    assert server.submit(first, a1, {"answer": "a"}).status_code == 200
    assert _events(server, hit_id)[-1] == "HITReviewable"


def test_auto_approval_at_submit_pays_from_the_reservation(server, requester, mturk):
    before = float(mturk.get_account_balance()["AvailableBalance"])
    hit_id = mturk.create_hit(**hit_params(MaxAssignments=1, Reward="1.00", AutoApprovalDelayInSeconds=0))["HIT"]["HITId"]
    held = before - float(mturk.get_account_balance()["AvailableBalance"])
    assert held == pytest.approx(1.20)  # reward + 20 % fee, reserved at CreateHIT
    worker = server.new_worker()
    aid = server.accept(worker, hit_id)
    r = server.submit(worker, aid, {"answer": "done"})
    assert r.status_code == 200 and r.json()["Status"] == "Approved"
    a = mturk.get_assignment(AssignmentId=aid)["Assignment"]
    assert a["AssignmentStatus"] == "Approved" and "ApprovalTime" in a
    assert float(mturk.get_account_balance()["AvailableBalance"]) == pytest.approx(before - 1.20)
    assert _events(server, hit_id) == ["AssignmentAccepted", "AssignmentSubmitted", "AssignmentApproved", "HITReviewable"]
    assert mturk.get_hit(HITId=hit_id)["HIT"]["HITStatus"] == "Reviewable"


@pytest.mark.skipif(current_database() != "sqlite", reason="counts SQLite's statements (the driver's trace callback)")
def test_statement_budget_of_the_worker_cycle():
    """SQLite: every statement the server thread sends, BEGIN and COMMIT included (29 before the combined reads)."""
    seen: list[str] = []

    def on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        def trace(sql: str) -> None:
            if threading.current_thread() is not threading.main_thread():
                seen.append(sql)
        dbapi_conn.set_trace_callback(trace)

    event.listen(Engine, "connect", on_connect)
    try:
        server = start_server(database="sqlite", sweep_interval=3600)
    finally:
        event.remove(Engine, "connect", on_connect)
    try:
        mturk = server.client()
        worker = server.new_worker()
        counts = []
        for _ in range(3):  # the first cycle also opens connections
            hit_id = mturk.create_hit(**hit_params(MaxAssignments=1))["HIT"]["HITId"]
            seen.clear()
            aid = server.accept(worker, hit_id)
            n_accept = len(seen)
            seen.clear()
            assert server.worker_call(worker, "GET", f"/api/worker/v1/assignments/{aid}").status_code == 200
            n_load = len(seen)
            seen.clear()
            assert server.submit(worker, aid, {"answer": "x"}).status_code == 200
            counts.append((n_accept, n_load, len(seen)))
        # accept: BEGIN, read, 2 inserts, COMMIT; load: one read on its own; submit: BEGIN, read, update, 2 events, COMMIT
        assert counts[-1] == (5, 1, 6), counts
    finally:
        server.stop()


@pytest.fixture()
def engine(tmp_path):  # type: ignore[no-untyped-def]
    url = fresh_database_url(tmp_path)
    engine = db.make_engine(url)
    db.upgrade(engine)
    yield engine
    engine.dispose()
    drop_database(url)


def test_prepared_statements_behave_as_conn_execute(engine):
    put = Prepared(insert(workers).values(id="W1", name="n", adult=True, masters=False, active=True, created_at=1.0))
    get = Prepared(select(workers.c.id, workers.c.adult, workers.c.masters, workers.c.created_at)
                   .where(workers.c.id == bindparam("wid")))
    with engine.connect() as conn:  # no transaction begun yet: the statement begins one, as conn.execute would
        assert put.run(conn, {}) == 1
        conn.commit()
    with engine.connect() as conn:
        row = get.first(conn, {"wid": "W1"})
        assert row == ("W1", True, False, 1.0) and type(row[1]) is bool
        assert get.first(conn, {"wid": "nobody"}) is None
        with pytest.raises(IntegrityError):  # wrapped like SQLAlchemy's own, so retries recognise it
            put.run(conn, {})



@pytest.fixture()
def runtime(tmp_path, engine):  # type: ignore[no-untyped-def]
    from hitkit.server.clock import Clock
    from hitkit.server.config import ServerConfig
    from hitkit.server.runtime import Runtime

    return Runtime(engine, ServerConfig(data_dir=tmp_path, database_url=str(engine.url)), Clock())


def test_runtime_transactions_retry_a_lost_race_and_leave_nothing_open(runtime):
    import asyncio

    tries: list[int] = []

    def work(conn):  # type: ignore[no-untyped-def]
        tries.append(1)
        conn.execute(insert(workers).values(id=f"W{len(tries)}", name="n", adult=False, masters=False, active=True,
                                            created_at=1.0))
        if len(tries) == 1:  # as if another transaction had won: this one's rows roll back and it runs again
            conn.execute(insert(workers).values(id="W1", name="dup", adult=False, masters=False, active=True,
                                                created_at=1.0))
        return len(tries)

    assert asyncio.run(runtime.transaction(work)) == 2
    ids = asyncio.run(runtime.read(lambda conn: list(conn.execute(select(workers.c.id)).scalars())))
    assert ids == ["W2"]
    get = Prepared(select(workers.c.name).where(workers.c.id == bindparam("wid")))
    assert asyncio.run(runtime.read(lambda conn: get.first(conn, {"wid": "W2"}, begin=False))) == ("n",)
    assert asyncio.run(runtime.transaction(lambda conn: get.first(conn, {"wid": "W2"}), read_only=True)) == ("n",)
    for conn in runtime._held.values():
        assert not conn.in_transaction()
    with pytest.raises(ValueError):
        asyncio.run(runtime.transaction(lambda conn: (_ for _ in ()).throw(ValueError("refused"))))
    assert asyncio.run(runtime.read(lambda conn: conn.execute(select(workers.c.id)).scalars().all())) == ["W2"]
