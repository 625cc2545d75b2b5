"""Rate limiting of every login form (worker site, console, admin), kept in the database so that several server
processes count the same failures.

A sign-in is refused, before any password is checked, when in the last WINDOW seconds there were
PER_USERNAME failed sign-ins for that username on that form, or PER_IP failed sign-ins from that client address
on any form. A successful sign-in clears the username's count; the address's count only ages out.
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, func, insert, select

from hitkit.server.store.tables import login_failures

WINDOW = 15 * 60
PER_USERNAME = 10
PER_IP = 50
KEEP = 86400  # failures older than this are forgotten


def _key(username: str) -> str:
    return username.strip().lower()[:64]


def login_blocked(conn: Connection, form: str, username: str, ip: str, now: float) -> bool:
    since = now - WINDOW
    by_name = conn.execute(select(func.count()).where(
        login_failures.c.username == _key(username), login_failures.c.form == form,
        login_failures.c.created_at > since)).scalar_one()
    if by_name >= PER_USERNAME:
        return True
    by_ip = conn.execute(select(func.count()).where(
        login_failures.c.ip == ip[:64], login_failures.c.created_at > since)).scalar_one()
    return by_ip >= PER_IP


def record_failure(conn: Connection, form: str, username: str, ip: str, now: float) -> None:
    conn.execute(insert(login_failures).values(form=form, username=_key(username), ip=ip[:64], created_at=now))
    conn.execute(delete(login_failures).where(login_failures.c.created_at < now - KEEP))


def clear_failures(conn: Connection, form: str, username: str) -> None:
    conn.execute(delete(login_failures).where(login_failures.c.form == form, login_failures.c.username == _key(username)))
