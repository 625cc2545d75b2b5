"""Shared set-up for the security sweep: a "world" on one running server with two requesters (A, B; console
logins and API keys), two workers (A, B; site logins and bearer tokens), an admin (site login and bearer token),
and A's objects (HIT type, HIT, worker A's assignment, qualification type, project, batch, participant link,
invitation) that the other identities must not reach."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

import httpx
from starlette.routing import Mount, Route, WebSocketRoute
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from hitkit.server.domain import accounts, web_accounts
from hitkit.server.live import store as live_store
from tests.conftest import HTML_QUESTION, hit_params
from tests.server.web.staff_support import PASSWORD, admin_login, requester_login, signed_in
from tests.support.server import Requester, RunningServer
from tests.support.web import SiteClient

ROWS = "text\nfirst item\nsecond item\n"


def signed_request(server: RunningServer, requester: Requester, method: str, path: str, body: bytes = b"",
                   headers: dict | None = None, amz_date: str | None = None) -> httpx.Request:
    """An httpx request signed as botocore signs MTurk calls (optionally with a chosen X-Amz-Date)."""
    url = server.url + path
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    auth = SigV4Auth(Credentials(requester.access_key, requester.secret), "mturk-requester", "us-east-1")
    if amz_date is None:
        auth.add_auth(request)
    else:  # add_auth's own steps, with the chosen timestamp instead of now
        request.context["timestamp"] = amz_date
        auth._modify_request_before_signing(request)
        signature = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
        auth._inject_signature_to_request(request, signature)
    return httpx.Request(method, url, content=body, headers=dict(request.headers.items()))


def mturk_request(server: RunningServer, requester: Requester, op: str, body: bytes, amz_date: str | None = None,
                  extra: dict | None = None) -> httpx.Request:
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"MTurkRequesterServiceV20170117.{op}",
               **(extra or {})}
    return signed_request(server, requester, "POST", "/", body, headers, amz_date)


@dataclass
class Identity:
    name: str
    client: SiteClient  # cookie-keeping client: worker site, console or admin session (or none)
    bearer: str | None = None  # worker or admin bearer token
    requester: Requester | None = None  # SigV4 keys
    worker_id: str | None = None
    subject: str | None = None  # requester id / admin id / worker id


@dataclass
class World:
    server: RunningServer
    ids: dict[str, Identity] = field(default_factory=dict)
    obj: dict[str, str] = field(default_factory=dict)  # requester A's and worker A's objects


def worker_identity(server: RunningServer, name: str) -> Identity:
    wid, username, password = server.web_worker()
    with server._engine.begin() as conn:
        token = accounts.new_token(conn, "worker", wid, time.time())
    client = SiteClient(server.url)
    client.login(username, password)
    return Identity(name, client, bearer=token, worker_id=wid, subject=wid)


def requester_identity(server: RunningServer, name: str) -> Identity:
    requester, username = requester_login(server, balance_cents=100_000)
    return Identity(name, signed_in(server, "/console", username), requester=requester, subject=requester.requester_id)


def admin_identity(server: RunningServer) -> Identity:
    admin_id, username = admin_login(server)
    with server._engine.begin() as conn:
        token = accounts.new_token(conn, "admin", admin_id, time.time())
    return Identity("admin", signed_in(server, "/admin", username), bearer=token, subject=admin_id)


def build_world(server: RunningServer, canary: str = "") -> World:
    """The identities and A's objects; `canary` goes into A's private names and answers (never into what the
    marketplace shows every worker, such as HIT titles)."""
    world = World(server)
    world.ids["anonymous"] = Identity("anonymous", SiteClient(server.url))
    for n in ("worker_a", "worker_b"):
        world.ids[n] = worker_identity(server, n)
    for n in ("requester_a", "requester_b"):
        world.ids[n] = requester_identity(server, n)
    world.ids["admin"] = admin_identity(server)
    ra, wa = world.ids["requester_a"], world.ids["worker_a"]
    mturk = server.client(ra.requester)
    hit = mturk.create_hit(**hit_params(MaxAssignments=2))["HIT"]
    world.obj["hit_type_id"], world.obj["hit_id"] = hit["HITTypeId"], hit["HITId"]
    world.obj["assignment_id"] = wa.client.accept(hit["HITId"])
    qt = mturk.create_qualification_type(Name="Sweep " + secrets.token_hex(3), Description="d",
                                         QualificationTypeStatus="Active")["QualificationType"]
    world.obj["qualification_type_id"] = qt["QualificationTypeId"]
    world.obj["access_key"] = ra.requester.access_key
    # a project and a batch in A's console
    c = ra.client
    c.get("/console/projects")
    r = c.post("/console/projects", {"name": f"Sweep project {canary}", "start": "text-classification"})
    assert r.status_code == 303, r.text[:500]
    world.obj["project_id"] = pid = r.headers["location"].split("?")[0].rsplit("/", 1)[1]
    c.get(f"/console/projects/{pid}")
    r = c.http.post(f"/console/projects/{pid}/batches", data={"csrf_token": c.csrf, "name": f"sweep batch {canary}"},
                    files={"file": ("items.csv", ROWS.encode(), "text/csv")})
    assert r.status_code == 303, r.text[:1500]
    world.obj["batch_id"] = r.headers["location"].split("?")[0].rsplit("/", 1)[1]
    world.obj["participant_code"] = server.participant_link(ra.requester, hit["HITTypeId"]).rsplit("/", 1)[1]
    world.obj["invitation_code"] = server.invite(uses=5).rsplit("/", 1)[1]
    # a second public HIT for the accept routes (the first holds worker A's open assignment)
    world.obj["hit2_id"] = mturk.create_hit(**hit_params(MaxAssignments=10))["HIT"]["HITId"]
    # worker A's submitted work for A (so A's console knows worker A, and B has a submitted assignment to aim at)
    auth = {"Authorization": f"Bearer {wa.bearer}"}
    r = server.http.post(f"/api/worker/v1/hits/{world.obj['hit2_id']}/accept", headers=auth)
    assert r.status_code == 200, r.text
    world.obj["submitted_id"] = r.json()["AssignmentId"]
    r = server.http.post(f"/api/worker/v1/assignments/{world.obj['submitted_id']}/submit",
                         json={"answers": {"answer": f"answer {canary}"}}, headers=auth)
    assert r.status_code == 200, r.text
    # A's live run (opened as the requester's LiveRunner opens it) and worker A's assignment on its HIT
    world.obj["run_id"] = run_id = "sweep-" + secrets.token_hex(4)
    with server._engine.begin() as conn:
        live_store.open_run(conn, run_id, ra.requester.requester_id, f"run {canary}",
                            {"title": "Live task", "description": "d"}, time.time())
    external = (
        '<ExternalQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/'
        f'ExternalQuestion.xsd"><ExternalURL>{server.url}/live/{run_id}</ExternalURL><FrameHeight>600</FrameHeight>'
        "</ExternalQuestion>")
    world.obj["live_hit_id"] = mturk.create_hit(**hit_params(Question=external, MaxAssignments=2))["HIT"]["HITId"]
    r = server.http.post(f"/api/worker/v1/hits/{world.obj['live_hit_id']}/accept", headers=auth)
    assert r.status_code == 200, r.text
    world.obj["live_assignment_id"] = r.json()["AssignmentId"]
    return world


def close_world(world: World) -> None:
    for ident in world.ids.values():
        ident.client.close()


__all__ = ["HTML_QUESTION", "PASSWORD", "World", "build_world", "close_world", "hit_params", "mturk_request",
           "signed_request", "web_accounts"]


_CSRF_RE = __import__("re").compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    m = _CSRF_RE.search(html)
    assert m, "no CSRF token on the page"
    return m.group(1)


def bare_client(server: RunningServer) -> httpx.Client:
    """A client that keeps no cookies: each test says exactly which cookies it sends."""
    from http.cookiejar import DefaultCookiePolicy
    client = httpx.Client(base_url=server.url, follow_redirects=False, timeout=30)
    client.cookies.jar.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    return client


def cookie_header(**cookies: str) -> dict:
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}


def set_cookie_value(response: httpx.Response, name: str) -> str | None:
    """The value `response` sets for cookie `name` (None when it sets none)."""
    for header in response.headers.get_list("set-cookie"):
        key, _, rest = header.partition("=")
        if key.strip() == name:
            return rest.split(";", 1)[0].strip().strip('"')
    return None


ACTIONS = {"/console/keys/{key}/{action}": "revoke", "/console/workers/{id}/{action}": "block",
           "/admin/requesters/{id}/{action}": "deactivate", "/admin/workers/{id}/{action}": "deactivate"}

def app_routes(server) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(method, path) of every route of the running app (HEAD folded into GET), plus the MTurk front door."""
    front = server._server.config.app
    found = {("POST", "/")}
    for route in front.app.routes:
        if isinstance(route, Mount):
            found.add(("*", route.path))
        elif isinstance(route, WebSocketRoute):
            found.add(("WS", route.path))
        elif isinstance(route, Route):
            found.update((m, route.path) for m in route.methods or () if m != "HEAD")
        else:
            raise AssertionError(f"unknown route type {route!r}")
    return found


