"""People on the worker web site: usernames and argon2 passwords, invitation links, open sign-up, browser
sessions, and participant links that give a study's visitors a worker identity without a password.

Secrets (session ids, invitation codes) are stored only as SHA-256 hashes; password hashing and checking is
argon2id (argon2-cffi's defaults) and runs outside database transactions, since it is deliberately slow.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from hitkit.server.domain.accounts import AccountError, create_worker
from hitkit.server.store.tables import (
    hit_types, invitations, participant_links, participants, settings, web_sessions, worker_logins, workers,
)

LOGIN_SESSION_SECONDS = 14 * 86400
PARTICIPANT_SESSION_SECONDS = 180 * 86400
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
USERNAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{2,63}")
OPEN_SIGNUP_KEY = "open_signup"
WEB_SECRET_KEY = "web_secret"

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Checked when a username is unknown, so a failed login takes as long whether or not the account exists
    (made on first use: hashing is deliberately slow and every CLI start-up would pay for it)."""
    return _hasher.hash("not a password anyone has")


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# ---------------------------------------------------------------- settings


def get_setting(conn: Connection, key: str) -> str | None:
    return conn.execute(select(settings.c.value).where(settings.c.key == key)).scalar()


def put_setting(conn: Connection, key: str, value: str) -> None:
    if conn.execute(update(settings).where(settings.c.key == key).values(value=value)).rowcount == 0:
        conn.execute(insert(settings).values(key=key, value=value))


def open_signup(conn: Connection) -> bool:
    return get_setting(conn, OPEN_SIGNUP_KEY) == "true"


def web_secret(conn: Connection) -> str:
    """The server's key for CSRF tokens, made once and shared by every server process through the database."""
    value = get_setting(conn, WEB_SECRET_KEY)
    if value is None:
        value = secrets.token_hex(32)
        try:
            with conn.begin_nested():
                conn.execute(insert(settings).values(key=WEB_SECRET_KEY, value=value))
        except IntegrityError:  # another process made it first
            value = get_setting(conn, WEB_SECRET_KEY)
    return value  # type: ignore[return-value]


# ---------------------------------------------------------------- passwords and logins


def hash_password(password: str) -> str:
    check_password_rules(password)
    return _hasher.hash(password)


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"The password must be at least {MIN_PASSWORD} characters long.")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"The password must be at most {MAX_PASSWORD} characters long.")


def check_username_rules(username: str) -> str:
    """The username as stored (lower-cased), or AccountError saying what is wrong with it."""
    if not USERNAME_RE.fullmatch(username):
        raise AccountError(
            "A username is 3 to 64 characters: letters, digits and . _ @ -, starting with a letter or digit."
        )
    return username.lower()


def password_matches(stored_hash: str | None, password: str) -> bool:
    """Argon2 check; an unknown account is checked against a dummy hash so timing does not reveal it."""
    try:
        return _hasher.verify(stored_hash or _dummy_hash(), password[:MAX_PASSWORD]) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def login_record(conn: Connection, username: str) -> Row | None:
    """(worker_id, password_hash, active) for a username, or None."""
    return conn.execute(
        select(worker_logins.c.worker_id, worker_logins.c.password_hash, workers.c.active)
        .join(workers, workers.c.id == worker_logins.c.worker_id)
        .where(worker_logins.c.username == username.strip().lower())
    ).first()


def create_worker_login(
    conn: Connection, username: str, password_hash: str, now: float, *, country: str | None = None
) -> str:
    """A new worker with a username and password hash (made by `hash_password`); returns its WorkerId."""
    stored = check_username_rules(username)
    if conn.execute(select(worker_logins.c.worker_id).where(worker_logins.c.username == stored)).first():
        raise AccountError(f"The username {username!r} is taken; choose another.")
    worker_id, _ = create_worker(conn, username, now, country=country)
    conn.execute(insert(worker_logins).values(worker_id=worker_id, username=stored, password_hash=password_hash, created_at=now))
    return worker_id


def set_worker_password(conn: Connection, worker_id: str, username: str, password_hash: str, now: float) -> None:
    """Give an existing worker (e.g. one made by `hitkit server worker create`) a login, or change its password."""
    stored = check_username_rules(username)
    existing = conn.execute(select(worker_logins).where(worker_logins.c.worker_id == worker_id)).first()
    taken = conn.execute(select(worker_logins.c.worker_id).where(worker_logins.c.username == stored)).scalar()
    if taken is not None and taken != worker_id:
        raise AccountError(f"The username {username!r} is taken; choose another.")
    if existing:
        conn.execute(update(worker_logins).where(worker_logins.c.worker_id == worker_id).values(
            username=stored, password_hash=password_hash))
    else:
        conn.execute(insert(worker_logins).values(worker_id=worker_id, username=stored, password_hash=password_hash, created_at=now))
    conn.execute(delete(web_sessions).where(web_sessions.c.worker_id == worker_id))  # a new password ends old sessions


# ---------------------------------------------------------------- invitations


