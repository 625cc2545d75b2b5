"""Web logins of requesters (the console, `/console/`) and admins (`/admin/`): usernames with argon2id
passwords (hashed by `web_accounts.hash_password`, checked by `web_accounts.password_matches`), browser
sessions, and the account changes administration makes (activate, deactivate, top up).

Requester and admin sessions live in their own table, apart from workers' `web_sessions`, so a session of one
kind can never open the pages of another. Session ids are stored only as SHA-256 hashes.
"""

from __future__ import annotations

import calendar
import hashlib
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from hitkit.server.domain.accounts import AccountError, add_access_key
from hitkit.server.domain.web_accounts import check_username_rules
from hitkit.server.store.tables import access_keys, admins, requesters, staff_logins, staff_sessions, web_sessions, workers

ROLES = ("requester", "admin")
STAFF_SESSION_SECONDS = 12 * 3600
MAX_ACTIVE_KEYS = 10


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _subject_exists(conn: Connection, role: str, subject_id: str) -> bool:
    table = requesters if role == "requester" else admins
    return conn.execute(select(table.c.id).where(table.c.id == subject_id)).first() is not None


def set_staff_login(conn: Connection, role: str, subject_id: str, username: str, password_hash: str, now: float) -> str:
    """Give a requester or admin a login, or change it; their other sessions end. Returns the stored username."""
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}")
    if not _subject_exists(conn, role, subject_id):
        raise AccountError(f"No {role} has the id {subject_id!r}.")
    stored = check_username_rules(username)
    taken = conn.execute(select(staff_logins.c.subject_id).where(
        staff_logins.c.role == role, staff_logins.c.username == stored)).scalar()
    if taken is not None and taken != subject_id:
        raise AccountError(f"The username {username!r} is taken; choose another.")
    key = (staff_logins.c.role == role) & (staff_logins.c.subject_id == subject_id)
    if conn.execute(select(staff_logins.c.username).where(key)).first():
        conn.execute(update(staff_logins).where(key).values(username=stored, password_hash=password_hash))
    else:
        conn.execute(insert(staff_logins).values(role=role, subject_id=subject_id, username=stored,
                                                 password_hash=password_hash, created_at=now))
    end_sessions_of(conn, role, subject_id)
    return stored


@dataclass(frozen=True)
class StaffLogin:
    subject_id: str
    password_hash: str
    active: bool


def staff_login_record(conn: Connection, role: str, username: str) -> StaffLogin | None:
    row = conn.execute(select(staff_logins.c.subject_id, staff_logins.c.password_hash).where(
        staff_logins.c.role == role, staff_logins.c.username == username.strip().lower())).first()
    if row is None:
        return None
    active = True
    if role == "requester":
        active = bool(conn.execute(select(requesters.c.active).where(requesters.c.id == row.subject_id)).scalar())
    return StaffLogin(row.subject_id, row.password_hash, active)


def login_username(conn: Connection, role: str, subject_id: str) -> str | None:
    return conn.execute(select(staff_logins.c.username).where(
        staff_logins.c.role == role, staff_logins.c.subject_id == subject_id)).scalar()


# ---------------------------------------------------------------- sessions


@dataclass(frozen=True)
class StaffSession:
    session_hash: str
    role: str
    subject_id: str
    name: str  # the requester's or admin's name
    username: str


def start_staff_session(conn: Connection, role: str, subject_id: str, now: float) -> str:
    """A new session id (a fresh one on every login: a planted id is never promoted)."""
    sid = secrets.token_urlsafe(32)
    conn.execute(insert(staff_sessions).values(id_hash=_sha(sid), role=role, subject_id=subject_id, created_at=now,
                                               expires_at=now + STAFF_SESSION_SECONDS))
    if secrets.randbelow(50) == 0:  # now and then, forget expired sessions
        conn.execute(delete(staff_sessions).where(staff_sessions.c.expires_at < now))
    return sid


def end_staff_session(conn: Connection, sid: str) -> None:
    conn.execute(delete(staff_sessions).where(staff_sessions.c.id_hash == _sha(sid)))


