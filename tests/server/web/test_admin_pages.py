"""Administration over HTTP (web/admin_pages.py): requesters (create with credentials shown once, top up,
deactivate, console login), workers (deactivate, reset password), invitations, settings (open sign-up, fee
schedule), health; every POST refused without its CSRF token, and bad input answered with a message, never a
500."""

from __future__ import annotations

import re

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import hit_params
from tests.server.web.staff_support import PASSWORD, admin, signed_in
from tests.support.web import SiteClient


@pytest.fixture()
def adm(server):  # type: ignore[no-untyped-def]
    client = admin(server)
    yield client
    client.close()


def _mturk(server, key: str, secret: str):  # type: ignore[no-untyped-def]
    return boto3.client("mturk", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key=secret, config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))


def _create(adm: SiteClient, name: str, **extra: str):  # type: ignore[no-untyped-def]
    r = adm.post("/admin/requesters", {"name": name, "funds": "25.50", **extra})
    assert r.status_code == 200, r.text[:1000]
    key = re.search(r"<code class=\"secret\">(AKIA[A-Z0-9]+|[A-Z0-9]{16,})</code>", r.text).group(1)
    secret = re.search(r'id="new-secret">([^<]+)<', r.text).group(1)
    rid = re.search(r'href="/admin/requesters/(R[A-Z0-9]+)">Open', r.text).group(1)
    return rid, key, secret


def test_pages_render(server, adm):
    for path in ("/admin/", "/admin/requesters", "/admin/workers", "/admin/invitations", "/admin/settings",
                 "/admin/health", f"/admin/requesters/{server.requester.requester_id}", "/admin/workers?q=zz&page=x"):
        r = adm.get(path)
        assert r.status_code == 200, path
        assert r.headers["content-security-policy"].startswith("default-src 'self'")
        assert r.headers["x-frame-options"] == "DENY"


def test_create_requester_with_funds_and_console_login(server, adm):
    rid, key, secret = _create(adm, "lab-one", username="lab-one-user", password="lab one password")
    mturk = _mturk(server, key, secret)
    assert mturk.get_account_balance()["AvailableBalance"] == "25.50"
    assert adm.get("/admin/requesters").text.count("lab-one") >= 1
    # The secret is shown once: neither the list nor the requester's page shows it again.
    assert secret not in adm.get("/admin/requesters").text
    assert secret not in adm.get(f"/admin/requesters/{rid}").text
    console = signed_in(server, "/console", "lab-one-user", "lab one password")
    assert "25.50" in console.get("/console/funds").text
    console.close()


def test_create_requester_refusals(server, adm):
    _create(adm, "dupe-name")
    r = adm.post("/admin/requesters", {"name": "dupe-name", "funds": "1"})
    assert r.status_code == 400 and "already exists" in r.text
    r = adm.post("/admin/requesters", {"name": "x-bad-funds", "funds": "12.345"})
    assert r.status_code == 400 and "at most two decimals" in r.text
    r = adm.post("/admin/requesters", {"name": "x-short-pw", "funds": "1", "username": "shorty", "password": "short"})
    assert r.status_code == 400 and "at least 8" in r.text
    r = adm.post("/admin/requesters", {"name": "", "funds": "1"})
    assert r.status_code == 400 and "non-empty name" in r.text
    # A NUL (which PostgreSQL text cannot hold) is refused on either database, never a 500.
    r = adm.post("/admin/requesters", {"name": "x\x00nul", "funds": "1"})
    assert r.status_code in (200, 400)
    rid = server.requester.requester_id
    r = adm.post(f"/admin/requesters/{rid}/funds", {"amount": "1", "memo": "a\x00b"})
    assert r.status_code in (303, 400)
    r = adm.post("/admin/invitations", {"uses": "1", "note": "a\x00b"})
    assert r.status_code in (200, 400)
    assert adm.get("/admin/requesters/R%00x").status_code == 404


