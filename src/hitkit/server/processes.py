"""Several server processes on one port (`hitkit server run --workers N`).

uvicorn's supervisor starts N processes that share the listening socket and restarts any that dies. Each process
builds its own app with `app_from_environment`, from the data directory and settings the parent put in the
environment. Everything that must agree between processes lives in the database (row-level races, the money
ledger, sessions, login limits, the clock offset, the fee schedule); one process at a time runs the sweeper and
notification delivery, under a lease (domain/leases.py). Live rooms relay across processes through Redis when
`HITKIT_REDIS_URL` is set.
"""

from __future__ import annotations

import os

from hitkit.server.config import load_config

DATA_DIR_ENV = "HITKIT_DATA_DIR"
CLOCK_CONTROL_ENV = "HITKIT_ALLOW_CLOCK_CONTROL"


def app_from_environment():  # type: ignore[no-untyped-def]
    """The hitkit app for the data directory in HITKIT_DATA_DIR (uvicorn calls this in each worker process)."""
    from hitkit.server.app import create_app

    cfg = load_config(os.environ.get(DATA_DIR_ENV))
    cfg.allow_clock_control = os.environ.get(CLOCK_CONTROL_ENV) == "1"
    return create_app(cfg)
