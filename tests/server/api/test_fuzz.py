"""Fuzz every operation with requests generated from botocore's model (well-shaped) and with arbitrary JSON
(malformed): the server never answers 5xx, and every answer is a well-formed JSON object (errors carry
`__type` and `Message`)."""

from __future__ import annotations

import json
import os
from urllib.parse import quote, urlencode

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hitkit.mturk.model import TARGET_PREFIX, operation_model, operation_names

JSON_SCALARS = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=20)
ANY_JSON = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3), max_leaves=10)


def strategy_for(shape, depth: int = 0):  # type: ignore[no-untyped-def]
    t = shape.type_name
    if t == "structure":
        members = {n: strategy_for(s, depth + 1) for n, s in shape.members.items()}
        required = set(shape.metadata.get("required", ()))
        return st.fixed_dictionaries(
            {n: s for n, s in members.items() if n in required},
            optional={n: s for n, s in members.items() if n not in required},
        )
    if t == "list":
        return st.lists(strategy_for(shape.member, depth + 1), max_size=3 if depth < 2 else 1)
    if t == "string":
        options = [st.text(max_size=40)]
        if shape.enum:
            options.append(st.sampled_from(shape.enum))
        if "pattern" in shape.metadata:
            options.append(st.from_regex(shape.metadata["pattern"], fullmatch=True).map(lambda s: s[:64]))
        options.append(st.sampled_from(["", "A" * 300, "<x/>", "0.05", "00000000000000000071", "<?xml version='1.0'?><a>&b;</a>"]))
        return st.one_of(options)
    if t in ("integer", "long"):
        return st.one_of(st.integers(-5, 100), st.sampled_from([0, 2**31, 2**63, -(2**63), 31_536_001]))
    if t == "boolean":
        return st.booleans()
    if t == "timestamp":
        return st.one_of(st.integers(-10, 2_000_000_000), st.floats(0, 4e9))
    return ANY_JSON


def send(server, op: str, body: bytes):  # type: ignore[no-untyped-def]
    r = server.requester
    req = AWSRequest(method="POST", url=server.url + "/", data=body,
                     headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"{TARGET_PREFIX}.{op}"})
    SigV4Auth(Credentials(r.access_key, r.secret), "mturk-requester", "us-east-1").add_auth(req)
    return server.http.post("/", content=body, headers=dict(req.headers.items()))


def check(resp) -> None:  # type: ignore[no-untyped-def]
    assert resp.status_code < 500, resp.text[:500]
    body = resp.json()
    assert isinstance(body, dict)
    if resp.status_code >= 400:
        assert isinstance(body.get("__type"), str) and isinstance(body.get("Message"), str), body


OPERATIONS = sorted(operation_names())
# CI's budget; benchmarks/fuzz-style longer campaigns: HITKIT_FUZZ_EXAMPLES=500 python -m pytest tests/server/api/test_fuzz.py
EXAMPLES = int(os.environ.get("HITKIT_FUZZ_EXAMPLES", "25"))


def test_there_are_39_operations():
    assert len(OPERATIONS) == 39


@pytest.mark.parametrize("op", OPERATIONS)
def test_well_shaped_requests(server, op):
    shape = operation_model(op).input_shape

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(params=strategy_for(shape) if shape is not None else st.just({}))
    def run(params):  # type: ignore[no-untyped-def]
        check(send(server, op, json.dumps(params).encode()))

    run()


@pytest.mark.parametrize("op", OPERATIONS)
def test_malformed_requests(server, op):
    @settings(max_examples=max(1, EXAMPLES * 2 // 5), deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(body=ANY_JSON.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=40))
    def run(body):  # type: ignore[no-untyped-def]
        check(send(server, op, body))

    run()


def test_nul_characters_are_refused_not_crashed(server):
    """Found by this fuzz test on PostgreSQL, whose text columns cannot hold U+0000: a 500 before the fix."""
    resp = send(server, "AcceptQualificationRequest", json.dumps({"QualificationRequestId": "a\x00b"}).encode())
    assert resp.status_code == 400 and resp.json()["__type"] == "ValidationException"
    w = server.new_worker()
    for method, path in (("POST", "/api/worker/v1/hits/A%00B/accept"), ("GET", "/api/worker/v1/assignments/A%00B"),
                         ("GET", "/api/worker/v1/hits?hit_type_id=A%00B")):
        r = server.worker_call(w, method, path)
        assert r.status_code in (200, 400, 404), (path, r.text)  # SQLite stores NUL and simply finds nothing
        assert r.status_code != 200 or r.json() == {"hits": []}
    r = server.http.post("/mturk/externalSubmit", data={"assignmentId": "A\x00B", "x": "1"})
    assert r.status_code in (400, 404)


def test_worker_api_and_external_submit_take_any_input(server):
    """Arbitrary ids, bodies and form fields against the worker API and externalSubmit: never a 5xx, every error
    in the `{"error": {"code", "message"}}` shape."""
    from tests.conftest import hit_params

    mturk = server.client()
    form_hit = mturk.create_hit(**hit_params(MaxAssignments=1000, LifetimeInSeconds=86400))["HIT"]["HITId"]
    ids = st.sampled_from([form_hit, "", "X" * 300, "../etc", "%2e%2e", "A\u00e9"]) | st.text(max_size=20)

    @settings(max_examples=EXAMPLES * 2, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(hit_id=ids, body=ANY_JSON, fields=st.lists(st.tuples(st.text(max_size=10), st.text(max_size=30)), max_size=4))
    def run(hit_id, body, fields):  # type: ignore[no-untyped-def]
        w = server.new_worker()
        quoted = httpx_quote(hit_id)
        r = server.worker_call(w, "POST", f"/api/worker/v1/hits/{quoted}/accept")
        assert r.status_code < 500, r.text
        aid = r.json().get("AssignmentId") if r.status_code == 200 else hit_id
        for method, path, kw in (
            ("POST", f"/api/worker/v1/assignments/{httpx_quote(aid)}/submit", {"content": json.dumps(body)}),
            ("POST", f"/api/worker/v1/assignments/{httpx_quote(aid)}/submit", {"content": json.dumps({"answers": body})}),
            ("GET", f"/api/worker/v1/hits?limit={quoted}&after={quoted}", {}),
            ("POST", f"/api/worker/v1/qualifications/{quoted}/request", {"content": json.dumps(body)}),
        ):
            r = server.worker_call(w, method, path, **kw)
            assert r.status_code < 500, (path, r.text)
            if r.status_code >= 400:
                assert set(r.json()["error"]) == {"code", "message"}
        form = urlencode([("assignmentId", aid), *fields]).encode()
        r = server.http.post("/mturk/externalSubmit", content=form, headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code < 500, r.text

    run()


def httpx_quote(value: str) -> str:
    return quote(value, safe="")
