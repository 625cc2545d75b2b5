"""UniqueRequestToken: remembered for 24 hours per requester and scope; a repeat is an error, never a replay.

Scopes: `hit` (CreateHIT and CreateHITWithHITType share one), `extend` (CreateAdditionalAssignmentsForHIT),
`bonus` (SendBonus). The sweeper forgets tokens older than the window.
"""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, delete, insert, select

from hitkit.server.api.errors import RequestError
from hitkit.server.store.tables import request_tokens

TOKEN_WINDOW = 24 * 3600


_KEY = (request_tokens.c.requester_id == bindparam("requester_id")) & (request_tokens.c.scope == bindparam("scope")) & (
    request_tokens.c.token == bindparam("token")
)
_SEEN = select(request_tokens).where(_KEY)  # built once: a launch claims a token per HIT
_FORGET = delete(request_tokens).where(_KEY)
_CLAIM = insert(request_tokens)


def claim_token(conn: Connection, requester_id: str, scope: str, token: str | None, result_id: str, now: float) -> None:
    """Remember `token` as having produced `result_id`; raise the operation's error if it was used in the window.
    Concurrent claims of one token meet the primary key: the loser's call is retried and then sees the winner."""
    if not token:
        return
    key = {"requester_id": requester_id, "scope": scope, "token": token}
    seen = conn.execute(_SEEN, key).first()
    if seen is not None and seen.created_at > now - TOKEN_WINDOW:
        if scope == "hit":
            raise RequestError(
                f'There is already a HIT with the UniqueRequestToken "{token}": HITId {seen.result_id}. '
                "Reusing a token within 24 hours does not create another HIT.",
                "AWS.MechanicalTurk.HitAlreadyExists",
            )
        raise RequestError(
            f'The idempotency token "{token}" has already been processed.',
            "AWS.MechanicalTurk.DuplicateRequest",
        )
    if seen is not None:
        conn.execute(_FORGET, key)
    conn.execute(_CLAIM, {**key, "result_id": result_id, "created_at": now})
