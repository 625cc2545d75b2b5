"""The MTurk front door: X-Amz-Target routing, SigV4 verification, request validation, one transaction per call,
and errors shaped as AWS's. Handlers live one module per resource (hits.py holds CreateHIT, ...)."""

from __future__ import annotations

import calendar
import hashlib
import hmac
import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Callable, Mapping
from urllib.parse import quote

import orjson
from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from hitkit.mturk.model import SIGNING_NAME, TARGET_PREFIX, ValidationFailure, validator_for
from hitkit.server.api import assignments, hits, money, qualifications, workers, notifications  # noqa: F401  (registers handlers)
from hitkit.server.api.errors import ApiError, AuthError, ServiceFault, ValidationException, database_unavailable
from hitkit.server.api.operations import HANDLERS, READ_ONLY, Ctx
from hitkit.server.clock import Clock
from hitkit.server.config import ServerConfig
from hitkit.server.store.tables import access_keys, requesters

log = logging.getLogger("hitkit.api")

MAX_CLOCK_SKEW = 15 * 60  # seconds, as AWS allows
KEY_CACHE_SECONDS = 5.0
_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/,\s]+)/(?P<service>[^/,\s]+)/aws4_request,\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<sig>[0-9a-f]{64})$"
)


@dataclass
class Answer:
    status: int
    body: dict


def _error(e: ApiError, now: float) -> Answer:
    return Answer(e.status, e.body(now))


class MTurkService:
    """Answers MTurk API calls against one database."""

    def __init__(self, engine: Engine, config: ServerConfig, clock: Clock) -> None:
        self.engine = engine
        self.config = config
        self.clock = clock
        self._keys: dict[str, tuple[float, str, str]] = {}

    # ------------------------------------------------------------ authentication

    def _secret_for(self, access_key_id: str) -> tuple[str, str] | None:
        cached = self._keys.get(access_key_id)
        mono = time.monotonic()
        if cached and cached[0] > mono:
            return cached[1], cached[2]
        with self.engine.connect() as conn:
            row = conn.execute(
                select(access_keys.c.secret, access_keys.c.requester_id)
                .join(requesters, requesters.c.id == access_keys.c.requester_id)
                .where(
                    access_keys.c.access_key_id == access_key_id,
                    access_keys.c.active.is_(True),
                    requesters.c.active.is_(True),
                )
            ).first()
            conn.rollback()
        if row is None:
            self._keys.pop(access_key_id, None)
            return None
        self._keys[access_key_id] = (mono + KEY_CACHE_SECONDS, row.secret, row.requester_id)
        return row.secret, row.requester_id

    def authenticate(self, headers: Mapping[str, str], body: bytes, path: str, method: str = "POST") -> str:
        """The requester id of a correctly SigV4-signed request, else an AuthError as AWS words it."""
        auth = headers.get("authorization")
        if not auth:
            raise AuthError("MissingAuthenticationTokenException", "Missing Authentication Token", 403)
        m = _AUTH_RE.match(auth.strip())
        if not m:
            raise AuthError(
                "IncompleteSignatureException",
                "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters "
                "with the AWS4-HMAC-SHA256 algorithm.",
            )
        amz_date = headers.get("x-amz-date", "")
        signed_at = _amz_timestamp(amz_date)
        if signed_at is None:
            raise AuthError("IncompleteSignatureException", "Missing or malformed X-Amz-Date header.")
        # Transport freshness uses the wall clock, not the marketplace clock tests may advance.
        if abs(time.time() - signed_at) > MAX_CLOCK_SKEW:
            raise AuthError(
                "InvalidSignatureException",
                f"Signature expired: {amz_date} is now earlier than the allowed window (15 min) around the server's time.",
            )
        if m["date"] != amz_date[:8] or m["service"] != SIGNING_NAME:
            raise AuthError("InvalidSignatureException", f"Credential should be scoped to service '{SIGNING_NAME}' and the date of X-Amz-Date.")
        found = self._secret_for(m["key"])
        if found is None:
            raise AuthError("UnrecognizedClientException", "The security token included in the request is invalid.")
        secret, requester_id = found
        signed = m["signed"].split(";")
        if "host" not in signed or "x-amz-date" not in signed:
            raise AuthError("InvalidSignatureException", "SignedHeaders must include host and x-amz-date.")
        # The signature covers the payload's hash; a hash the client claims (X-Amz-Content-Sha256) must be the
        # body's own, or a captured request could be replayed with another body (UNSIGNED-PAYLOAD is refused too).
        payload_hash = hashlib.sha256(body).hexdigest()
        claimed = headers.get("x-amz-content-sha256")
        if claimed is not None and claimed.strip().lower() != payload_hash:
            raise AuthError("InvalidSignatureException", "The provided 'x-amz-content-sha256' header does not match what was computed.")
        expected = sigv4_signature(
            secret=secret, amz_date=amz_date, region=m["region"], path=path or "/", method=method,
            headers=[(h, headers.get(h, "")) for h in signed], body=body, payload_hash=payload_hash,
        )
        if not hmac.compare_digest(expected, m["sig"]):
            raise AuthError(
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided. Check your AWS "
                "Secret Access Key and signing method. Consult the service documentation for details.",
            )
        return requester_id

    # ------------------------------------------------------------ dispatch

    def handle(self, target: str | None, headers: Mapping[str, str], body: bytes, path: str = "/") -> Answer:
        """Answer one call. Never raises: every failure is an AWS-shaped error answer."""
        now = self.clock.now()
        try:
            op = self._operation(target)
            requester_id = self.authenticate(headers, body, path)
            params = self._params(body)
            try:
                validator_for(op)(params)
            except ValidationFailure as e:
                raise ValidationException(e.message) from None
            return Answer(200, self._run(op, requester_id, params))
        except ApiError as e:
            return _error(e, now)
        except Exception as e:  # the database down or full (503, retryable), else a bug: log it, ServiceFault
            unavailable = database_unavailable(e) if isinstance(e, DBAPIError) else None
            if unavailable is not None:
                log.error("database unavailable in %s: %s", target, getattr(e, "orig", e))
                return _error(unavailable, now)
            log.exception("internal error in %s", target)
            return _error(ServiceFault("The request could not be processed because of an internal error in hitkit; it was logged."), now)

    def _operation(self, target: str | None) -> str:
        prefix, _, op = (target or "").partition(".")
        if prefix != TARGET_PREFIX or op not in HANDLERS:
            raise AuthError("UnknownOperationException", f"Unknown operation {target!r}.")
        return op

    def _params(self, body: bytes) -> dict:
        if not body.strip():
            return {}
        try:
            params = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise AuthError("SerializationException", "The request body is not valid JSON.") from None
        if not isinstance(params, dict):
            raise AuthError("SerializationException", "The request body must be a JSON object.")
        return params

    def _run(self, op: str, requester_id: str, params: dict) -> dict:
        handler = HANDLERS[op]
        return self.in_transaction(
            lambda conn: handler(Ctx(conn, requester_id, self.clock.now(), self.config), params),
            read_only=op in READ_ONLY,
        )

    def in_transaction(self, fn: Callable, *, read_only: bool = False, attempts: int = 4):  # type: ignore[no-untyped-def]
        """Run fn(conn) in one transaction (SQLite: BEGIN IMMEDIATE unless read-only). A lost race (unique key,
        serialization failure, deadlock, busy SQLite) runs the whole of fn again; its own checks then see the
        winner's rows and answer as they should."""
        for attempt in range(attempts):
            try:
                with self.engine.connect() as conn:
                    if read_only:
                        conn = conn.execution_options(hitkit_read_only=True)
                    with conn.begin():
                        return fn(conn)
            except (IntegrityError, DBAPIError) as e:
                if attempt == attempts - 1 or not _retryable(e):
                    raise
                time.sleep(0.005 * (attempt + 1))
        raise AssertionError("unreachable")


