"""The live page's token: the server checked the signed-in worker (session cookie or bearer token) against the
assignment when it served the page, and signs (run, assignment, worker, expiry) with the server's web secret,
so the page's websocket (which, from a sandboxed frame, carries no cookie) proves the same without storage."""

from __future__ import annotations

import hashlib
import hmac
import time

TOKEN_SECONDS = 12 * 3600


def _mac(secret: str, run_id: str, assignment_id: str, worker_id: str, expires: int) -> str:
    msg = f"live|{run_id}|{assignment_id}|{worker_id}|{expires}".encode()
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()


def make_token(secret: str, run_id: str, assignment_id: str, worker_id: str, now: float | None = None) -> str:
    expires = int((now or time.time()) + TOKEN_SECONDS)
    return f"{expires}.{_mac(secret, run_id, assignment_id, worker_id, expires)}"


def check_token(secret: str, token: str, run_id: str, assignment_id: str, worker_id: str) -> bool:
    expires, _, mac = token.partition(".")
    if not expires.isdigit() or int(expires) < time.time() or len(mac) != 64:
        return False
    return hmac.compare_digest(mac, _mac(secret, run_id, assignment_id, worker_id, int(expires)))
