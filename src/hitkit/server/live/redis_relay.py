"""Live relay across server processes (`hitkit server run --workers N`, several hosts) through Redis; chosen when
`HITKIT_REDIS_URL` is set (see `hub_for`). Without it the hub uses `InProcessRelay` and nothing here runs.

Design: a key -> process directory plus one channel per process, not one channel per key.

- Each process subscribes once, at start-up, to its own channel `PREFIX:p:PROCESS` and waits for Redis to confirm
  the subscription before it takes any connection. There is no SUBSCRIBE/UNSUBSCRIBE per connection, so there
  is no window in which a frame is published to a channel whose subscription is still on its way.
- Holding a key (`requester:RUN`, `worker:ASSIGNMENT`) is a directory entry `PREFIX:at:KEY = PROCESS|GEN` with a
  TTL (refreshed every TTL/3 while held, so a process that dies without cleaning up is forgotten within a TTL).
  `GEN` (from `INCR PREFIX:gen:KEY`) orders the claims of one key.
- `claim` (a Lua script, atomic) takes the next GEN, writes the entry and, if another process held the key,
  publishes `{"op": "replaced", "k": KEY, "g": GEN}` to that process: it closes its connection ("replaced") only if
  that connection's claim is older, so a quick reconnect back to it is never closed by a stale notice.
- `deliver` to a key held here goes straight to the connection. Otherwise one Lua script looks the key up and
  publishes the frame to the holder's channel in the same step (one round trip, no stale lookup in between). A
  single publisher task per process sends frames in the order `deliver` was called (pipelined), Redis keeps the
  order of one connection's publishes, and the receiving process handles its channel in order: the frames to one
  connection keep their order, as in one process.
- Each process also keeps `PREFIX:alive:PROCESS` (TTL ALIVE_SECONDS, written every ALIVE_SECONDS/4). An entry
  whose process is not alive is not held: a process killed with SIGKILL, or a host that dropped off, is noticed
  within seconds instead of at the end of the entry's TTL.
- `present(key)` (is the requester connected? is this worker?) answers from this process's connections first,
  then from the directory, counting only entries whose process is alive. `vanished(keys)` removes the entries of
  dead processes and reports each to the one caller whose call removed it, so the hub announces it once
  (`requester_gone` to the workers, `worker_disconnected` to the requester).
- Frames that arrive from another process go through the hub's `on_remote` hook before they are sent on, so the
  hub can update what it caches per process (an agent's status, whether the requester is connected, the run's
  config) from the same ordered stream the browser sees.

A Redis outage never takes the server down. When the subscription drops or frames cannot be published (or the
directory entries cannot be refreshed), it is logged, every live connection of this process gets an error frame
(`relay_unavailable`) and is closed (4503), new live connections are refused the same way until the subscription
is back (the listener retries every second), and everything else keeps serving. A single failed claim refuses only
that connection; a failed presence lookup or release is logged (an entry left behind expires with its TTL).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import Any, Awaitable, Callable
from urllib.parse import urlsplit, urlunsplit

import orjson
import redis.asyncio as aioredis

from hitkit.server.live.protocol import error_frame
from hitkit.server.live.relay import Conn, InProcessRelay

log = logging.getLogger("hitkit.live")

TTL_SECONDS = 30.0
ALIVE_SECONDS = 6.0  # a process that has not said it is alive for this long is taken for dead
MAX_PENDING = 200_000  # frames waiting to be published (Redis stopped answering)

CLAIM = """
local gen = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[3], '1', 'PX', ARGV[5])
redis.call('PEXPIRE', KEYS[2], 86400000)
local old = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. gen, 'PX', ARGV[2])
if old then
  local p = string.match(old, '^([^|]+)')
  if p ~= ARGV[1] then
    redis.call('PUBLISH', ARGV[3] .. p, cjson.encode({op = 'replaced', k = ARGV[4], g = gen}))
  end
end
return gen
"""
DELIVER = """
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local p = string.match(v, '^([^|]+)')
return redis.call('PUBLISH', ARGV[1] .. p, ARGV[2])
"""
PRESENT = """
local out = {}
for i, k in ipairs(KEYS) do
  local v = redis.call('GET', k)
  if not v then
    out[i] = 0
  elseif redis.call('EXISTS', ARGV[1] .. string.match(v, '^([^|]+)')) == 1 then
    out[i] = 1
  else
    if ARGV[2] == '1' then redis.call('DEL', k) end
    out[i] = 2
  end
end
return out
"""
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# An entry that is gone (taken for a dead process's while this one was stalled) is written again; one that another
# claim replaced is left alone.
REFRESH = """
local n = 0
for i, k in ipairs(KEYS) do
  local v = redis.call('GET', k)
  if v == ARGV[i + 1] or not v then redis.call('SET', k, ARGV[i + 1], 'PX', ARGV[1]); n = n + 1 end
end
return n
"""

REPLACED = {
    "requester": "Another connection took over this run.",
    "worker": "This task was opened again in another window; this one stopped.",
}
UNAVAILABLE = ("The live relay between server processes (Redis) is not reachable, so this connection cannot go on. "
               "Reconnect in a moment.")


def redacted(url: str) -> str:
    """The URL without its password (logs never hold secrets)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class RelayUnavailable(Exception):
    """Redis cannot be reached: the connection cannot be relayed across processes."""


