"""SigV4: missing, malformed, wrong and stale signatures are refused as AWS refused them; any region works."""

from __future__ import annotations

import datetime as dt
import json

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

TARGET = "MTurkRequesterServiceV20170117.GetAccountBalance"


def signed(server, key: str, secret: str, *, when: dt.datetime | None = None, region: str = "us-east-1", body: bytes = b"{}"):  # type: ignore[no-untyped-def]
    req = AWSRequest(method="POST", url=server.url + "/", data=body,
                     headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": TARGET})
    auth = SigV4Auth(Credentials(key, secret), "mturk-requester", region)
    if when is not None:
        req.context["timestamp"] = when.strftime("%Y%m%dT%H%M%SZ")
        req.headers["X-Amz-Date"] = req.context["timestamp"]
        auth._modify_request_before_signing = lambda r: None  # keep our date
        canonical = auth.canonical_request(req)
        sig = auth.signature(auth.string_to_sign(req, canonical), req)
        scope = f"{req.context['timestamp'][:8]}/{region}/mturk-requester/aws4_request"
        req.headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={key}/{scope}, SignedHeaders={auth.signed_headers(auth.headers_to_sign(req))}, Signature={sig}"
        )
    else:
        auth.add_auth(req)
    return server.http.post("/", content=body, headers=dict(req.headers.items()))


def test_valid_signature_any_region(server):
    r = server.requester
    for region in ("us-east-1", "sandbox"):
        resp = signed(server, r.access_key, r.secret, region=region)
        assert resp.status_code == 200, resp.text
        assert "AvailableBalance" in resp.json()
        assert resp.headers["x-amzn-RequestId"]


def test_wrong_secret(server):
    client = boto3.client("mturk", endpoint_url=server.url, region_name="us-east-1",
                          aws_access_key_id=server.requester.access_key, aws_secret_access_key="wrong")
    with pytest.raises(ClientError) as e:
        client.get_account_balance()
    assert e.value.response["Error"]["Code"] == "InvalidSignatureException"


def test_unknown_key(server):
    client = boto3.client("mturk", endpoint_url=server.url, region_name="us-east-1",
                          aws_access_key_id="AKIDNOTAKEY", aws_secret_access_key="x")
    with pytest.raises(ClientError) as e:
        client.get_account_balance()
    assert e.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_missing_and_malformed_authorization(server):
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": TARGET}
    r = server.http.post("/", content=b"{}", headers=headers)
    assert r.status_code == 403 and r.json()["__type"] == "MissingAuthenticationTokenException"
    r = server.http.post("/", content=b"{}", headers={**headers, "Authorization": "Basic abc"})
    assert r.status_code == 400 and r.json()["__type"] == "IncompleteSignatureException"


def test_stale_date_is_refused_even_with_a_correct_signature(server):
    r = server.requester
    old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=20)
    resp = signed(server, r.access_key, r.secret, when=old)
    assert resp.status_code == 400
    assert resp.json()["__type"] == "InvalidSignatureException" and "expired" in resp.json()["Message"]
    fresh = signed(server, r.access_key, r.secret, when=dt.datetime.now(dt.timezone.utc))
    assert fresh.status_code == 200, fresh.text


def test_tampered_body_is_refused(server):
    r = server.requester
    req = AWSRequest(method="POST", url=server.url + "/", data=b"{}",
                     headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": TARGET})
    SigV4Auth(Credentials(r.access_key, r.secret), "mturk-requester", "us-east-1").add_auth(req)
    resp = server.http.post("/", content=json.dumps({"x": 1}).encode(), headers=dict(req.headers.items()))
    assert resp.status_code == 400 and resp.json()["__type"] == "InvalidSignatureException"


def test_unknown_operation_and_bad_json(server):
    r = server.requester
    req = AWSRequest(method="POST", url=server.url + "/", data=b"{nope",
                     headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": TARGET})
    SigV4Auth(Credentials(r.access_key, r.secret), "mturk-requester", "us-east-1").add_auth(req)
    resp = server.http.post("/", content=b"{nope", headers=dict(req.headers.items()))
    assert resp.status_code == 400 and resp.json()["__type"] == "SerializationException"
    resp = server.http.post("/", content=b"{}", headers={"X-Amz-Target": "Nope.Nothing", "Authorization": "x"})
    assert resp.status_code == 400 and resp.json()["__type"] == "UnknownOperationException"


def test_oversized_body_refused_early(server):
    resp = server.http.post("/", content=b"x" * (1024 * 1024 + 1), headers={"X-Amz-Target": TARGET})
    assert resp.status_code == 413
