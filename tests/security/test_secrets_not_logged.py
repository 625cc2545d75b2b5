"""Security sweep: secrets never logged. With the server's loggers at DEBUG (hitkit.*, uvicorn.*, starlette) and
SQLAlchemy's statement log on (sqlalchemy.engine at INFO, as an operator debugging SQL would turn it on), the test
signs in (worker, console, admin; right and wrong passwords), signs up with an invitation, joins by a participant
link, calls the MTurk API with SigV4 (good and bad signatures), uses worker and admin bearer tokens, creates and
rotates console API keys, creates a requester with a password, and makes invitations on the admin pages and both
JSON APIs; then no log record (message, arguments or traceback) holds a password, a secret access key, a session
id, a CSRF token, a bearer token, an invitation code or a participant-link code.

The test client's own loggers (botocore, httpx, ...) run in this process too; they are the client's, not the
server's, and are left out."""

from __future__ import annotations

import logging
import re
import secrets

import pytest

from tests.conftest import hit_params
from tests.security.support import (
    admin_identity, bare_client, cookie_header, csrf_of, mturk_request, requester_identity, set_cookie_value,
    worker_identity,
)
from tests.server.web.staff_support import PASSWORD

SERVER_LOGGERS = ("hitkit", "uvicorn", "uvicorn.error", "starlette", "sqlalchemy.engine", "sqlalchemy.pool", "asyncio")
CLIENT_LOGGERS = ("botocore", "boto3", "urllib3", "httpx", "httpcore", "s3transfer", "tests")


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(CLIENT_LOGGERS):
            self.records.append(record)

    @staticmethod
    def text_of(record: logging.LogRecord) -> str:
        holder = Capture()
        holder.records.append(record)
        return holder.text()

    def text(self) -> str:
        parts = []
        for r in self.records:
            try:
                parts.append(r.getMessage())
            except Exception:  # a record whose args do not fit its message: keep both raw
                parts.append(f"{r.msg} {r.args}")
            parts.append(repr(r.args))
            if r.exc_info:
                parts.append(logging.Formatter().formatException(r.exc_info))
            if r.exc_text:
                parts.append(r.exc_text)
        return "\n".join(parts)


