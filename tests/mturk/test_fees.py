"""Property and example tests for hitkit.mturk.fees (currency parsing and commission fees)."""

from __future__ import annotations

from decimal import localcontext, ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hitkit.mturk.fees import (
    CURRENCY_PATTERN,
    FEE_SCHEDULES,
    CurrencyError,
    assignment_fee_cents,
    assignment_fee_rate_bp,
    bonus_fee_cents,
    format_cents,
    parse_currency,
)

MAX_REWARD = 10**7
rewards = st.integers(min_value=0, max_value=MAX_REWARD)
tiers = st.tuples(st.integers(min_value=1, max_value=1_000_000_000), st.booleans())
FAST = settings(max_examples=300, deadline=None)


def _expected_fee(amount_cents: int, rate_percent: int) -> int:
    """Reference fee computed with decimal ROUND_HALF_UP and the 1-cent minimum."""
    if amount_cents == 0:
        return 0
    exact = Decimal(amount_cents) * Decimal(rate_percent) / Decimal(100)
    fee = int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return max(fee, 1)


def _rate_percent(max_assignments: int, masters: bool) -> int:
    """Reference commission percentage for a HIT tier."""
    return 20 + (20 if max_assignments >= 10 else 0) + (5 if masters else 0)


# --- parse_currency / format_cents ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "cents"),
    [("1.5", 150), ("0.05", 5), ("3.", 300), ("10", 1000), ("0", 0), ("0.00", 0), ("007.1", 710), ("12.34", 1234)],
)
def test_parse_currency_examples(text: str, cents: int) -> None:
    """Documented examples parse to the right number of cents."""
    assert parse_currency(text) == cents


@pytest.mark.parametrize(
    "bad",
    ["$1", "0.975", "-1", "", ".5", "1,00", " 1", "1 ", "1\n", "1e2", "1.2.3", "abc", "\u0661", "+1", "1.-1"],
)
def test_parse_currency_rejects_bad_strings(bad: str) -> None:
    """Strings outside the CurrencyAmount pattern raise CurrencyError carrying a message."""
    with pytest.raises(CurrencyError) as info:
        parse_currency(bad)
    assert isinstance(info.value, ValueError)
    assert info.value.message and str(info.value) == info.value.message


@pytest.mark.parametrize("bad", [None, 1, 1.5, b"1.00"])
def test_parse_currency_rejects_non_strings(bad: object) -> None:
    """Non-string inputs raise CurrencyError instead of TypeError."""
    with pytest.raises(CurrencyError):
        parse_currency(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("cents", "text"),
    [(150, "1.50"), (5, "0.05"), (0, "0.00"), (-150, "-1.50"), (-5, "-0.05"), (100000, "1000.00")],
)
def test_format_cents_examples(cents: int, text: str) -> None:
    """Documented examples format with two decimals and a leading minus for negatives."""
    assert format_cents(cents) == text


@FAST
@given(st.integers(min_value=0, max_value=10**15))
def test_format_parse_round_trip(cents: int) -> None:
    """parse_currency(format_cents(c)) == c for every non-negative amount."""
    assert parse_currency(format_cents(cents)) == cents


@FAST
@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_format_cents_matches_decimal(cents: int) -> None:
    """format_cents agrees with decimal formatting, including negatives."""
    assert Decimal(format_cents(cents)) == Decimal(cents) / 100
    assert format_cents(cents) == f"{Decimal(cents) / 100:.2f}"


@FAST
@given(st.from_regex(CURRENCY_PATTERN, fullmatch=True))
def test_parse_accepts_every_pattern_match(text: str) -> None:
    """Any string matching the pattern parses to its exact decimal value in cents."""
    with localcontext() as ctx:  # the default 28 digits would round long amounts
        ctx.prec = len(text) + 5
        assert parse_currency(text) == int(Decimal(text) * 100)


@FAST
@given(st.text(max_size=8))
def test_parse_never_crashes_unexpectedly(text: str) -> None:
    """Arbitrary text either parses to a non-negative int or raises CurrencyError."""
    try:
        cents = parse_currency(text)
    except CurrencyError:
        return
    assert isinstance(cents, int) and cents >= 0


# --- assignment fees ------------------------------------------------------------------------


@FAST
@given(rewards, tiers)
def test_assignment_fee_matches_decimal_half_up(reward: int, tier: tuple[int, bool]) -> None:
    """The integer fee equals decimal ROUND_HALF_UP of reward x rate, with the 1-cent minimum."""
    max_assignments, masters = tier
    got = assignment_fee_cents(reward, max_assignments=max_assignments, masters=masters)
    assert got == _expected_fee(reward, _rate_percent(max_assignments, masters))


@pytest.mark.parametrize("max_assignments", [1, 9, 10, 1000])
@pytest.mark.parametrize("masters", [False, True])
def test_assignment_fee_exhaustive_small_rewards(max_assignments: int, masters: bool) -> None:
    """Every reward from 0 to $20.00 matches the decimal reference in every tier."""
    rate = _rate_percent(max_assignments, masters)
    for reward in range(0, 2001):
        assert assignment_fee_cents(reward, max_assignments=max_assignments, masters=masters) == _expected_fee(
            reward, rate
        )


