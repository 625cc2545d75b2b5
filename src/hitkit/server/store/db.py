"""Engine set-up and migrations.

SQLite runs in WAL mode with `BEGIN IMMEDIATE` transactions, so the writer lock is taken up front and two
processes never deadlock upgrading a read lock; PostgreSQL uses row locks (`SELECT ... FOR UPDATE`).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event

MIGRATIONS = Path(__file__).with_name("migrations")
DB_THREADS = 15  # threads that run request work on PostgreSQL, each with a pooled connection of its own


def make_engine(url: str) -> Engine:
    """An engine for `url` with hitkit's connection settings. `hide_parameters`: bound values (secret access keys,
    codes, answers) never appear in SQLAlchemy's statement log or in the text of its errors, which the server logs."""
    if url.startswith("sqlite"):
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=8, max_overflow=8,
                               hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn) -> None:  # type: ignore[no-untyped-def]
            read_only = conn.get_execution_options().get("hitkit_read_only")
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    # A steady pool: opening a PostgreSQL connection forks a backend (milliseconds), so connections are kept rather
    # than made and dropped per burst. Request work runs on at most DB_THREADS threads (Runtime), one pooled
    # connection each; the 3 overflow connections (closed on return) serve the sweeper and the odd caller outside
    # them. 18 per process keeps four processes (and a few tools) inside PostgreSQL's default max_connections of 100.
    # No pre-ping: it costs a round trip per transaction (about a tenth of a worker's accept on this machine); a
    # connection the database dropped fails its first statement instead, which invalidates the pool and is run again
    # on a fresh connection (dispatch._retryable, queries.Prepared).
    return create_engine(url, pool_size=DB_THREADS, max_overflow=3, pool_timeout=60, hide_parameters=True)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest schema."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        conn.commit()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
