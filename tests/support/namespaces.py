"""Hosts for tests, made on this machine: network namespaces joined to this one by veth pairs (root only), a
PostgreSQL schema reached through the Unix socket, which namespaces share (their 127.0.0.1 is their own), and a
small TCP proxy on 127.0.0.1 in front of them."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import subprocess
import threading
from typing import Iterator

import pytest
from sqlalchemy import create_engine, text

PG_SOCKET_URL = "postgresql+psycopg://postgres@/test?host=/var/run/postgresql"


def require_root() -> None:
    """Skip (fail in CI) unless this process may make network namespaces."""
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            raise RuntimeError("tests across hosts need root for network namespaces")
        pytest.skip("network namespaces need root")


@contextlib.contextmanager
def pg_schema_over_socket() -> Iterator[str]:
    """A fresh PostgreSQL schema; its URL through the Unix socket. Dropped afterwards."""
    schema = "hk_" + secrets.token_hex(6)
    engine = create_engine(PG_SOCKET_URL)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{PG_SOCKET_URL}&options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()


def _sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, text=True)


class Namespaces:
    """Two network namespaces, each joined to this one by a veth pair: host k is 10.231.<net>.<4k+2>."""

    def __init__(self) -> None:
        self.tag = secrets.token_hex(3)
        self.net = 100 + secrets.randbelow(100)
        self.names = [f"hk{self.tag}{k}" for k in range(2)]
        self.addresses = [f"10.231.{self.net}.{4 * k + 2}" for k in range(2)]

    def __enter__(self) -> "Namespaces":
        for k, ns in enumerate(self.names):
            outer, inner = f"hko{self.tag}{k}", f"hki{self.tag}{k}"
            _sh("ip", "netns", "add", ns)
            _sh("ip", "link", "add", outer, "type", "veth", "peer", "name", inner)
            _sh("ip", "link", "set", inner, "netns", ns)
            _sh("ip", "addr", "add", f"10.231.{self.net}.{4 * k + 1}/30", "dev", outer)
            _sh("ip", "link", "set", outer, "up")
            _sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"{self.addresses[k]}/30", "dev", inner)
            _sh("ip", "netns", "exec", ns, "ip", "link", "set", inner, "up")
            _sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        return self

    def __exit__(self, *exc) -> None:  # type: ignore[no-untyped-def]
        for k, ns in enumerate(self.names):
            subprocess.run(["ip", "link", "del", f"hko{self.tag}{k}"], capture_output=True)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


class RoundRobinProxy:
    """A TCP proxy on 127.0.0.1: each new connection goes to the next backend that accepts it."""

    def __init__(self, backends: list[tuple[str, int]]) -> None:
        self.backends = backends
        self.served = [0] * len(backends)
        self.next = 0
        self.port = 0
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait(10)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = self.server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()
        self.loop.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream = None
        for _ in range(len(self.backends)):
            k = self.next % len(self.backends)
            self.next += 1
            try:
                upstream = await asyncio.wait_for(asyncio.open_connection(*self.backends[k]), 2)
                self.served[k] += 1
                break
            except (OSError, asyncio.TimeoutError):
                continue
        if upstream is None:
            writer.close()
            return
        up_reader, up_writer = upstream

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def _shutdown(self) -> None:
        self.server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
