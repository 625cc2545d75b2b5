"""Fuzz every operation with requests generated from botocore's model (well-shaped, at the limits, broken in one
way) and with arbitrary JSON (malformed): the server never answers 5xx, and every answer is well formed (errors carry
`__type` and `Message`, 200s parse with botocore against the output shape: `response_problems`).

The strategies and checks are shared with benchmarks/fuzz_api.py (tests/support/mturk_fuzz.py), which runs them as a
time-boxed campaign against a live server; the bugs it found have regression tests at the end of this module."""

from __future__ import annotations

import json
import os
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hitkit.mturk.model import operation_model, operation_names
from tests.support.mturk_fuzz import ANY_JSON, input_strategy, mutated_input, response_problems, send, strategy_for


def check(resp, op: str) -> None:  # type: ignore[no-untyped-def]
    assert resp.status_code < 500, resp.text[:500]
    assert response_problems(op, resp.status_code, resp.headers, resp.content) == [], resp.text[:500]


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
        check(send(server, op, json.dumps(params).encode()), op)

    run()


@pytest.mark.parametrize("op", OPERATIONS)
def test_malformed_requests(server, op):
    @settings(max_examples=max(1, EXAMPLES * 2 // 5), deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(body=ANY_JSON.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=40))
    def run(body):  # type: ignore[no-untyped-def]
        check(send(server, op, body), op)

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


def test_null_members_are_absent_members(server):
    """Found by benchmarks/fuzz_api.py: `"AutoApprovalDelayInSeconds": null` reached the database as NULL (a 500,
    NOT NULL constraint) instead of taking the default as an absent member does."""
    from tests.conftest import hit_params

    params = {**hit_params(), "AutoApprovalDelayInSeconds": None, "MaxAssignments": None, "Keywords": None}
    resp = send(server, "CreateHIT", json.dumps(params).encode())
    assert resp.status_code == 200, resp.text
    hit = resp.json()["HIT"]
    assert hit["MaxAssignments"] == 1 and hit["AutoApprovalDelayInSeconds"] == 30 * 86400  # MTurk's defaults
    check(resp, "CreateHIT")
    resp = send(server, "CreateHITType", json.dumps({
        "Title": "t", "Description": "d", "Reward": "0.10", "AssignmentDurationInSeconds": 600,
        "AutoApprovalDelayInSeconds": None, "QualificationRequirements": None}).encode())
    assert resp.status_code == 200, resp.text


@pytest.mark.parametrize("op", OPERATIONS)
def test_boundary_and_broken_requests(server, op):
    """Limit values (max lengths and one past, 2**63, NUL, unicode, empty lists) and valid requests broken in one
    way (a wrong type, a missing required member, an unknown member, a null): the same strategies as
    benchmarks/fuzz_api.py, at the suite's budget."""

    @settings(max_examples=max(1, EXAMPLES * 2 // 5), deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(params=input_strategy(op, "boundary") | mutated_input(op).map(lambda kp: kp[1]))
    def run(params):  # type: ignore[no-untyped-def]
        check(send(server, op, json.dumps(params).encode()), op)

    run()


def test_expire_at_is_a_time_clients_can_read_back(server):
    """Found while building benchmarks/fuzz_api.py (its output check): UpdateExpirationForHIT took ExpireAt=1e13 (year 318857), and every later
    GetHIT/ListHITs answer held an Expiration that botocore cannot parse ("year 318857 is out of range")."""
    from tests.conftest import hit_params

    mturk = server.client()  # the requester `send` signs as
    hit_id = mturk.create_hit(**hit_params())["HIT"]["HITId"]
    for far in (10**13, 253_402_300_800):  # the first second of year 10000 is already too far
        resp = send(server, "UpdateExpirationForHIT", json.dumps({"HITId": hit_id, "ExpireAt": far}).encode())
        assert resp.status_code == 400 and resp.json()["__type"] == "ValidationException", resp.text
    last = 253_402_300_799  # 9999-12-31T23:59:59Z, the latest time botocore reads
    resp = send(server, "UpdateExpirationForHIT", json.dumps({"HITId": hit_id, "ExpireAt": last}).encode())
    assert resp.status_code == 200, resp.text
    assert mturk.get_hit(HITId=hit_id)["HIT"]["Expiration"].year == 9999
