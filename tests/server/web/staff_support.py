"""Helpers for the console and admin tests: requesters and admins with web logins (written to the database as
`hitkit server requester create --username` and `hitkit server admin create --username` do), and signed-in
SiteClients for them."""

from __future__ import annotations

import secrets
import time

from hitkit.server.domain import accounts, staff_accounts, web_accounts
from tests.support.server import Requester, RunningServer
from tests.support.web import SiteClient

PASSWORD = "staff password 123"


def requester_login(server: RunningServer, balance_cents: int | None = None) -> tuple[Requester, str]:
    """A fresh requester with a console login: (Requester, username); the password is PASSWORD."""
    requester = server.new_requester(balance_cents)
    username = "req-" + secrets.token_hex(4)
    with server._engine.begin() as conn:
        staff_accounts.set_staff_login(conn, "requester", requester.requester_id, username,
                                       web_accounts.hash_password(PASSWORD), time.time())
    return requester, username


def admin_login(server: RunningServer) -> tuple[str, str]:
    """A fresh admin with a web login: (admin id, username)."""
    username = "admin-" + secrets.token_hex(4)
    with server._engine.begin() as conn:
        admin_id, _ = accounts.create_admin(conn, username, time.time())
        staff_accounts.set_staff_login(conn, "admin", admin_id, username, web_accounts.hash_password(PASSWORD), time.time())
    return admin_id, username


def signed_in(server: RunningServer, area: str, username: str, password: str = PASSWORD) -> SiteClient:
    """A SiteClient signed in to /console or /admin (area) whose CSRF token is the session's."""
    client = SiteClient(server.url)
    client.get(f"{area}/login")
    r = client.post(f"{area}/login", {"username": username, "password": password})
    assert r.status_code == 303, r.text[:500]
    client.get(f"{area}/")
    return client


def console(server: RunningServer, balance_cents: int | None = None) -> tuple[SiteClient, Requester]:
    requester, username = requester_login(server, balance_cents)
    return signed_in(server, "/console", username), requester


def admin(server: RunningServer) -> SiteClient:
    _, username = admin_login(server)
    return signed_in(server, "/admin", username)
