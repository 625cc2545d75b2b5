"""Invitation and participant links over JSON: the admin with its bearer token, a requester with SigV4 and its
MTurk keys (signed by botocore, as any client would); the links then work in the worker site."""

from __future__ import annotations

import json

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.conftest import hit_params
from tests.support.web import SiteClient


def signed(server, requester, method: str, path: str, body: dict | None = None) -> httpx.Response:  # type: ignore[no-untyped-def]
    data = json.dumps(body).encode() if body is not None else b""
    req = AWSRequest(method=method, url=server.url + path, data=data, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(requester.access_key, requester.secret), "mturk-requester", "us-east-1").add_auth(req)
    return httpx.request(method, server.url + path, content=data, headers=dict(req.headers.items()))


def admin(server, path: str, body: dict) -> httpx.Response:  # type: ignore[no-untyped-def]
    return server.http.post(path, json=body, headers={"Authorization": f"Bearer {server.admin_token}"})


def test_admin_invitation_and_open_signup(server):
    r = admin(server, "/api/admin/v1/invitations", {"uses": 2, "note": "lab members"})
    assert r.status_code == 200, r.text
    url = r.json()["url"]
    assert url.startswith(server.url + "/join/")
    assert SiteClient(server.url).get(url.replace(server.url, "")).status_code == 200
    assert server.http.post("/api/admin/v1/invitations", json={}).status_code == 401
    assert admin(server, "/api/admin/v1/invitations", {"uses": "two"}).status_code == 400
    assert admin(server, "/api/admin/v1/invitations", {"uses": 0}).json()["error"]["message"].startswith("An invitation")
    assert admin(server, "/api/admin/v1/settings", {"open_signup": "yes"}).status_code == 400
    assert admin(server, "/api/admin/v1/settings", {"open_signup": True}).json() == {"open_signup": True}
    assert SiteClient(server.url).get("/signup").status_code == 200
    admin(server, "/api/admin/v1/settings", {"open_signup": False})
    assert SiteClient(server.url).get("/signup").status_code == 403


def test_requester_links_signed_with_sigv4(server, requester, mturk):
    r = signed(server, requester, "POST", "/api/requester/v1/invitations", {"uses": 1})
    assert r.status_code == 200, r.text
    hit = mturk.create_hit(**hit_params(Title="A study"))["HIT"]
    r = signed(server, requester, "POST", "/api/requester/v1/participant-links",
               {"hit_type_id": hit["HITTypeId"], "label": "Memory study", "completion_code": "auto"})
    assert r.status_code == 200, r.text
    link = r.json()
    assert link["url"] == f"{server.url}/p/{link['code']}" and len(link["completion_code"]) == 8
    listed = signed(server, requester, "GET", "/api/requester/v1/participant-links").json()["links"]
    assert [x["code"] for x in listed] == [link["code"]]
    # Another requester can neither link this HIT type nor see the link.
    other = server.new_requester()
    r = signed(server, other, "POST", "/api/requester/v1/participant-links", {"hit_type_id": hit["HITTypeId"]})
    assert r.status_code == 400 and "does not exist for this requester" in r.text
    assert signed(server, other, "GET", "/api/requester/v1/participant-links").json() == {"links": []}


def test_requester_routes_refuse_bad_signatures(server, requester):
    r = httpx.post(server.url + "/api/requester/v1/invitations", json={})
    assert r.status_code == 403 and r.json()["error"]["code"] == "MissingAuthenticationTokenException"
    data = b'{"uses": 1}'
    req = AWSRequest(method="POST", url=server.url + "/api/requester/v1/invitations", data=data)
    SigV4Auth(Credentials(requester.access_key, "wrong secret"), "mturk-requester", "us-east-1").add_auth(req)
    r = httpx.post(server.url + "/api/requester/v1/invitations", content=data, headers=dict(req.headers.items()))
    assert r.status_code == 403 and r.json()["error"]["code"] == "InvalidSignatureException"
    req = AWSRequest(method="POST", url=server.url + "/api/requester/v1/invitations", data=data)
    SigV4Auth(Credentials(requester.access_key, requester.secret), "mturk-requester", "us-east-1").add_auth(req)
    r = httpx.post(server.url + "/api/requester/v1/invitations", content=b'{"uses": 5}', headers=dict(req.headers.items()))
    assert r.status_code == 403  # a body changed after signing
