"""Money through boto3: starting balance, reservations, rewards and fees at approval, bonuses, insufficient
funds with no state change, idempotent creation and bonuses."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hitkit.mturk.fees import assignment_fee_cents, format_cents
from tests.conftest import hit_params


def balance(mturk) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    b = mturk.get_account_balance()
    return b["AvailableBalance"], b["OnHoldBalance"]


def test_creation_reserves_and_approval_pays_reward_plus_fee(server, mturk):
    assert balance(mturk) == ("10000.00", "0.00")
    hit_id = mturk.create_hit(**hit_params(Reward="0.50", MaxAssignments=3))["HIT"]["HITId"]
    assert balance(mturk) == ("9998.20", "1.80")  # 3 x (0.50 + 0.10 fee)
    a1 = server.do_hit(server.new_worker(), hit_id)
    a2 = server.do_hit(server.new_worker(), hit_id)
    mturk.approve_assignment(AssignmentId=a1)
    assert balance(mturk) == ("9998.20", "1.20")
    mturk.reject_assignment(AssignmentId=a2, RequesterFeedback="no")
    assert balance(mturk) == ("9998.80", "0.60")  # the rejected slot's reservation comes back
    mturk.update_expiration_for_hit(HITId=hit_id, ExpireAt=0)
    assert balance(mturk) == ("9999.40", "0.00")  # nothing more can be owed
    mturk.approve_assignment(AssignmentId=a2, OverrideRejection=True)
    assert balance(mturk) == ("9998.80", "0.00")


def test_ten_or_more_assignments_and_masters_raise_the_fee(mturk):
    mturk.create_hit(**hit_params(Reward="1.00", MaxAssignments=10))
    assert balance(mturk) == ("9986.00", "14.00")  # 10 x (1.00 + 40 %)
    masters = [{"QualificationTypeId": "2ARFPLSP75KLA8M8DH1HTEQVJT3SY6", "Comparator": "Exists"}]
    mturk.create_hit(**hit_params(Reward="1.00", MaxAssignments=1, QualificationRequirements=masters))
    assert balance(mturk) == ("9984.75", "15.25")  # + 1.00 + 25 %


def test_insufficient_funds_changes_nothing(server):
    poor = server.new_requester(balance_cents=100)
    mturk = server.client(poor)
    with pytest.raises(mturk.exceptions.RequestError) as e:
        mturk.create_hit(**hit_params(Reward="0.50", MaxAssignments=2))
    assert e.value.response["TurkErrorCode"] == "AWS.MechanicalTurk.InsufficientFunds"
    assert "insufficient funds" in e.value.response["Error"]["Message"]
    assert mturk.list_hits()["NumResults"] == 0
    assert balance(mturk) == ("1.00", "0.00")


def test_send_bonus_rules_and_listing(server, mturk):
    hit_id = mturk.create_hit(**hit_params(Reward="0.50", MaxAssignments=1))["HIT"]["HITId"]
    w = server.new_worker()
    aid = server.do_hit(w, hit_id)
    before = balance(mturk)[0]
    mturk.send_bonus(WorkerId=w.worker_id, AssignmentId=aid, BonusAmount="1.00", Reason="thanks", UniqueRequestToken=f"b-{aid}")
    assert balance(mturk)[0] == format_cents(int(before.replace(".", "")) - 120)
    with pytest.raises(mturk.exceptions.RequestError) as e:
        mturk.send_bonus(WorkerId=w.worker_id, AssignmentId=aid, BonusAmount="1.00", Reason="thanks", UniqueRequestToken=f"b-{aid}")
    assert "has already been processed" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        mturk.send_bonus(WorkerId=w.worker_id, AssignmentId=aid, BonusAmount="0.9752", Reason="x")
    assert e.value.response["Error"]["Code"] == "ValidationException" and "bonusAmount" in e.value.response["Error"]["Message"]
    other = server.new_worker()
    with pytest.raises(mturk.exceptions.RequestError):
        mturk.send_bonus(WorkerId=other.worker_id, AssignmentId=aid, BonusAmount="1.00", Reason="x")
    in_flight_hit = mturk.create_hit(**hit_params())["HIT"]["HITId"]
    in_flight = server.accept(other, in_flight_hit)
    with pytest.raises(mturk.exceptions.RequestError) as e:
        mturk.send_bonus(WorkerId=other.worker_id, AssignmentId=in_flight, BonusAmount="1.00", Reason="x")
    assert "does not exist" in e.value.response["Error"]["Message"]
    mturk.send_bonus(WorkerId=w.worker_id, AssignmentId=aid, BonusAmount="0.25", Reason="again")
    by_hit = mturk.list_bonus_payments(HITId=hit_id)["BonusPayments"]
    assert [(b["BonusAmount"], b["Reason"]) for b in by_hit] == [("1.00", "thanks"), ("0.25", "again")]
    assert mturk.list_bonus_payments(AssignmentId=aid)["NumResults"] == 2
    with pytest.raises(ClientError) as e:
        mturk.list_bonus_payments()
    assert e.value.response["Error"]["Code"] == "ParameterValidationError"


def test_bonus_without_funds(server):
    r = server.new_requester(balance_cents=70)
    mturk = server.client(r)
    hit_id = mturk.create_hit(**hit_params(Reward="0.50", MaxAssignments=1))["HIT"]["HITId"]
    w = server.new_worker()
    aid = server.do_hit(w, hit_id)
    with pytest.raises(mturk.exceptions.RequestError) as e:
        mturk.send_bonus(WorkerId=w.worker_id, AssignmentId=aid, BonusAmount="0.10", Reason="x")
    assert e.value.response["TurkErrorCode"] == "AWS.MechanicalTurk.InsufficientFunds"
    assert mturk.list_bonus_payments(AssignmentId=aid)["NumResults"] == 0


def test_unique_request_token_on_create_hit(server, mturk):
    hit = mturk.create_hit(**hit_params(UniqueRequestToken="batch7-row1"))["HIT"]
    with pytest.raises(mturk.exceptions.RequestError) as e:
        mturk.create_hit(**hit_params(UniqueRequestToken="batch7-row1"))
    assert e.value.response["TurkErrorCode"] == "AWS.MechanicalTurk.HitAlreadyExists"
    assert hit["HITId"] in e.value.response["Error"]["Message"]
    type_id = hit["HITTypeId"]
    with pytest.raises(mturk.exceptions.RequestError):
        mturk.create_hit_with_hit_type(HITTypeId=type_id, LifetimeInSeconds=60, Question=hit["Question"], UniqueRequestToken="batch7-row1")
    assert mturk.list_hits()["NumResults"] == 1
    # Another requester may use the same token.
    server.client(server.new_requester()).create_hit(**hit_params(UniqueRequestToken="batch7-row1"))
    server.advance(24 * 3600 + 1)  # tokens are forgotten after 24 h
    mturk.create_hit(**hit_params(UniqueRequestToken="batch7-row1"))


def test_unique_request_token_on_additional_assignments(mturk):
    hit_id = mturk.create_hit(**hit_params(MaxAssignments=1))["HIT"]["HITId"]
    mturk.create_additional_assignments_for_hit(HITId=hit_id, NumberOfAdditionalAssignments=1, UniqueRequestToken="x1")
    with pytest.raises(mturk.exceptions.RequestError) as e:
        mturk.create_additional_assignments_for_hit(HITId=hit_id, NumberOfAdditionalAssignments=1, UniqueRequestToken="x1")
    assert "x1" in e.value.response["Error"]["Message"]
    assert mturk.get_hit(HITId=hit_id)["HIT"]["MaxAssignments"] == 2


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reward=st.integers(min_value=0, max_value=5000), n=st.sampled_from([1, 3, 9, 10, 12]))
def test_reservation_matches_the_fee_schedule(server, reward, n):
    mturk = server.client(server.new_requester())
    mturk.create_hit(**hit_params(Reward=format_cents(reward), MaxAssignments=n))
    held = n * (reward + assignment_fee_cents(reward, max_assignments=n, masters=False))
    assert balance(mturk) == (format_cents(1_000_000 - held), format_cents(held))


def test_absurd_amounts_are_refused_not_crashed(server, mturk):
    """Found by the fuzz test on PostgreSQL: a 20-digit reward overflowed a BIGINT column (a 500)."""
    with pytest.raises(ClientError) as e:
        mturk.create_hit(**hit_params(Reward="10000000000000000000"))
    assert e.value.response["Error"]["Code"] == "ParameterValidationError"
    with pytest.raises(ClientError):
        mturk.create_hit_type(Title="t", Description="d", Reward="99999999999999999999.99", AssignmentDurationInSeconds=60)
