"""Security sweep: the authorization matrix. Every route of the running app (enumerated from its Starlette router,
plus the MTurk API at `POST /`) is classified below with what each of six identities gets: anonymous, worker A,
worker B, requester A, requester B, admin. Path parameters are requester A's and worker A's objects (HIT, HIT type,
assignment, qualification type, project, batch, live run, access key), so B's row is an object-level check: B
reaches A's ids and gets 401/403/404 or the sign-in page, never A's data (a canary string in A's objects must not
appear). A route missing from the table fails the test, so every new route gets a decision.

Each identity sends every credential it has: its site session cookie (worker site, console or admin), a bearer
token (workers, admin) on bearer routes, SigV4 (requesters) on signed routes, and its own valid CSRF token on form
posts (so a refusal is about who they are, not about CSRF).

Letters, in the order anonymous, worker A, worker B, requester A, requester B, admin:
  o  allowed (GET: 200; POST: not refused for who they are: no 401/403/404, no sign-in redirect, no 5xx)
  d  denied (401, 403, 404 or a redirect to a sign-in page, without A's canary)
  x  allowed by design but not exercised here: the call would change state the other checks need (submit,
     return, delete, revoke, block); the owner's success is covered by tests/server/web and tests/server/api
  p  public: any answer but a 5xx (sign-in, sign-up, static files, redirects)
"""

from __future__ import annotations

import json
import re
import secrets
import time

import pytest
from botocore.exceptions import ClientError

from tests.conftest import hit_params
from tests.security.support import World, app_routes, build_world, close_world, fill_path, signed_request

ORDER = ("anonymous", "worker_a", "worker_b", "requester_a", "requester_b", "admin")
CANARY = "APRIVATE" + secrets.token_hex(4)

