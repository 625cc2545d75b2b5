"""The clock jumps forward an hour under a running server: the sweeper catches up correctly, in batches, whatever
piled up: 520 in-flight assignments past their deadline are abandoned (their slots return, then the HIT expires
and its hold is released), submitted work past its AutoApprovalTime is approved and paid exactly once, and work
whose time has not come is left alone. On SQLite and PostgreSQL (CI runs tests/server on both)."""

from __future__ import annotations

import time

from tests.conftest import hit_params

IN_FLIGHT = 520  # more than the sweeper's batch of 500


def _wait(predicate, timeout: float = 60.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_sweeper_catches_up_after_the_clock_jumps_an_hour(server, mturk):
    start = mturk.get_account_balance()
    busy = mturk.create_hit(**hit_params(MaxAssignments=IN_FLIGHT, LifetimeInSeconds=1800, Reward="0.10",
                                         AssignmentDurationInSeconds=600))["HIT"]["HITId"]
    for _ in range(IN_FLIGHT):
        server.accept(server.new_worker(), busy)
    soon = mturk.create_hit(**hit_params(MaxAssignments=3, Reward="0.50", AutoApprovalDelayInSeconds=1800,
                                         LifetimeInSeconds=7200))["HIT"]["HITId"]
    later = mturk.create_hit(**hit_params(MaxAssignments=1, Reward="0.50", AutoApprovalDelayInSeconds=7200,
                                          LifetimeInSeconds=7200))["HIT"]["HITId"]
    done_soon = [server.do_hit(server.new_worker(), soon) for _ in range(3)]
    done_later = server.do_hit(server.new_worker(), later)
    assert mturk.get_hit(HITId=busy)["HIT"]["NumberOfAssignmentsPending"] == IN_FLIGHT

    server.advance(3600)

    def caught_up() -> bool:
        hit = mturk.get_hit(HITId=busy)["HIT"]
        statuses = [mturk.get_assignment(AssignmentId=a)["Assignment"]["AssignmentStatus"] for a in done_soon]
        return hit["NumberOfAssignmentsPending"] == 0 and statuses == ["Approved"] * 3
    assert _wait(caught_up), mturk.get_hit(HITId=busy)["HIT"]

    busy_hit = mturk.get_hit(HITId=busy)["HIT"]
    assert busy_hit["HITStatus"] == "Reviewable"  # expired with no work: nothing left to pay for
    assert busy_hit["NumberOfAssignmentsAvailable"] == 0
    assert mturk.get_assignment(AssignmentId=done_later)["Assignment"]["AssignmentStatus"] == "Submitted"
    # Money: the three auto-approved assignments paid once (reward + 20 % fee each); the busy HIT holds nothing;
    # the later HIT still holds its one assignment.
    balance = {k: v for k, v in mturk.get_account_balance().items() if k != "ResponseMetadata"}
    paid = 3 * (50 + 10)
    assert int(float(balance["AvailableBalance"]) * 100) == int(float(start["AvailableBalance"]) * 100) - paid - 60
    assert balance["OnHoldBalance"] == "0.60"
    # Another pass changes nothing (every step is idempotent).
    time.sleep(1.2)
    assert {k: v for k, v in mturk.get_account_balance().items() if k != "ResponseMetadata"} == balance
