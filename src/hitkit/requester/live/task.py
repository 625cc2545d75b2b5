"""What a live task is: an async world function and its settings (`LiveTask`), the `World` a world function
receives, and the `PaymentPolicy` that decides who may submit and is paid when a world does not end normally.

    async def chat(world):
        a, b = world.agents
        for turn in range(6):
            speaker, listener = (a, b) if turn % 2 == 0 else (b, a)
            message = await speaker.act()
            if message.get("event"):          # timeout, disconnect, partner_disconnect
                return {"ended": message["event"]}
            await listener.observe(message)

    task = LiveTask(name="chat", world=chat, humans_per_world=2)
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable

if TYPE_CHECKING:
    from hitkit.requester.live.agents import Agent, HumanAgent
    from hitkit.requester.live.runner import LiveRunner

# Outcomes of an assignment (stored on the server with the agent, so a restarted process knows them).
COMPLETED = "completed"
PARTNER_LEFT = "partner_left"
WAITING_TIMEOUT = "waiting_timeout"
ONBOARDING_FAILED = "onboarding_failed"
DISCONNECTED = "disconnected"
INTERRUPTED = "interrupted"  # the requester's process stopped during the world
DAILY_CAP = "daily_cap"
DUPLICATE = "duplicate"


@dataclass
class PaymentPolicy:
    """Who may submit (and is approved) when things do not go to plan. `approve` outcomes get a Submit button
    and are approved when submitted; others are asked to return the HIT (and rejected if they submit anyway)."""

    min_messages_partner_left: int = 1  # a worker whose partner left is paid after sending at least this many
    pay_waiting_timeout: bool = True  # a worker nobody was matched with in time is paid for waiting
    pay_onboarding_failed: bool = True  # a worker who failed onboarding is paid for trying (and soft-blocked)
    pay_interrupted: bool = True  # the requester's process stopped during the world
    bonus_completed: str | None = None  # e.g. "0.25", sent once per completed assignment

    def pays(self, outcome: str, messages_sent: int) -> bool:
        if outcome == COMPLETED:
            return True
        if outcome == PARTNER_LEFT:
            return messages_sent >= self.min_messages_partner_left
        if outcome == WAITING_TIMEOUT:
            return self.pay_waiting_timeout
        if outcome == ONBOARDING_FAILED:
            return self.pay_onboarding_failed
        if outcome == INTERRUPTED:
            return self.pay_interrupted
        return False


WorldFn = Callable[["World"], Awaitable[Any]]


@dataclass
class LiveTask:
    """A live task: `world(World)` runs one conversation/game; `humans_per_world` workers and one bot per entry
    of `bots` (a factory per bot: `factory()` or `factory(index)`) take part. Timeouts are seconds."""

    name: str
    world: WorldFn
    humans_per_world: int = 2
    bots: list[Callable[..., Any]] = field(default_factory=list)
    title: str = "Live chat task"
    description: str = "Chat with another participant in real time."
    onboarding: Callable[["HumanAgent"], Awaitable[bool]] | None = None
    world_data: Callable[[int], Any] | None = None  # per-world data (e.g. the paragraph), by world number
    waiting_timeout: float = 300.0
    act_timeout: float = 300.0
    world_timeout: float = 1800.0
    max_concurrent_worlds: int = 50
    grace_seconds: float = 30.0
    heartbeat_timeout: float = 60.0
    assignment_duration: int = 3600
    lifetime: int = 86400
    keywords: str = "chat, live, conversation"
    policy: PaymentPolicy = field(default_factory=PaymentPolicy)
    unique_workers: bool = False  # a worker takes part at most once in this task, across runs (a qualification)
    daily_cap_seconds: float | None = None  # at most this long in worlds per worker and UTC day (a qualification)
    refuse_mobile: bool = False
    frame_height: int = 700


class World:
    """One world in progress: its agents, data, and the record of what happened."""

    def __init__(self, runner: "LiveRunner", world_id: str, number: int, agents: list["Agent"], data: Any) -> None:
        self.runner = runner
        self.id = world_id
        self.number = number
        self.agents = agents
        self.data = data
        self.result: Any = None

    @property
    def humans(self) -> list["HumanAgent"]:
        return [a for a in self.agents if a.is_human]  # type: ignore[misc]

    @property
    def bots(self) -> list["Agent"]:
        return [a for a in self.agents if not a.is_human]

    async def record(self, event: dict) -> None:
        """Store an event of this world on the server (bot messages, ratings, anything for the export)."""
        await self.runner.record(event, world_id=self.id)

    async def broadcast(self, message: dict, exclude: "Agent | None" = None) -> None:
        """Every agent but `exclude` observes the message."""
        await asyncio.gather(*(a.observe(message) for a in self.agents if a is not exclude))
