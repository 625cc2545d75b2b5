"""What every MTurk operation handler gets (`Ctx`), the registry of handlers, and shared request helpers.

A handler is a plain function `(ctx, params) -> dict` registered with `@operation("Name")`; it runs inside one
database transaction, and raising an ApiError rolls everything back, so a refused call changes nothing.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy import Connection, Select

from hitkit.server.api.errors import ParameterValidationError
from hitkit.server.config import ServerConfig

Handler = Callable[["Ctx", dict], dict]
HANDLERS: dict[str, Handler] = {}
READ_ONLY: set[str] = set()
DEFAULT_PAGE_SIZE = 10  # the 2017 API documents none; the legacy API's PageSize default was 10


@dataclass
class Ctx:
    """One request's view of the marketplace: its transaction, caller, time and server settings."""

    conn: Connection
    requester_id: str
    now: float
    config: ServerConfig


def operation(name: str, *, read_only: bool = False) -> Callable[[Handler], Handler]:
    """Register `fn` as the handler of MTurk operation `name`."""

    def register(fn: Handler) -> Handler:
        HANDLERS[name] = fn
        if read_only:
            READ_ONLY.add(name)
        return fn

    return register


def encode_token(seq: int) -> str:
    return base64.urlsafe_b64encode(f"hk1:{seq}".encode()).decode().rstrip("=")


def decode_token(token: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        prefix, seq = raw.split(":", 1)
        if prefix != "hk1":
            raise ValueError
        return int(seq)
    except (ValueError, UnicodeDecodeError):
        raise ParameterValidationError(
            f'The value "{token[:80]}" is not valid for the parameter NextToken. Pass the NextToken of a previous page.',
            "NextToken",
        ) from None


def paginate(ctx: Ctx, query: Select, seq_column: Any, params: dict) -> tuple[list, dict]:
    """Run `query` one page at a time in `seq` order. Returns the rows and the NextToken/NumResults members."""
    size = params.get("MaxResults") or DEFAULT_PAGE_SIZE
    token = params.get("NextToken")
    if token:
        query = query.where(seq_column > decode_token(token))
    rows = ctx.conn.execute(query.order_by(seq_column).limit(size + 1)).all()
    extra: dict = {}
    if len(rows) > size:
        rows = rows[:size]
        extra["NextToken"] = encode_token(rows[-1].seq)
    extra["NumResults"] = len(rows)
    return rows, extra


def drop_none(d: dict) -> dict:
    """Omit absent members rather than sending null, as AWS does."""
    return {k: v for k, v in d.items() if v is not None}
