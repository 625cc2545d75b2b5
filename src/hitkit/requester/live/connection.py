"""The requester process's websocket to a hitkit server's live relay: a SigV4-signed handshake (the same
credentials and signature as the MTurk API calls), a `hello` with the run's settings, application-level pings,
and reconnection with backoff when the connection drops (the server keeps the run; workers are told meanwhile
that the requester is gone). Incoming frames go to one callback; `welcome` frames are how a (re)connection
learns the run's state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Awaitable, Callable
from urllib.parse import urlsplit

import orjson
import websockets
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

log = logging.getLogger("hitkit.requester.live")
SIGNING_NAME = "mturk-requester"


class LiveConnectionError(RuntimeError):
    """The server refused the connection for good (bad credentials, a run of another requester)."""


def websocket_base(endpoint_url: str) -> str:
    parts = urlsplit(endpoint_url.rstrip("/"))
    scheme = "wss" if parts.scheme == "https" else "ws"
    return f"{scheme}://{parts.netloc}{parts.path}"


def signed_headers(http_url: str, credentials: Any, region: str = "us-east-1") -> dict[str, str]:
    """SigV4 headers for a GET of `http_url` (no query string), as botocore signs MTurk API calls."""
    request = AWSRequest(method="GET", url=http_url, data=b"")
    SigV4Auth(credentials, SIGNING_NAME, region).add_auth(request)
    return {k: v for k, v in request.headers.items() if k.lower() in ("authorization", "x-amz-date", "x-amz-security-token")}


def client_credentials(client: Any) -> Any:
    """The credentials a boto3 client signs with."""
    creds = client._request_signer._credentials  # boto3 has no public accessor for a client's credentials
    return creds.get_frozen_credentials() if hasattr(creds, "get_frozen_credentials") else creds


class LiveConnection:
    """One run's connection. `on_frame(frame)` is awaited for every frame from the server, in order."""

    def __init__(self, endpoint_url: str, credentials: Any, run_id: str, hello: dict,
                 on_frame: Callable[[dict], Awaitable[None]], *, region: str = "us-east-1",
                 ping_seconds: float = 10.0, max_backoff: float = 5.0) -> None:
        self.http_url = f"{endpoint_url.rstrip('/')}/live/v1/requester/{run_id}"
        self.ws_url = f"{websocket_base(endpoint_url)}/live/v1/requester/{run_id}"
        self.credentials = credentials
        self.region = region
        self.hello = {"type": "hello", **hello}
        self.on_frame = on_frame
        self.ping_seconds = ping_seconds
        self.max_backoff = max_backoff
        self._ws: Any = None
        self._closing = False
        self.connected = asyncio.Event()
        self.failure: LiveConnectionError | None = None

    async def send(self, frame: dict) -> bool:
        """Send a frame; False when not connected (the caller's state is re-sent after the next welcome)."""
        ws = self._ws
        if ws is None:
            return False
        try:
            await ws.send(orjson.dumps(frame).decode())
            return True
        except websockets.ConnectionClosed:
            return False

    async def run_forever(self) -> None:
        """Connect, read, reconnect, until `close()` or a refusal (raised as LiveConnectionError)."""
        backoff = 0.2
        while not self._closing:
            try:
                headers = signed_headers(self.http_url, self.credentials, self.region)
                async with websockets.connect(self.ws_url, additional_headers=headers, max_size=2**22,
                                              ping_interval=20, open_timeout=10) as ws:
                    await ws.send(orjson.dumps(self.hello).decode())
                    self._ws = ws
                    backoff = 0.2
                    pinger = asyncio.create_task(self._ping(ws))
                    try:
                        async for raw in ws:
                            frame = orjson.loads(raw)
                            if frame.get("type") == "welcome":
                                self.connected.set()
                            elif frame.get("type") == "error" and frame.get("code") in (
                                    "run_not_yours", "UnrecognizedClientException", "InvalidSignatureException",
                                    "IncompleteSignatureException", "MissingAuthenticationTokenException"):
                                self.failure = LiveConnectionError(f"{frame.get('code')}: {frame.get('message')}")
                                self._closing = True
                            await self.on_frame(frame)
                    finally:
                        pinger.cancel()
                        self._ws = None
                        self.connected.clear()
            except (OSError, websockets.WebSocketException, asyncio.TimeoutError) as e:
                log.warning("live connection to %s lost (%s); reconnecting", self.ws_url, e)
            if self.failure is not None:
                raise self.failure
            if self._closing:
                return
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.max_backoff)

    async def _ping(self, ws: Any) -> None:
        with contextlib.suppress(Exception):
            while True:
                await asyncio.sleep(self.ping_seconds)
                await ws.send('{"type":"ping"}')

    async def close(self) -> None:
        self._closing = True
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