# (method, path) -> (expected letters, note). HEAD follows GET and is not listed.
MATRIX: dict[tuple[str, str], tuple[str, str]] = {
    # the MTurk API (SigV4)
    ("POST", "/"): ("dddood", "MTurk API: a signature by a requester's key; object rules in test_mturk_api_object_level"),
    # worker API (bearer tokens)
    ("GET", "/api/worker/v1/hits"): ("dooddd", "workers' bearer token"),
    ("POST", "/api/worker/v1/hits/{hit_id}/accept"): ("dooddd", "any worker may accept a public HIT"),
    ("GET", "/api/worker/v1/assignments/{assignment_id}"): ("doddddd"[:6], "worker A's assignment only"),
    ("POST", "/api/worker/v1/assignments/{assignment_id}/submit"): ("dxdddd", "worker A's assignment only"),
    ("POST", "/api/worker/v1/assignments/{assignment_id}/return"): ("dxdddd", "worker A's assignment only"),
    ("POST", "/api/worker/v1/qualifications/{type_id}/request"): ("dooddd", "any worker may request a qualification"),
    ("GET", "/mturk/externalSubmit"): ("pppppp", "capability: the unguessable assignment id (MTurk's protocol; an "
                                                 "ExternalQuestion on another origin cannot send cookies); a worker "
                                                 "bearer of another worker is refused, see test_external_submit_bearer"),
    ("POST", "/mturk/externalSubmit"): ("pppppp", "as GET"),
    # the worker site
    ("GET", "/"): ("pppppp", "the marketplace's HIT groups (public listing)"),
    ("GET", "/groups/{hit_type_id}"): ("pppppp", "a HIT group's preview (public listing)"),
    ("POST", "/groups/{hit_type_id}/accept"): ("dooddd", "a worker session"),
    ("GET", "/hits/{hit_id}"): ("pppppp", "a HIT's preview (public listing)"),
    ("POST", "/hits/{hit_id}/accept"): ("dooddd", "a worker session"),
    ("POST", "/hits/{hit_id}/skip"): ("dooddd", "a worker session"),
    ("GET", "/work/{assignment_id}"): ("doddddd"[:6], "worker A's assignment only"),
    ("POST", "/work/{assignment_id}/return"): ("dxdddd", "worker A's assignment only"),
    ("GET", "/work/{assignment_id}/done"): ("dodddd", "worker A's assignment only"),
    ("POST", "/settings/auto-accept"): ("dooddd", "a worker's own setting"),
    ("GET", "/login"): ("pppppp", "sign-in"), ("POST", "/login"): ("pppppp", "sign-in"),
    ("POST", "/logout"): ("pppppp", "sign-out"),
    ("GET", "/join/{code}"): ("pppppp", "invitation sign-up"), ("POST", "/join/{code}"): ("pppppp", "invitation sign-up"),
    ("GET", "/signup"): ("pppppp", "open sign-up (off: 403)"), ("POST", "/signup"): ("pppppp", "open sign-up"),
    ("GET", "/p/{code}"): ("pppppp", "participant link"), ("POST", "/p/{code}"): ("pppppp", "participant link"),
    ("GET", "/me/assignments"): ("dooddd", "the worker's own"), ("GET", "/me/earnings"): ("dooddd", "the worker's own"),
    ("GET", "/me/messages"): ("dooddd", "the worker's own"),
    ("GET", "/me/qualifications"): ("dooddd", "the worker's own"),
    ("GET", "/qualifications/{type_id}/test"): ("dooddd", "any worker may take a qualification test"),
    ("POST", "/qualifications/{type_id}/request"): ("dooddd", "any worker may request a qualification"),
    ("GET", "/task/a/{assignment_id}"): ("pppppp", "capability: the task's own HTML under the unguessable assignment "
                                                   "id, served sandboxed (opaque origin), as MTurk's task frame"),
    ("GET", "/task/p/{hit_id}"): ("pppppp", "a HIT's task preview (public listing), sandboxed"),
    ("*", "/static"): ("pppppp", "static files"),
    ("GET", "/api/"): ("pppppp", "service info"),
    # admin JSON API (admin bearer token)
    ("POST", "/api/admin/v1/clock"): ("ddddd" + "o", "admin bearer"),
    ("GET", "/api/admin/v1/health"): ("pppppp", "health check for load balancers: status, no data"),
    ("POST", "/api/admin/v1/workers"): ("dddddo", "admin bearer"),
    ("POST", "/api/admin/v1/invitations"): ("dddddo", "admin bearer"),
    ("POST", "/api/admin/v1/settings"): ("dddddo", "admin bearer"),
    # requester JSON API (SigV4)
    ("POST", "/api/requester/v1/invitations"): ("dddood", "SigV4"),
    ("POST", "/api/requester/v1/participant-links"): ("dddood", "SigV4; B naming A's HIT type: test_requester_api_object_level"),
    ("GET", "/api/requester/v1/participant-links"): ("dddood", "SigV4; each sees their own"),
    # console
    ("GET", "/console/login"): ("pppppp", "sign-in"), ("POST", "/console/login"): ("pppppp", "sign-in"),
    ("POST", "/console/logout"): ("pppppp", "sign-out"),
    ("GET", "/console"): ("pppppp", "redirect to /console/"),
    ("GET", "/console/"): ("dddood", "a requester session"),
    ("GET", "/console/keys"): ("dddood", "own keys"), ("POST", "/console/keys"): ("dddood", "a new own key"),
    ("POST", "/console/keys/{key}/{action}"): ("dddxdd", "A's key"),
    ("GET", "/console/funds"): ("dddood", "own"), ("GET", "/console/funds/earnings.csv"): ("dddood", "own"),
    ("GET", "/console/workers"): ("dddood", "own workers"),
    ("GET", "/console/workers/{id}"): ("dddodd", "worker A worked for A only"),
    ("POST", "/console/workers/{id}/{action}"): ("dddxdd", "worker A worked for A only"),
    ("GET", "/console/qualifications"): ("dddood", "own"), ("POST", "/console/qualifications"): ("dddood", "own"),
    ("GET", "/console/qualifications/{id}"): ("dddodd", "A's qualification type"),
    ("POST", "/console/qualifications/{id}"): ("dddxdd", "A's qualification type"),
    ("GET", "/console/projects"): ("dddood", "own"), ("POST", "/console/projects"): ("dddood", "own"),
    ("GET", "/console/projects/{id}"): ("dddodd", "A's project"),
    ("POST", "/console/projects/{id}"): ("dddxdd", "A's project"),
    ("POST", "/console/projects/{id}/preview"): ("dddodd", "A's project"),
    ("POST", "/console/projects/{id}/batches"): ("dddxdd", "A's project"),
    ("GET", "/console/batches"): ("dddood", "own"),
    ("GET", "/console/batches/{id}"): ("dddodd", "A's batch"),
    ("GET", "/console/batches/{id}/rows/{n}"): ("dddodd", "A's batch"),
    ("POST", "/console/batches/{id}/publish"): ("dddxdd", "A's batch"),
    ("POST", "/console/batches/{id}/expire"): ("dddxdd", "A's batch"),
    ("POST", "/console/batches/{id}/delete"): ("dddxdd", "A's batch"),
    ("GET", "/console/batches/{id}/results.csv"): ("dddodd", "A's batch"),
    ("GET", "/console/batches/{id}/review"): ("dddodd", "A's batch"),
    ("POST", "/console/batches/{id}/review"): ("dddxdd", "A's batch"),
    ("GET", "/console/live"): ("dddood", "own live runs"),
    ("GET", "/console/live/{run_id}"): ("dddodd", "A's live run"),
    # administration
    ("GET", "/admin/login"): ("pppppp", "sign-in"), ("POST", "/admin/login"): ("pppppp", "sign-in"),
    ("POST", "/admin/logout"): ("pppppp", "sign-out"),
    ("GET", "/admin"): ("pppppp", "redirect to /admin/"),
    ("GET", "/admin/"): ("dddddo", "admin"), ("GET", "/admin/requesters"): ("dddddo", "admin"),
    ("POST", "/admin/requesters"): ("dddddo", "admin"),
    ("GET", "/admin/requesters/{id}"): ("dddddo", "admin"),
    ("POST", "/admin/requesters/{id}/{action}"): ("dddddx", "admin"),
    ("GET", "/admin/workers"): ("dddddo", "admin"),
    ("POST", "/admin/workers/{id}/{action}"): ("dddddx", "admin"),
    ("GET", "/admin/invitations"): ("dddddo", "admin"), ("POST", "/admin/invitations"): ("dddddo", "admin"),
    ("GET", "/admin/settings"): ("dddddo", "admin"), ("POST", "/admin/settings"): ("dddddx", "admin"),
    ("GET", "/admin/health"): ("dddddo", "admin"),
    # live tasks
    ("GET", "/live/v1/runs/{run_id}/events/{after}"): ("dddodd", "SigV4; A's run"),
    ("WS", "/live/v1/requester/{run_id}"): ("------", "websocket: checked in test_websockets_refuse_strangers"),
    ("WS", "/live/v1/worker/{run_id}"): ("------", "websocket: checked in test_websockets_refuse_strangers"),
    ("GET", "/live/{run_id}"): ("dodddd", "worker A's assignment in A's run (a preview without assignmentId is public)"),
}

