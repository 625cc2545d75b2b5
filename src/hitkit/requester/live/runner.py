"""Runs a live task: creates its HITs, holds the connection to the server, onboards workers, matches them in the
waiting room, runs worlds (at most `max_concurrent_worlds` at once), turns every way an assignment can end into
an outcome the payment policy prices, and pays through the MTurk API.

Restarting is resuming: run the same task with the same run id. The server tells the new process every agent's
status and outcome (its `welcome`); finished conversations count, workers still waiting are matched again,
workers whose world was lost with the old process get the `interrupted` outcome (paid by policy), and HITs are
created with the same UniqueRequestTokens, so none is made twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from hitkit.requester.live import hits as mturk
from hitkit.requester.live.agents import (
    DISCONNECT, PARTNER_DISCONNECT, BotAgent, HumanAgent, call_bot_factory, event,
)
from hitkit.requester.live.connection import LiveConnection, client_credentials
from hitkit.requester.live.task import (
    COMPLETED, DAILY_CAP, DISCONNECTED, DUPLICATE, INTERRUPTED, ONBOARDING_FAILED, PARTNER_LEFT, WAITING_TIMEOUT,
    LiveTask, World,
)

log = logging.getLogger("hitkit.requester.live")

OUTCOME_TEXT = {
    COMPLETED: "Thank you! The conversation is complete: submit the HIT below.",
    PARTNER_LEFT: "Your partner left the conversation.",
    WAITING_TIMEOUT: "Sorry, nobody could be matched with you in time.",
    ONBOARDING_FAILED: "Thank you for trying. You did not pass the qualification, so you cannot do more of these HITs.",
    DISCONNECTED: "You were away too long, so the conversation ended without you.",
    INTERRUPTED: "The requester's program restarted and this conversation could not go on.",
    DAILY_CAP: "You reached today's time limit for this task. Please come back tomorrow.",
    DUPLICATE: "You are already taking part in this task with another HIT.",
}


def new_run_id(name: str) -> str:
    slug = "".join(c if c.isalnum() or c in "-_" else "-" for c in name.lower())[:32].strip("-") or "live"
    return f"{slug}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{secrets.token_hex(2)}"


@dataclass
class RunSummary:
    run_id: str
    completed_worlds: int
    hits_created: int
    outcomes: dict[str, int] = field(default_factory=dict)
    approved: int = 0
    rejected: int = 0


class LiveRunner:
    """One run of a task. `await runner.run()` returns when `conversations` worlds have completed and the
    workers who may submit have submitted (or `settle_timeout` passed)."""

    def __init__(self, task: LiveTask, client: Any, endpoint_url: str, *, run_id: str | None = None,
                 conversations: int = 1, reward: str = "0.50", max_hits: int | None = None, create_hits: bool = True,
                 settle_timeout: float = 600.0, poll_seconds: float = 1.0, credentials: Any = None) -> None:
        self.task = task
        self.client = client
        self.endpoint_url = endpoint_url.rstrip("/")
        self.run_id = run_id or new_run_id(task.name)
        self.conversations = conversations
        self.reward = reward
        self.max_hits = max_hits if max_hits is not None else conversations * task.humans_per_world * 3
        self.create_hits = create_hits
        self.settle_timeout = settle_timeout
        self.poll_seconds = poll_seconds
        self.credentials = credentials or client_credentials(client)
        self.agents: dict[str, HumanAgent] = {}
        self.waiting: list[HumanAgent] = []
        self.worlds: dict[str, tuple[World, asyncio.Task]] = {}
        self.onboarding_now: set[str] = set()
        self.completed: set[str] = set()
        self.world_count = 0
        self.hit_ids: list[str] = []
        self.hits_wanted = conversations * task.humans_per_world  # + one per assignment that ends uncompleted
        self._hits_lock = asyncio.Lock()
        self._pay_lock = asyncio.Lock()
        self.pays: dict[str, bool] = {}  # assignment -> paid by policy (set when its outcome is decided)
        self.settled: dict[str, str] = {}  # assignment -> Approved | Rejected | Returned
        self.quals: dict[str, str] = {}
        self._tasks: set[asyncio.Task] = set()
        self._wake = asyncio.Event()
        self._welcomed = 0
        self.conn: LiveConnection | None = None

    # ------------------------------------------------------------ public

    async def run(self) -> RunSummary:
        t = self.task
        hello = {"name": t.name, "config": {"grace_seconds": t.grace_seconds, "heartbeat_timeout": t.heartbeat_timeout,
                                            "title": t.title, "description": t.description,
                                            "refuse_mobile": t.refuse_mobile}}
        await self._setup_qualifications()
        self.conn = LiveConnection(self.endpoint_url, self.credentials, self.run_id, hello, self._on_frame)
        reader = asyncio.create_task(self.conn.run_forever())
        try:
            await self._wait_connected(reader)
            if self.create_hits:
                await self._ensure_hits()
            self._spawn(self._payer())
            await self._main_loop(reader)
            await self._settle_all(reader)
        finally:
            for task in list(self._tasks):
                task.cancel()
            for _, wt in list(self.worlds.values()):
                wt.cancel()
            await self.conn.close()
            reader.cancel()
            with contextlib.suppress(BaseException):
                await reader
            if self.create_hits:
                await asyncio.to_thread(self._expire_hits)
        return self.summary()

    def summary(self) -> RunSummary:
        counts: dict[str, int] = {}
        for agent in self.agents.values():
            if agent.outcome:
                counts[agent.outcome] = counts.get(agent.outcome, 0) + 1
        values = list(self.settled.values())
        return RunSummary(self.run_id, len(self.completed), len(self.hit_ids), counts,
                          values.count("Approved"), values.count("Rejected"))

    # ------------------------------------------------------------ to the server

    async def _send(self, frame: dict) -> None:
        assert self.conn is not None
        for _ in range(300):  # up to ~30 s for a dropped connection to come back
            if await self.conn.send(frame):
                return
            await asyncio.sleep(0.1)
        log.warning("live: dropped a frame for %s (no connection)", frame.get("assignment_id"))

    async def send_to_worker(self, agent: HumanAgent, message: dict) -> None:
        world_id = agent.world.id if agent.world is not None else None
        await self._send({"type": "send", "assignment_id": agent.assignment_id, "world_id": world_id,
                          "message": message})

    async def set_state(self, agent: HumanAgent, text: str | None = None, **state: Any) -> None:
        frame: dict[str, Any] = {"type": "state", "assignment_id": agent.assignment_id, **state}
        if text is not None:
            frame["text"] = text
        if "status" in state:
            agent.status = state["status"]
        await self._send(frame)

    async def record(self, event_: dict, *, world_id: str | None = None, assignment_id: str | None = None) -> None:
        await self._send({"type": "record", "world_id": world_id, "assignment_id": assignment_id, "event": event_})

    # ------------------------------------------------------------ set-up

    async def _setup_qualifications(self) -> None:
        t = self.task
        names = {}
        if t.onboarding is not None:
            names["passed"] = (f"hitkit live {t.name}: onboarding passed", f"Passed the onboarding of {t.name}.")
            names["blocked"] = (f"hitkit live {t.name}: not eligible", f"Did not pass the onboarding of {t.name}.")
        if t.unique_workers:
            names["took_part"] = (f"hitkit live {t.name}: took part", f"Took part in {t.name} once already.")
        if t.daily_cap_seconds:
            names["daily"] = (f"hitkit live {t.name}: time today", f"Time spent in {t.name} today (UTC day).")
        for key, (name, description) in names.items():
            self.quals[key] = await asyncio.to_thread(mturk.ensure_qualification, self.client, name[:200], description)

    def _requirements(self) -> list[dict]:
        reqs = []
        for key in ("blocked", "took_part"):
            if key in self.quals:
                reqs.append({"QualificationTypeId": self.quals[key], "Comparator": "DoesNotExist"})
        return reqs

    async def _ensure_hits(self) -> None:
        """Create HITs up to `hits_wanted` (bounded by `max_hits`), idempotently by index."""
        t = self.task
        url = mturk.live_page_url(self.endpoint_url, self.run_id)
        async with self._hits_lock:
            while len(self.hit_ids) < min(self.hits_wanted, self.max_hits):
                index = len(self.hit_ids)
                hit_id = await asyncio.to_thread(
                    mturk.create_hit, self.client, run_id=self.run_id, key=f"hit-{index}", url=url, title=t.title,
                    description=t.description, reward=self.reward, keywords=t.keywords, duration=t.assignment_duration,
                    lifetime=t.lifetime, frame_height=t.frame_height, requirements=self._requirements())
                self.hit_ids.append(hit_id)

    def _expire_hits(self) -> None:
        for hit_id in self.hit_ids:
            mturk.expire(self.client, hit_id)

    async def _wait_connected(self, reader: asyncio.Task) -> None:
        assert self.conn is not None
        waiter = asyncio.create_task(self.conn.connected.wait())
        done, _ = await asyncio.wait({waiter, reader}, return_when=asyncio.FIRST_COMPLETED)
        if reader in done:
            waiter.cancel()
            reader.result()  # raises the refusal
            raise RuntimeError("the live connection ended before the server welcomed it")

    # ------------------------------------------------------------ frames from the server

    async def _on_frame(self, frame: dict) -> None:
        kind = frame.get("type")
        if kind == "welcome":
            await self._welcome(frame)
        elif kind in ("worker_joined", "worker_reconnected"):
            agent = self.agents.get(frame["assignment_id"])
            if agent is None:
                agent = self._new_agent(frame["assignment_id"], frame["worker_id"], frame["hit_id"])
                agent.status = frame.get("status") or "joined"
                if agent.status in ("joined", "waiting"):
                    self._spawn(self._admit(agent))
                elif agent.status in ("in_world", "onboarding"):
                    self._spawn(self._finish(agent, INTERRUPTED))
            agent.connected = True
        elif kind == "worker_message":
            agent = self.agents.get(frame.get("assignment_id", ""))
            if agent is not None and agent.status in ("in_world", "onboarding") and not agent.left:
                agent.deliver(frame.get("message") or {})
        elif kind == "worker_disconnected":
            agent = self.agents.get(frame.get("assignment_id", ""))
            if agent is not None:
                agent.connected = False
        elif kind == "worker_left":
            agent = self.agents.get(frame.get("assignment_id", ""))
            if agent is not None:
                self._left(agent)
        elif kind == "error":
            log.warning("live server: %s: %s", frame.get("code"), frame.get("message"))
        self._wake.set()

    def _new_agent(self, assignment_id: str, worker_id: str, hit_id: str) -> HumanAgent:
        agent = HumanAgent(self, assignment_id, worker_id, hit_id)
        self.agents[assignment_id] = agent
        return agent

    async def _welcome(self, frame: dict) -> None:
        self._welcomed += 1
        worlds_seen: set[str] = set()
        for info in frame.get("agents", []):
            aid = info["assignment_id"]
            world_id = info.get("world_id")
            if world_id and not world_id.startswith("onb-"):
                worlds_seen.add(world_id)
            agent = self.agents.get(aid)
            known = agent is not None
            if agent is None:
                agent = self._new_agent(aid, info["worker_id"], info["hit_id"])
                agent.status = info.get("status") or "joined"
            agent.connected = bool(info.get("connected"))
            outcome = info.get("outcome")
            if outcome:
                if not known and outcome != COMPLETED:
                    self.hits_wanted += 1  # its replacement (created again idempotently)
                agent.outcome = outcome
                self.pays[aid] = bool((info.get("state") or {}).get("can_submit"))
                if outcome == COMPLETED and world_id:
                    self.completed.add(world_id)
                continue
            if known:
                if info.get("status") == "left" and not agent.left:
                    self._left(agent)
                continue
            if agent.status == "left":
                self._spawn(self._finish(agent, DISCONNECTED))
            elif agent.status in ("in_world", "onboarding"):
                self._spawn(self._finish(agent, INTERRUPTED))
            elif agent.status in ("joined", "waiting") and agent.connected:
                self._spawn(self._admit(agent))
        self.world_count = max(self.world_count, len(worlds_seen))

    def _left(self, agent: HumanAgent) -> None:
        agent.left = True
        agent.inbox.put_nowait(event(DISCONNECT, agent.id))
        if agent in self.waiting:
            self.waiting.remove(agent)
            self._spawn(self._finish(agent, DISCONNECTED))
        elif agent.world is not None:
            for other in agent.world.humans:
                if other is not agent:
                    other.inbox.put_nowait(event(PARTNER_DISCONNECT, other.id, partner=agent.id))
        elif agent.status == "joined" and agent.assignment_id not in self.onboarding_now:
            self._spawn(self._finish(agent, DISCONNECTED))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("live: a runner task failed", exc_info=task.exception())
        self._wake.set()

    # ------------------------------------------------------------ joining: checks, onboarding, waiting room

    async def _admit(self, agent: HumanAgent) -> None:
        t = self.task
        others = [a for a in self.agents.values() if a.worker_id == agent.worker_id and a is not agent
                  and a.outcome is None and not a.left]
        if others:
            await self._finish(agent, DUPLICATE)
            return
        if t.daily_cap_seconds and "daily" in self.quals:
            value = await asyncio.to_thread(mturk.score, self.client, self.quals["daily"], agent.worker_id)
            if mturk.seconds_today(value) >= t.daily_cap_seconds:
                await self._finish(agent, DAILY_CAP)
                return
        if t.onboarding is not None and not await self._onboard(agent):
            return
        if "took_part" in self.quals:
            await asyncio.to_thread(mturk.grant, self.client, self.quals["took_part"], agent.worker_id)
        if agent.left:
            await self._finish(agent, DISCONNECTED)
            return
        agent.waiting_since = time.monotonic()
        await self.set_state(agent, "Waiting for a partner... (this page updates by itself)", status="waiting",
                             world_id=None)
        self.waiting.append(agent)
        self._wake.set()

    async def _onboard(self, agent: HumanAgent) -> bool:
        """True when the worker passed (now or before); on failure the worker is soft-blocked and finished."""
        assert self.task.onboarding is not None
        passed = await asyncio.to_thread(mturk.score, self.client, self.quals["passed"], agent.worker_id)
        if passed:
            return True
        self.onboarding_now.add(agent.assignment_id)
        world_id = "onb-" + agent.assignment_id[:56]
        try:
            await self.set_state(agent, "First, a short qualification task.", status="onboarding", world_id=world_id)
            try:
                ok = bool(await asyncio.wait_for(self.task.onboarding(agent), self.task.world_timeout))
            except asyncio.TimeoutError:
                ok = False
            await self.record({"kind": "onboarding", "passed": ok, "worker_id": agent.worker_id},
                              world_id=world_id, assignment_id=agent.assignment_id)
        finally:
            self.onboarding_now.discard(agent.assignment_id)
        if agent.left:
            await self._finish(agent, DISCONNECTED)
            return False
        if ok:
            await asyncio.to_thread(mturk.grant, self.client, self.quals["passed"], agent.worker_id)
            return True
        await asyncio.to_thread(mturk.grant, self.client, self.quals["blocked"], agent.worker_id)
        await self._finish(agent, ONBOARDING_FAILED)
        return False

    # ------------------------------------------------------------ the main loop: matching and timeouts

    def _active(self) -> int:
        return len(self.worlds)

    def _finished(self) -> bool:
        return len(self.completed) >= self.conversations and not self.worlds

    async def _main_loop(self, reader: asyncio.Task) -> None:
        t = self.task
        while not self._finished():
            if reader.done():
                reader.result()
                raise RuntimeError("the live connection ended")
            now = time.monotonic()
            for agent in list(self.waiting):
                if agent.left or agent.outcome is not None:
                    self.waiting.remove(agent)
                elif now - (agent.waiting_since or now) >= t.waiting_timeout:
                    self.waiting.remove(agent)
                    self._spawn(self._finish(agent, WAITING_TIMEOUT))
            while (len(self.waiting) >= t.humans_per_world and self._active() < t.max_concurrent_worlds
                   and len(self.completed) + self._active() < self.conversations):
                group, self.waiting = self.waiting[:t.humans_per_world], self.waiting[t.humans_per_world:]
                await self._start_world(group)
            self._wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.25)
        for agent in list(self.waiting):  # enough conversations: nobody waits for nothing
            self.waiting.remove(agent)
            self._spawn(self._finish(agent, WAITING_TIMEOUT))

    async def _start_world(self, humans: list[HumanAgent]) -> None:
        t = self.task
        number = self.world_count
        self.world_count += 1
        world_id = f"w{number}-{secrets.token_hex(3)}"
        bots = [BotAgent(await call_bot_factory(f, i)) for i, f in enumerate(t.bots)]
        data = t.world_data(number) if t.world_data is not None else None
        world = World(self, world_id, number, [*humans, *bots], data)
        for agent in [*humans, *bots]:
            agent.world = world
        await self.record({"kind": "world_start", "number": number, "data": data,
                           "humans": [{"assignment_id": h.assignment_id, "worker_id": h.worker_id} for h in humans],
                           "bots": [b.id for b in bots]}, world_id=world_id)
        task_data = data if isinstance(data, dict) else None
        for h in humans:
            h.world_started = time.monotonic()  # type: ignore[attr-defined]
            await self.set_state(h, "You are in the conversation.", status="in_world", world_id=world_id,
                                 task_data=task_data)
        self.worlds[world_id] = (world, asyncio.get_running_loop().create_task(self._run_world(world)))

    async def _run_world(self, world: World) -> None:
        reason = "completed"
        try:
            world.result = await asyncio.wait_for(self.task.world(world), self.task.world_timeout)
        except asyncio.TimeoutError:
            reason = "world_timeout"
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a bug in world code: the workers are not left hanging
            log.exception("live: world %s failed", world.id)
            reason = f"error: {type(e).__name__}"
        if isinstance(world.result, dict) and world.result.get("completed") is False:
            reason = "not_completed"
        gone = [h for h in world.humans if h.left]
        await self.record({"kind": "world_end", "reason": reason, "result": _jsonable(world.result),
                           "left": [h.worker_id for h in gone]}, world_id=world.id)
        for h in world.humans:
            outcome = DISCONNECTED if h.left else (PARTNER_LEFT if gone or reason != "completed" else COMPLETED)
            try:
                await self._add_time(h)
            except Exception:  # the time is not counted; the worker still gets their outcome
                log.exception("live: recording the daily time of %s failed", h.worker_id)
            await self._finish(h, outcome)
        if reason == "completed" and not gone:
            self.completed.add(world.id)
        self.worlds.pop(world.id, None)
        self._wake.set()

    async def _add_time(self, agent: HumanAgent) -> None:
        if not self.task.daily_cap_seconds or "daily" not in self.quals:
            return
        spent = time.monotonic() - getattr(agent, "world_started", time.monotonic())
        value = await asyncio.to_thread(mturk.score, self.client, self.quals["daily"], agent.worker_id)
        total = mturk.seconds_today(value) + spent
        await asyncio.to_thread(mturk.grant, self.client, self.quals["daily"], agent.worker_id, mturk.daily_value(total))

    async def _finish(self, agent: HumanAgent, outcome: str) -> None:
        """Decide the assignment: its outcome, whether it may submit (and is paid), and what the page says."""
        if agent.outcome is not None:
            return
        agent.outcome = outcome
        pays = self.task.policy.pays(outcome, agent.messages_sent)
        self.pays[agent.assignment_id] = pays
        text = OUTCOME_TEXT.get(outcome, "This task has ended.")
        if outcome != COMPLETED:
            text += (" You can submit the HIT below and will be paid." if pays else
                     " Please return the HIT (the Return button above); it will not count against you.")
        status = "released" if outcome in (WAITING_TIMEOUT, DAILY_CAP, DUPLICATE, ONBOARDING_FAILED) else "done"
        if agent.left:
            status = "left"
        await self.set_state(agent, text, status=status, outcome=outcome, can_submit=pays,
                             submit_fields={"outcome": outcome, "messages": str(agent.messages_sent)})
        if outcome != COMPLETED:
            self.hits_wanted += 1  # someone else takes this place (bounded by max_hits)
            if self.create_hits and len(self.completed) < self.conversations:
                try:
                    await self._ensure_hits()
                except Exception:
                    log.exception("live: creating a replacement HIT failed")

    # ------------------------------------------------------------ payments

    async def _settle_once(self) -> None:
        async with self._pay_lock:  # the background payer and the final settling never overlap
            await self._settle_unlocked()

    async def _settle_unlocked(self) -> None:
        bonus = self.task.policy.bonus_completed
        for aid, pays in list(self.pays.items()):
            if aid in self.settled:
                continue
            agent = self.agents.get(aid)
            reason = OUTCOME_TEXT.get(agent.outcome or "", "") if agent else ""
            status = await asyncio.to_thread(
                mturk.settle, self.client, aid, pays, reason=reason or "Live task",
                bonus=bonus if agent is not None and agent.outcome == COMPLETED else None,
                worker_id=agent.worker_id if agent else None)
            if status in ("Approved", "Rejected"):
                self.settled[aid] = status

    async def _payer(self) -> None:
        while True:
            await asyncio.sleep(self.poll_seconds)
            try:
                await self._settle_once()
            except Exception:  # a failed call is tried again on the next round
                log.exception("live: paying failed; trying again")

    async def _settle_all(self, reader: asyncio.Task) -> None:
        """Pay as workers submit, until every paid outcome is settled or `settle_timeout` passes."""
        deadline = time.monotonic() + self.settle_timeout
        while True:
            try:
                await self._settle_once()
            except Exception:  # tried again on the next round
                log.exception("live: paying failed; trying again")
            open_ = [aid for aid, pays in self.pays.items() if pays and aid not in self.settled]
            if not open_ or time.monotonic() >= deadline:
                return
            await asyncio.sleep(self.poll_seconds)


def _jsonable(value: Any) -> Any:
    import orjson

    try:
        orjson.dumps(value)
        return value
    except TypeError:
        return repr(value)
