"""Login rate limiting on every form (worker site, console, admin): per username and per client address, in the
database (so several processes agree), forgotten after the window. This module has its own server, since the
per-address count is shared by every login from 127.0.0.1."""

from __future__ import annotations

from sqlalchemy import func, select

from hitkit.server.domain.login_limits import PER_IP, PER_USERNAME, WINDOW
from hitkit.server.store.tables import login_failures
from tests.server.web.staff_support import PASSWORD, admin_login, requester_login
from tests.support.web import SiteClient


def _attempt(client: SiteClient, path: str, username: str, password: str):  # type: ignore[no-untyped-def]
    return client.post(path, {"username": username, "password": password})


def test_each_login_form_is_limited_per_username_and_the_window_passes(server):
    _, worker_name, worker_password = server.web_worker()
    _, requester_name = requester_login(server)
    _, admin_name = admin_login(server)
    client = SiteClient(server.url)
    client.get("/login")
    for path, username, password in (("/login", worker_name, worker_password),
                                     ("/console/login", requester_name, PASSWORD),
                                     ("/admin/login", admin_name, PASSWORD)):
        for _ in range(PER_USERNAME):
            assert _attempt(client, path, username, "not the password").status_code == 401
        r = _attempt(client, path, username, password)  # even the right password is refused now
        assert r.status_code == 429 and "Too many failed sign-ins" in r.text, path
        assert "set-cookie" not in r.headers or "hitkit_session" not in r.headers["set-cookie"]
    with server._engine.connect() as conn:
        forms = dict(conn.execute(select(login_failures.c.form, func.count()).group_by(login_failures.c.form)).all())
    assert forms == {"worker": PER_USERNAME, "requester": PER_USERNAME, "admin": PER_USERNAME}
    server.advance(WINDOW + 1)
    for path, username, password in (("/login", worker_name, worker_password),
                                     ("/console/login", requester_name, PASSWORD),
                                     ("/admin/login", admin_name, PASSWORD)):
        assert _attempt(client, path, username, password).status_code == 303, path
    client.close()


def test_a_success_clears_the_username_count(server):
    _, username = requester_login(server)
    client = SiteClient(server.url)
    client.get("/console/login")
    for _ in range(PER_USERNAME - 1):
        assert _attempt(client, "/console/login", username, "wrong password").status_code == 401
    assert _attempt(client, "/console/login", username, PASSWORD).status_code == 303
    client.close()
    client = SiteClient(server.url)
    client.get("/console/login")
    for _ in range(PER_USERNAME - 1):
        assert _attempt(client, "/console/login", username, "wrong password").status_code == 401
    assert _attempt(client, "/console/login", username, PASSWORD).status_code == 303
    client.close()


def test_one_address_trying_many_usernames_is_limited(server):
    server.advance(WINDOW + 1)  # start from a clean window
    _, requester_name = requester_login(server)
    client = SiteClient(server.url)
    client.get("/login")
    for i in range(PER_IP):
        path = ("/login", "/console/login", "/admin/login")[i % 3]
        assert _attempt(client, path, f"guess-{i}", "wrong password").status_code == 401
    r = _attempt(client, "/console/login", requester_name, PASSWORD)
    assert r.status_code == 429
    server.advance(WINDOW + 1)
    assert _attempt(client, "/console/login", requester_name, PASSWORD).status_code == 303
    client.close()


def test_two_server_processes_count_the_same_failures(server):
    """A second server on the same database (as a second process behind a load balancer would be) refuses the
    username the first one counted failures for."""
    from hitkit.server.embedded import serve_in_thread

    import time

    now = server.advance(WINDOW + 1)["now"]
    second = serve_in_thread(server.config)
    try:
        clock = second.server.config.app.state.runtime.clock
        deadline = time.monotonic() + 10
        while clock.now() < now and time.monotonic() < deadline:  # it reads the test clock's offset at its first sweep
            time.sleep(0.05)
        assert clock.now() >= now
        _, username = requester_login(server)
        first_client, second_client = SiteClient(server.url), SiteClient(second.url)
        first_client.get("/console/login")
        second_client.get("/console/login")
        for i in range(PER_USERNAME):
            client = first_client if i % 2 else second_client
            assert _attempt(client, "/console/login", username, "wrong password").status_code == 401
        assert _attempt(first_client, "/console/login", username, PASSWORD).status_code == 429
        assert _attempt(second_client, "/console/login", username, PASSWORD).status_code == 429
        first_client.close()
        second_client.close()
    finally:
        second.stop()