JSON_BODIES = {"/api/admin/v1/clock": {"advance": 0}, "/api/admin/v1/workers": {"name": "matrix"},
               "/api/admin/v1/invitations": {"uses": 1}, "/api/admin/v1/settings": {"open_signup": False},
               "/api/requester/v1/invitations": {"uses": 1}, "/api/requester/v1/participant-links": {}}


@pytest.fixture(scope="module")
def world(server):  # type: ignore[no-untyped-def]
    w = build_world(server, CANARY)
    yield w
    close_world(w)


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _csrf(world: World, who: str, area: str, cache: dict) -> str:
    if (who, area) not in cache:
        http = world.ids[who].client.http
        page = http.get(f"{area}/login")
        if page.status_code != 200 or not _CSRF.search(page.text):
            page = http.get(f"{area}/")
        m = _CSRF.search(page.text)
        cache[(who, area)] = m.group(1) if m else ""
    return cache[(who, area)]


def _call(world: World, who: str, method: str, template: str, cache: dict):  # type: ignore[no-untyped-def]
    ident = world.ids[who]
    server = world.server
    path = fill_path(world, template)
    if template == "/live/{run_id}":
        path += (f"?assignmentId={world.obj['live_assignment_id']}&hitId={world.obj['live_hit_id']}"
                 f"&workerId={world.ids['worker_a'].worker_id}")
    http = ident.client.http
    headers: dict = {}
    signed = template == "/" or template.startswith(("/api/requester/", "/live/v1/runs/"))
    bearer = template.startswith(("/api/worker/", "/api/admin/")) or signed
    body = b""
    if template.startswith("/api/") or template == "/":
        body = json.dumps(JSON_BODIES.get(template, {})).encode()
        headers["Content-Type"] = "application/json"
    if template == "/":
        headers.update({"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "MTurkRequesterServiceV20170117.ListHITs"})
    if signed and ident.requester is not None:
        request = signed_request(server, ident.requester, method, path, body if method == "POST" else b"", headers)
        return path, server.http.send(request)
    if bearer and ident.bearer:
        headers["Authorization"] = f"Bearer {ident.bearer}"
    if method == "GET":
        return path, http.get(path, headers=headers)
    if template.startswith("/api/") or template == "/" or template == "/mturk/externalSubmit":
        return path, http.post(path, content=body, headers=headers)
    area = "/console" if template.startswith("/console") else "/admin" if template.startswith("/admin") else ""
    data = {"csrf_token": _csrf(world, who, area, cache), "next": "/", "row": "{}", "template": "<p>x</p>",
            "kind": "jinja"}
    return path, http.post(path, data=data, headers=headers)


def _login_redirect(r) -> bool:  # type: ignore[no-untyped-def]
    return r.status_code in (302, 303, 307) and "/login" in r.headers.get("location", "")


def _refused_redirect(r) -> bool:  # type: ignore[no-untyped-def]
    """A console form refused for an object that is not the visitor's: back to their own page with the reason."""
    return r.status_code == 303 and "msg=Refused" in r.headers.get("location", "")


def _mturk_refusal(r) -> bool:  # type: ignore[no-untyped-def]
    """The MTurk API refuses a missing or malformed signature with 400 (IncompleteSignature) or 403, as AWS."""
    try:
        kind = r.json().get("__type", "")
    except ValueError:
        return False
    return r.status_code in (400, 403) and kind.endswith(("IncompleteSignatureException", "MissingAuthenticationTokenException",
                                                          "InvalidSignatureException", "UnrecognizedClientException"))


def _judge(letter: str, r) -> str | None:  # type: ignore[no-untyped-def]
    """None when the response fits the letter, else why not."""
    if r.status_code >= 500:
        return f"server error {r.status_code}"
    if letter == "d":
        if not (r.status_code in (401, 403, 404) or _login_redirect(r) or _refused_redirect(r) or _mturk_refusal(r)):
            return f"expected a refusal, got {r.status_code} {r.headers.get('location', '')}"
        if CANARY in r.text:
            return "refused, but A's data is in the answer"
    elif letter == "o":
        if r.status_code in (401, 403, 404) or _login_redirect(r):
            snippet = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r.text))[-300:]
            return f"expected access, got {r.status_code} {r.headers.get('location', '')} {snippet}"
    return None


