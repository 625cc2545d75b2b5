"""Security sweep: path traversal. `/static/...` serves only the files of hitkit/server/web/static: `..`
segments, encoded (%2e%2e, %2f, %5c, double-encoded) or raw, backslashes, absolute paths and NUL bytes never
reach other files (the server's source, its data directory, /etc/passwd). Routes that render a template or a
stored document from a path parameter (`/task/a/{id}`, `/task/p/{id}`, `/work/{id}`, `/hits/{id}`,
`/groups/{id}`, `/console/batches/{id}/rows/{n}`, `/live/{run_id}`, ...) take ids, never file or template
names: traversal-looking ids are 404s (or another refusal) that echo no file."""

from __future__ import annotations

import http.client
from pathlib import Path
from urllib.parse import urlsplit

import hitkit.server.app as app_module
from tests.security.support import cookie_header

# text that would only appear if a file outside static/ were served
LEAKS = ["root:x:0:0", "MTurkFrontDoor", "MAX_API_BODY", "import ", "SQLite format 3", "server_secret", "[tool.",
         "\"admin_token\""]

TRAVERSALS = [
    "../app.py", "../../app.py", "../../../../../../etc/passwd", "..%2fapp.py", "..%2F..%2Fapp.py",
    "%2e%2e/app.py", "%2e%2e%2f%2e%2e%2fapp.py", "%252e%252e%252fapp.py", "..%5capp.py", "..\\app.py",
    "....//app.py", "..;/app.py", "/etc/passwd", "%2fetc%2fpasswd", "//etc/passwd", "..%00/app.py",
    "hitkit.css%00.py", "%c0%ae%c0%ae/app.py", "./../web/site.py", "static/../../app.py", "..%2f..%2f..%2fpyproject.toml",
]


def _raw_get(server, path: str, headers: dict | None = None) -> tuple[int, bytes]:  # type: ignore[no-untyped-def]
    """GET with the path sent byte for byte (httpx and browsers would normalise the dot segments away)."""
    parts = urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.putrequest("GET", path, skip_accept_encoding=True)
    for k, v in (headers or {}).items():
        conn.putheader(k, v)
    conn.endheaders()
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, body


def _assert_no_leak(path: str, status: int, body: bytes) -> None:
    text = body.decode("utf-8", "replace")
    for leak in LEAKS:
        assert leak not in text, (path, status, leak)
    assert status < 500, (path, status)


def test_static_files_stay_in_static(server):
    status, body = _raw_get(server, "/static/hitkit.css")
    assert status == 200 and body  # the route works
    for t in TRAVERSALS:
        for path in (f"/static/{t}", f"/static/css/{t}", f"/static//{t}"):
            status, body = _raw_get(server, path)
            assert status in (400, 404, 405), (path, status)
            _assert_no_leak(path, status, body)
    # and the source file really exists where the traversal pointed (so the test would see a leak)
    assert Path(app_module.__file__).read_text().count("MTurkFrontDoor")


def test_template_and_document_routes_take_ids_not_paths(server):
    from tests.server.web.staff_support import console
    from tests.support.web import SiteClient
    client, _ = console(server)
    _, username, password = server.web_worker()
    worker = SiteClient(server.url)
    worker.login(username, password)
    cookies = {**{k: v for k, v in worker.http.cookies.items()}, **{k: v for k, v in client.http.cookies.items()}}
    templates = ["/task/a/{}", "/task/p/{}", "/work/{}", "/work/{}/done", "/hits/{}", "/groups/{}", "/live/{}",
                 "/qualifications/{}/test", "/console/batches/{}", "/console/batches/{}/rows/1",
                 "/console/batches/1/rows/{}", "/console/projects/{}", "/console/workers/{}",
                 "/console/qualifications/{}", "/console/batches/{}/results.csv", "/join/{}", "/p/{}",
                 "/api/worker/v1/assignments/{}", "/live/v1/runs/{}/events/0"]
    for template in templates:
        for t in TRAVERSALS[:12] + ["..", "%2e%2e", "error.html", "..%2ftemplates%2fbase.html", "../templates/login.html"]:
            path = template.format(t)
            status, body = _raw_get(server, path, cookie_header(**cookies))
            assert status in (303, 307, 400, 401, 403, 404, 405, 410), (path, status)
            _assert_no_leak(path, status, body)
            # no raw template source either (a Jinja tag would show if a template file were served as text)
            assert b"{%" not in body and b"{{ " not in body, path
    worker.close()
    client.close()
