"""Opening a project's ledger (SQLite, WAL, migrated to the newest schema) and small shared reads and writes."""

from __future__ import annotations

import json
import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, insert

from hitkit.requester.ledger.tables import events

MIGRATIONS = Path(__file__).with_name("migrations")


def open_ledger(path: Path) -> Engine:
    """The ledger at `path` (created and migrated as needed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")  # a written intent survives a power cut, not just a kill -9
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn) -> None:  # type: ignore[no-untyped-def]
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        conn.commit()
    return engine


def record_event(conn: Connection, kind: str, **detail: object) -> None:
    conn.execute(insert(events).values(time=time.time(), kind=kind, detail=json.dumps(detail, default=str)))
