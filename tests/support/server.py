"""A real hitkit server for tests: its own data directory (SQLite) or its own PostgreSQL schema, uvicorn on
127.0.0.1 port 0 in a background thread, clock control on, and helpers to make requesters, workers and clients.

Set HITKIT_TEST_DATABASE=postgres to run against PostgreSQL at 127.0.0.1:5432 (database `test`).
"""

from __future__ import annotations

import os
import secrets
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import httpx
import uvicorn
from botocore.config import Config
from sqlalchemy import create_engine, text

from hitkit.server.config import ServerConfig
from hitkit.server.embedded import bootstrap, serve_in_thread
from hitkit.server.domain import accounts, web_accounts
from hitkit.server.store import db

PG_BASE = os.environ.get("HITKIT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def test_database() -> str:
    return os.environ.get("HITKIT_TEST_DATABASE", "sqlite")


def fresh_database_url(data_dir: Path, kind: str | None = None) -> str:
    """A new empty database: a SQLite file in data_dir, or a new schema in PostgreSQL's `test` database."""
    kind = kind or test_database()
    if kind == "sqlite":
        return f"sqlite:///{data_dir / 'hitkit.db'}"
    schema = "hk_" + secrets.token_hex(6)
    engine = create_engine(PG_BASE)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    return f"{PG_BASE}?application_name={schema}&options=-csearch_path%3D{schema}"  # the name finds its backends


def drop_database(url: str) -> None:
    if "search_path" in url:
        schema = url.rsplit("%3D", 1)[1]
        engine = create_engine(PG_BASE)
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()


@dataclass
class Requester:
    requester_id: str
    access_key: str
    secret: str


@dataclass
class Worker:
    worker_id: str
    token: str


@dataclass
class RunningServer:
    url: str
    config: ServerConfig
    admin_token: str
    requester: Requester
    _server: uvicorn.Server
    _thread: threading.Thread
    _tmp: tempfile.TemporaryDirectory
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.url, timeout=30)
        self._engine = db.make_engine(self.config.database_url)

    # -- accounts (test set-up writes to the database directly, like `hitkit server ...` commands do)
    def new_requester(self, balance_cents: int | None = None) -> Requester:
        with self._engine.begin() as conn:
            rid, creds = accounts.create_requester(
                conn, "req-" + secrets.token_hex(4), time.time(),
                self.config.starting_balance_cents if balance_cents is None else balance_cents,
            )
        return Requester(rid, creds.aws_access_key_id, creds.aws_secret_access_key)

    def new_worker(self, **kw) -> Worker:  # type: ignore[no-untyped-def]
        with self._engine.begin() as conn:
            wid, token = accounts.create_worker(conn, "w-" + secrets.token_hex(4), time.time(), **kw)
        return Worker(wid, token)

    def invite(self, uses: int = 1, created_by: str = "admin") -> str:
        """An invitation link (`/join/CODE`, absolute), as `hitkit server invite` makes."""
        with self._engine.begin() as conn:
            code = web_accounts.create_invitation(conn, created_by, time.time(), max_uses=uses)
        return f"{self.url}/join/{code}"

    def web_worker(self, username: str | None = None, password: str = "correct horse battery") -> tuple[str, str, str]:
        """A worker with a web login: (WorkerId, username, password)."""
        username = username or "web-" + secrets.token_hex(4)
        with self._engine.begin() as conn:
            wid = web_accounts.create_worker_login(conn, username, web_accounts.hash_password(password), time.time())
        return wid, username, password

    def participant_link(self, requester: Requester, hit_type_id: str, completion_code: str | None = None) -> str:
        with self._engine.begin() as conn:
            code = web_accounts.create_participant_link(
                conn, requester.requester_id, hit_type_id, time.time(), label="A study", completion_code=completion_code)
        return f"{self.url}/p/{code}"

    def set_open_signup(self, on: bool) -> None:
        with self._engine.begin() as conn:
            web_accounts.put_setting(conn, web_accounts.OPEN_SIGNUP_KEY, "true" if on else "false")

    def client(self, requester: Requester | None = None, **config):  # type: ignore[no-untyped-def]
        r = requester or self.requester
        return boto3.client(
            "mturk", endpoint_url=self.url, region_name="us-east-1",
            aws_access_key_id=r.access_key, aws_secret_access_key=r.secret,
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, **config),  # no retries: see every error
        )

    # -- worker API
    def worker_call(self, worker: Worker, method: str, path: str, **kw) -> httpx.Response:  # type: ignore[no-untyped-def]
        return self.http.request(method, path, headers={"Authorization": f"Bearer {worker.token}"}, **kw)

    def accept(self, worker: Worker, hit_id: str) -> str:
        r = self.worker_call(worker, "POST", f"/api/worker/v1/hits/{hit_id}/accept")
        assert r.status_code == 200, r.text
        return r.json()["AssignmentId"]

    def submit(self, worker: Worker, assignment_id: str, answers: dict) -> httpx.Response:
        return self.worker_call(worker, "POST", f"/api/worker/v1/assignments/{assignment_id}/submit", json={"answers": answers})

    def do_hit(self, worker: Worker, hit_id: str, answers: dict | None = None) -> str:
        aid = self.accept(worker, hit_id)
        r = self.submit(worker, aid, answers or {"answer": "yes"})
        assert r.status_code == 200, r.text
        return aid

    def advance(self, seconds: float) -> dict:
        r = self.http.post("/api/admin/v1/clock", json={"advance": seconds}, headers={"Authorization": f"Bearer {self.admin_token}"})
        assert r.status_code == 200, r.text
        return r.json()

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self.http.close()
        self._engine.dispose()
        drop_database(self.config.database_url)
        self._tmp.cleanup()


def start_server(*, database: str | None = None, fee_schedule: str = "mturk", sweep_interval: float = 0.5) -> RunningServer:
    tmp = tempfile.TemporaryDirectory(prefix="hitkit-test-")
    data_dir = Path(tmp.name)
    cfg = ServerConfig(data_dir=data_dir, database_url=fresh_database_url(data_dir, database), fee_schedule=fee_schedule,
                       sweep_interval=sweep_interval, allow_clock_control=True)
    boot = bootstrap(cfg)
    running = serve_in_thread(cfg)
    return RunningServer(running.url, cfg, boot.admin_token, Requester(boot.requester_id, boot.access_key, boot.secret),
                         running.server, running.thread, tmp)