def fill_path(world: World, path: str) -> str:
    """A route path with requester A's and worker A's objects for its parameters."""
    o = world.obj
    wid = world.ids["worker_a"].worker_id
    rid = world.ids["requester_a"].subject
    by_route = {
        "/console/workers/{id}": wid, "/console/workers/{id}/{action}": wid, "/admin/workers/{id}/{action}": wid,
        "/console/qualifications/{id}": o["qualification_type_id"], "/console/projects/{id}": o["project_id"],
        "/console/projects/{id}/preview": o["project_id"], "/console/projects/{id}/batches": o["project_id"],
        "/admin/requesters/{id}": rid, "/admin/requesters/{id}/{action}": rid,
        "/join/{code}": o["invitation_code"], "/p/{code}": o["participant_code"],
    }
    filled = path.replace("{id}", by_route.get(path, o["batch_id"])) if "{id}" in path else path
    if "{code}" in path:
        filled = filled.replace("{code}", by_route[path])
    if "/accept" in path:
        filled = filled.replace("{hit_id}", o["hit2_id"])
    return (filled.replace("{hit_id}", o["hit_id"]).replace("{hit_type_id}", o["hit_type_id"])
            .replace("{assignment_id}", o["assignment_id"]).replace("{type_id}", o["qualification_type_id"])
            .replace("{key}", o["access_key"]).replace("{action}", ACTIONS.get(path, "x")).replace("{n}", "1")
            .replace("{run_id}", o["run_id"]).replace("{after}", "0"))


