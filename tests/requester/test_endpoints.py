"""Endpoints: resolving `--endpoint` / `--endpoint-url`, the boto3 client for each, and check_connection's
one-sentence errors, against a live hitkit server. Nothing here may connect beyond 127.0.0.1: Amazon's
endpoints are resolved and given a client, never called (a guard fails the test if anything tries)."""

from __future__ import annotations

import ipaddress
import socket

import pytest
import typer
from typer.testing import CliRunner

from hitkit.cli.endpoint_options import EndpointOpt, EndpointUrlOpt, client_from_options
from hitkit.requester import endpoints
from hitkit.requester.endpoints import (
    MTURK_SANDBOX_URL,
    MTURK_URL,
    Endpoint,
    EndpointError,
    check_connection,
    make_client,
    resolve_endpoint,
)
from hitkit.server import aws_profile
from tests.support.processes import free_port


def _loopback(host: object) -> bool:
    if host in ("localhost", None):
        return True
    try:
        return ipaddress.ip_address(str(host)).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def only_loopback(monkeypatch):  # type: ignore[no-untyped-def]
    """Fail the test on any connection or name lookup that would leave 127.0.0.1."""
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo
    attempts: list[str] = []  # botocore wraps exceptions, so the teardown checks this list as well

    def connect(self, address):  # type: ignore[no-untyped-def]
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
            attempts.append(f"connect {address}")
            raise AssertionError(f"test tried to connect to {address}")
        return real_connect(self, address)

    def getaddrinfo(host, *args, **kw):  # type: ignore[no-untyped-def]
        if not _loopback(host):
            attempts.append(f"resolve {host}")
            raise AssertionError(f"test tried to resolve {host}")
        return real_getaddrinfo(host, *args, **kw)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield
    assert not attempts, f"traffic beyond 127.0.0.1: {attempts}"


