"""The ledger's migrations build exactly the tables `ledger/tables.py` declares."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from hitkit.requester.ledger.store import open_ledger
from hitkit.requester.ledger.tables import metadata


def test_migrations_match_the_declared_tables(tmp_path: Path) -> None:
    engine = open_ledger(tmp_path / "ledger.sqlite")
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == []


def test_opening_twice_is_a_no_op(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    open_ledger(path).dispose()
    before = path.read_bytes()
    open_ledger(path).dispose()
    assert path.read_bytes() == before
