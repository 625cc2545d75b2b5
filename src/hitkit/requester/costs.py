"""What a launch will cost: rewards plus the marketplace's commission, in integer cents.

The fee rules are `hitkit.mturk.fees` (MTurk's schedule since 2015: 20 % of each reward, 20 % more for HITs with 10
or more assignments, 5 % more with a Masters requirement, at least $0.01 per assignment). The MTurk API does not
say which fees an endpoint charges, so the toolkit assumes MTurk's schedule everywhere; a hitkit server started
with `--fee-schedule none` charges none, and then the estimate is high by exactly the fees. What a HIT costs is
what the server reserves when it is created: MaxAssignments x (reward + fee per assignment).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from hitkit.mturk.fees import assignment_fee_cents, format_cents

ASSUMED_SCHEDULE = "mturk"
SCHEDULE_NOTE = ("fees by MTurk's schedule (20 %, +20 % for HITs with 10 or more assignments, +5 % with Masters, "
                 "min $0.01 per assignment); the MTurk API does not say what an endpoint charges")


@dataclass(frozen=True)
class CostEstimate:
    """The money a set of HITs ties up: every assignment's reward and fee."""

    hits: int
    assignments: int
    rewards_cents: int
    fees_cents: int
    schedule: str = ASSUMED_SCHEDULE
    note: str = SCHEDULE_NOTE

    @property
    def total_cents(self) -> int:
        return self.rewards_cents + self.fees_cents

    def describe(self) -> str:
        """One line: `$12.00 for 100 HITs (300 assignments): $10.00 rewards + $2.00 fees`."""
        return (f"${format_cents(self.total_cents)} for {self.hits} HIT{'s' if self.hits != 1 else ''} "
                f"({self.assignments} assignment{'s' if self.assignments != 1 else ''}): "
                f"${format_cents(self.rewards_cents)} rewards + ${format_cents(self.fees_cents)} fees")


def hit_cost_cents(reward_cents: int, max_assignments: int, *, masters: bool = False,
                   schedule: str = ASSUMED_SCHEDULE) -> int:
    """What one HIT reserves when it is created: MaxAssignments x (reward + fee)."""
    fee = assignment_fee_cents(reward_cents, max_assignments=max_assignments, masters=masters, schedule=schedule)
    return max_assignments * (reward_cents + fee)


def estimate(reward_cents: int, max_assignments: Iterable[int], *, masters: bool = False,
             schedule: str = ASSUMED_SCHEDULE) -> CostEstimate:
    """The cost of HITs with these MaxAssignments, each paying `reward_cents` per assignment."""
    sizes = Counter(max_assignments)
    rewards = fees = 0
    for size, count in sizes.items():
        fee = assignment_fee_cents(reward_cents, max_assignments=size, masters=masters, schedule=schedule)
        rewards += count * size * reward_cents
        fees += count * size * fee
    note = SCHEDULE_NOTE if schedule == ASSUMED_SCHEDULE else "no fees (the endpoint charges none)"
    return CostEstimate(sum(sizes.values()), sum(s * n for s, n in sizes.items()), rewards, fees, schedule, note)


def split_assignments(assignments: int, max_per_hit: int | None) -> list[int]:
    """A row's assignments spread over ceil(A / N) HITs as evenly as possible (20 over at most 9: 7, 7, 6)."""
    if assignments < 1:
        raise ValueError(f"assignments must be at least 1, not {assignments}")
    if max_per_hit is None or max_per_hit >= assignments:
        return [assignments]
    if max_per_hit < 1:
        raise ValueError(f"max assignments per HIT must be at least 1, not {max_per_hit}")
    parts = -(-assignments // max_per_hit)
    base, extra = divmod(assignments, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]
