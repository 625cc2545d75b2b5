"""Security sweep: oversized bodies refused early. Every route that reads a body has a ceiling (the MTurk API
1 MiB, app.py MAX_API_BODY; worker API JSON 2 MiB; externalSubmit 2 MiB; site, console and admin forms 256 KiB
(site.read_form), a console CSV upload 20 MiB; the invitation and admin JSON APIs 64 KiB). A request whose
Content-Length is over the ceiling gets its 413 before any of the body is read: the test declares a gigabyte,
sends ten bytes and waits for the answer (a server that tried to read the body would wait for the rest). A body
streamed without a Content-Length (chunked) is cut off at the ceiling: the server answers 413 and stops reading
long before the client has sent it all, so no request makes the server hold more than its ceiling."""

from __future__ import annotations

import json
import select
import socket
from urllib.parse import urlsplit

import pytest

from tests.conftest import hit_params
from tests.security.support import mturk_request

GIB = 1 << 30
STREAM = 48 << 20  # what the chunked tests try to send: far above every ceiling but the upload's 20 MiB
CHUNK = 64 << 10


class Raw:
    """One HTTP/1.1 request over a plain socket, so the test controls exactly what is declared and sent."""

    def __init__(self, server) -> None:  # type: ignore[no-untyped-def]
        parts = urlsplit(server.url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=20)
        self.host = parts.netloc

    def head(self, method: str, path: str, headers: dict) -> None:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
        self.sock.sendall("\r\n".join(lines).encode())

    def answered(self) -> bool:
        return bool(select.select([self.sock], [], [], 0)[0])

    def response(self) -> tuple[int, bytes]:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1]) if head else 0
        length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), None)
        while length is not None and len(body) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            body += chunk
        return status, body

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def world(server):  # type: ignore[no-untyped-def]
    from tests.server.web.staff_support import console
    requester = server.new_requester()
    mturk = server.client(requester)
    hit = mturk.create_hit(**hit_params())["HIT"]
    worker = server.new_worker()
    assignment = server.accept(worker, hit["HITId"])
    _, creq = console(server)
    return {"requester": requester, "worker": worker, "assignment": assignment, "hit": hit["HITId"],
            "console_requester": creq}


def _targets(server, world) -> list[tuple[str, str, dict, tuple[int, ...]]]:  # type: ignore[no-untyped-def]
    """(method, path, headers, accepted statuses): 413, or 401 where the route refuses an unknown caller first."""
    worker = {"Authorization": f"Bearer {world['worker'].token}", "Content-Type": "application/json"}
    admin = {"Authorization": f"Bearer {server.admin_token}", "Content-Type": "application/json"}
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    signed = dict(mturk_request(server, world["requester"], "ListHITs", b"{}").headers)
    signed = {k: v for k, v in signed.items() if k.lower() not in ("content-length", "host")}
    return [
        ("POST", "/", signed, (413,)),
        ("POST", f"/api/worker/v1/assignments/{world['assignment']}/submit", worker, (413,)),
        ("POST", f"/api/worker/v1/hits/{world['hit']}/accept", worker, (413, 200, 400, 409)),
        ("POST", f"/api/worker/v1/assignments/{world['assignment']}/return", {"Content-Type": "application/json"}, (401, 413)),
        ("POST", "/mturk/externalSubmit", form, (413,)),
        ("POST", "/login", form, (413,)),
        ("POST", "/signup", form, (403, 413)),
        ("POST", "/console/login", form, (413,)),
        ("POST", "/admin/login", form, (413,)),
        ("POST", "/console/projects/none/batches", {"Content-Type": "multipart/form-data; boundary=x"}, (401, 413)),
        ("POST", "/api/requester/v1/invitations", {"Content-Type": "application/json"}, (413,)),
        ("POST", "/api/admin/v1/invitations", admin, (413,)),
        ("POST", "/api/admin/v1/clock", admin, (413,)),
        ("POST", "/api/admin/v1/workers", admin, (413,)),
    ]


def test_declared_length_over_the_limit_is_refused_before_reading(server, world):
    for method, path, headers, accepted in _targets(server, world):
        raw = Raw(server)
        raw.head(method, path, {**headers, "Content-Length": str(GIB)})
        raw.sock.sendall(b"0123456789")
        status, body = raw.response()  # a server reading the body first would never answer
        raw.close()
        assert status in accepted, (path, status, body[:300])
        if path == "/":
            assert json.loads(body)["__type"].endswith("RequestEntityTooLargeException")
        elif path.startswith("/api/") and status == 413:
            assert json.loads(body)["error"]["code"] == "too_large", body[:300]


def _stream(server, method: str, path: str, headers: dict) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """Send up to STREAM bytes chunked, stopping when the server answers or closes; (status, bytes sent)."""
    raw = Raw(server)
    raw.head(method, path, {**headers, "Transfer-Encoding": "chunked"})
    sent = 0
    piece = b"%x\r\n%s\r\n" % (CHUNK, b"a" * CHUNK)
    try:
        while sent < STREAM and not raw.answered():
            raw.sock.sendall(piece)
            sent += CHUNK
        if sent >= STREAM:
            raw.sock.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    try:
        status, _ = raw.response()
    except (ConnectionResetError, OSError):
        status = 0
    raw.close()
    return status, sent


def test_chunked_bodies_are_cut_off_at_the_limit(server, world):
    for method, path, headers, accepted in _targets(server, world):
        if 401 in accepted or 403 in accepted or path.endswith("/accept"):
            continue  # refused before any body is read: nothing to stream into
        status, sent = _stream(server, method, path, headers)
        assert status == 413, (path, status, sent)
        assert sent < STREAM, (path, sent)  # the server stopped reading (it did not take all 48 MiB)


def test_bodies_under_the_limits_still_work(server, world):
    from tests.security.support import bare_client
    http = bare_client(server)
    r = http.post("/login", data={"username": "x", "password": "y", "pad": "p" * (200 << 10)})
    assert r.status_code == 403  # read (no CSRF token), not refused for its size
    r = server.submit(world["worker"], world["assignment"], {"answer": "a" * (512 << 10)})
    assert r.status_code == 200, r.text[:300]
    http.close()
