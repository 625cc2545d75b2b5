"""The relay's edges with raw websocket clients: authentication of both sides, bad frames answered with error
frames (never a crash, the connection stays usable), heartbeats, and workers told when the requester's process
is gone and back."""

from __future__ import annotations

import asyncio
import contextlib
from types import SimpleNamespace

import orjson
import pytest
import websockets

from hitkit.requester.live.connection import signed_headers
from tests.server.live.support import SimWorker, accepted_live_hit, ws_base

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def creds(requester):  # type: ignore[no-untyped-def]
    return SimpleNamespace(access_key=requester.access_key, secret_key=requester.secret, token=None)


async def requester_socket(server, requester, run_id: str, config: dict | None = None, secret: str | None = None):  # type: ignore[no-untyped-def]
    http_url = f"{server.url}/live/v1/requester/{run_id}"
    c = creds(requester)
    if secret is not None:
        c.secret_key = secret
    ws = await websockets.connect(f"{ws_base(server)}/live/v1/requester/{run_id}", additional_headers=signed_headers(http_url, c))
    with contextlib.suppress(websockets.ConnectionClosed):  # a refused connection may be closed already
        await ws.send(orjson.dumps({"type": "hello", "name": run_id, "config": config or {"grace_seconds": 0.2}}).decode())
    return ws


async def recv(ws, kind: str | None = None):  # type: ignore[no-untyped-def]
    while True:
        frame = orjson.loads(await asyncio.wait_for(ws.recv(), 30))
        if kind is None or frame["type"] == kind:
            return frame


def test_requester_with_a_wrong_secret_gets_an_error_frame(server, requester):  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        ws = await requester_socket(server, requester, "bad-secret", secret="x" * 40)
        frame = await recv(ws)
        assert frame["type"] == "error" and frame["code"] == "InvalidSignatureException"
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 30)
        assert ws.close_code == 4401

    asyncio.run(scenario())


def test_unsigned_requester_and_a_run_of_another_requester_are_refused(server, requester):  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        ws = await websockets.connect(f"{ws_base(server)}/live/v1/requester/unsigned")
        frame = await recv(ws)
        assert frame["code"] == "MissingAuthenticationTokenException"
        mine = await requester_socket(server, requester, "owned-run")
        assert (await recv(mine, "welcome"))["created"] is True
        other = server.new_requester()
        theirs = await requester_socket(server, other, "owned-run")
        frame = await recv(theirs)
        assert frame["type"] == "error" and frame["code"] == "run_not_yours"
        await mine.close()

    asyncio.run(scenario())


def test_bad_frames_get_error_frames_and_the_connection_stays(server, requester):  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        ws = await requester_socket(server, requester, "bad-frames")
        await recv(ws, "welcome")
        for raw, code in [
            ("not json", "bad_json"), ("[1, 2]", "bad_frame"), ('{"type": 5}', "bad_frame"),
            ('{"type": "nope"}', "unknown_type"), ('{"type": "state"}', "bad_field"),
            ('{"type": "state", "assignment_id": "NOPE"}', "unknown_assignment"),
            ('{"type": "send", "assignment_id": "NOPE", "message": {}}', "unknown_assignment"),
            ('{"type": "record", "event": "text"}', "bad_field"),
            ("x" * (300 * 1024), "too_large"),
        ]:
            await ws.send(raw)
            frame = await recv(ws)
            assert frame == {"type": "error", "code": code, "message": frame["message"]}, raw[:40]
        await ws.send('{"type": "ping", "t": 1}')
        assert (await recv(ws)) == {"type": "pong", "t": 1}
        await ws.close()

    asyncio.run(scenario())


def test_worker_auth_bad_frames_requester_gone_and_back(server, requester, mturk):  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        run_id = "gone-and-back"
        req = await requester_socket(server, requester, run_id)
        await recv(req, "welcome")
        worker, hit_id, assignment_id = await accepted_live_hit(server, mturk, run_id)
        # another worker's token, a made-up token, and a page token for another assignment are refused
        intruder = server.new_worker()
        sim = SimWorker(server, intruder, run_id, hit_id, assignment_id)
        ws = await websockets.connect(sim.url, additional_headers={"Authorization": f"Bearer {intruder.token}"})
        assert (await recv(ws))["code"] == "not_allowed"
        ws = await websockets.connect(sim.url.replace(intruder.worker_id, worker.worker_id) + "&token=123.abc")
        frame = await recv(ws)
        assert frame["code"] == "not_allowed" and "token" in frame["message"]
        # the worker
        w = await SimWorker(server, worker, run_id, hit_id, assignment_id).connect()
        joined = await recv(req, "worker_joined")
        assert joined["assignment_id"] == assignment_id and joined["worker_id"] == worker.worker_id
        await w.wait(lambda f: f["type"] == "history")
        for raw in ("{", '{"type": "message"}', '{"type": "message", "text": 7}', '{"type": "dance"}'):
            await w.send(raw)
        await w.say("too early")  # not in a world yet
        errors = await w.wait(lambda f: f["type"] == "error" and f["code"] == "not_now")
        assert "waiting" in errors["message"]
        codes = [f["code"] for f in w.frames if f["type"] == "error"]
        assert codes == ["bad_json", "bad_field", "bad_field", "unknown_type", "not_now"]
        # the requester puts the worker in a world; messages are relayed both ways and stored
        await req.send(orjson.dumps({"type": "state", "assignment_id": assignment_id, "status": "in_world",
                                     "world_id": "w0", "text": "Go", "task_data": {"paragraph": "Cats."}}).decode())
        state = await w.wait_state("in_world")
        assert state["task_data"] == {"paragraph": "Cats."} and state["text"] == "Go"
        await w.say("hi")
        got = await recv(req, "worker_message")
        assert got["message"] == {"text": "hi"} and got["world_id"] == "w0"
        await req.send(orjson.dumps({"type": "send", "assignment_id": assignment_id, "message": {"id": "Bot", "text": "hello"}}).decode())
        await w.wait_message("hello")
        # the requester's process goes away: the worker is told at once, and can return the HIT
        await req.close()
        gone = await w.wait(lambda f: f["type"] == "requester_gone")
        assert "return the HIT" in gone["message"]
        await w.say("anyone?")
        assert (await w.wait(lambda f: f["type"] == "error" and f["code"] == "requester_gone"))
        req = await requester_socket(server, requester, run_id)
        welcome = await recv(req, "welcome")
        assert welcome["created"] is False
        assert [a["status"] for a in welcome["agents"]] == ["in_world"]
        await w.wait(lambda f: f["type"] == "requester_back")
        r = server.worker_call(worker, "POST", f"/api/worker/v1/assignments/{assignment_id}/return")
        assert r.status_code == 200, r.text
        await req.close()
        await w.drop()

    asyncio.run(scenario())