def test_top_up_and_deactivate_a_requester(server, adm):
    rid, key, secret = _create(adm, "lab-two")
    here = f"/admin/requesters/{rid}"
    r = adm.post(f"{here}/funds", {"amount": "100", "memo": "grant 42"})
    assert r.status_code == 303 and "Added" in r.headers["location"]
    mturk = _mturk(server, key, secret)
    assert mturk.get_account_balance()["AvailableBalance"] == "125.50"
    for bad in ("-5", "abc", "0", "1e9", "99999999999"):
        r = adm.post(f"{here}/funds", {"amount": bad})
        assert r.status_code == 303 and "Refused" in r.headers["location"], bad
    assert mturk.get_account_balance()["AvailableBalance"] == "125.50"
    r = adm.post(f"{here}/active", {"active": "0"})
    assert r.status_code == 303
    assert "deactivated" in adm.get(here).text
    with pytest.raises(ClientError):
        mturk.get_account_balance()
    adm.post(f"{here}/active", {"active": "1"})
    assert mturk.get_account_balance()["AvailableBalance"] == "125.50"
    r = adm.post(f"{here}/login", {"username": "lab-two-login", "password": "lab two password"})
    assert r.status_code == 303 and "lab-two-login" in r.url.path + r.headers["location"]
    signed_in(server, "/console", "lab-two-login", "lab two password").close()
    assert adm.get("/admin/requesters/RNOSUCHREQUESTER").status_code == 404
    assert adm.post("/admin/requesters/RNOSUCH/funds", {"amount": "1"}).status_code == 404
    assert adm.post(f"{here}/explode", {}).status_code == 404


def test_workers_search_deactivate_and_reset_password(server, adm):
    worker_id, username, password = server.web_worker()
    worker = SiteClient(server.url)
    worker.login(username, password)
    r = adm.get(f"/admin/workers?q={username}")
    assert worker_id in r.text and username in r.text
    r = adm.post(f"/admin/workers/{worker_id}/active", {"active": "0"})
    assert r.status_code == 303
    assert worker.get("/me/assignments").status_code == 401  # the session ended
    other = SiteClient(server.url)
    other.get("/login")
    assert other.post("/login", {"username": username, "password": password}).status_code == 403
    adm.post(f"/admin/workers/{worker_id}/active", {"active": "1"})
    r = adm.post(f"/admin/workers/{worker_id}/password", {"username": "", "password": "the new password"})
    assert r.status_code == 303 and "new%20password" in r.headers["location"]
    other.login(username, "the new password")
    r = adm.post(f"/admin/workers/{worker_id}/password", {"username": "", "password": "short"})
    assert "Refused" in r.headers["location"]
    assert adm.post("/admin/workers/ANOSUCHWORKER1/active", {"active": "0"}).status_code == 404
    # A worker made without a login gets one when the admin sets a username.
    plain = server.new_worker()
    r = adm.post(f"/admin/workers/{plain.worker_id}/password", {"username": "given-login", "password": "a password!"})
    assert r.status_code == 303
    SiteClient(server.url).login("given-login", "a password!")
    worker.close()
    other.close()


def test_invitation_link_lets_a_worker_join(server, adm):
    r = adm.post("/admin/invitations", {"uses": "2", "expires_days": "3", "note": "<script>alert(1)</script> lab"})
    assert r.status_code == 200
    link = re.search(r'id="invitation-link">([^<]+)<', r.text).group(1)
    assert link.startswith(server.url + "/join/")
    assert "<script>alert(1)</script>" not in r.text and "&lt;script&gt;" in r.text
    joiner = SiteClient(server.url)
    path = link.replace(server.url, "")
    joiner.get(path)
    r = joiner.post(path, {"username": "joined-by-admin", "password": "long enough", "password_again": "long enough"})
    assert r.status_code == 303
    assert "1 / 2" in adm.get("/admin/invitations").text
    for bad in ({"uses": "0"}, {"uses": "x"}, {"expires_days": "-1"}, {"expires_days": "nan"}):
        r = adm.post("/admin/invitations", bad)
        assert r.status_code == 303 and "Refused" in r.headers["location"], bad
    joiner.close()


