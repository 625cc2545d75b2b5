"""Which MTurk-compatible server the toolkit talks to, and the boto3 client for it.

`--endpoint local` (the default) is the server `hitkit server init` set up: its `hitkit-local` AWS profile
holds the credentials and `endpoint_url`. `--endpoint-url URL` is any MTurk-compatible server, with
credentials from boto3's usual chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ...).
`mturk` and `mturk-sandbox` are Amazon's endpoints, kept for completeness: Amazon closed MTurk on
2026-09-30, so they no longer answer.

Everything here goes through boto3, as any third-party client would (DESIGN.md): this module does not
import `hitkit.server`; the profile name is the one `hitkit.server.aws_profile` writes.
"""

from __future__ import annotations

from dataclasses import dataclass

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import ReadOnlyCredentials
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
)

LOCAL_PROFILE = "hitkit-local"
REGION = "us-east-1"
MTURK_URL = "https://mturk-requester.us-east-1.amazonaws.com"
MTURK_SANDBOX_URL = "https://mturk-requester-sandbox.us-east-1.amazonaws.com"
AMAZON_URLS = {"mturk": MTURK_URL, "mturk-sandbox": MTURK_SANDBOX_URL}
ENDPOINT_NAMES = ("local", "mturk", "mturk-sandbox")
CLOSED_NOTICE = ("Amazon closed MTurk on 2026-09-30, so {url} no longer answers: use `--endpoint local` or "
                 "`--endpoint-url URL` for a hitkit server.")

NO_LOCAL_SERVER = "No local hitkit server is configured: run `hitkit server init` (or pass --endpoint-url URL)."

# Error codes a server answers when it does not accept the credentials (MTurk, IAM and STS spellings).
CREDENTIAL_ERRORS = frozenset({
    "UnrecognizedClientException", "InvalidSignatureException", "IncompleteSignatureException",
    "InvalidClientTokenId", "SignatureDoesNotMatch", "AccessDenied", "AccessDeniedException",
    "AuthFailure", "ExpiredToken", "ExpiredTokenException", "MissingAuthenticationToken",
    "MissingAuthenticationTokenException", "NotAuthorized",
})


class EndpointError(ValueError):
    """An endpoint that cannot be used, with one sentence saying why and what to do."""


@dataclass
class Endpoint:
    """A resolved endpoint. `url` None means "whatever the profile says" (only before the profile exists);
    `profile` None means boto3's usual credential chain; `notice` is shown to the user before use."""

    name: str
    url: str | None
    profile: str | None
    notice: str | None


def _local_profile() -> dict | None:
    """The `hitkit-local` profile's config values ({} if it only has credentials), or None if it does not
    exist. Honours AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE, as botocore does."""
    session = botocore.session.Session()
    try:
        if LOCAL_PROFILE not in session.available_profiles:
            return None
        return dict(session.full_config.get("profiles", {}).get(LOCAL_PROFILE, {}))
    except BotoCoreError as e:  # an unreadable config file
        raise EndpointError(f"Cannot read the AWS config files: {e}") from e


def resolve_endpoint(endpoint: str | None = None, endpoint_url: str | None = None) -> Endpoint:
    """`endpoint_url` wins; otherwise the named endpoint (default `local`)."""
    if endpoint_url:
        url = endpoint_url.rstrip("/")
        notice = CLOSED_NOTICE.format(url=url) if url in AMAZON_URLS.values() else None
        return Endpoint("url", url, None, notice)
    name = endpoint or "local"
    if name == "local":
        profile = _local_profile()
        return Endpoint("local", (profile or {}).get("endpoint_url"), LOCAL_PROFILE, None)
    if name in AMAZON_URLS:
        return Endpoint(name, AMAZON_URLS[name], None, CLOSED_NOTICE.format(url=AMAZON_URLS[name]))
    raise EndpointError(f"Unknown endpoint {name!r}: choose one of {', '.join(ENDPOINT_NAMES)} (or pass --endpoint-url URL).")


def make_session(ep: Endpoint) -> boto3.Session:
    """The boto3 session whose credentials the endpoint uses."""
    if ep.profile == LOCAL_PROFILE:
        profile = _local_profile()
        if profile is None:
            raise EndpointError(NO_LOCAL_SERVER)
        if not ep.url and not profile.get("endpoint_url"):
            raise EndpointError(f"The AWS profile {LOCAL_PROFILE} has no endpoint_url: run `hitkit server init` again "
                                "(or pass --endpoint-url URL).")
    try:
        return boto3.Session(profile_name=ep.profile) if ep.profile else boto3.Session()
    except ProfileNotFound as e:
        raise EndpointError(f"The AWS profile {e.kwargs.get('profile')!r} does not exist (check AWS_PROFILE).") from e


