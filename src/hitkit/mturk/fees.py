"""Money helpers for the MTurk emulator: currency parsing/formatting and commission fees, all in integer cents."""

from __future__ import annotations

import re

__all__ = [
    "CURRENCY_PATTERN",
    "FEE_SCHEDULES",
    "CurrencyError",
    "assignment_fee_cents",
    "assignment_fee_rate_bp",
    "bonus_fee_cents",
    "format_cents",
    "parse_currency",
]

CURRENCY_PATTERN = r"^[0-9]+(\.)?[0-9]{0,2}$"
_CURRENCY_RE = re.compile(CURRENCY_PATTERN)

FEE_SCHEDULES = ("mturk", "none")

_BP_DENOMINATOR = 10_000  # basis points per whole
_BASE_BP = 2_000  # 20 % base commission on rewards and bonuses
_LARGE_HIT_BP = 2_000  # extra 20 % for HITs with MaxAssignments >= 10
_LARGE_HIT_THRESHOLD = 10
_MASTERS_BP = 500  # extra 5 % when a Masters requirement is used
_MIN_FEE_CENTS = 1


class CurrencyError(ValueError):
    """A currency string does not match the MTurk CurrencyAmount pattern."""

    def __init__(self, message: str) -> None:
        """Store the human-readable message."""
        super().__init__(message)
        self.message = message


def parse_currency(s: str) -> int:
    """Parse an MTurk CurrencyAmount string such as "1.5" into integer cents (150)."""
    if not isinstance(s, str) or _CURRENCY_RE.fullmatch(s) is None:
        raise CurrencyError(
            f'The value "{s}" is not a valid currency amount. '
            f"It must match the pattern {CURRENCY_PATTERN} (e.g. \"0.50\")."
        )
    whole, _, frac = s.partition(".")
    return int(whole) * 100 + int(frac.ljust(2, "0"))


def format_cents(c: int) -> str:
    """Format integer cents as a dollar string with exactly two decimals (150 -> "1.50")."""
    sign = "-" if c < 0 else ""
    whole, frac = divmod(abs(c), 100)
    return f"{sign}{whole}.{frac:02d}"


def _check_schedule(schedule: str) -> None:
    """Raise ValueError for an unknown fee schedule name."""
    if schedule not in FEE_SCHEDULES:
        raise ValueError(f"unknown fee schedule {schedule!r}; expected one of {FEE_SCHEDULES}")


def _check_amount(name: str, cents: int) -> None:
    """Raise ValueError unless cents is a non-negative int."""
    if isinstance(cents, bool) or not isinstance(cents, int):
        raise ValueError(f"{name} must be an int number of cents, got {cents!r}")
    if cents < 0:
        raise ValueError(f"{name} must be >= 0, got {cents}")


def _fee(amount_cents: int, rate_bp: int) -> int:
    """Apply a basis-point rate with half-up rounding and the 1-cent minimum for positive amounts."""
    if amount_cents == 0:
        return 0
    fee = (amount_cents * rate_bp + _BP_DENOMINATOR // 2) // _BP_DENOMINATOR
    return max(fee, _MIN_FEE_CENTS)


def assignment_fee_rate_bp(*, max_assignments: int, masters: bool, schedule: str = "mturk") -> int:
    """Return the per-assignment commission rate in basis points for a HIT."""
    _check_schedule(schedule)
    if schedule == "none":
        return 0
    rate = _BASE_BP
    if max_assignments >= _LARGE_HIT_THRESHOLD:
        rate += _LARGE_HIT_BP
    if masters:
        rate += _MASTERS_BP
    return rate


def assignment_fee_cents(
    reward_cents: int, *, max_assignments: int, masters: bool, schedule: str = "mturk"
) -> int:
    """Return the MTurk commission in cents charged on one approved assignment."""
    _check_amount("reward_cents", reward_cents)
    rate = assignment_fee_rate_bp(max_assignments=max_assignments, masters=masters, schedule=schedule)
    if schedule == "none":
        return 0
    return _fee(reward_cents, rate)


def bonus_fee_cents(bonus_cents: int, *, schedule: str = "mturk") -> int:
    """Return the MTurk commission in cents charged on one bonus payment (20 %, min 1 cent)."""
    _check_amount("bonus_cents", bonus_cents)
    _check_schedule(schedule)
    if schedule == "none":
        return 0
    return _fee(bonus_cents, _BASE_BP)
