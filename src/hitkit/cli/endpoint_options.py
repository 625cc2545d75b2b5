"""The `--endpoint` / `--endpoint-url` options every requester command takes, and the client they give.

    from hitkit.cli.endpoint_options import EndpointOpt, EndpointUrlOpt, client_from_options

    def balance(endpoint: str = EndpointOpt, endpoint_url: Optional[str] = EndpointUrlOpt) -> None:
        mturk = client_from_options(endpoint, endpoint_url)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from hitkit.requester.endpoints import Endpoint

# hitkit.requester.endpoints (boto3) is imported inside the functions: every `hitkit` command loads this
# module for the options, and boto3 costs a third of a second to import.

err_console = Console(stderr=True)

EndpointOpt = typer.Option(
    "local", "--endpoint",
    help="Which server: local (the hitkit-local AWS profile `hitkit server init` wrote), or Amazon's mturk / "
         "mturk-sandbox (closed on 2026-09-30; kept for completeness).",
)
EndpointUrlOpt = typer.Option(
    None, "--endpoint-url",
    help="Any MTurk-compatible server, e.g. http://127.0.0.1:8765 (wins over --endpoint). Credentials come from "
         "boto3's usual chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ...",
)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print `error: MESSAGE` to stderr and exit."""
    err_console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def endpoint_from_options(endpoint: str | None, endpoint_url: str | None) -> Endpoint:
    """Resolve the options; print the endpoint's notice (if any) to stderr; exit 1 on a bad name."""
    from hitkit.requester.endpoints import EndpointError, resolve_endpoint

    try:
        ep = resolve_endpoint(endpoint, endpoint_url)
    except EndpointError as e:
        fail(str(e))
    if ep.notice:
        err_console.print(f"[yellow]notice:[/yellow] {escape(ep.notice)}", soft_wrap=True)
    return ep


def client_from_options(endpoint: str | None, endpoint_url: str | None, *, check: bool = False, **kw):  # type: ignore[no-untyped-def]
    """A boto3 MTurk client for the options (`kw` goes to `make_client`); with `check`, one GetAccountBalance
    call first. Any EndpointError is printed as `error: ...` and exits 1."""
    from hitkit.requester.endpoints import EndpointError, check_connection, make_client

    ep = endpoint_from_options(endpoint, endpoint_url)
    try:
        client = make_client(ep, **kw)
        if check:
            check_connection(client)
    except EndpointError as e:
        fail(str(e))
    return client