class RedisRelay(InProcessRelay):
    """Connections held by this process, and frames to and from the other processes through Redis."""

    distributed = True

    def __init__(self, url: str, prefix: str = "hitkit:live", ttl: float = TTL_SECONDS) -> None:
        super().__init__()
        self.url, self.prefix, self.ttl = url, prefix.rstrip(":"), ttl
        self.shown_url = redacted(url)
        self.process_id = secrets.token_hex(8)
        self.channel = f"{self.prefix}:p:{self.process_id}"
        self.alive_key = f"{self.prefix}:alive:{self.process_id}"
        self.on_remote: Callable[[str, dict], Awaitable[None]] | None = None
        self.healthy = False
        self._pending: list[tuple[str, str]] = []
        self._wake: asyncio.Event | None = None
        self._ready: asyncio.Event | None = None
        self._tasks: list[asyncio.Task] = []
        self._redis: Any = None
        self._scripts: dict[str, Any] = {}

    # ------------------------------------------------------------ start-up

    def _start(self) -> None:
        if self._tasks:
            return
        # a bounded pool: a burst of connections (500 workers arriving at once) waits for a free Redis connection
        # instead of opening hundreds; timeouts generous enough for a busy machine, short enough to notice an outage
        pool = aioredis.BlockingConnectionPool.from_url(self.url, max_connections=32, timeout=20, decode_responses=True,
                                                       socket_connect_timeout=10, socket_timeout=30)
        self._redis = aioredis.Redis(connection_pool=pool)
        for name, body in (("claim", CLAIM), ("deliver", DELIVER), ("release", RELEASE), ("refresh", REFRESH),
                           ("present", PRESENT)):
            self._scripts[name] = self._redis.register_script(body)
        self._wake, self._ready = asyncio.Event(), asyncio.Event()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._listen()), loop.create_task(self._publish()),
                       loop.create_task(self._refresh()), loop.create_task(self._heartbeat())]

    async def ready(self, limit: float = 5.0) -> None:
        """Wait (at most `limit` s) until this process's channel is subscribed; RelayUnavailable if it is not."""
        self._start()
        assert self._ready is not None
        if not self._ready.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._ready.wait(), limit)
        if not self.healthy:
            raise RelayUnavailable(UNAVAILABLE)

    def _k(self, kind: str, key: str) -> str:
        return f"{self.prefix}:{kind}:{key}"

    # ------------------------------------------------------------ the Relay interface

    # detach, local and connections: InProcessRelay's (this process's own connections)

    def attach(self, key: str, conn: Conn) -> Conn | None:
        self._start()
        return super().attach(key, conn)

    def deliver(self, key: str, frame: dict) -> bool:
        conn = self._conns.get(key)
        if conn is not None:
            return conn.send(frame)
        if not self.healthy or self._wake is None:
            return False
        if len(self._pending) >= MAX_PENDING:
            self._fail("too many frames waiting for Redis")
            return False
        self._pending.append((key, orjson.dumps({"k": key, "f": frame}).decode()))
        self._wake.set()
        return True

    async def claim(self, key: str, conn: Conn) -> None:
        """Make `conn` the holder of `key` everywhere (after `attach`); the previous holder elsewhere is closed."""
        await self.ready()
        try:
            gen = await self._call("claim", [self._k("at", key), self._k("gen", key), self.alive_key],
                                   [self.process_id, int(self.ttl * 1000), f"{self.prefix}:p:", key,
                                    int(ALIVE_SECONDS * 1000)])
        except Exception as e:  # this connection is refused; the subscription (and its failure) decides for the rest
            log.warning("live relay: claiming %s in Redis at %s failed: %r", key, self.shown_url, e)
            raise RelayUnavailable(UNAVAILABLE) from e
        conn.claim = (int(gen), f"{self.process_id}|{gen}")  # type: ignore[attr-defined]

    async def release(self, key: str, conn: Conn) -> None:
        """Forget `conn`'s claim (after `detach`), unless a newer connection has claimed the key since."""
        claim = getattr(conn, "claim", None)
        if claim is None or not self.healthy:
            return
        try:
            await self._call("release", [self._k("at", key)], [claim[1]])
        except Exception as e:  # the entry expires with its TTL
            log.warning("live relay: releasing %s in Redis at %s failed: %r", key, self.shown_url, e)

    async def present(self, key: str) -> bool:
        """Is `key` held by a connection, here or in another process? (False when Redis cannot say.)"""
        if key in self._conns:
            return True
        return bool(await self.present_many([key]))

    async def present_many(self, keys: list[str]) -> set[str]:
        here = {k for k in keys if k in self._conns}
        rest = [k for k in keys if k not in here]
        if not rest or not self.healthy:
            return here
        return here | {k for k, state in (await self._holders(rest, reap=False)).items() if state == 1}

    async def vanished(self, keys: list[str]) -> set[str]:
        """Those of `keys` whose holder process died without letting go; their entries are removed, so each is
        reported once, to the caller whose call removed it."""
        rest = [k for k in keys if k not in self._conns]
        if not rest or not self.healthy:
            return set()
        return {k for k, state in (await self._holders(rest, reap=True)).items() if state == 2}

    async def _holders(self, keys: list[str], reap: bool) -> dict[str, int]:
        """key -> 0 (nobody holds it), 1 (a live process does), 2 (a dead process did); {} when Redis cannot say."""
        try:
            states = await self._call("present", [self._k("at", k) for k in keys],
                                      [f"{self.prefix}:alive:", "1" if reap else "0"])
        except Exception as e:
            log.warning("live relay: presence lookup in Redis at %s failed: %r", self.shown_url, e)
            return {}
        return dict(zip(keys, (int(x) for x in states)))

    async def _call(self, script: str, keys: list[str], args: list[Any]) -> Any:
        """Run a script; once more if the pooled connection died (Redis restarted). Not for `deliver`: a frame is
        never published twice."""
        try:
            return await self._scripts[script](keys=keys, args=args)
        except (aioredis.ConnectionError, aioredis.TimeoutError):
            return await self._scripts[script](keys=keys, args=args)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        self._tasks = []
        if self._redis is not None:
            with contextlib.suppress(Exception):  # the others need not wait ALIVE_SECONDS to know
                await self._redis.delete(self.alive_key)
            with contextlib.suppress(Exception):
                await self._redis.aclose()

    # ------------------------------------------------------------ background tasks

    def _fail(self, reason: str) -> None:
        """Redis failed: close every live connection of this process with an error frame (the rest keeps serving)."""
        if self.healthy or self._conns:
            log.error("live relay: Redis at %s failed (%s); closing %d live connection(s)", self.shown_url, reason,
                      len(self._conns))
        self.healthy = False
        self._pending.clear()
        for conn in list(self._conns.values()):
            conn.send(error_frame("relay_unavailable", UNAVAILABLE))
            conn.close(4503, "relay unavailable")

    async def _listen(self) -> None:
        assert self._ready is not None
        while True:
            pubsub = self._redis.pubsub()
            subscribed = False
            try:
                await pubsub.subscribe(self.channel)
                while True:
                    if subscribed and not self.healthy:  # another call failed: start again (and say so when back)
                        raise aioredis.ConnectionError("a Redis call failed")
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        subscribed = True
                        if not self.healthy:
                            log.info("live relay: subscribed to %s at %s", self.channel, self.shown_url)
                        self.healthy = True
                        self._ready.set()
                    elif message["type"] == "message":
                        await self._arrived(message["data"])
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                raise
            except Exception as e:
                self._fail(f"subscription lost: {e!r}")
                self._ready.clear()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                with contextlib.suppress(Exception):  # no connection from before the failure is used again
                    await self._redis.connection_pool.disconnect()
                await asyncio.sleep(1.0)

    async def _arrived(self, data: str) -> None:
        try:
            message = orjson.loads(data)
            key = message["k"]
        except Exception:
            log.warning("live relay: ignoring a malformed message on %s", self.channel)
            return
        if message.get("op") == "replaced":
            conn = self._conns.get(key)
            claim = getattr(conn, "claim", None)
            if conn is not None and claim is not None and claim[0] < int(message.get("g", 0)):
                conn.send(error_frame("replaced", REPLACED.get(key.split(":", 1)[0], REPLACED["worker"])))
                conn.close(4000, "replaced")
            return
        frame = message.get("f")
        if not isinstance(frame, dict) or key not in self._conns:
            return
        if self.on_remote is not None:
            try:
                await self.on_remote(key, frame)
            except Exception:
                log.exception("live relay: handling a frame for %s", key)
        conn = self._conns.get(key)
        if conn is not None:
            conn.send(frame)

    async def _publish(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch, self._pending = self._pending[:1000], self._pending[1000:]
                try:
                    pipe = self._redis.pipeline(transaction=False)
                    for key, payload in batch:
                        await self._scripts["deliver"](keys=[self._k("at", key)], args=[f"{self.prefix}:p:", payload],
                                                       client=pipe)
                    await pipe.execute()
                except Exception as e:
                    self._fail(f"publish failed: {e!r}")

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(self.ttl / 3)
            held = [(k, c) for k, c in list(self._conns.items()) if getattr(c, "claim", None)]
            if not held or not self.healthy:
                continue
            try:
                await self._call("refresh", [self._k("at", k) for k, _ in held],
                                 [int(self.ttl * 1000), *[c.claim[1] for _, c in held]])
            except Exception as e:
                self._fail(f"refresh failed: {e!r}")
                continue
            for key, conn in held:  # let go of what was released while the refresh was on its way (it rewrote it)
                if self._conns.get(key) is not conn:
                    await self.release(key, conn)

    async def _heartbeat(self) -> None:
        """Say this process is alive (a failure is the subscription's to notice and report)."""
        while True:
            with contextlib.suppress(Exception):
                await self._redis.set(self.alive_key, "1", px=int(ALIVE_SECONDS * 1000))
            await asyncio.sleep(ALIVE_SECONDS / 4)
