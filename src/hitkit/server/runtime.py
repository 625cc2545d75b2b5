"""What every route shares: the engine, configuration, clock, the MTurk service, and how to run database work.

On SQLite, database work runs directly on the event loop: one writer at a time is all SQLite allows anyway, and
a thread hop per call would cost more CPU than the call (reference/performance.md). On PostgreSQL it runs in
worker threads so one slow transaction does not stall the loop: at most `db.DB_THREADS` of them, as many as the pool
keeps connections. More threads than connections only queue inside the pool, and the hand-offs between them cost
the server about a quarter of its CPU per accepted-and-submitted assignment under load (benchmarks/load.py).

On SQLite, `transaction` also keeps its connections: one for writing transactions (BEGIN IMMEDIATE) and one for
reading ones, checked out of the pool once instead of for every request. Checking a connection out and back in
(and the pool's reset) cost about as much CPU as a worker's whole accept. Work runs on the event loop one
transaction at a time, so a connection is never shared by two transactions.
"""

from __future__ import annotations

import os
import time
import weakref
from dataclasses import dataclass, field
from typing import Callable, TypeVar

import anyio
import anyio.to_thread
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from hitkit.server.api.dispatch import MTurkService, _retryable
from hitkit.server.clock import Clock
from hitkit.server.config import ServerConfig
from hitkit.server.store.db import DB_THREADS, is_sqlite

T = TypeVar("T")
ATTEMPTS = 4  # as MTurkService.in_transaction


@dataclass
class Runtime:
    engine: Engine
    config: ServerConfig
    clock: Clock
    service: MTurkService = field(init=False)

    def __post_init__(self) -> None:
        self.service = MTurkService(self.engine, self.config, self.clock)
        mode = os.environ.get("HITKIT_DB_EXECUTION", "auto")
        self.inline = mode == "inline" or (mode == "auto" and is_sqlite(self.engine))
        self._hold = self.inline and is_sqlite(self.engine)
        self._held: dict[bool, Connection] = {}  # read_only -> connection
        self._threads = anyio.CapacityLimiter(DB_THREADS)
        weakref.finalize(self, _close_all, self._held)

    async def run(self, fn: Callable[[], T]) -> T:
        """Run blocking database work the right way for this database."""
        if self.inline:
            return fn()
        return await anyio.to_thread.run_sync(fn, limiter=self._threads)

    async def transaction(self, fn: Callable[[Connection], T], *, read_only: bool = False) -> T:
        """Run fn(conn) in one transaction (SQLite: BEGIN IMMEDIATE unless read-only). A lost race (unique key,
        serialization failure, deadlock, busy SQLite) runs the whole of fn again, as MTurkService.in_transaction."""
        if self._hold:
            return self._held_transaction(fn, read_only)
        return await self.run(lambda: self.service.in_transaction(fn, read_only=read_only))

    async def read(self, fn: Callable[[Connection], T]) -> T:
        """Run fn(conn) for reading work that needs no transaction because each of its reads stands alone (one
        SELECT is consistent by itself). On SQLite the held reading connection runs it without a BEGIN/COMMIT
        round (statements that go through SQLAlchemy still begin a transaction, which is ended afterwards);
        elsewhere it is `transaction(fn, read_only=True)`."""
        if not self._hold:
            return await self.transaction(fn, read_only=True)
        conn = self._held.get(True) or self._connect(True)
        try:
            return fn(conn)
        except DBAPIError:
            self._drop(True, conn)
            raise
        finally:
            if conn.in_transaction():
                conn.rollback()  # nothing to keep: it only read

    def _connect(self, read_only: bool) -> Connection:
        conn = self.engine.connect()
        if read_only:
            conn.execution_options(hitkit_read_only=True)
        self._held[read_only] = conn
        return conn

    def _drop(self, read_only: bool, conn: Connection) -> None:
        """Forget a held connection after a database error: a fresh one next time, no doubt about this one's state."""
        if self._held.get(read_only) is conn:
            del self._held[read_only]
        try:
            conn.close()
        except DBAPIError:
            pass

    def _held_transaction(self, fn: Callable[[Connection], T], read_only: bool) -> T:
        for attempt in range(ATTEMPTS):
            conn = self._held.get(read_only) or self._connect(read_only)
            try:
                with conn.begin():
                    return fn(conn)
            except (IntegrityError, DBAPIError) as e:
                self._drop(read_only, conn)
                if attempt == ATTEMPTS - 1 or not _retryable(e):
                    raise
                time.sleep(0.005 * (attempt + 1))
        raise AssertionError("unreachable")


def _close_all(held: dict[bool, Connection]) -> None:
    for conn in held.values():
        conn.close()
    held.clear()
