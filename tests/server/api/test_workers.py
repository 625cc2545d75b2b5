"""Worker blocks and NotifyWorkers, through boto3 against a live server."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from sqlalchemy import select

from hitkit.server.store.tables import worker_messages
from tests.conftest import hit_params


def _error(exc: pytest.ExceptionInfo) -> dict:
    return exc.value.response["Error"]


def test_block_stops_accepting_and_unblock_restores(server, mturk):
    hit = mturk.create_hit(**hit_params())["HIT"]
    w = server.new_worker()
    mturk.create_worker_block(WorkerId=w.worker_id, Reason="Spam answers")

    r = server.worker_call(w, "POST", f"/api/worker/v1/hits/{hit['HITId']}/accept")
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "blocked"

    mturk.delete_worker_block(WorkerId=w.worker_id, Reason="Appeal granted")
    server.do_hit(w, hit["HITId"], {"answer": "cat"})
    assert mturk.list_assignments_for_hit(HITId=hit["HITId"])["NumResults"] == 1


def test_blocked_worker_can_submit_work_already_accepted(server, mturk):
    hit = mturk.create_hit(**hit_params())["HIT"]
    w = server.new_worker()
    aid = server.accept(w, hit["HITId"])
    mturk.create_worker_block(WorkerId=w.worker_id, Reason="Too fast")
    r = server.submit(w, aid, {"answer": "dog"})
    assert r.status_code == 200, r.text
    a = mturk.get_assignment(AssignmentId=aid)["Assignment"]
    assert a["AssignmentStatus"] == "Submitted"


def test_block_is_per_requester(server, mturk):
    other = server.client(server.new_requester())
    w = server.new_worker()
    mturk.create_worker_block(WorkerId=w.worker_id, Reason="Mine only")
    hit = other.create_hit(**hit_params())["HIT"]
    server.do_hit(w, hit["HITId"])  # the other requester has not blocked them
    assert other.list_worker_blocks()["NumResults"] == 0


def test_blocking_twice_updates_the_reason_and_unblocking_an_unblocked_worker_succeeds(server, mturk):
    w = server.new_worker()
    mturk.create_worker_block(WorkerId=w.worker_id, Reason="first")
    mturk.create_worker_block(WorkerId=w.worker_id, Reason="second")
    blocks = mturk.list_worker_blocks()["WorkerBlocks"]
    assert blocks == [{"WorkerId": w.worker_id, "Reason": "second"}]
    mturk.delete_worker_block(WorkerId=w.worker_id)
    mturk.delete_worker_block(WorkerId=w.worker_id)  # not blocked any more: still fine
    mturk.delete_worker_block(WorkerId=server.new_worker().worker_id)
    assert mturk.list_worker_blocks()["NumResults"] == 0


def test_create_worker_block_refusals(server, mturk):
    w = server.new_worker()
    with pytest.raises(ClientError) as e:
        mturk.create_worker_block(WorkerId=w.worker_id, Reason="   ")
    assert _error(e)["Code"] == "ParameterValidationError"
    with pytest.raises(ClientError) as e:
        mturk.create_worker_block(WorkerId="A9NOSUCHWORKER9", Reason="who?")
    assert _error(e)["Code"] == "ParameterValidationError"
    with pytest.raises(ClientError) as e:
        mturk.create_worker_block(WorkerId="not-a-worker", Reason="x")
    assert _error(e)["Code"] == "ValidationException"
    assert mturk.list_worker_blocks()["NumResults"] == 0


def test_list_worker_blocks_paginates_own_blocks_only(server, mturk):
    other = server.client(server.new_requester())
    ids = [server.new_worker().worker_id for _ in range(5)]
    for i, wid in enumerate(ids):
        mturk.create_worker_block(WorkerId=wid, Reason=f"reason {i}")
    other.create_worker_block(WorkerId=ids[0], Reason="someone else's")

    first = mturk.list_worker_blocks(MaxResults=2)
    assert first["NumResults"] == 2 and "NextToken" in first
    seen = []
    for page in mturk.get_paginator("list_worker_blocks").paginate(PaginationConfig={"PageSize": 2}):
        seen.extend(page["WorkerBlocks"])
    assert [b["WorkerId"] for b in seen] == ids
    assert [b["Reason"] for b in seen] == [f"reason {i}" for i in range(5)]
    last = mturk.list_worker_blocks(MaxResults=5)
    assert last["NumResults"] == 5 and "NextToken" not in last
    assert other.list_worker_blocks()["WorkerBlocks"] == [{"WorkerId": ids[0], "Reason": "someone else's"}]


def _messages(server, requester_id: str) -> list:
    with server._engine.connect() as conn:
        return conn.execute(
            select(worker_messages).where(worker_messages.c.requester_id == requester_id).order_by(worker_messages.c.seq)
        ).all()


def test_notify_workers_reaches_only_workers_who_did_work(server, requester, mturk):
    hit = mturk.create_hit(**hit_params())["HIT"]
    worked, idle = server.new_worker(), server.new_worker()
    in_flight = server.new_worker()
    server.do_hit(worked, hit["HITId"])
    server.accept(in_flight, hit["HITId"])  # accepted, not submitted: has not done work yet
    unknown = "A1NOSUCHWORKER"

    out = mturk.notify_workers(
        Subject="Thanks", MessageText="More HITs tomorrow.",
        WorkerIds=[worked.worker_id, idle.worker_id, unknown, in_flight.worker_id],
    )
    failures = out["NotifyWorkersFailureStatuses"]
    assert [f["WorkerId"] for f in failures] == [idle.worker_id, unknown, in_flight.worker_id]
    for f in failures:
        assert f["NotifyWorkersFailureCode"] == "HardFailure"
        assert f["NotifyWorkersFailureMessage"] == "Cannot send a notification to a worker who has not done any work for you"
    stored = _messages(server, requester.requester_id)
    assert [(m.worker_id, m.subject, m.body) for m in stored] == [(worked.worker_id, "Thanks", "More HITs tomorrow.")]


def test_notify_workers_counts_only_own_hits(server, mturk):
    other = server.client(server.new_requester())
    hit = other.create_hit(**hit_params())["HIT"]
    w = server.new_worker()
    server.do_hit(w, hit["HITId"])
    out = mturk.notify_workers(Subject="Hi", MessageText="Hello", WorkerIds=[w.worker_id])
    assert [f["WorkerId"] for f in out["NotifyWorkersFailureStatuses"]] == [w.worker_id]
    assert other.notify_workers(Subject="Hi", MessageText="Hello", WorkerIds=[w.worker_id])["NotifyWorkersFailureStatuses"] == []


def test_notify_workers_limits(server, mturk):
    ids = [f"A{i:013d}" for i in range(101)]
    with pytest.raises(ClientError) as e:
        mturk.notify_workers(Subject="s", MessageText="m", WorkerIds=ids)
    assert _error(e)["Code"] == "ValidationException"
    with pytest.raises(ClientError) as e:
        mturk.notify_workers(Subject="s" * 201, MessageText="m", WorkerIds=ids[:1])
    assert _error(e)["Code"] == "ValidationException"
    with pytest.raises(ClientError) as e:
        mturk.notify_workers(Subject="s", MessageText="m" * 4097, WorkerIds=ids[:1])
    assert _error(e)["Code"] == "ValidationException"
    out = mturk.notify_workers(Subject="s" * 200, MessageText="m" * 4096, WorkerIds=ids[:100])
    assert len(out["NotifyWorkersFailureStatuses"]) == 100