def test_every_route_is_classified(server):
    routes = app_routes(server)
    unclassified = sorted(routes - MATRIX.keys())
    assert not unclassified, f"routes without a decision in MATRIX (add them): {unclassified}"
    stale = sorted(MATRIX.keys() - routes)
    assert not stale, f"MATRIX lists routes the app no longer has: {stale}"
    for key, (letters, note) in MATRIX.items():
        assert len(letters) == 6 and set(letters) <= set("odxp-") and note, key


def test_matrix(server, world):
    routes = app_routes(server)
    cache: dict = {}
    problems = []
    calls = 0
    # reads first, then posts (denials before allowed ones), so no call changes what a later one sees
    keys = sorted((k for k in MATRIX if k in routes and k[0] in ("GET", "POST")),
                  key=lambda k: (k[0] != "GET", k[1]))
    for phase in ("d", "o"):
        for method, template in keys:
            letters, _ = MATRIX[(method, template)]
            for who, letter in zip(ORDER, letters):
                if letter not in (phase, "p") or (letter == "p" and phase == "o"):
                    continue
                if letter == "p" and method == "POST":
                    continue  # public posts (sign-in, sign-up) are exercised by their own tests
                path, r = _call(world, who, method, template, cache)
                calls += 1
                why = _judge(letter, r)
                if why:
                    problems.append(f"{method} {path} as {who}: {why}")
    assert not problems, "\n".join(problems)
    assert calls >= 6 * len(keys) * 3 // 4, calls  # most cells are exercised (x, public posts and - are not)
    # nothing the refused calls aimed at changed: A's key works, worker A's assignment is still open
    a = server.client(world.ids["requester_a"].requester)
    assert a.get_hit(HITId=world.obj["hit_id"])["HIT"]["NumberOfAssignmentsPending"] >= 1
    r = server.http.get(f"/api/worker/v1/assignments/{world.obj['assignment_id']}",
                        headers={"Authorization": f"Bearer {world.ids['worker_a'].bearer}"})
    assert r.status_code == 200 and r.json()["Status"] == "Accepted", r.text


