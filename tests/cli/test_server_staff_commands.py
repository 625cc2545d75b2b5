"""`hitkit server requester create --username`, `requester password`, `admin create|password|list`: web logins
for the requester console and administration, as a user runs them against a running server."""

from __future__ import annotations

import signal

import boto3
import pytest

from tests.support.processes import ServerProcess, free_port, hitkit, hitkit_json
from tests.support.web import SiteClient


@pytest.fixture()
def home(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_ENDPOINT_URL_MTURK", "HITKIT_DATABASE_URL"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def _sign_in(url: str, area: str, username: str, password: str) -> SiteClient:
    client = SiteClient(url)
    client.get(f"{area}/login")
    r = client.post(f"{area}/login", {"username": username, "password": password})
    assert r.status_code == 303, r.text[:300]
    return client


def test_requester_and_admin_logins(home):
    data = home / "srv"
    port = free_port()
    hitkit_json("server", "init", "--data-dir", str(data), "--port", str(port), "--no-profile")
    server = ServerProcess(data, port=port)
    try:
        req = hitkit_json("server", "requester", "create", "lab-c", "--username", "LabC", "--password-stdin",
                          "--data-dir", str(data), "--json", stdin="lab c password\n")
        assert req["username"] == "labc"
        console = _sign_in(server.url, "/console", "labc", "lab c password")
        assert req["aws_access_key_id"] in console.get("/console/keys").text
        mturk = boto3.client("mturk", endpoint_url=server.url, region_name="us-east-1",
                             aws_access_key_id=req["aws_access_key_id"], aws_secret_access_key=req["aws_secret_access_key"])
        assert mturk.get_account_balance()["AvailableBalance"] == "10000.00"
        hitkit("server", "requester", "password", "lab-c", "--username", "labc2", "--password-stdin",
               "--data-dir", str(data), stdin="another lab password\n")
        assert console.get("/console/keys").status_code == 303  # the old session ended
        _sign_in(server.url, "/console", "labc2", "another lab password")
        bad = hitkit("server", "requester", "password", "nobody", "--username", "x1x", "--password-stdin",
                     "--data-dir", str(data), stdin="long enough pw\n", check=False)
        assert bad.returncode == 1 and "No requester" in bad.stderr
        short = hitkit("server", "requester", "create", "lab-d", "--username", "labd", "--password-stdin",
                       "--data-dir", str(data), stdin="short\n", check=False)
        assert short.returncode == 1 and "at least 8" in short.stderr

        adm = hitkit_json("server", "admin", "create", "ops", "--username", "ops", "--password-stdin",
                          "--data-dir", str(data), "--json", stdin="ops password 1\n")
        assert adm["token"].startswith("hk_a_")
        admin = _sign_in(server.url, "/admin", "ops", "ops password 1")
        assert "lab-c" in admin.get("/admin/requesters").text
        dup = hitkit("server", "admin", "create", "ops", "--data-dir", str(data), check=False)
        assert dup.returncode == 1 and "already exists" in dup.stderr
        hitkit("server", "admin", "password", "ops", "--username", "ops-two", "--password-stdin", "--data-dir", str(data),
               stdin="ops password 2\n")
        _sign_in(server.url, "/admin", "ops-two", "ops password 2")
        listed = hitkit_json("server", "admin", "list", "--data-dir", str(data), "--json")
        assert any(a["username"] == "ops-two" for a in listed["admins"])
    finally:
        assert server.stop(signal.SIGTERM) == 0