def test_settings_open_signup_and_fee_schedule(server, adm, mturk):
    try:
        r = adm.post("/admin/settings", {"open_signup": "1", "fee_schedule": "none"})
        assert r.status_code == 303
        assert SiteClient(server.url).get("/signup").status_code == 200
        before = float(mturk.get_account_balance()["AvailableBalance"])
        mturk.create_hit(**hit_params(Reward="1.00", MaxAssignments=2))
        after = float(mturk.get_account_balance()["AvailableBalance"])
        assert round(before - after, 2) == 2.00  # no fee held
        assert 'value="none" selected' in adm.get("/admin/settings").text
        # A server process started later on the same database uses it too, whatever its server.json says.
        from dataclasses import replace

        from hitkit.server.app import create_app

        other = create_app(replace(server.config, fee_schedule="mturk"))
        assert other.state.runtime.config.fee_schedule == "none"
        other.state.runtime.engine.dispose()
        r = adm.post("/admin/settings", {"fee_schedule": "bogus"})
        assert "Refused" in r.headers["location"]
    finally:
        adm.post("/admin/settings", {"fee_schedule": "mturk"})
    assert SiteClient(server.url).get("/signup").status_code == 403  # the box unticked turns it off
    before = float(mturk.get_account_balance()["AvailableBalance"])
    mturk.create_hit(**hit_params(Reward="1.00", MaxAssignments=2))
    assert round(before - float(mturk.get_account_balance()["AvailableBalance"]), 2) == 2.40


def test_health_page(server, adm):
    server.advance(0)
    r = adm.get("/admin/health")
    assert "reachable" in r.text and "(current)" in r.text and "last run" in r.text


def test_every_admin_form_needs_its_csrf_token(server, adm):
    rid = server.requester.requester_id
    worker = server.new_worker()
    posts = {
        "/admin/requesters": {"name": "csrf-made", "funds": "1"},
        f"/admin/requesters/{rid}/funds": {"amount": "5"},
        f"/admin/requesters/{rid}/active": {"active": "0"},
        f"/admin/requesters/{rid}/login": {"username": "csrf-login", "password": "whatever123"},
        f"/admin/workers/{worker.worker_id}/active": {"active": "0"},
        f"/admin/workers/{worker.worker_id}/password": {"username": "csrf-worker", "password": "whatever123"},
        "/admin/invitations": {"uses": "1"},
        "/admin/settings": {"open_signup": "1", "fee_schedule": "none"},
        "/admin/logout": {},
    }
    mturk = server.client()
    balance = mturk.get_account_balance()["AvailableBalance"]
    for path, data in posts.items():
        r = adm.post(path, data, csrf=False)
        assert r.status_code == 403 and "security token" in r.text, path
        r = adm.post(path, {**data, "csrf_token": "f" * 64})
        assert r.status_code == 403, path
        r = adm.post(path, data, headers={"Origin": "https://evil.example"})
        assert r.status_code == 403 and "another site" in r.text, path
    assert mturk.get_account_balance()["AvailableBalance"] == balance  # nothing changed
    assert "csrf-made" not in adm.get("/admin/requesters").text
    assert SiteClient(server.url).get("/signup").status_code == 403
    assert adm.get("/admin/").status_code == 200  # still signed in
    # A requester's signed-in CSRF token is not an admin's.
    from tests.server.web.staff_support import console

    req, _ = console(server)
    r = adm.post("/admin/settings", {"open_signup": "1", "fee_schedule": "none", "csrf_token": req.csrf})
    assert r.status_code == 403
    req.close()


def test_admin_login_by_password(server):
    from tests.server.web.staff_support import admin_login

    _, username = admin_login(server)
    client = signed_in(server, "/admin", username, PASSWORD)
    assert username in client.get("/admin/").text
    client.close()