def test_mturk_api_object_level(server, world):
    """Requester B's boto3 client with A's ids: every operation answers as if they did not exist (or refuses)."""
    o = world.obj
    b = server.client(world.ids["requester_b"].requester)
    calls = [
        ("get_hit", {"HITId": o["hit_id"]}),
        ("list_assignments_for_hit", {"HITId": o["hit_id"]}),
        ("get_assignment", {"AssignmentId": o["submitted_id"]}),
        ("approve_assignment", {"AssignmentId": o["submitted_id"]}),
        ("reject_assignment", {"AssignmentId": o["submitted_id"], "RequesterFeedback": "no"}),
        ("approve_assignment", {"AssignmentId": o["submitted_id"], "OverrideRejection": True}),
        ("update_expiration_for_hit", {"HITId": o["hit_id"], "ExpireAt": 0}),
        ("update_hit_review_status", {"HITId": o["hit_id"]}),
        ("update_hit_type_of_hit", {"HITId": o["hit_id"], "HITTypeId": o["hit_type_id"]}),
        ("create_additional_assignments_for_hit", {"HITId": o["hit_id"], "NumberOfAdditionalAssignments": 1}),
        ("delete_hit", {"HITId": o["hit_id"]}),
        ("list_bonus_payments", {"HITId": o["hit_id"]}),
        ("list_bonus_payments", {"AssignmentId": o["submitted_id"]}),
        ("list_assignments_for_hit", {"HITId": o["hit2_id"]}),
        ("send_bonus", {"WorkerId": world.ids["worker_a"].worker_id, "AssignmentId": o["submitted_id"],
                        "BonusAmount": "1.00", "Reason": "x"}),
        ("list_review_policy_results_for_hit", {"HITId": o["hit_id"]}),
        ("update_qualification_type", {"QualificationTypeId": o["qualification_type_id"], "Description": "taken"}),
        ("delete_qualification_type", {"QualificationTypeId": o["qualification_type_id"]}),
        ("list_workers_with_qualification_type", {"QualificationTypeId": o["qualification_type_id"]}),
        ("associate_qualification_with_worker", {"QualificationTypeId": o["qualification_type_id"],
                                                 "WorkerId": world.ids["worker_b"].worker_id, "IntegerValue": 1}),
        ("disassociate_qualification_from_worker", {"QualificationTypeId": o["qualification_type_id"],
                                                    "WorkerId": world.ids["worker_a"].worker_id}),
        ("list_qualification_requests", {"QualificationTypeId": o["qualification_type_id"]}),
        ("get_qualification_score", {"QualificationTypeId": o["qualification_type_id"],
                                     "WorkerId": world.ids["worker_a"].worker_id}),
        ("update_notification_settings", {"HITTypeId": o["hit_type_id"], "Active": False}),
        ("notify_workers", {"Subject": "s", "MessageText": "m", "WorkerIds": [world.ids["worker_a"].worker_id]}),
    ]
    leaks = []
    for op, params in calls:
        try:
            answer = getattr(b, op)(**params)
        except ClientError as e:
            assert e.response["ResponseMetadata"]["HTTPStatusCode"] < 500, (op, e.response)
            continue
        answer.pop("ResponseMetadata", None)
        # allowed only when it shows or changes nothing of A's
        if op == "list_qualification_requests" and not answer.get("QualificationRequests"):
            continue
        if op == "list_workers_with_qualification_type" and not answer.get("Qualifications"):
            continue
        if op == "list_bonus_payments" and not answer.get("BonusPayments"):
            continue
        if op == "notify_workers" and answer.get("NotifyWorkersFailureStatuses"):
            continue
        leaks.append((op, answer))
    assert not leaks, leaks
    # lists show B's own objects only
    assert all(h["HITId"] not in (o["hit_id"], o["hit2_id"]) for h in b.list_hits()["HITs"])
    assert all(h["HITId"] not in (o["hit_id"], o["hit2_id"]) for h in b.list_reviewable_hits()["HITs"])
    owned = b.list_qualification_types(MustBeRequestable=False, MustBeOwnedByCaller=True)["QualificationTypes"]
    assert all(q["QualificationTypeId"] != o["qualification_type_id"] for q in owned)
    # and A's objects are intact
    a = server.client(world.ids["requester_a"].requester)
    assert a.get_hit(HITId=o["hit_id"])["HIT"]["HITStatus"] in ("Assignable", "Unassignable")
    assert a.get_assignment(AssignmentId=o["submitted_id"])["Assignment"]["AssignmentStatus"] == "Submitted"
    assert not a.list_bonus_payments(HITId=o["hit2_id"])["BonusPayments"]
    assert a.get_qualification_type(QualificationTypeId=o["qualification_type_id"])["QualificationType"]["Description"] != "taken"


