"""`hitkit server init|run|requester create|funds add|worker create|db` as a user runs them."""

from __future__ import annotations

import configparser
import signal

import boto3
import pytest

from tests.support.processes import ServerProcess, free_port, hitkit, hitkit_json


@pytest.fixture()
def home(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "home/.aws/config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "home/.aws/credentials"))
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_ENDPOINT_URL_MTURK", "HITKIT_DATABASE_URL"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def test_init_run_and_the_hitkit_local_profile(home):
    data = home / "srv"
    port = free_port()
    out = hitkit_json("server", "init", "--data-dir", str(data), "--port", str(port))
    assert set(out["requester"]) >= {"aws_access_key_id", "aws_secret_access_key"} and out["admin"]["token"]
    creds = configparser.RawConfigParser()
    creds.read(home / "home/.aws/credentials")
    assert creds["hitkit-local"]["aws_access_key_id"] == out["requester"]["aws_access_key_id"]
    server = ServerProcess(data, port=port)
    try:
        mturk = boto3.Session(profile_name="hitkit-local").client("mturk")
        assert mturk.meta.endpoint_url == f"http://127.0.0.1:{port}"
        assert mturk.get_account_balance()["AvailableBalance"] == "10000.00"
        # Every subcommand works while the server runs.
        hitkit("server", "funds", "add", out["requester"]["name"], "250.50", "--data-dir", str(data))
        assert mturk.get_account_balance()["AvailableBalance"] == "10250.50"
        other = hitkit_json("server", "requester", "create", "lab-b", "--data-dir", str(data))
        b = boto3.client("mturk", endpoint_url=server.url, region_name="us-east-1",
                         aws_access_key_id=other["aws_access_key_id"], aws_secret_access_key=other["aws_secret_access_key"])
        assert b.get_account_balance()["AvailableBalance"] == "10000.00"
        w = hitkit_json("server", "worker", "create", "alice", "--country", "US", "--subdivision", "CA", "--adult",
                        "--data-dir", str(data))
        assert w["WorkerId"].startswith("A") and len(w["WorkerId"]) == 14
        import httpx

        r = httpx.get(server.url + "/api/worker/v1/hits", headers={"Authorization": f"Bearer {w['token']}"})
        assert r.status_code == 200 and r.json() == {"hits": []}
    finally:
        assert server.stop(signal.SIGTERM) == 0  # clean shutdown
    # Re-running init keeps the data and prints the same requester.
    again = hitkit_json("server", "init", "--data-dir", str(data), "--port", str(port))
    assert again["requester"]["aws_access_key_id"] == out["requester"]["aws_access_key_id"] and again["created"] is False


def test_helpful_errors(home):
    data = home / "none"
    proc = hitkit("server", "run", "--data-dir", str(data), check=False)
    assert proc.returncode == 1 and "hitkit server init" in proc.stderr
    hitkit("server", "init", "--data-dir", str(data), "--no-profile")
    proc = hitkit("server", "funds", "add", "nobody", "10", "--data-dir", str(data), check=False)
    assert proc.returncode == 1 and "No requester is named 'nobody'" in proc.stderr
    proc = hitkit("server", "funds", "add", "default", "10.123", "--data-dir", str(data), check=False)
    assert proc.returncode == 1 and "at most two decimals" in proc.stderr
    proc = hitkit("server", "run", "--data-dir", str(data), "--host", "0.0.0.0", "--allow-clock-control", check=False)
    assert proc.returncode == 1 and "loopback" in proc.stderr
    proc = hitkit("server", "worker", "create", "x", "--country", "USA", "--data-dir", str(data), check=False)
    assert proc.returncode == 1 and "two-letter" in proc.stderr
    assert hitkit("server", "db", "check", "--data-dir", str(data)).returncode == 0
    assert hitkit("server", "db", "upgrade", "--data-dir", str(data)).returncode == 0


def test_clock_route_is_off_unless_asked(home):
    data = home / "srv"
    out = hitkit_json("server", "init", "--data-dir", str(data), "--no-profile")
    server = ServerProcess(data)
    try:
        import httpx

        r = httpx.post(server.url + "/api/admin/v1/clock", json={"advance": 10}, headers={"Authorization": f"Bearer {out['admin']['token']}"})
        assert r.status_code == 404
    finally:
        server.stop()
    server = ServerProcess(data, extra=("--allow-clock-control",))
    try:
        import httpx

        r = httpx.post(server.url + "/api/admin/v1/clock", json={"advance": 10})
        assert r.status_code == 401
        r = httpx.post(server.url + "/api/admin/v1/clock", json={"advance": 10}, headers={"Authorization": f"Bearer {out['admin']['token']}"})
        assert r.status_code == 200 and r.json()["offset"] == 10
    finally:
        server.stop()


def test_unreachable_database_is_a_clear_error(home):
    env = {"HITKIT_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"}
    proc = hitkit("server", "run", "--data-dir", str(home / "x"), env=env, check=False)
    assert proc.returncode == 1 and "Cannot reach the database" in proc.stderr and "Traceback" not in proc.stderr
    proc = hitkit("server", "worker", "create", "w", "--data-dir", str(home / "x"), env=env, check=False)
    assert proc.returncode == 1 and "Cannot reach the database" in proc.stderr


def test_worker_site_commands(home):
    """invite, open-signup, participant-link, and web logins for workers made by `worker create`."""
    from tests.support.web import SiteClient

    data = home / "srv"
    port = free_port()
    out = hitkit_json("server", "init", "--data-dir", str(data), "--port", str(port), "--no-profile")
    server = ServerProcess(data, port=port)
    try:
        url = hitkit("server", "invite", "--data-dir", str(data), "--uses", "3", "--note", "lab").stdout.strip()
        assert url.startswith(f"http://127.0.0.1:{port}/join/")
        site = SiteClient(server.url)
        assert site.get(url.removeprefix(server.url)).status_code == 200
        assert hitkit("server", "invite", "--data-dir", str(data), "--requester", "nobody", check=False).returncode == 1

        w = hitkit_json("server", "worker", "create", "bob", "--username", "Bob", "--password-stdin", "--data-dir", str(data),
                        stdin="a fine password\n")
        site.login("bob", "a fine password")
        assert w["WorkerId"] in site.get("/").text
        bad = hitkit("server", "worker", "create", "carl", "--username", "carl", "--password-stdin", "--data-dir", str(data),
                     stdin="short\n", check=False)
        assert bad.returncode == 1 and "at least 8" in bad.stderr
        hitkit("server", "worker", "password", w["WorkerId"], "--username", "bobby", "--password-stdin", "--data-dir", str(data),
               stdin="another password\n")
        assert "Sign out" not in site.get("/").text  # a new password ends the old sessions
        SiteClient(server.url).login("bobby", "another password")

        assert SiteClient(server.url).get("/signup").status_code == 403
        hitkit("server", "open-signup", "on", "--data-dir", str(data))
        assert SiteClient(server.url).get("/signup").status_code == 200
        assert hitkit("server", "open-signup", "maybe", "--data-dir", str(data), check=False).returncode == 1

        mturk = boto3.client("mturk", endpoint_url=server.url, region_name="us-east-1",
                             aws_access_key_id=out["requester"]["aws_access_key_id"],
                             aws_secret_access_key=out["requester"]["aws_secret_access_key"])
        from tests.conftest import hit_params

        hit_type = mturk.create_hit(**hit_params())["HIT"]["HITTypeId"]
        link = hitkit_json("server", "participant-link", hit_type, "--requester", out["requester"]["name"],
                           "--completion-code", "auto", "--data-dir", str(data))
        assert link["url"].startswith(f"http://127.0.0.1:{port}/p/") and link["completion_code"]
        assert "Start" in SiteClient(server.url).get(link["url"].removeprefix(server.url)).text
        missing = hitkit("server", "participant-link", "NOSUCHTYPE", "--requester", out["requester"]["name"],
                         "--data-dir", str(data), check=False)
        assert missing.returncode == 1 and "does not exist" in missing.stderr
    finally:
        server.stop()