@FAST
@given(st.integers(min_value=1, max_value=MAX_REWARD), tiers)
def test_assignment_fee_at_least_one_cent(reward: int, tier: tuple[int, bool]) -> None:
    """A positive reward always costs at least one cent of commission."""
    assert assignment_fee_cents(reward, max_assignments=tier[0], masters=tier[1]) >= 1


@FAST
@given(rewards, rewards, tiers)
def test_assignment_fee_monotone_in_reward(a: int, b: int, tier: tuple[int, bool]) -> None:
    """A larger reward never yields a smaller fee."""
    lo, hi = sorted((a, b))
    kw = {"max_assignments": tier[0], "masters": tier[1]}
    assert assignment_fee_cents(lo, **kw) <= assignment_fee_cents(hi, **kw)


@FAST
@given(rewards, st.integers(min_value=1, max_value=1000))
def test_assignment_fee_monotone_in_tier(reward: int, max_assignments: int) -> None:
    """Adding the 10+ surcharge or Masters never lowers the fee."""
    base = assignment_fee_cents(reward, max_assignments=1, masters=False)
    assert base <= assignment_fee_cents(reward, max_assignments=max_assignments, masters=False)
    assert base <= assignment_fee_cents(reward, max_assignments=1, masters=True)
    assert assignment_fee_cents(reward, max_assignments=max_assignments, masters=False) <= assignment_fee_cents(
        reward, max_assignments=max_assignments, masters=True
    )


@pytest.mark.parametrize(
    ("reward", "max_assignments", "masters", "fee"),
    [
        (0, 1, False, 0),
        (0, 10, True, 0),
        (1, 1, False, 1),  # 0.2 cent -> minimum 1
        (2, 1, True, 1),  # 0.5 cent rounds half up
        (6, 1, True, 2),  # 1.5 -> 2
        (10, 10, True, 5),  # 4.5 -> 5
        (52, 1, False, 10),  # 10.4 -> 10
        (100, 1, False, 20),
        (100, 9, False, 20),
        (100, 10, False, 40),
        (100, 10, True, 45),
        (100, 1, True, 25),
        (150, 1, False, 30),
    ],
)
def test_assignment_fee_examples(reward: int, max_assignments: int, masters: bool, fee: int) -> None:
    """Hand-computed fees for each tier boundary."""
    assert assignment_fee_cents(reward, max_assignments=max_assignments, masters=masters) == fee


def test_assignment_fee_rate_bp() -> None:
    """The basis-point rate reflects base, 10+ surcharge and Masters surcharge."""
    assert assignment_fee_rate_bp(max_assignments=1, masters=False) == 2000
    assert assignment_fee_rate_bp(max_assignments=10, masters=False) == 4000
    assert assignment_fee_rate_bp(max_assignments=10, masters=True) == 4500
    assert assignment_fee_rate_bp(max_assignments=10, masters=True, schedule="none") == 0


@FAST
@given(rewards, tiers)
def test_none_schedule_is_free(reward: int, tier: tuple[int, bool]) -> None:
    """The "none" schedule never charges commission."""
    assert assignment_fee_cents(reward, max_assignments=tier[0], masters=tier[1], schedule="none") == 0
    assert bonus_fee_cents(reward, schedule="none") == 0


def test_fee_schedules_constant() -> None:
    """Both documented schedules are listed."""
    assert FEE_SCHEDULES == ("mturk", "none")


@pytest.mark.parametrize("schedule", ["", "MTURK", "free", "amazon"])
def test_unknown_schedule_rejected(schedule: str) -> None:
    """Unknown schedule names raise ValueError for both fee kinds."""
    with pytest.raises(ValueError):
        assignment_fee_cents(100, max_assignments=1, masters=False, schedule=schedule)
    with pytest.raises(ValueError):
        bonus_fee_cents(100, schedule=schedule)


@pytest.mark.parametrize("bad", [-1, 1.5, True, "100"])
def test_bad_amounts_rejected(bad: object) -> None:
    """Negative or non-int amounts raise ValueError."""
    with pytest.raises(ValueError):
        assignment_fee_cents(bad, max_assignments=1, masters=False)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        bonus_fee_cents(bad)  # type: ignore[arg-type]


# --- bonus fees -----------------------------------------------------------------------------


@FAST
@given(rewards)
def test_bonus_fee_matches_decimal_half_up(bonus: int) -> None:
    """Bonus fee is 20 % half-up with the 1-cent minimum."""
    assert bonus_fee_cents(bonus) == _expected_fee(bonus, 20)


@FAST
@given(rewards, rewards)
def test_bonus_fee_monotone(a: int, b: int) -> None:
    """A larger bonus never yields a smaller fee."""
    lo, hi = sorted((a, b))
    assert bonus_fee_cents(lo) <= bonus_fee_cents(hi)


@FAST
@given(rewards)
def test_bonus_fee_ignores_assignment_surcharges(amount: int) -> None:
    """Bonus fee equals the plain 20 % tier of the assignment fee (no 10+ or Masters surcharge)."""
    assert bonus_fee_cents(amount) == assignment_fee_cents(amount, max_assignments=1, masters=False)


@pytest.mark.parametrize(("bonus", "fee"), [(0, 0), (1, 1), (4, 1), (5, 1), (7, 1), (8, 2), (100, 20), (1001, 200)])
def test_bonus_fee_examples(bonus: int, fee: int) -> None:
    """Hand-computed bonus fees."""
    assert bonus_fee_cents(bonus) == fee
