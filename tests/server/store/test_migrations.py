"""The migrations build exactly the schema `tables.py` describes (on SQLite, and on PostgreSQL when CI runs
tests/server there), so a database made by `hitkit server init` and one made from the metadata never differ."""

from __future__ import annotations

import tempfile
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from hitkit.server.store import db
from hitkit.server.store.tables import metadata
from tests.support.server import drop_database, fresh_database_url


def test_migrations_reach_the_schema_of_tables_py():
    with tempfile.TemporaryDirectory() as folder:
        url = fresh_database_url(Path(folder))
        engine = db.make_engine(url)
        try:
            db.upgrade(engine)
            assert db.current_revision(engine) == db.head_revision()
            with engine.connect() as conn:
                differences = compare_metadata(MigrationContext.configure(conn), metadata)
        finally:
            engine.dispose()
            drop_database(url)
    assert differences == []
