"""Dynamic overlap against a live server: more assignments only where answers disagree (or the model is unsure),
never past --max-assignments, never twice for one round, and resumable after a round that died mid-way."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hitkit.requester.collect import ResultsError
from hitkit.requester.dynamic_overlap import OverlapPolicy, extend_until, run_round
from hitkit.requester.hit_admin import extend_token
from hitkit.requester.ledger.tables import hits
from tests.requester.test_collect import launch, make_project


def _max(mturk, hit_ids):  # type: ignore[no-untyped-def]
    return [mturk.get_hit(HITId=h)["HIT"]["MaxAssignments"] for h in hit_ids]


def _ledger_max(project):  # type: ignore[no-untyped-def]
    with project.ledger.connect() as conn:
        return [r.max_assignments for r in conn.execute(select(hits).order_by(hits.c.row_index))]


def test_until_agreement_adds_only_where_workers_disagree(server, mturk, tmp_path):
    project = make_project(tmp_path, assignments=2)
    hit_ids = launch(project, mturk, [{"text": f"item {i}"} for i in range(4)])
    policy = OverlapPolicy(max_assignments=3, agreement=2)

    r = run_round(project, mturk, policy)  # nothing submitted yet: everything is still open
    assert (r.items, r.done, r.waiting, r.extended) == (4, 0, 4, 0)

    w1, w2, w3 = (server.new_worker() for _ in range(3))
    for h, a, b in zip(hit_ids, ["x", "x", "x", "y"], ["x", "y", "z", "y"]):
        server.do_hit(w1, h, {"label": a})
        server.do_hit(w2, h, {"label": b})
    r = run_round(project, mturk, policy)
    assert (r.done, r.waiting, r.extended, r.added) == (2, 0, 2, 2)
    assert _max(mturk, hit_ids) == [2, 3, 3, 2] == _ledger_max(project)
    assert "2 given 2 more assignments" in r.describe()

    again = run_round(project, mturk, policy)  # the new slots are open: wait, add nothing
    assert (again.waiting, again.extended) == (2, 0) and _max(mturk, hit_ids) == [2, 3, 3, 2]

    server.do_hit(w3, hit_ids[1], {"label": "y"})  # item 1 now agrees
    server.do_hit(w3, hit_ids[2], {"label": "w"})  # item 2: x, z, w: no two agree, and it is at the cap
    r = run_round(project, mturk, policy)
    assert (r.done, r.waiting, r.extended, r.capped) == (3, 0, 0, 1) and r.finished
    assert _max(mturk, hit_ids) == [2, 3, 3, 2]


def test_a_round_that_died_after_its_call_is_not_repeated(server, mturk, tmp_path):
    project = make_project(tmp_path, assignments=2)
    [hit_id] = launch(project, mturk, [{"text": "a"}])
    for label in ("x", "y"):
        server.do_hit(server.new_worker(), hit_id, {"label": label})
    # The previous round sent its call, then died before writing the ledger: the endpoint knows, the ledger not.
    mturk.create_additional_assignments_for_hit(HITId=hit_id, NumberOfAdditionalAssignments=1,
                                                UniqueRequestToken=extend_token(hit_id, 2, 1))
    r = run_round(project, mturk, OverlapPolicy(max_assignments=5, agreement=2))
    assert (r.waiting, r.extended) == (1, 0)  # the endpoint's open slot is seen: nothing is added twice
    assert _max(mturk, [hit_id]) == [3]


def test_until_confidence_uses_the_model(server, mturk, tmp_path):
    project = make_project(tmp_path, assignments=2)
    hit_ids = launch(project, mturk, [{"text": f"item {i}"} for i in range(3)])
    w1, w2 = server.new_worker(), server.new_worker()
    for h, a, b in zip(hit_ids, ["x", "x", "y"], ["x", "y", "y"]):
        server.do_hit(w1, h, {"label": a})
        server.do_hit(w2, h, {"label": b})
    r = run_round(project, mturk, OverlapPolicy(max_assignments=4, confidence=0.9, method="mv"))
    assert (r.done, r.extended, r.added) == (2, 1, 1)  # the split vote (0.5) gets one more
    assert _max(mturk, hit_ids) == [2, 3, 2]


def test_watch_runs_rounds_until_nothing_more_can_happen(server, mturk, tmp_path):
    import threading
    import time

    project = make_project(tmp_path, assignments=2)
    hit_ids = launch(project, mturk, [{"text": f"item {i}"} for i in range(3)])
    # Each item's answers in the order workers give them: item 0 agrees at once, item 1 on the third answer,
    # item 2 never (capped at 4).
    script = {hit_ids[0]: ["x", "x"], hit_ids[1]: ["x", "y", "x"], hit_ids[2]: ["y", "z", "q", "w"]}
    workers = [server.new_worker() for _ in range(4)]
    stop = threading.Event()

    def crowd() -> None:  # does whatever slots are open, as they open, while the watch runs
        done = {h: 0 for h in hit_ids}
        while not stop.is_set():
            for h in hit_ids:
                if done[h] < len(script[h]) and mturk.get_hit(HITId=h)["HIT"]["NumberOfAssignmentsAvailable"]:
                    server.do_hit(workers[done[h]], h, {"label": script[h][done[h]]})
                    done[h] += 1
            time.sleep(0.05)

    t = threading.Thread(target=crowd, daemon=True)
    t.start()
    rounds: list = []
    try:
        r = extend_until(project, mturk, OverlapPolicy(max_assignments=4, agreement=2), watch=True, poll=0.3,
                         timeout=60, on_round=rounds.append)
    finally:
        stop.set()
        t.join(timeout=10)
    assert rounds[-1].finished and r.waiting == 0 and (r.done, r.capped) == (2, 1) and r.rounds == len(rounds) >= 3
    assert r.added == sum(x.added for x in rounds) == 3  # item 1: +1; item 2: +1, then +1 more
    assert _max(mturk, hit_ids) == [2, 3, 4]


def test_policy_errors():
    with pytest.raises(ResultsError, match="--until-agreement N or --until-confidence P"):
        OverlapPolicy(max_assignments=3)
    with pytest.raises(ResultsError, match="can never give 4 agreeing answers"):
        OverlapPolicy(max_assignments=3, agreement=4)
    with pytest.raises(ResultsError, match="between 0 and 1"):
        OverlapPolicy(max_assignments=3, confidence=1.5)
