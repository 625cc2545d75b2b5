"""Agents of a live world: human workers (through their browser, relayed by the server) and bots (any Python
object with `observe(message)` and `act()`, plain or async). Messages are JSON dicts: `text`, `episode_done`,
`task_data` (context shown beside the chat), and `id` (who said it).

`act()` never hangs: it returns an event message (`{"event": ..., "episode_done": True}`) when the agent does not
answer in time (`timeout`), leaves for good (`disconnect`), or when another human of the same world leaves while
it waits (`partner_disconnect`). World code checks `message.get("event")`.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from hitkit.requester.live.runner import LiveRunner

TIMEOUT = "timeout"
DISCONNECT = "disconnect"
PARTNER_DISCONNECT = "partner_disconnect"


def event(kind: str, agent_id: str, **extra: Any) -> dict:
    return {"id": agent_id, "event": kind, "episode_done": True, "text": "", **extra}


def is_event(message: dict) -> bool:
    return bool(message.get("event"))


class Bot(Protocol):
    def observe(self, message: dict) -> Any: ...
    def act(self) -> Any: ...


class Agent:
    """What world code talks to."""

    id: str
    is_human: bool = False

    async def observe(self, message: dict) -> None:
        raise NotImplementedError

    async def act(self, timeout: float | None = None) -> dict:
        raise NotImplementedError


class BotAgent(Agent):
    """A bot or model: `bot.observe(message)` and `bot.act() -> dict`, either may be async."""

    def __init__(self, bot: Any, agent_id: str | None = None) -> None:
        self.bot = bot
        self.id = agent_id or getattr(bot, "id", None) or type(bot).__name__
        self.world: Any = None

    async def observe(self, message: dict) -> None:
        result = self.bot.observe(message)
        if inspect.isawaitable(result):
            await result

    async def act(self, timeout: float | None = None) -> dict:
        result = self.bot.act()
        if inspect.isawaitable(result):
            try:
                result = await asyncio.wait_for(result, timeout) if timeout else await result
            except asyncio.TimeoutError:
                return event(TIMEOUT, self.id)
        message = dict(result or {})
        message.setdefault("id", self.id)
        if self.world is not None:
            await self.world.record({"kind": "bot_message", "agent": self.id, "message": message})
        return message


class HumanAgent(Agent):
    """A worker in a world, through the server's relay."""

    is_human = True

    def __init__(self, runner: "LiveRunner", assignment_id: str, worker_id: str, hit_id: str) -> None:
        self.runner = runner
        self.assignment_id = assignment_id
        self.worker_id = worker_id
        self.hit_id = hit_id
        self.id = worker_id
        self.inbox: asyncio.Queue[dict] = asyncio.Queue()
        self.left = False
        self.connected = True
        self.messages_sent = 0
        self.world: Any = None
        self.status = "joined"
        self.outcome: str | None = None
        self.joined_at = asyncio.get_running_loop().time()
        self.waiting_since: float | None = None

    def __repr__(self) -> str:
        return f"HumanAgent({self.worker_id}, {self.assignment_id}, {self.status})"

    async def observe(self, message: dict) -> None:
        """Show a message to the worker (stored by the server as it is relayed)."""
        await self.runner.send_to_worker(self, message)

    async def act(self, timeout: float | None = None) -> dict:
        """The worker's next message, or an event message on timeout, disconnect or a partner leaving."""
        if self.left:
            return event(DISCONNECT, self.id)
        timeout = self.runner.task.act_timeout if timeout is None else timeout
        try:
            message = await asyncio.wait_for(self.inbox.get(), timeout)
        except asyncio.TimeoutError:
            message = event(TIMEOUT, self.id)
            if self.world is not None:
                await self.world.record({"kind": "timeout", "agent": self.id, "assignment_id": self.assignment_id})
        return message

    async def set_status(self, text: str | None = None, **state: Any) -> None:
        """Change what the worker's page says (`text`), its context panel (`task_data=`), ..."""
        await self.runner.set_state(self, text=text, **state)

    def deliver(self, message: dict) -> None:
        """A message from the worker's browser (called by the runner)."""
        self.messages_sent += 1
        self.inbox.put_nowait({**message, "id": self.id})


async def call_bot_factory(factory: Any, index: int) -> Any:
    bot = factory(index) if _takes_argument(factory) else factory()
    if inspect.isawaitable(bot):
        bot = await bot
    return bot


def _takes_argument(fn: Any) -> bool:
    try:
        return len(inspect.signature(fn).parameters) >= 1
    except (TypeError, ValueError):
        return False
