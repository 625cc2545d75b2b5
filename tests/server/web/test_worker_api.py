"""A worker sees and acts only on its own assignments: every route, with two workers and forged ids."""

from __future__ import annotations

import xmltodict

from tests.conftest import hit_params


def test_a_worker_cannot_touch_another_workers_assignment(server, mturk):
    hit_id = mturk.create_hit(**hit_params(MaxAssignments=2))["HIT"]["HITId"]
    alice, mallory = server.new_worker(), server.new_worker()
    aid = server.accept(alice, hit_id)
    forged = [
        ("GET", f"/api/worker/v1/assignments/{aid}", None),
        ("POST", f"/api/worker/v1/assignments/{aid}/submit", {"answers": {"answer": "mallory was here"}}),
        ("POST", f"/api/worker/v1/assignments/{aid}/return", None),
    ]
    for method, path, body in forged:
        r = server.worker_call(mallory, method, path, json=body) if body else server.worker_call(mallory, method, path)
        assert r.status_code == 404, (path, r.text)
        assert aid not in r.text or "does not exist" in r.text  # no details of alice's assignment leak
    r = server.http.post("/mturk/externalSubmit", data={"assignmentId": aid, "answer": "forged"},
                         headers={"Authorization": f"Bearer {mallory.token}", "Accept": "application/json"})
    assert r.status_code == 403
    # Alice's assignment is untouched and still hers to submit.
    got = server.worker_call(alice, "GET", f"/api/worker/v1/assignments/{aid}").json()
    assert got["Status"] == "Accepted" and got["WorkerId"] == alice.worker_id
    assert server.submit(alice, aid, {"answer": "<script>alert(1)</script>"}).status_code == 200
    answer = mturk.get_assignment(AssignmentId=aid)["Assignment"]["Answer"]
    assert "<script>" not in answer  # stored escaped inside the XML
    assert xmltodict.parse(answer)["QuestionFormAnswers"]["Answer"]["FreeText"] == "<script>alert(1)</script>"


def test_forged_and_malformed_tokens(server, mturk):
    hit_id = mturk.create_hit(**hit_params())["HIT"]["HITId"]
    for header in ({"Authorization": "Bearer hk_w_forged"}, {"Authorization": "Basic abc"}, {}):
        r = server.http.post(f"/api/worker/v1/hits/{hit_id}/accept", headers=header)
        assert r.status_code == 401 and r.json()["error"]["code"] in ("unauthenticated", "invalid_token")
    admin = server.http.post(f"/api/worker/v1/hits/{hit_id}/accept", headers={"Authorization": f"Bearer {server.admin_token}"})
    assert admin.status_code == 401  # an admin token is not a worker token
    assert mturk.get_hit(HITId=hit_id)["HIT"]["NumberOfAssignmentsPending"] == 0


def test_admin_route_makes_and_reuses_workers(server):
    auth = {"Authorization": f"Bearer {server.admin_token}"}
    first = server.http.post("/api/admin/v1/workers", json={"name": "lab-member-1", "country": "CA"}, headers=auth).json()
    again = server.http.post("/api/admin/v1/workers", json={"name": "lab-member-1"}, headers=auth).json()
    assert first["WorkerId"] == again["WorkerId"] and first["token"] != again["token"]
    fresh = server.http.post("/api/admin/v1/workers", json={"name": "lab-member-1", "reuse": False}, headers=auth).json()
    assert fresh["WorkerId"] != first["WorkerId"]
    assert server.http.post("/api/admin/v1/workers", json={"name": "x"}).status_code == 401
    bad = server.http.post("/api/admin/v1/workers", json={"name": "x", "country": "CAN"}, headers=auth)
    assert bad.status_code == 400 and "two-letter" in bad.json()["error"]["message"]
    assert server.http.post("/api/admin/v1/workers", json={}, headers=auth).status_code == 400