def endpoint_url(ep: Endpoint) -> str:
    """The URL clients for this endpoint use (for `local`, read from the profile)."""
    if ep.url:
        return ep.url
    profile = _local_profile() if ep.profile == LOCAL_PROFILE else None
    if profile is None:
        raise EndpointError(NO_LOCAL_SERVER)
    if not profile.get("endpoint_url"):
        raise EndpointError(f"The AWS profile {LOCAL_PROFILE} has no endpoint_url: run `hitkit server init` again.")
    return profile["endpoint_url"].rstrip("/")


def make_client(ep: Endpoint, *, max_pool_connections: int = 10, retries: int = 4):  # type: ignore[no-untyped-def]
    """A boto3 MTurk client for the endpoint (us-east-1, standard retry mode with `retries` retries)."""
    session = make_session(ep)
    config = Config(region_name=REGION, retries={"mode": "standard", "max_attempts": retries},
                    max_pool_connections=max_pool_connections)
    try:
        return session.client("mturk", region_name=REGION, endpoint_url=endpoint_url(ep), config=config)
    except PartialCredentialsError as e:
        raise EndpointError(f"Incomplete AWS credentials for {endpoint_url(ep)}: {e}") from e


def credentials(ep: Endpoint) -> ReadOnlyCredentials:
    """The credentials the endpoint's clients sign with (from its profile, or boto3's chain)."""
    url = endpoint_url(ep)
    try:
        found = make_session(ep).get_credentials()
    except PartialCredentialsError as e:
        raise EndpointError(f"Incomplete AWS credentials for {url}: {e}") from e
    if found is None:
        raise EndpointError(_no_credentials(url, ep))
    return found.get_frozen_credentials()


def _no_credentials(url: str, ep: Endpoint | None = None) -> str:
    if ep is not None and ep.profile:
        return (f"No AWS credentials were found for {url}: the profile {ep.profile} has none in the shared credentials "
                "file; run `hitkit server init` again.")
    return f"No AWS credentials were found for {url}: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile."


def _access_key(client) -> str:  # type: ignore[no-untyped-def]
    creds = getattr(getattr(client, "_request_signer", None), "_credentials", None)
    return getattr(creds, "access_key", None) or "unknown"


def _unreachable_reason(error: Exception) -> str:
    text = str(getattr(error, "kwargs", {}).get("error", "")) + " " + str(error)
    lowered = text.lower()
    if "refused" in lowered:
        return "connection refused"
    if "name or service not known" in lowered or "nodename nor servname" in lowered or "getaddrinfo" in lowered:
        return "host name not found"
    if "timed out" in lowered:
        return "timed out"
    return "could not connect"


def check_connection(client) -> None:  # type: ignore[no-untyped-def]
    """One GetAccountBalance call; any failure becomes one EndpointError with a sentence saying what to do."""
    url = client.meta.endpoint_url
    try:
        client.get_account_balance()
    except EndpointConnectionError as e:
        raise EndpointError(f"Cannot reach the MTurk endpoint at {url} ({_unreachable_reason(e)}): is the server running?") from e
    except ConnectTimeoutError as e:
        raise EndpointError(f"Cannot reach the MTurk endpoint at {url} (timed out connecting): is the server running, "
                            "and is the address right?") from e
    except ReadTimeoutError as e:
        raise EndpointError(f"The MTurk endpoint at {url} accepted the connection but did not answer in time.") from e
    except (NoCredentialsError, PartialCredentialsError) as e:
        raise EndpointError(_no_credentials(url)) from e
    except ClientError as e:
        err = e.response.get("Error", {})
        code, message = err.get("Code", "?"), (err.get("Message") or "").rstrip(".")
        if code in CREDENTIAL_ERRORS or e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") in (401, 403):
            raise EndpointError(
                f"The endpoint at {url} refused the credentials (AWS access key {_access_key(client)}): {code}: "
                f"{message}. Check the access key and secret (a profile, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY).") from e
        raise EndpointError(f"The endpoint at {url} answered GetAccountBalance with {code}: {message}.") from e
    except BotoCoreError as e:
        raise EndpointError(f"Cannot use the MTurk endpoint at {url}: {e}") from e