@pytest.fixture()
def aws_home(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """An empty HOME and AWS config: no profiles, no credentials in the environment, no instance metadata."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "home/.aws/config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "home/.aws/credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
                "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_MTURK", "AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


@pytest.fixture()
def env_keys(aws_home, requester, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", requester.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", requester.secret)
    return requester


def test_local_uses_the_profile_server_init_writes(server, aws_home):  # type: ignore[no-untyped-def]
    assert endpoints.LOCAL_PROFILE == aws_profile.PROFILE  # the toolkit reads what the server side writes
    aws_profile.write_profile(server.requester.access_key, server.requester.secret, server.url)
    for ep in (resolve_endpoint(), resolve_endpoint("local")):
        assert ep == Endpoint("local", server.url, "hitkit-local", None)
    client = make_client(resolve_endpoint(), max_pool_connections=25, retries=2)
    assert client.meta.endpoint_url == server.url and client.meta.region_name == "us-east-1"
    assert client.meta.config.max_pool_connections == 25
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 3}  # 2 retries
    check_connection(client)
    assert client.get_account_balance()["AvailableBalance"] == "10000.00"
    assert endpoints.credentials(resolve_endpoint()).access_key == server.requester.access_key


def test_local_ignores_environment_keys_and_aws_profile(server, aws_home, monkeypatch):  # type: ignore[no-untyped-def]
    aws_profile.write_profile(server.requester.access_key, server.requester.secret, server.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAWRONGWRONGWRONG0")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    client = make_client(resolve_endpoint("local"))
    check_connection(client)


def test_local_without_a_server_init(aws_home):  # type: ignore[no-untyped-def]
    ep = resolve_endpoint()
    assert ep == Endpoint("local", None, "hitkit-local", None)
    message = "No local hitkit server is configured: run `hitkit server init` (or pass --endpoint-url URL)."
    with pytest.raises(EndpointError) as e:
        make_client(ep)
    assert str(e.value) == message
    for call in (endpoints.endpoint_url, endpoints.credentials):
        with pytest.raises(EndpointError, match="No local hitkit server is configured"):
            call(ep)


@pytest.mark.parametrize("name,url", [("mturk", MTURK_URL), ("mturk-sandbox", MTURK_SANDBOX_URL)])
def test_amazon_names_carry_the_closure_notice(name, url, env_keys):  # type: ignore[no-untyped-def]
    assert url == {"mturk": "https://mturk-requester.us-east-1.amazonaws.com",
                   "mturk-sandbox": "https://mturk-requester-sandbox.us-east-1.amazonaws.com"}[name]
    ep = resolve_endpoint(name)
    assert (ep.name, ep.url, ep.profile) == (name, url, None)
    assert "Amazon closed MTurk on 2026-09-30" in ep.notice and url in ep.notice and "no longer answers" in ep.notice
    client = make_client(ep)  # made, never called
    assert client.meta.endpoint_url == url and client.meta.region_name == "us-east-1"
    # The same URL given with --endpoint-url gets the same notice.
    assert "2026-09-30" in resolve_endpoint(endpoint_url=url + "/").notice


def test_endpoint_url_wins_with_keys_from_the_environment(server, env_keys):  # type: ignore[no-untyped-def]
    ep = resolve_endpoint("mturk-sandbox", endpoint_url=server.url + "/")
    assert ep == Endpoint("url", server.url, None, None)
    client = make_client(ep)
    assert client.meta.endpoint_url == server.url
    check_connection(client)
    assert endpoints.credentials(ep).access_key == env_keys.access_key


def test_endpoint_url_with_keys_from_aws_profile(server, aws_home, requester, monkeypatch):  # type: ignore[no-untyped-def]
    creds = aws_home / "home/.aws/credentials"
    creds.parent.mkdir(parents=True)
    creds.write_text(f"[lab]\naws_access_key_id = {requester.access_key}\naws_secret_access_key = {requester.secret}\n")
    monkeypatch.setenv("AWS_PROFILE", "lab")
    client = make_client(resolve_endpoint(endpoint_url=server.url))
    check_connection(client)
    monkeypatch.setenv("AWS_PROFILE", "nope")
    with pytest.raises(EndpointError, match="The AWS profile 'nope' does not exist"):
        make_client(resolve_endpoint(endpoint_url=server.url))


def test_unknown_name():  # type: ignore[no-untyped-def]
    with pytest.raises(EndpointError) as e:
        resolve_endpoint("production")
    assert isinstance(e.value, ValueError)
    assert str(e.value) == "Unknown endpoint 'production': choose one of local, mturk, mturk-sandbox (or pass --endpoint-url URL)."


def test_connection_refused(env_keys):  # type: ignore[no-untyped-def]
    url = f"http://127.0.0.1:{free_port()}"  # bound and released: nothing listens
    client = make_client(resolve_endpoint(endpoint_url=url), retries=0)
    with pytest.raises(EndpointError) as e:
        check_connection(client)
    assert str(e.value) == f"Cannot reach the MTurk endpoint at {url} (connection refused): is the server running?"


def test_wrong_secret_and_unknown_key(server, env_keys, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    with pytest.raises(EndpointError) as e:
        check_connection(make_client(resolve_endpoint(endpoint_url=server.url), retries=0))
    assert str(e.value).startswith(f"The endpoint at {server.url} refused the credentials (AWS access key {env_keys.access_key}): "
                                   "InvalidSignatureException")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAOLDTUTORIALKEY00")
    with pytest.raises(EndpointError) as e:
        check_connection(make_client(resolve_endpoint(endpoint_url=server.url), retries=0))
    assert str(e.value).startswith(f"The endpoint at {server.url} refused the credentials (AWS access key AKIAOLDTUTORIALKEY00): "
                                   "UnrecognizedClientException")


def test_no_credentials(server, aws_home):  # type: ignore[no-untyped-def]
    ep = resolve_endpoint(endpoint_url=server.url)
    expected = f"No AWS credentials were found for {server.url}: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile."
    with pytest.raises(EndpointError) as e:
        check_connection(make_client(ep, retries=0))
    assert str(e.value) == expected
    with pytest.raises(EndpointError) as e:
        endpoints.credentials(ep)
    assert str(e.value) == expected


# -- the shared Typer options

cli = typer.Typer()


@cli.command()
def balance(endpoint: str = EndpointOpt, endpoint_url: str = EndpointUrlOpt, check: bool = False) -> None:
    mturk = client_from_options(endpoint, endpoint_url, check=check, retries=0)
    typer.echo(mturk.meta.endpoint_url if not check else mturk.get_account_balance()["AvailableBalance"])


def test_options_helper(server, env_keys):  # type: ignore[no-untyped-def]
    runner = CliRunner()
    ok = runner.invoke(cli, ["--endpoint-url", server.url, "--check"])
    assert ok.exit_code == 0 and ok.stdout.strip() == "10000.00", ok.output
    sandbox = runner.invoke(cli, ["--endpoint", "mturk-sandbox"])
    assert sandbox.exit_code == 0 and sandbox.stdout.strip() == MTURK_SANDBOX_URL
    assert "notice: Amazon closed MTurk on 2026-09-30" in sandbox.stderr
    unknown = runner.invoke(cli, ["--endpoint", "prod"])
    assert unknown.exit_code == 1
    assert "error: Unknown endpoint 'prod': choose one of local, mturk, mturk-sandbox" in unknown.stderr
    local = runner.invoke(cli, [])
    assert local.exit_code == 1 and "error: No local hitkit server is configured" in local.stderr
    refused = runner.invoke(cli, ["--endpoint-url", f"http://127.0.0.1:{free_port()}", "--check"])
    assert refused.exit_code == 1 and "(connection refused): is the server running?" in refused.stderr
