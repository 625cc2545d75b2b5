"""The peer for benchmarks/api.py: the least a Python server can do per MTurk-shaped call.

A bare Starlette endpoint served by uvicorn (same uvicorn settings as `hitkit server run`) that, on `POST /`,
reads the body, inserts one row into a SQLite table (WAL, synchronous=NORMAL, autocommit) through one
connection used directly from the event loop, and answers a fixed GetAccountBalance body as
application/x-amz-json-1.1, so a boto3 client can call `get_account_balance()` against it.

Run: python benchmarks/bare_insert_app.py --db /tmp/bare.db [--port 0]
Prints "bare insert endpoint listening on http://127.0.0.1:PORT" on stdout once bound; stops on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import socket
import sqlite3
import sys
import time

BODY = b'{"AvailableBalance": "1.00", "OnHoldBalance": "0.00"}'
HEADERS = {"content-type": "application/x-amz-json-1.1", "x-amzn-RequestId": "00000000-0000-0000-0000-000000000000"}


def create_app(db_path: str):  # type: ignore[no-untyped-def]
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    conn = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)  # autocommit: one txn per insert
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS calls (id INTEGER PRIMARY KEY, at REAL NOT NULL, target TEXT, body_bytes INTEGER)"
    )

    async def call(request: Request) -> Response:
        raw = await request.body()
        conn.execute(
            "INSERT INTO calls (at, target, body_bytes) VALUES (?, ?, ?)",
            (time.time(), request.headers.get("x-amz-target"), len(raw)),
        )
        return Response(BODY, headers=HEADERS)

    async def info(request: Request) -> Response:
        return Response(b'{"service": "bare insert"}', media_type="application/json")

    return Starlette(routes=[Route("/", call, methods=["POST"]), Route("/", info, methods=["GET"])])


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="SQLite file to insert into (created if missing).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)

    app = create_app(args.db)
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose proto is IPPROTO_TCP, and
    # accepted sockets inherit the listening socket's proto. With proto 0 every keep-alive response after the
    # first waits ~40 ms (Nagle's algorithm against the client's delayed ACK).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(2048)
    print(f"bare insert endpoint listening on http://{args.host}:{sock.getsockname()[1]}", flush=True)
    # The same uvicorn settings `hitkit server run` uses (default loop and HTTP implementation).
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    server.run(sockets=[sock])


if __name__ == "__main__":
    sys.exit(main())