def test_requester_api_object_level(server, world):
    """B cannot make a participant link for A's HIT type, nor list A's links."""
    b = world.ids["requester_b"].requester
    body = json.dumps({"hit_type_id": world.obj["hit_type_id"]}).encode()
    r = server.http.send(signed_request(server, b, "POST", "/api/requester/v1/participant-links", body,
                                        {"Content-Type": "application/json"}))
    assert r.status_code in (400, 403, 404), r.text
    r = server.http.send(signed_request(server, b, "GET", "/api/requester/v1/participant-links"))
    assert r.status_code == 200 and world.obj["participant_code"] not in r.text


def test_external_submit_bearer(server, world):
    """externalSubmit: worker B's bearer token on A's assignment is refused, and nothing is submitted."""
    r = server.http.post("/mturk/externalSubmit", data={"assignmentId": world.obj["assignment_id"], "answer": "x"},
                         headers={"Authorization": f"Bearer {world.ids['worker_b'].bearer}", "Accept": "application/json"})
    assert r.status_code == 403, r.text
    r = server.http.get(f"/api/worker/v1/assignments/{world.obj['assignment_id']}",
                        headers={"Authorization": f"Bearer {world.ids['worker_a'].bearer}"})
    assert r.status_code == 200 and r.json()["Status"] == "Accepted", r.text


def test_websockets_refuse_strangers(server, world):
    """The live websockets: no signature, a bad one, or requester B's for A's run; no token, or worker B's
    bearer for worker A's assignment: each gets an error frame and a 44xx close, never a session."""
    import asyncio

    import websockets

    base = server.url.replace("http://", "ws://")
    run, aid = world.obj["run_id"], world.obj["live_assignment_id"]
    wa = world.ids["worker_a"].worker_id

    def signed_headers(who: str) -> dict:
        request = signed_request(server, world.ids[who].requester, "GET", f"/live/v1/requester/{run}")
        return {k: v for k, v in request.headers.items() if k.lower() in ("authorization", "x-amz-date")}

    cases = [
        (f"/live/v1/requester/{run}", {}, (4401,)),
        (f"/live/v1/requester/{run}", {"Authorization": "AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/mturk-requester/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + "0" * 64, "X-Amz-Date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())}, (4401,)),
        (f"/live/v1/requester/{run}", signed_headers("requester_b"), (4403, 4401, 4404)),
        (f"/live/v1/worker/{run}?assignmentId={aid}&workerId={wa}", {}, (4401,)),
        (f"/live/v1/worker/{run}?assignmentId={aid}&workerId={wa}&token=forged", {}, (4401,)),
        (f"/live/v1/worker/{run}?assignmentId={aid}&workerId={wa}",
         {"Authorization": f"Bearer {world.ids['worker_b'].bearer}"}, (4401, 4403)),
        (f"/live/v1/worker/{run}?assignmentId={aid}&workerId={world.ids['worker_b'].worker_id}",
         {"Authorization": f"Bearer {world.ids['worker_b'].bearer}"}, (4403,)),
    ]

    async def one(path: str, headers: dict) -> tuple[int | None, str]:
        async with websockets.connect(base + path, additional_headers=headers, open_timeout=30) as ws:
            auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
            if "/requester/" in path and auth.startswith("AWS4") and "Credential=x/" not in auth:
                await ws.send(json.dumps({"type": "hello", "name": "taken", "config": {}}))  # B signed: claim A's run
            first = await asyncio.wait_for(ws.recv(), 30)
            try:
                await asyncio.wait_for(ws.recv(), 30)
            except websockets.ConnectionClosed:
                pass
            return ws.close_code, str(first)

    for path, headers, codes in cases:
        try:
            code, first = asyncio.run(one(path, headers))
        except (asyncio.TimeoutError, TimeoutError):
            code, first = None, "no refusal within 30 s (the socket was left open)"
        assert code in codes, (path, code, first)
        assert "error" in first and CANARY not in first, first