def create_invitation(
    conn: Connection, created_by: str, now: float, *, max_uses: int = 1, expires_in: float | None = 7 * 86400,
    note: str | None = None,
) -> str:
    """A new invitation code (shown once; only its hash is kept)."""
    if not 1 <= max_uses <= 100_000:
        raise AccountError("An invitation can be used 1 to 100000 times.")
    code = secrets.token_urlsafe(18)
    conn.execute(insert(invitations).values(
        code_hash=_sha(code), created_by=created_by, note=note, created_at=now,
        expires_at=None if expires_in is None else now + expires_in, max_uses=max_uses, uses=0,
    ))
    return code


def invitation_problem(conn: Connection, code: str, now: float) -> str | None:
    """Why the invitation cannot be used (a sentence), or None when it can."""
    row = conn.execute(select(invitations).where(invitations.c.code_hash == _sha(code))).first()
    if row is None:
        return "This invitation link is not valid. Ask whoever sent it for a new one."
    if row.expires_at is not None and row.expires_at <= now:
        return "This invitation link has expired. Ask whoever sent it for a new one."
    if row.uses >= row.max_uses:
        return "This invitation link has already been used. Ask whoever sent it for a new one."
    return None


def use_invitation(conn: Connection, code: str, now: float) -> None:
    """Count one use of the invitation, or AccountError; the guarded update settles two people racing for the last use."""
    problem = invitation_problem(conn, code, now)
    if problem:
        raise AccountError(problem)
    done = conn.execute(
        update(invitations)
        .where(invitations.c.code_hash == _sha(code), invitations.c.uses < invitations.c.max_uses)
        .values(uses=invitations.c.uses + 1)
    ).rowcount
    if not done:
        raise AccountError("This invitation link has already been used. Ask whoever sent it for a new one.")


# ---------------------------------------------------------------- sessions


@dataclass(frozen=True)
class WebSession:
    session_hash: str
    worker: Row
    kind: str  # login | participant
    auto_accept: bool
    link: Row | None  # the participant link, for participants


def start_session(conn: Connection, worker_id: str, kind: str, now: float) -> str:
    """A new session id for the cookie (a fresh one on every login, so a planted id is never promoted)."""
    sid = secrets.token_urlsafe(32)
    lifetime = PARTICIPANT_SESSION_SECONDS if kind == "participant" else LOGIN_SESSION_SECONDS
    conn.execute(insert(web_sessions).values(
        id_hash=_sha(sid), worker_id=worker_id, kind=kind, created_at=now, expires_at=now + lifetime, auto_accept=False,
    ))
    return sid


def end_session(conn: Connection, sid: str) -> None:
    conn.execute(delete(web_sessions).where(web_sessions.c.id_hash == _sha(sid)))


_SESSION = (
    select(web_sessions.c.id_hash, web_sessions.c.kind, web_sessions.c.expires_at, web_sessions.c.auto_accept, workers)
    .join(workers, workers.c.id == web_sessions.c.worker_id)
)


def session_for(conn: Connection, sid: str, now: float) -> WebSession | None:
    """The live session of a cookie value, or None (unknown, expired, or the worker deactivated)."""
    row = conn.execute(_SESSION.where(web_sessions.c.id_hash == _sha(sid))).first()
    if row is None or row.expires_at <= now or not row.active:
        return None
    link = None
    if row.kind == "participant":
        link = conn.execute(
            select(participant_links).join(participants, participants.c.link_code == participant_links.c.code)
            .where(participants.c.worker_id == row.id)
        ).first()
    worker = conn.execute(select(workers).where(workers.c.id == row.id)).first()
    return WebSession(row.id_hash, worker, row.kind, bool(row.auto_accept), link)


def set_auto_accept(conn: Connection, session_hash: str, on: bool) -> None:
    conn.execute(update(web_sessions).where(web_sessions.c.id_hash == session_hash).values(auto_accept=on))


# ---------------------------------------------------------------- participant links


def create_participant_link(
    conn: Connection, requester_id: str, hit_type_id: str, now: float, *, label: str | None = None,
    completion_code: str | None = None,
) -> str:
    """A recruitment link code for one of the requester's HIT types. `completion_code="auto"` makes one up."""
    owner = conn.execute(select(hit_types.c.requester_id).where(hit_types.c.id == hit_type_id)).scalar()
    if owner != requester_id:
        raise AccountError(f"HIT type {hit_type_id} does not exist for this requester.")
    if completion_code == "auto":
        completion_code = secrets.token_hex(4).upper()
    if completion_code is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", completion_code):
        raise AccountError("A completion code is 1 to 64 letters, digits, _ or -.")
    code = secrets.token_urlsafe(12)
    conn.execute(insert(participant_links).values(
        code=code, requester_id=requester_id, hit_type_id=hit_type_id, label=label, completion_code=completion_code,
        created_at=now, active=True,
    ))
    return code


def active_link(conn: Connection, code: str) -> Row | None:
    row = conn.execute(select(participant_links).where(participant_links.c.code == code)).first()
    return row if row is not None and row.active else None


def join_as_participant(conn: Connection, link: Row, now: float) -> str:
    """A new participant worker for the link; returns its WorkerId."""
    worker_id, _ = create_worker(conn, f"participant of {link.code}", now, country=None)
    conn.execute(insert(participants).values(worker_id=worker_id, link_code=link.code, created_at=now))
    return worker_id