def end_sessions_of(conn: Connection, role: str, subject_id: str) -> None:
    conn.execute(delete(staff_sessions).where(staff_sessions.c.role == role, staff_sessions.c.subject_id == subject_id))


def staff_session_for(conn: Connection, sid: str, role: str, now: float) -> StaffSession | None:
    """The live session of a cookie value for `role`, or None (unknown, expired, another role, or deactivated)."""
    if not sid or len(sid) > 128:
        return None
    row = conn.execute(select(staff_sessions).where(staff_sessions.c.id_hash == _sha(sid))).first()
    if row is None or row.role != role or row.expires_at <= now:
        return None
    if role == "requester":
        who = conn.execute(select(requesters.c.name, requesters.c.active).where(requesters.c.id == row.subject_id)).first()
        if who is None or not who.active:
            return None
        name = who.name
    else:
        name = conn.execute(select(admins.c.name).where(admins.c.id == row.subject_id)).scalar()
        if name is None:
            return None
    return StaffSession(row.id_hash, role, row.subject_id, name, login_username(conn, role, row.subject_id) or "")


# ---------------------------------------------------------------- access keys (the console's API credentials)


def list_keys(conn: Connection, requester_id: str) -> list[Row]:
    return list(conn.execute(
        select(access_keys.c.access_key_id, access_keys.c.created_at, access_keys.c.active)
        .where(access_keys.c.requester_id == requester_id)
        .order_by(access_keys.c.active.desc(), access_keys.c.created_at.desc())
    ))


def _own_key(conn: Connection, requester_id: str, key_id: str) -> Row:
    row = conn.execute(select(access_keys).where(
        access_keys.c.access_key_id == key_id[:64], access_keys.c.requester_id == requester_id)).first()
    if row is None:
        raise AccountError("You have no access key with that id.")
    return row


def create_key(conn: Connection, requester_id: str, now: float):  # type: ignore[no-untyped-def]
    """A new active key (at most MAX_ACTIVE_KEYS at once); returns Credentials (the secret is shown once)."""
    active = conn.execute(select(func.count()).where(
        access_keys.c.requester_id == requester_id, access_keys.c.active.is_(True))).scalar_one()
    if active >= MAX_ACTIVE_KEYS:
        raise AccountError(f"You have {MAX_ACTIVE_KEYS} active keys already; revoke one first.")
    return add_access_key(conn, requester_id, now)


def revoke_key(conn: Connection, requester_id: str, key_id: str) -> None:
    row = _own_key(conn, requester_id, key_id)
    conn.execute(update(access_keys).where(access_keys.c.access_key_id == row.access_key_id).values(active=False))


def rotate_key(conn: Connection, requester_id: str, key_id: str, now: float):  # type: ignore[no-untyped-def]
    """A new key in place of `key_id`, which stops working at once; returns the new Credentials."""
    row = _own_key(conn, requester_id, key_id)
    if not row.active:
        raise AccountError("That key is already revoked; create a new key instead.")
    revoke_key(conn, requester_id, key_id)
    return add_access_key(conn, requester_id, now)


# ---------------------------------------------------------------- administration


def set_requester_active(conn: Connection, requester_id: str, active: bool) -> None:
    if conn.execute(update(requesters).where(requesters.c.id == requester_id).values(active=active)).rowcount == 0:
        raise AccountError("No requester has that id.")
    if not active:
        end_sessions_of(conn, "requester", requester_id)


def set_worker_active(conn: Connection, worker_id: str, active: bool) -> None:
    if conn.execute(update(workers).where(workers.c.id == worker_id).values(active=active)).rowcount == 0:
        raise AccountError("No worker has that id.")
    if not active:
        conn.execute(delete(web_sessions).where(web_sessions.c.worker_id == worker_id))


def utc_day_start(day: str) -> float:
    """Epoch seconds of 00:00 UTC on an ISO date (YYYY-MM-DD); ValueError when it is not one."""
    t = time.strptime(day, "%Y-%m-%d")
    return float(calendar.timegm(t))
