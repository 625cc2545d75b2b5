"""Leases (domain/leases.py): one holder at a time, renewal, takeover after expiry, an unreadable lease is free;
on SQLite and PostgreSQL."""

from __future__ import annotations

from hitkit.server.domain.leases import lease_holder, take_lease


def test_one_holder_at_a_time(server):
    with server._engine.begin() as conn:
        assert take_lease(conn, "t1", "a", 100.0, 10)
        assert not take_lease(conn, "t1", "b", 105.0, 10)  # a's lease runs to 110
        assert take_lease(conn, "t1", "a", 105.0, 10)  # renewal: now to 115
        assert not take_lease(conn, "t1", "b", 114.0, 10)
        assert lease_holder(conn, "t1", 114.0) == "a"
        assert take_lease(conn, "t1", "b", 115.5, 10)  # a died: b takes over after expiry
        assert lease_holder(conn, "t1", 116.0) == "b" and lease_holder(conn, "t1", 126.0) is None
        assert take_lease(conn, "t2", "b", 0.0, 10)  # leases are independent


def test_an_unreadable_lease_is_free(server):
    from sqlalchemy import insert

    from hitkit.server.store.tables import settings

    with server._engine.begin() as conn:
        conn.execute(insert(settings).values(key="lease:broken", value="{not json"))
        assert lease_holder(conn, "broken", 0.0) is None
        assert take_lease(conn, "broken", "a", 0.0, 10)
        assert lease_holder(conn, "broken", 1.0) == "a"
