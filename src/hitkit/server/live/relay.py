"""Where a frame goes: the requester process of a run (`requester:RUN`) or a worker's browser
(`worker:ASSIGNMENT`). `Relay` is the small interface the hub uses; `InProcessRelay` serves one server process.
`RedisRelay` (redis_relay.py) serves several processes or hosts: frames for keys held by another process go
through Redis, and `present` answers across processes. The async half of the interface (`claim`, `release`,
`present`, `present_many`, `vanished`) is trivial here.

Each connection has its own outgoing queue and sender task, so one slow browser never holds up the others and
frames to one connection keep their order; a connection whose queue overflows is closed (it would be stale).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, Protocol

from starlette.websockets import WebSocket, WebSocketState

from hitkit.server.live.protocol import dumps

log = logging.getLogger("hitkit.live")
MAX_QUEUED = 1000  # frames waiting for a worker's browser
MAX_QUEUED_REQUESTER = 200_000  # frames waiting for a requester's process (all of its run's traffic)


class Conn:
    """One websocket: its outgoing queue, its sender task, and when it was last heard from."""

    def __init__(self, ws: WebSocket, key: str, max_queued: int = MAX_QUEUED) -> None:
        self.ws = ws
        self.key = key
        self.max_queued = max_queued
        self.last_seen = time.monotonic()
        self.closed = False
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._sender())

    def send(self, frame: dict) -> bool:
        if self.closed:
            return False
        if self._queue.qsize() >= self.max_queued:
            log.warning("live: %s is not reading; closing it", self.key)
            self.close(4009, "too slow")
            return False
        self._queue.put_nowait(dumps(frame))
        return True

    async def _sender(self) -> None:
        while True:
            text = await self._queue.get()
            if text is None:
                return
            try:
                await self.ws.send_text(text)
            except Exception:  # the peer went away: the receive loop sees it and cleans up
                self.closed = True
                return

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Send what is queued, then close (in the background)."""
        if not self.closed:
            asyncio.get_running_loop().create_task(self.aclose(code, reason))

    async def aclose(self, code: int = 1000, reason: str = "") -> None:
        """Send what is queued, then close."""
        if self.closed:
            return
        self.closed = True
        self._queue.put_nowait(None)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._task, 5)
        with contextlib.suppress(Exception):
            if self.ws.application_state != WebSocketState.DISCONNECTED:
                await self.ws.close(code, reason)

    async def drain(self) -> None:
        """Stop the sender after what is queued (the socket is closing or closed)."""
        if not self._task.done():
            self._queue.put_nowait(None)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, 5)


class Relay(Protocol):
    distributed: bool  # other processes may hold keys (the hub then reads the database where it would trust its cache)
    on_remote: Any  # async (key, frame) -> None, called before a frame from another process is sent on

    def attach(self, key: str, conn: Conn) -> Conn | None: ...
    def detach(self, key: str, conn: Conn) -> None: ...
    def local(self, key: str) -> Conn | None: ...
    def deliver(self, key: str, frame: dict) -> bool: ...
    def connections(self) -> list[Conn]: ...
    async def claim(self, key: str, conn: Conn) -> None: ...
    async def release(self, key: str, conn: Conn) -> None: ...
    async def present(self, key: str) -> bool: ...
    async def present_many(self, keys: list[str]) -> set[str]: ...
    async def vanished(self, keys: list[str]) -> set[str]: ...
    async def close(self) -> None: ...


class InProcessRelay:
    """Every connection of the run lives in this process."""

    distributed = False

    def __init__(self) -> None:
        self._conns: dict[str, Conn] = {}
        self.on_remote = None

    def attach(self, key: str, conn: Conn) -> Conn | None:
        """Hold `conn` for `key`; the connection it replaces (a reload, a restarted process), if any."""
        old = self._conns.get(key)
        self._conns[key] = conn
        return old

    def detach(self, key: str, conn: Conn) -> None:
        if self._conns.get(key) is conn:
            del self._conns[key]

    def local(self, key: str) -> Conn | None:
        return self._conns.get(key)

    def deliver(self, key: str, frame: dict) -> bool:
        conn = self._conns.get(key)
        return conn.send(frame) if conn is not None else False

    def connections(self) -> list[Conn]:
        return list(self._conns.values())

    async def claim(self, key: str, conn: Conn) -> None:
        return None

    async def release(self, key: str, conn: Conn) -> None:
        return None

    async def present(self, key: str) -> bool:
        return key in self._conns

    async def present_many(self, keys: list[str]) -> set[str]:
        return {k for k in keys if k in self._conns}

    async def vanished(self, keys: list[str]) -> set[str]:
        """Keys whose holder process died without letting go: none, when every holder is this process."""
        return set()

    async def close(self) -> None:
        return None


def requester_key(run_id: str) -> str:
    return f"requester:{run_id}"


def worker_key(assignment_id: str) -> str:
    return f"worker:{assignment_id}"
