"""The live sessions of one server process: a requester process per run and workers' browsers per assignment.

What happens here, in order for each connection: a frame is checked (bad ones get an error frame), its effect
is queued to the database (`LiveWriter`), and only once committed is it forwarded (`Pipeline` keeps each
connection's frames in order while later frames are already being read). Disconnects start a grace period
(`grace_seconds`): a worker who comes back within it rejoins with its history, else the requester hears
`worker_left`. A requester process that goes away is announced to its workers at once (`requester_gone`), and
its return (`requester_back`) too. Heartbeats: any frame counts; a connection silent for `heartbeat_timeout`
seconds is closed, which starts the same disconnect path.

Several processes (`HITKIT_REDIS_URL` set: `RedisRelay`): a run's requester and its workers may be connected to
different processes. The database stays the source of truth and what each process caches is kept honest so:
- presence (is the requester here? is this worker?) is asked of the relay (`present`), which answers across
  processes: a worker's or requester's disconnect is only announced when no other process holds the key (a
  reconnect elsewhere is not a departure), and a grace period that ends re-checks presence and the agent's status
  in the database before declaring `worker_left`;
- the requester's process owns the agents of its run (it changes them): it trusts its cache, loads the agent from
  the database when `worker_joined`/`worker_reconnected` comes from another process, and hears
  `worker_disconnected`/`worker_left` from them (`_remote_frame`); a worker's process reads the agent from the
  database when the worker joins and follows the `state` frames it forwards to that worker;
- whether the requester is connected is remembered per run from the same frames (`requester_gone`,
  `requester_back`, `state`), and the run's config is read again from the database when the requester comes back;
- `requester_gone` goes to every agent of the run in the database, wherever its worker is connected;
- a process killed outright says nothing: every other second each process asks the relay (`vanished`) whether
  the requesters of its workers, or the workers of its requesters, were held by a process that died, and
  announces those as disconnects (within about ALIVE_SECONDS + 2 s; redis_relay.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import deque
from typing import Any, Awaitable, Callable

from starlette.websockets import WebSocket, WebSocketDisconnect

from hitkit.server.live import store
from hitkit.server.live.protocol import (
    WORKER_STATUSES, FrameError, error_frame, object_of, optional_id, parse, required_id, text_of,
    world_message, worker_message,
)
from hitkit.server.live.relay import MAX_QUEUED_REQUESTER, Conn, InProcessRelay, Relay, requester_key, worker_key
from hitkit.server.live.store import AgentRow, LiveWriter
from hitkit.server.runtime import Runtime

log = logging.getLogger("hitkit.live")

DEFAULT_CONFIG: dict[str, Any] = {
    "grace_seconds": 30.0, "heartbeat_timeout": 60.0, "title": "Live task", "description": "",
    "refuse_mobile": False,
}
LIMITS = {"grace_seconds": (0.0, 3600.0), "heartbeat_timeout": (1.0, 3600.0)}
HELLO_SECONDS = 30.0
ENDED = ("done", "released", "left")


def clean_config(raw: Any) -> dict:
    """The run's settings from the requester's hello, with defaults and limits; unknown keys are dropped."""
    config = dict(DEFAULT_CONFIG)
    if not isinstance(raw, dict):
        return config
    for key, (low, high) in LIMITS.items():
        value = raw.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            config[key] = min(max(float(value), low), high)
    for key in ("title", "description"):
        if isinstance(raw.get(key), str):
            config[key] = raw[key][:2000]
    config["refuse_mobile"] = bool(raw.get("refuse_mobile", False))
    return config


class Pipeline:
    """Runs actions in order, each after its database write has committed."""

    def __init__(self) -> None:
        self._queue: deque[tuple[asyncio.Future | None, Callable[[], None]]] = deque()
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._loop())

    def after(self, future: asyncio.Future | None, action: Callable[[], None]) -> None:
        self._queue.append((future, action))
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                future, action = self._queue.popleft()
                if future is not None:
                    try:
                        await future
                    except Exception:  # not stored: not forwarded either (the writer logged it)
                        continue
                try:
                    action()
                except Exception:
                    log.exception("live: forwarding failed")

    async def close(self, limit: float = 10.0) -> None:
        """Finish what is queued (for at most `limit` seconds: a database that stopped answering), then stop."""
        deadline = asyncio.get_running_loop().time() + limit
        while self._queue and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.005)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class LiveHub:
    """Everything live in this server process."""

    def __init__(self, runtime: Runtime, relay: Relay | None = None) -> None:
        self.runtime = runtime
        self.relay: Relay = relay or InProcessRelay()
        self.writer = LiveWriter(runtime)
        self.configs: dict[str, dict] = {}
        self.owners: dict[str, str] = {}
        self.agents: dict[str, AgentRow] = {}
        self.grace: dict[str, asyncio.Task] = {}
        self.requester_elsewhere: dict[str, bool] = {}  # run -> its requester is connected to another process
        self._watchdog: asyncio.Task | None = None
        self.relay.on_remote = self._remote_frame

    # ------------------------------------------------------------ shared

    def _start_watchdog(self) -> None:
        if self._watchdog is None or self._watchdog.done():
            self._watchdog = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        """Close connections that sent nothing (not even a ping) for the run's heartbeat_timeout; every other
        second, announce peers whose server process died (`_announce_vanished`)."""
        tick = 0
        while True:
            await asyncio.sleep(1.0)
            tick += 1
            if self.relay.distributed and tick % 2 == 0:
                try:
                    await self._announce_vanished()
                except Exception:
                    log.exception("live: looking for connections of processes that died")
            now = time.monotonic()
            for conn in self.relay.connections():
                run_id = getattr(conn, "run_id", None)
                timeout = self.configs.get(run_id or "", DEFAULT_CONFIG)["heartbeat_timeout"]
                if not conn.closed and now - conn.last_seen > timeout:
                    conn.send(error_frame("heartbeat_timeout", f"Nothing was heard from you for {timeout:g} s; "
                                          "reconnect to continue."))
                    conn.close(4008, "heartbeat timeout")

    async def _announce_vanished(self) -> None:
        """A server process killed outright (SIGKILL, a host gone) cannot say its connections went. Ask the relay
        which requesters of the workers here, and which workers of the requesters here, were held by a process that
        died, and announce them as if they had disconnected: `requester_gone` to every worker of the run,
        `worker_disconnected` (then the grace period) to the requester."""
        mine = self.relay.connections()
        worker_runs = {getattr(c, "run_id", None) for c in mine if c.key.startswith("worker:")}
        requester_runs = {getattr(c, "run_id", None) for c in mine if c.key.startswith("requester:")}
        runs = [r for r in worker_runs if r and self.requester_elsewhere.get(r)]
        agents = [a for a in list(self.agents.values()) if a.run_id in requester_runs and a.connected
                  and self.relay.local(worker_key(a.assignment_id)) is None]
        keys = [requester_key(r) for r in runs] + [worker_key(a.assignment_id) for a in agents]
        gone = await self.relay.vanished(keys) if keys else set()
        for run_id in runs:
            if requester_key(run_id) in gone:
                log.warning("live: the server process holding the requester of %s died; telling its workers", run_id)
                await self._requester_gone(run_id)
        for agent in agents:
            if worker_key(agent.assignment_id) in gone:
                log.warning("live: the server process holding %s died; telling its requester", agent.assignment_id)
                await self._worker_gone(agent.run_id, agent)

    async def run_config(self, run_id: str, fresh: bool = False) -> dict | None:
        if fresh or run_id not in self.configs:
            run = await self.runtime.transaction(lambda conn: store.get_run(conn, run_id), read_only=True)
            if run is None:
                return None
            self.configs[run_id] = clean_config(store.loads(run.config))
            self.owners[run_id] = run.requester_id
        return self.configs[run_id]

    def requester_here(self, run_id: str) -> bool:
        return self.relay.local(requester_key(run_id)) is not None or self.requester_elsewhere.get(run_id, False)

    async def _claim(self, key: str, conn: Conn) -> bool:
        """Hold `key` across processes (after `relay.attach`); False (and `conn` closed) when the relay is down."""
        try:
            await self.relay.claim(key, conn)
            return True
        except Exception as e:
            self.relay.detach(key, conn)
            conn.send(error_frame("relay_unavailable", str(e) or "The live relay is not reachable."))
            await conn.aclose(4503, "relay unavailable")
            return False

    async def _remote_frame(self, key: str, frame: dict) -> None:
        """A frame from another process, before it goes to its connection here: keep this process's cache right."""
        kind = frame.get("type")
        if key.startswith("worker:"):
            agent = self.agents.get(key.split(":", 1)[1])
            if agent is None:
                return
            if kind == "state":
                agent.status, agent.world_id, agent.outcome = frame.get("status"), frame.get("world_id"), frame.get("outcome")
                agent.state = {k: v for k, v in frame.items()
                               if k not in ("type", "status", "world_id", "outcome", "requester_connected")}
                self.requester_elsewhere[agent.run_id] = bool(frame.get("requester_connected"))
            elif kind == "requester_gone":
                self.requester_elsewhere[agent.run_id] = False
            elif kind == "requester_back":
                self.requester_elsewhere[agent.run_id] = True
                await self.run_config(agent.run_id, fresh=True)
        elif key.startswith("requester:"):
            run_id, aid = key.split(":", 1)[1], frame.get("assignment_id")
            if not isinstance(aid, str):
                return
            agent = self.agents.get(aid)
            if kind in ("worker_joined", "worker_reconnected"):
                if agent is None:
                    agent = await self.runtime.transaction(lambda c: store.get_agent(c, aid), read_only=True)
                    if agent is None or agent.run_id != run_id:
                        return
                    self.agents[aid] = agent
                agent.connected = True
            elif agent is not None and kind == "worker_disconnected":
                agent.connected = False
            elif agent is not None and kind == "worker_left":
                agent.connected, agent.status = False, "left"

    @staticmethod
    async def _receive(ws: WebSocket) -> str | bytes | None:
        """The next frame's data; None when the socket closed."""
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return None
        return message.get("text") if message.get("text") is not None else (message.get("bytes") or b"")

    async def _serve(self, ws: WebSocket, key: str, conn: Conn, pipe: Pipeline, handle: Callable[[dict], None],
                     gone: Callable[[], Awaitable[None]]) -> None:
        """Read `ws` until it closes, passing each frame to `handle` (bad frames get an error frame); then let the
        key go, and call `gone` when no process holds it any more."""
        try:
            while True:
                raw = await self._receive(ws)
                if raw is None:
                    break
                conn.last_seen = time.monotonic()
                try:
                    handle(parse(raw))
                except FrameError as e:
                    conn.send(error_frame(e.code, e.message))
        except WebSocketDisconnect:
            pass
        finally:
            self.relay.detach(key, conn)
            await self.relay.release(key, conn)
            await pipe.close()
            await conn.drain()
            if self.relay.local(key) is None and not await self.relay.present(key):
                await gone()

    # ------------------------------------------------------------ the requester's process

    async def requester_session(self, ws: WebSocket, run_id: str, requester_id: str) -> None:
        self._start_watchdog()
        key = requester_key(run_id)
        conn = Conn(ws, key, MAX_QUEUED_REQUESTER)
        conn.run_id = run_id  # type: ignore[attr-defined]
        try:
            raw = await asyncio.wait_for(self._receive(ws), HELLO_SECONDS)
            hello = parse(raw)
            if hello["type"] != "hello":
                raise FrameError("hello_expected", "The first frame must be {\"type\": \"hello\", ...}.")
        except (asyncio.TimeoutError, WebSocketDisconnect):
            await conn.aclose(4000, "no hello")
            return
        except FrameError as e:
            conn.send(error_frame(e.code, e.message))
            await conn.aclose(4400, e.code)
            return
        config = clean_config(hello.get("config"))
        name = hello.get("name") if isinstance(hello.get("name"), str) else run_id
        name = "".join(c for c in name if c >= " ")[:128] or run_id
        now = self.runtime.clock.now()
        created, refusal = await self.runtime.transaction(
            lambda c: store.open_run(c, run_id, requester_id, name or run_id, config, now))
        if refusal:
            conn.send(error_frame("run_not_yours", refusal))
            await conn.aclose(4403, "run not yours")
            return
        self.configs[run_id] = config
        self.owners[run_id] = requester_id
        old = self.relay.attach(key, conn)
        if old is not None:
            old.send(error_frame("replaced", "Another connection took over this run."))
            old.close(4000, "replaced")
        if not await self._claim(key, conn):
            await self._requester_gone(run_id)
            return
        agents = await self.runtime.transaction(lambda c: store.agents_of_run(c, run_id), read_only=True)
        connected = await self.relay.present_many([worker_key(a.assignment_id) for a in agents])
        for agent in agents:
            cached = self.agents.get(agent.assignment_id)
            agent.connected = worker_key(agent.assignment_id) in connected
            if cached is not None:
                cached.status, cached.world_id, cached.outcome, cached.state = agent.status, agent.world_id, agent.outcome, agent.state
            self.agents.setdefault(agent.assignment_id, agent)
        conn.send({"type": "welcome", "run_id": run_id, "created": created, "config": config,
                   "agents": [a.public() for a in agents]})
        pipe = Pipeline()
        pipe.after(self.writer.event(run_id, "event", {"event": "requester_connected"}), lambda: None)
        for agent in agents:
            self.relay.deliver(worker_key(agent.assignment_id), {"type": "requester_back"})
        await self._serve(ws, key, conn, pipe, lambda frame: self._requester_frame(run_id, conn, pipe, frame),
                          lambda: self._requester_gone(run_id))

    async def _requester_gone(self, run_id: str) -> None:
        try:
            await asyncio.gather(self.writer.run(run_id, requester_connected=False,
                                                 requester_seen_at=self.runtime.clock.now()),
                                 self.writer.event(run_id, "event", {"event": "requester_gone"}))
        except Exception:
            log.exception("live: recording that the requester of %s left", run_id)
        frame = {"type": "requester_gone", "message": (
            "The requester's program stopped, so this task cannot go on right now. You may wait a little for it to "
            "come back, or return the HIT (the Return button above) so it does not count against you.")}
        self.requester_elsewhere[run_id] = False
        try:  # every agent of the run (the database's list: some may have joined through another process)
            agents = await self.runtime.transaction(lambda c: store.agents_of_run(c, run_id), read_only=True)
            ids = {a.assignment_id for a in agents}
        except Exception:
            log.exception("live: listing the agents of %s", run_id)
            ids = set()
        ids |= {a.assignment_id for a in list(self.agents.values()) if a.run_id == run_id}
        for aid in ids:
            self.relay.deliver(worker_key(aid), frame)

    def _agent_in_run(self, run_id: str, frame: dict) -> AgentRow:
        aid = required_id(frame, "assignment_id")
        agent = self.agents.get(aid)
        if agent is None or agent.run_id != run_id:
            raise FrameError("unknown_assignment", f"Assignment {aid} has not joined this run.")
        return agent

    def _requester_frame(self, run_id: str, conn: Conn, pipe: Pipeline, frame: dict) -> None:
        kind = frame["type"]
        if kind == "ping":
            conn.send({"type": "pong", "t": frame.get("t")})
        elif kind == "state":
            agent = self._agent_in_run(run_id, frame)
            values: dict[str, Any] = {}
            status = frame.get("status")
            if status is not None:
                if status not in WORKER_STATUSES:
                    raise FrameError("bad_field", f"'status' must be one of {', '.join(sorted(WORKER_STATUSES))}.")
                values["status"] = agent.status = status
            if "world_id" in frame:
                values["world_id"] = agent.world_id = optional_id(frame, "world_id")
            if "outcome" in frame:
                outcome = optional_id(frame, "outcome")
                values["outcome"] = agent.outcome = outcome
            state = dict(agent.state)
            if "text" in frame:
                state["text"] = text_of(frame)
            if "can_submit" in frame:
                state["can_submit"] = bool(frame["can_submit"])
            if "task_data" in frame:
                state["task_data"] = object_of(frame, "task_data")
            if "submit_fields" in frame:
                fields = object_of(frame, "submit_fields") or {}
                state["submit_fields"] = {str(k)[:64]: str(v)[:1000] for k, v in list(fields.items())[:20]}
            values["state"] = agent.state = state
            future = self.writer.agent(agent.assignment_id, **values)
            event = {"event": "state", **{k: v for k, v in values.items() if k != "state"}, **state}
            self.writer.event(run_id, "event", event, world_id=agent.world_id, assignment_id=agent.assignment_id)
            out = {"type": "state", "status": agent.status, "world_id": agent.world_id, "outcome": agent.outcome,
                   "requester_connected": True, **state}
            pipe.after(future, lambda: self.relay.deliver(worker_key(agent.assignment_id), out))
        elif kind == "send":
            agent = self._agent_in_run(run_id, frame)
            message = world_message(frame)
            world_id = optional_id(frame, "world_id") or agent.world_id
            future = self.writer.event(run_id, "delivery", message, world_id=world_id, assignment_id=agent.assignment_id)
            out = {"type": "message", "message": message}
            pipe.after(future, lambda: self.relay.deliver(worker_key(agent.assignment_id), out))
        elif kind == "record":
            event = object_of(frame, "event")
            if event is None:
                raise FrameError("bad_field", "'event' must be a JSON object.")
            world_id = optional_id(frame, "world_id")
            aid = optional_id(frame, "assignment_id")
            future = self.writer.event(run_id, "world", event, world_id=world_id, assignment_id=aid)
            ack = frame.get("ack")
            if isinstance(ack, (int, str)):
                pipe.after(future, lambda: conn.send({"type": "ack", "ack": ack}))
            else:
                pipe.after(future, lambda: None)
        else:
            raise FrameError("unknown_type", f"Unknown frame type {kind!r}.")

    # ------------------------------------------------------------ workers' browsers

    async def worker_session(self, ws: WebSocket, run_id: str, assignment_id: str, worker_id: str, hit_id: str) -> None:
        self._start_watchdog()
        rkey = requester_key(run_id)
        requester_local = self.relay.local(rkey) is not None
        # its grace period and heartbeat, also before the requester reconnects (read again if it may have changed)
        await self.run_config(run_id, fresh=self.relay.distributed and not requester_local)
        key = worker_key(assignment_id)
        conn = Conn(ws, key)
        conn.run_id = run_id  # type: ignore[attr-defined]
        # hold the key (everywhere) before reading the agent: a `state` forwarded after this read reaches this
        # connection, and one forwarded before it is in what is read
        old = self.relay.attach(key, conn)
        if old is not None:
            old.send(error_frame("replaced", "This task was opened again in another window; this one stopped."))
            old.close(4000, "replaced")
        if not await self._claim(key, conn):
            return
        now = self.runtime.clock.now()
        try:
            agent, is_new = await self.runtime.transaction(
                lambda c: store.join_agent(c, run_id, assignment_id, worker_id, hit_id, now))
        except BaseException:
            self.relay.detach(key, conn)
            await self.relay.release(key, conn)
            await conn.aclose(1011, "not stored")
            raise
        timer = self.grace.pop(assignment_id, None)
        returning = not is_new
        if timer is not None:
            timer.cancel()
        cached = self.agents.get(assignment_id)
        if cached is not None:
            if self.relay.distributed and not requester_local:  # the requester's process changes it: the database knows
                cached.status, cached.world_id, cached.outcome, cached.state = agent.status, agent.world_id, agent.outcome, agent.state
            agent = cached
        agent.connected = True
        self.agents[assignment_id] = agent
        past = await self.runtime.transaction(lambda c: store.history(c, assignment_id), read_only=True)
        if self.relay.distributed and self.relay.local(rkey) is None:
            self.requester_elsewhere[run_id] = await self.relay.present(rkey)
        here = self.requester_here(run_id)
        conn.send({"type": "state", "status": agent.status, "world_id": agent.world_id, "outcome": agent.outcome,
                   "requester_connected": here, **agent.state})
        conn.send({"type": "history", "messages": past})
        if not here:
            conn.send({"type": "requester_gone", "message": (
                "The requester's program is not connected, so this task cannot start or go on right now. You may "
                "wait a little for it, or return the HIT (the Return button above).")})
        pipe = Pipeline()
        event = "worker_reconnected" if returning else "worker_joined"
        joined = self.writer.event(run_id, "event", {"event": event, "worker_id": worker_id},
                                   world_id=agent.world_id, assignment_id=assignment_id)
        announce = {"type": event, "assignment_id": assignment_id, "worker_id": worker_id, "hit_id": hit_id,
                    "status": agent.status, "world_id": agent.world_id}
        pipe.after(joined, lambda: self.relay.deliver(requester_key(run_id), announce))
        await self._serve(ws, key, conn, pipe, lambda frame: self._worker_frame(run_id, agent, conn, pipe, frame),
                          lambda: self._worker_gone(run_id, agent))

    def _worker_frame(self, run_id: str, agent: AgentRow, conn: Conn, pipe: Pipeline, frame: dict) -> None:
        kind = frame["type"]
        if kind == "ping":
            conn.send({"type": "pong", "t": frame.get("t")})
        elif kind == "message":
            message = worker_message(frame)
            if agent.status not in ("in_world", "onboarding"):
                raise FrameError("not_now", "You cannot send messages now: " + (
                    "you are waiting for a partner." if agent.status in ("joined", "waiting") else "this task has ended."))
            if not self.requester_here(run_id):
                raise FrameError("requester_gone", "The requester's program is not connected; your message was not sent.")
            world_id = agent.world_id
            future = self.writer.event(run_id, "message", message, world_id=world_id, assignment_id=agent.assignment_id)
            out = {"type": "worker_message", "assignment_id": agent.assignment_id, "world_id": world_id,
                   "message": message, "t": frame.get("t")}
            pipe.after(future, lambda: self.relay.deliver(requester_key(run_id), out))
        else:
            raise FrameError("unknown_type", f"Unknown frame type {kind!r}.")

    async def _worker_gone(self, run_id: str, agent: AgentRow) -> None:
        agent.connected = False
        aid = agent.assignment_id
        try:
            await asyncio.gather(
                self.writer.agent(aid, connected=False),
                self.writer.event(run_id, "event", {"event": "worker_disconnected"}, world_id=agent.world_id, assignment_id=aid))
        except Exception:
            log.exception("live: recording a disconnect of %s", aid)
        self.relay.deliver(requester_key(run_id), {"type": "worker_disconnected", "assignment_id": aid,
                                                    "status": agent.status})
        if agent.status in ENDED:
            if agent.outcome is not None and self.agents.get(aid) is agent:
                del self.agents[aid]  # decided and gone: the database keeps it (a reconnect or welcome reloads it)
            return
        grace = (self.configs.get(run_id) or DEFAULT_CONFIG)["grace_seconds"]
        self.grace[aid] = asyncio.get_running_loop().create_task(self._grace_expiry(run_id, agent, grace))

    async def _grace_expiry(self, run_id: str, agent: AgentRow, grace: float) -> None:
        await asyncio.sleep(grace)
        aid = agent.assignment_id
        if self.grace.get(aid) is not asyncio.current_task():
            return
        del self.grace[aid]
        if agent.connected or agent.status in ENDED:
            return
        if self.relay.distributed:  # back through another process, or decided there: ask the relay and the database
            if await self.relay.present(worker_key(aid)):
                return
            try:
                row = await self.runtime.transaction(lambda c: store.get_agent(c, aid), read_only=True)
            except Exception:
                log.exception("live: reading %s at the end of its grace period", aid)
                row = None
            if row is not None and row.status in ENDED:
                agent.status = row.status
                return
        previous = agent.status
        agent.status = "left"
        try:
            await asyncio.gather(
                self.writer.agent(aid, status="left"),
                self.writer.event(run_id, "event", {"event": "worker_left", "after_status": previous},
                                  world_id=agent.world_id, assignment_id=aid))
        except Exception:
            log.exception("live: recording that %s left", aid)
        self.relay.deliver(requester_key(run_id), {"type": "worker_left", "assignment_id": aid, "status": previous,
                                                    "world_id": agent.world_id})


def hub_for(app: Any) -> LiveHub:
    """The app's hub, made on first use (inside the running event loop)."""
    hub = getattr(app.state, "live_hub", None)
    if hub is None:
        relay: Relay | None = None
        url = os.environ.get("HITKIT_REDIS_URL", "").strip()
        if url:  # several server processes: frames and presence cross them through Redis
            from hitkit.server.live.redis_relay import RedisRelay

            relay = RedisRelay(url, prefix=os.environ.get("HITKIT_REDIS_PREFIX", "hitkit:live"))
        hub = app.state.live_hub = LiveHub(app.state.runtime, relay)
    return hub
