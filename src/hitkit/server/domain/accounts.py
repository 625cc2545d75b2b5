"""Requesters (with API keys and a starting balance), workers and admins, and the bearer tokens of the last two."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, Row, insert, select

from hitkit.mturk.ids import new_access_key_id, new_entity_id, new_secret, new_worker_id
from hitkit.server.domain.ledger import deposit
from hitkit.server.store.tables import access_keys, admins, requesters, tokens, workers


class AccountError(ValueError):
    """A refused account operation (duplicate name, unknown requester, bad value)."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(conn: Connection, kind: str, subject_id: str, now: float) -> str:
    """Make a bearer token for an admin or worker; only its hash is stored."""
    token = f"hk_{kind[0]}_" + secrets.token_urlsafe(32)
    conn.execute(insert(tokens).values(token_hash=token_hash(token), kind=kind, subject_id=subject_id, created_at=now))
    return token


def token_subject(conn: Connection, token: str, kind: str) -> str | None:
    row = conn.execute(
        select(tokens.c.subject_id).where(tokens.c.token_hash == token_hash(token), tokens.c.kind == kind)
    ).first()
    return row[0] if row else None


@dataclass
class Credentials:
    aws_access_key_id: str
    aws_secret_access_key: str


def create_requester(conn: Connection, name: str, now: float, starting_balance_cents: int) -> tuple[str, Credentials]:
    """A requester with one active access key and the starting balance (the sandbox's 10000.00 by default)."""
    name = name.strip()
    if not name:
        raise AccountError("A requester needs a non-empty name.")
    if conn.execute(select(requesters.c.id).where(requesters.c.name == name)).first():
        raise AccountError(f"A requester named {name!r} already exists.")
    requester_id = "R" + new_entity_id()[:13]
    conn.execute(insert(requesters).values(id=requester_id, name=name, created_at=now, active=True))
    creds = add_access_key(conn, requester_id, now)
    if starting_balance_cents:
        deposit(conn, requester_id, starting_balance_cents, now, memo="starting balance")
    return requester_id, creds


def add_access_key(conn: Connection, requester_id: str, now: float) -> Credentials:
    creds = Credentials(new_access_key_id(), new_secret())
    conn.execute(
        insert(access_keys).values(
            access_key_id=creds.aws_access_key_id, requester_id=requester_id, secret=creds.aws_secret_access_key,
            created_at=now, active=True,
        )
    )
    return creds


def find_requester(conn: Connection, name_or_id: str) -> Row:
    """A requester by name, id or access key id."""
    row = conn.execute(
        select(requesters).where((requesters.c.name == name_or_id) | (requesters.c.id == name_or_id))
    ).first()
    if row is None:
        row = conn.execute(
            select(requesters)
            .join(access_keys, access_keys.c.requester_id == requesters.c.id)
            .where(access_keys.c.access_key_id == name_or_id)
        ).first()
    if row is None:
        raise AccountError(f"No requester is named {name_or_id!r} (give its name, id or access key id).")
    return row


def create_worker(
    conn: Connection, name: str, now: float, *, country: str | None = "US", subdivision: str | None = None,
    adult: bool = False, masters: bool = False,
) -> tuple[str, str]:
    """A worker and its API token: (WorkerId, token)."""
    if country is not None and (len(country) != 2 or not country.isalpha()):
        raise AccountError(f"--country takes an ISO 3166 two-letter code such as US, not {country!r}.")
    if subdivision is not None and not (1 <= len(subdivision) <= 3 and subdivision.isalnum()):
        raise AccountError(f"--subdivision takes an ISO 3166-2 code such as CA, not {subdivision!r}.")
    worker_id = new_worker_id()
    conn.execute(
        insert(workers).values(
            id=worker_id, name=name, country=country.upper() if country else None,
            subdivision=subdivision.upper() if subdivision else None, adult=adult, masters=masters, active=True,
            created_at=now,
        )
    )
    return worker_id, new_token(conn, "worker", worker_id, now)


def worker_token(
    conn: Connection, name: str, now: float, *, reuse: bool = True, country: str | None = "US",
    subdivision: str | None = None, adult: bool = False, masters: bool = False,
) -> tuple[str, str]:
    """(WorkerId, a fresh token) for the worker named `name`, created when it does not exist (or `reuse` is off)."""
    if reuse:
        existing = conn.execute(select(workers.c.id).where(workers.c.name == name).order_by(workers.c.created_at)).first()
        if existing is not None:
            return existing[0], new_token(conn, "worker", existing[0], now)
    return create_worker(conn, name, now, country=country, subdivision=subdivision, adult=adult, masters=masters)


def create_admin(conn: Connection, name: str, now: float) -> tuple[str, str]:
    admin_id = "M" + new_entity_id()[:13]
    conn.execute(insert(admins).values(id=admin_id, name=name, created_at=now))
    return admin_id, new_token(conn, "admin", admin_id, now)
