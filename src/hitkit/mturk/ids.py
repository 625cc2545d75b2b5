"""Identifiers shaped like MTurk's: 30-character entity ids and `A` + 13-character worker ids."""

from __future__ import annotations

import secrets

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _random(n: int) -> str:
    # One draw of 8 random bits per character would bias the alphabet; draw one big integer and write it in base 36.
    value = secrets.randbits(n * 6)  # 2**(6n) far exceeds 36**n: the n lowest base-36 digits are uniform to ~2**-(n//2)
    out = []
    for _ in range(n):
        value, digit = divmod(value, 36)
        out.append(_ALPHABET[digit])
    return "".join(out)


def new_entity_id() -> str:
    """A HIT, HIT type, assignment or qualification type id: 30 chars of [0-9A-Z], like MTurk's."""
    return _random(30)


def new_worker_id() -> str:
    """A WorkerId: `A` followed by 13 chars of [0-9A-Z] (14 in all), like MTurk's."""
    return "A" + _random(13)


def new_access_key_id() -> str:
    """An AWS-style access key id (20 chars, `AKHK` prefix so hitkit keys are recognisable)."""
    return "AKHK" + _random(16)


def new_secret() -> str:
    """A 40-character secret, URL-safe."""
    return secrets.token_urlsafe(30)[:40]
