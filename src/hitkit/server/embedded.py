"""A hitkit server inside another program: uvicorn in a background thread on 127.0.0.1 (port 0 picks a free one),
for `hitkit demo` and the test suites. `hitkit server run` is the standalone way."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

import uvicorn

from hitkit.server.app import create_app
from hitkit.server.config import ServerConfig
from hitkit.server.domain import accounts
from hitkit.server.store import db


@dataclass
class Bootstrap:
    """What a fresh server database holds after `bootstrap`: one requester's MTurk keys and an admin token."""

    requester_id: str
    access_key: str
    secret: str
    admin_token: str


def bootstrap(cfg: ServerConfig, requester_name: str = "default") -> Bootstrap:
    """Create (or upgrade) the database, a requester with the starting balance, and an admin."""
    engine = db.make_engine(cfg.database_url)
    try:
        db.upgrade(engine)
        with engine.begin() as conn:
            rid, creds = accounts.create_requester(conn, requester_name, time.time(), cfg.starting_balance_cents)
            _, admin_token = accounts.create_admin(conn, f"admin-{int(time.time())}", time.time())
    finally:
        engine.dispose()
    return Bootstrap(rid, creds.aws_access_key_id, creds.aws_secret_access_key, admin_token)


@dataclass
class ServerThread:
    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=timeout)


def serve_in_thread(cfg: ServerConfig, *, host: str = "127.0.0.1", port: int = 0,
                    start_timeout: float = 15.0) -> ServerThread:
    """Serve `cfg`'s (initialised) database on host:port in a daemon thread; returns once it accepts requests."""
    app = create_app(cfg)
    # IPPROTO_TCP so asyncio sets TCP_NODELAY (see `hitkit server run`).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind((host, port))
    sock.listen(1024)
    bound = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="hitkit-server")
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError(f"the embedded hitkit server did not start on {host}:{bound}")
        time.sleep(0.01)
    return ServerThread(f"http://{host}:{bound}", server, thread)
