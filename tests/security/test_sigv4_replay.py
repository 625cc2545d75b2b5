"""Security sweep: SigV4 replay. A correctly signed MTurk call whose X-Amz-Date is outside the 15-minute window
(in the past or the future) is refused with InvalidSignatureException and changes nothing; a captured request
cannot be refreshed by changing its date (the date is signed), nor reused with another body (the payload hash is
checked against the body actually sent, also when the client sends X-Amz-Content-Sha256)."""

from __future__ import annotations

import hashlib
import json
import time

import httpx

from tests.security.support import mturk_request
from tests.conftest import hit_params


def _stamp(offset: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() + offset))


def _hit_count(mturk) -> int:  # type: ignore[no-untyped-def]
    return mturk.list_hits(MaxResults=100)["NumResults"]


def _send(server, request: httpx.Request) -> httpx.Response:  # type: ignore[no-untyped-def]
    return server.http.send(request)


def _with_body(request: httpx.Request, body: bytes) -> httpx.Request:
    """The captured request's headers (signature included) with another body."""
    headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
    return httpx.Request(request.method, request.url, content=body, headers=headers)


def test_stale_and_future_dates_refused(server, requester, mturk):
    body = json.dumps(hit_params(Title="replayed")).encode()
    before = _hit_count(mturk)
    for offset in (-16 * 60, -3600, -86400 * 365, 16 * 60, 86400):
        r = _send(server, mturk_request(server, requester, "CreateHIT", body, amz_date=_stamp(offset)))
        assert r.status_code in (400, 403), (offset, r.status_code, r.text)
        err = r.json()
        assert err["__type"].endswith("InvalidSignatureException"), err
        assert "expired" in err["Message"].lower()
    assert _hit_count(mturk) == before
    # within the window the same signing code is accepted (so the refusals above are about the date alone)
    r = _send(server, mturk_request(server, requester, "CreateHIT", body, amz_date=_stamp(-60)))
    assert r.status_code == 200, r.text
    assert _hit_count(mturk) == before + 1


def test_captured_request_cannot_be_redated_or_rebodied(server, requester, mturk):
    body = json.dumps(hit_params(Title="captured")).encode()
    captured = mturk_request(server, requester, "CreateHIT", body, amz_date=_stamp(-20 * 60))
    before = _hit_count(mturk)
    # the attacker moves the date into the window but cannot re-sign
    redated = httpx.Request("POST", captured.url, content=body, headers={
        **{k: v for k, v in captured.headers.items() if k.lower() != "x-amz-date"}, "X-Amz-Date": _stamp(0)})
    r = _send(server, redated)
    assert r.status_code in (400, 403) and "InvalidSignatureException" in r.json()["__type"], r.text
    # a fresh capture with another body (same length) under the original signature
    fresh = mturk_request(server, requester, "CreateHIT", body)
    other = body.replace(b"captured", b"hijacked")
    r = _send(server, _with_body(fresh, other))
    assert r.status_code in (400, 403), r.text
    assert _hit_count(mturk) == before


def test_signed_payload_hash_must_match_the_body(server, requester, mturk):
    """A client that signs X-Amz-Content-Sha256 (some SDKs do) must not let a replayer swap the body: the server
    checks the claimed hash against the body it received (AWS's XAmzContentSHA256Mismatch)."""
    body = json.dumps(hit_params(Title="signed hash")).encode()
    signed = mturk_request(server, requester, "CreateHIT", body,
                           extra={"X-Amz-Content-Sha256": hashlib.sha256(body).hexdigest()})
    assert "x-amz-content-sha256" in signed.headers["authorization"]
    before = _hit_count(mturk)
    swapped = json.dumps(hit_params(Title="swapped body", Reward="9.00")).encode()
    r = _send(server, _with_body(signed, swapped))
    assert r.status_code in (400, 403), r.text
    assert "InvalidSignatureException" in r.json()["__type"] or "Mismatch" in r.json()["__type"], r.text
    unsigned = mturk_request(server, requester, "CreateHIT", body, extra={"X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD"})
    r = _send(server, _with_body(unsigned, swapped))
    assert r.status_code in (400, 403), r.text
    assert _hit_count(mturk) == before
    r = _send(server, signed)  # the genuine request, unchanged, still works
    assert r.status_code == 200, r.text
    assert _hit_count(mturk) == before + 1