def test_silent_connection_is_closed_by_the_heartbeat_check(server, requester, mturk):  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        ws = await requester_socket(server, requester, "heartbeat", config={"heartbeat_timeout": 1})
        await recv(ws, "welcome")
        frame = await recv(ws, "error")  # nothing sent after the hello
        assert frame["code"] == "heartbeat_timeout"
        with pytest.raises(websockets.ConnectionClosed):
            while True:
                await asyncio.wait_for(ws.recv(), 30)
        assert ws.close_code == 4008

    asyncio.run(scenario())


def test_control_characters_and_other_runs_assignments(server, requester, mturk):  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        ws = await requester_socket(server, requester, "nul-run")
        await recv(ws, "welcome")
        await ws.send(orjson.dumps({"type": "record", "world_id": "w\x00", "event": {"a": 1}}).decode())
        assert (await recv(ws))["code"] == "bad_field"
        await ws.send(orjson.dumps({"type": "record", "world_id": "w1", "event": {"text": "nul \x00 inside"},
                                    "ack": 1}).decode())
        assert (await recv(ws)) == {"type": "ack", "ack": 1}  # stored (JSON escapes it)
        http_url = f"{server.url}/live/v1/requester/nul-name"
        other = await websockets.connect(http_url.replace("http://", "ws://"),
                                         additional_headers=signed_headers(http_url, creds(requester)))
        await other.send(orjson.dumps({"type": "hello", "name": "a\x00b", "config": {"title": "t\x00"}}).decode())
        assert (await recv(other, "welcome"))["run_id"] == "nul-name"  # control characters dropped from the name
        # an assignment of this requester's HIT for another run cannot join this one
        worker, hit_id, aid = await accepted_live_hit(server, mturk, "nul-run-2")
        sim = SimWorker(server, worker, "nul-run", hit_id, aid)
        sock = await websockets.connect(sim.url, additional_headers={"Authorization": f"Bearer {worker.token}"})
        frame = await recv(sock)
        assert frame["code"] == "not_allowed" and "not part of this live task" in frame["message"]
        await ws.close()
        await other.close()

    asyncio.run(scenario())


def test_a_database_out_of_connections_refuses_sockets_with_1013_not_an_http_500(server, requester, mturk, monkeypatch):  # type: ignore[no-untyped-def]
    """While a socket opens, the database answers PostgreSQL's "too many clients" (a real driver error, raised
    where the route reads the database): the socket gets an error frame and close code 1013 (try again later);
    it used to fail the handshake with HTTP 500. Once the database answers again, both sides connect."""
    from sqlalchemy.exc import OperationalError

    from hitkit.server.api.dispatch import MTurkService
    from hitkit.server.live import store
    def too_many_clients(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OperationalError("SELECT", {}, Exception("FATAL: sorry, too many clients already"))

    async def scenario() -> None:
        run_id = "db-out-of-connections"
        with monkeypatch.context() as m:
            m.setattr(MTurkService, "_secret_for", too_many_clients)
            ws = await requester_socket(server, requester, run_id)
            frame = await recv(ws)
            assert frame["code"] == "service_unavailable" and "Retry" in frame["message"]
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 30)
            assert ws.close_code == 1013
        req = await requester_socket(server, requester, run_id)
        await recv(req, "welcome")
        worker, hit_id, assignment_id = await accepted_live_hit(server, mturk, run_id)
        sim = SimWorker(server, worker, run_id, hit_id, assignment_id)
        with monkeypatch.context() as m:
            m.setattr(store, "get_run", too_many_clients)
            ws = await websockets.connect(sim.url, additional_headers={"Authorization": f"Bearer {worker.token}"})
            assert (await recv(ws))["code"] == "service_unavailable"
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 30)
            assert ws.close_code == 1013
        w = await sim.connect()
        await w.wait(lambda f: f["type"] == "history")
        await w.drop()
        await req.close()

    asyncio.run(scenario())
