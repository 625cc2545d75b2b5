"""Steps in a HIT's life shared by the API and the sweeper."""

from __future__ import annotations

from sqlalchemy import Connection, Row, update

from hitkit.server.domain.events import emit
from hitkit.server.domain.ledger import reconcile_hit
from hitkit.server.store.tables import hits


def dispose(conn: Connection, hit: Row, now: float, schedule: str) -> None:
    """Mark a HIT disposed, release what it still holds, and record the event."""
    conn.execute(update(hits).where(hits.c.id == hit.id).values(disposed_at=now))
    reconcile_hit(conn, hit.id, now, schedule)
    emit(conn, hit, "HITDisposed", now)