@pytest.fixture()
def capture():  # type: ignore[no-untyped-def]
    handler = Capture()
    root = logging.getLogger()
    saved = {name: logging.getLogger(name).level for name in SERVER_LOGGERS}
    saved_root = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for name in SERVER_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO if name.startswith("sqlalchemy") else logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(saved_root)
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def test_no_secret_in_any_log_record(server, capture):
    found: dict[str, str] = {}  # what must never be logged -> where it came from

    def keep(label: str, value: str | None) -> None:
        if value:
            found[value] = label

    keep("bootstrap secret", server.requester.secret)
    keep("admin bearer", server.admin_token)
    # sign-ins on all three sites (their sessions and CSRF tokens too)
    worker = worker_identity(server, "w")
    req = requester_identity(server, "r")
    admin = admin_identity(server)
    keep("requester secret", req.requester.secret)
    keep("worker bearer", worker.bearer)
    keep("admin bearer", admin.bearer)
    keep("staff password", PASSWORD)
    keep("worker password", "correct horse battery")
    for ident, cookie in ((worker, "hitkit_session"), (req, "hitkit_console"), (admin, "hitkit_admin")):
        keep(f"{cookie} session", ident.client.http.cookies.get(cookie))
        keep(f"{cookie} csrf", ident.client.csrf)
    # a wrong password
    http = bare_client(server)
    anon = secrets.token_urlsafe(24)
    keep("anon cookie", anon)
    token = csrf_of(http.get("/login", headers=cookie_header(hitkit_anon=anon)).text)
    keep("anon csrf", token)
    wrong = "wrong-" + secrets.token_hex(8)
    keep("wrong password", wrong)
    r = http.post("/login", data={"csrf_token": token, "username": "nobody", "password": wrong},
                  headers=cookie_header(hitkit_anon=anon))
    assert r.status_code == 401
    # sign-up by invitation, participant link
    code = server.invite(uses=2).rsplit("/", 1)[1]
    keep("invitation code", code)
    token = csrf_of(http.get(f"/join/{code}", headers=cookie_header(hitkit_anon=anon)).text)
    new_password = "signup-" + secrets.token_hex(8)
    keep("sign-up password", new_password)
    r = http.post(f"/join/{code}", data={"csrf_token": token, "username": "u" + secrets.token_hex(4),
                                         "password": new_password, "password_again": new_password},
                  headers=cookie_header(hitkit_anon=anon))
    assert r.status_code == 303, r.text[:300]
    keep("sign-up session", set_cookie_value(r, "hitkit_session"))
    mturk = server.client(req.requester)
    hit = mturk.create_hit(**hit_params())["HIT"]
    link = server.participant_link(req.requester, hit["HITTypeId"]).rsplit("/", 1)[1]
    keep("participant code", link)
    token = csrf_of(http.get(f"/p/{link}", headers=cookie_header(hitkit_anon=anon)).text)
    r = http.post(f"/p/{link}", data={"csrf_token": token}, headers=cookie_header(hitkit_anon=anon))
    assert r.status_code == 303
    keep("participant session", set_cookie_value(r, "hitkit_session"))
    # the MTurk API: good calls, a bad signature, an unknown key
    mturk.list_hits()
    bad = mturk_request(server, req.requester.__class__(req.requester.requester_id, req.requester.access_key,
                                                        "x" * 40), "ListHITs", b"{}")
    assert server.http.send(bad).status_code in (400, 403)
    # worker and admin bearer tokens
    aid = server.accept(server.new_worker(), hit["HITId"])
    r = server.http.get(f"/api/worker/v1/assignments/{aid}", headers={"Authorization": f"Bearer {worker.bearer}"})
    assert r.status_code in (403, 404)
    r = server.http.post("/api/admin/v1/invitations", json={"uses": 1},
                         headers={"Authorization": f"Bearer {admin.bearer}"})
    assert r.status_code == 200, r.text
    keep("admin API invitation", r.json()["code"])
    r = server.http.send(mturk_request(server, req.requester, "x", b"{}").__class__(
        "POST", server.url + "/api/requester/v1/invitations"))  # unsigned: refused
    assert r.status_code in (401, 403)
    from tests.security.support import signed_request
    r = server.http.send(signed_request(server, req.requester, "POST", "/api/requester/v1/invitations", b'{"uses": 1}',
                                        {"Content-Type": "application/json"}))
    assert r.status_code == 200, r.text
    keep("requester API invitation", r.json()["code"])
    # console keys: create and rotate (each shows a new secret once)
    page = req.client.post("/console/keys")
    assert page.status_code == 200, page.text[:300]
    new_secret = re.search(r'id="new-key-secret">([^<]+)<', page.text).group(1)  # type: ignore[union-attr]
    new_key = re.search(r'id="new-key-id">([^<]+)<', page.text).group(1)  # type: ignore[union-attr]
    keep("created key secret", new_secret)
    req.client.get("/console/keys")
    page = req.client.post(f"/console/keys/{new_key}/rotate")
    assert page.status_code == 200, page.text[:300]
    keep("rotated key secret", re.search(r'id="new-key-secret">([^<]+)<', page.text).group(1))  # type: ignore[union-attr]
    # the admin pages: a requester with a password, an invitation
    admin.client.get("/admin/requesters")
    made_password = "made-" + secrets.token_hex(8)
    keep("admin-set password", made_password)
    r = admin.client.post("/admin/requesters", {"name": "Lab", "username": "lab" + secrets.token_hex(3),
                                                "password": made_password, "funds": "10"})
    assert r.status_code in (200, 303), r.text[:300]
    for m in re.finditer(r'class="secret"[^>]*>([^<]{20,})<', r.text):
        keep("admin-created secret", m.group(1))
    admin.client.get("/admin/invitations")
    r = admin.client.post("/admin/invitations", {"uses": "3", "expires_days": "7", "note": "sweep"})
    assert r.status_code in (200, 303), r.text[:300]
    page = r if r.status_code == 200 else admin.client.get(r.headers["location"])
    for m in re.finditer(r"/join/([A-Za-z0-9_\-]{8,})", page.text):
        keep("admin page invitation", m.group(1))
    # sign out (ends sessions) and a request with an ended session
    worker.client.post("/logout")
    worker.client.get("/me/assignments")
    http.close()

    assert len(found) >= 20, found
    text = capture.text()
    assert capture.records, "no server log records were captured: the capture is not working"
    leaked = {label: value for value, label in found.items() if value in text}
    where = sorted({r.name for r in capture.records for v in leaked.values() if v in Capture.text_of(r)})
    assert not leaked, f"secrets in the server log: {sorted(leaked)} (loggers {where})"
