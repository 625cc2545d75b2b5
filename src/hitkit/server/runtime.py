"""What every route shares: the engine, configuration, clock, the MTurk service, and how to run database work.

On SQLite, database work runs directly on the event loop: one writer at a time is all SQLite allows anyway, and
a thread hop per call would cost more CPU than the call (reference/performance.md). On PostgreSQL it runs in
worker threads so one slow transaction does not stall the loop.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, TypeVar

import anyio.to_thread
from sqlalchemy import Connection, Engine

from hitkit.server.api.dispatch import MTurkService
from hitkit.server.clock import Clock
from hitkit.server.config import ServerConfig
from hitkit.server.store.db import is_sqlite

T = TypeVar("T")


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

    async def run(self, fn: Callable[[], T]) -> T:
        """Run blocking database work the right way for this database."""
        if self.inline:
            return fn()
        return await anyio.to_thread.run_sync(fn)

    async def transaction(self, fn: Callable[[Connection], T], *, read_only: bool = False) -> T:
        return await self.run(lambda: self.service.in_transaction(fn, read_only=read_only))
