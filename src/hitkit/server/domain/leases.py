"""Leases: one holder at a time for work that every server process could do but only one should (the sweeper and
notification delivery), across processes and hosts, kept in the `settings` table.

A lease is `{"holder": ..., "until": epoch seconds}` under the key `lease:<name>`. Taking it succeeds when it is
free, expired or already the caller's; the holder renews it on each pass, and when the holder dies (kill -9, a lost
host) another process takes it after `ttl` seconds. Lease times are wall-clock (time.time()), not the injected
marketplace clock, which tests move by hours.
"""

from __future__ import annotations

import json

from sqlalchemy import Connection, insert, select, update

from hitkit.server.store.tables import settings


def take_lease(conn: Connection, name: str, holder: str, now: float, ttl: float) -> bool:
    """Take or renew lease `name` for `holder` until now + ttl; False when another holder's lease is current.
    Run inside a write transaction (a lost race on the insert raises IntegrityError, which the caller retries)."""
    key = f"lease:{name}"
    q = select(settings.c.value).where(settings.c.key == key)
    if conn.dialect.name == "postgresql":
        q = q.with_for_update()
    raw = conn.execute(q).scalar()
    value = json.dumps({"holder": holder, "until": now + ttl})
    if raw is None:
        conn.execute(insert(settings).values(key=key, value=value))
        return True
    try:
        current = json.loads(raw)
        held_by_other = current.get("holder") != holder and float(current.get("until", 0)) > now
    except (ValueError, TypeError, AttributeError):
        held_by_other = False  # an unreadable lease is a free one
    if held_by_other:
        return False
    conn.execute(update(settings).where(settings.c.key == key).values(value=value))
    return True


def lease_holder(conn: Connection, name: str, now: float) -> str | None:
    """Who holds lease `name` now (None when it is free or expired)."""
    raw = conn.execute(select(settings.c.value).where(settings.c.key == f"lease:{name}")).scalar()
    try:
        current = json.loads(raw) if raw else {}
        return current["holder"] if float(current.get("until", 0)) > now else None
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