_AMZ_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$")


def _amz_timestamp(value: str) -> float | None:
    """Epoch seconds of an X-Amz-Date (20261122T134951Z), or None when malformed (cheaper than strptime)."""
    m = _AMZ_DATE.match(value)
    if not m:
        return None
    try:
        return float(calendar.timegm(datetime(*map(int, m.groups())).timetuple()))
    except ValueError:
        return None


@lru_cache(maxsize=4096)
def _signing_key(secret: str, date: str, region: str) -> bytes:
    key = hmac.new(f"AWS4{secret}".encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, SIGNING_NAME, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def sigv4_signature(
    *, secret: str, amz_date: str, region: str, path: str, headers: list[tuple[str, str]], body: bytes,
    payload_hash: str | None = None, method: str = "POST",
) -> str:
    """The SigV4 signature of a request with an empty query string, as botocore's SigV4Auth computes it
    (checked against botocore-signed requests by the whole test suite). The derived key is cached per day."""
    canonical_headers = "".join(f"{name}:{' '.join(value.split())}\n" for name, value in headers)
    canonical = "\n".join((
        method, quote(path, safe="/~"), "", canonical_headers, ";".join(name for name, _ in headers),
        payload_hash or hashlib.sha256(body).hexdigest(),
    ))
    scope = f"{amz_date[:8]}/{region}/{SIGNING_NAME}/aws4_request"
    to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    return hmac.new(_signing_key(secret, amz_date[:8], region), to_sign.encode(), hashlib.sha256).hexdigest()


def _retryable(e: Exception) -> bool:
    if isinstance(e, IntegrityError):
        return True
    code = getattr(getattr(e, "orig", None), "sqlstate", None)
    text = str(e).lower()
    if getattr(e, "connection_invalidated", False):
        return True  # a pooled connection the database dropped (a restart): run again on a fresh one
    return code in ("40001", "40P01") or "database is locked" in text or "deadlock" in text


def encode(body: dict) -> bytes:
    return orjson.dumps(body)
