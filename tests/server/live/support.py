"""Live-task test helpers: simulated workers as real websocket clients of a real server (accept a HIT through the
worker API, open the live websocket with the worker's bearer token, read frames, talk, submit), and a runner
started in a background task. Waits are bounded by generous limits, never asserted as timings."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Callable
from urllib.parse import urlencode

import httpx
import orjson
import websockets

from hitkit.requester.live import LiveRunner, LiveTask
from tests.conftest import hit_params
from tests.support.server import Requester, RunningServer, Worker

LIMIT = 60.0  # seconds: a bound for a wait that should end far sooner


def ws_base(server: RunningServer) -> str:
    return server.url.replace("http://", "ws://")


class SimWorker:
    """A worker's browser, simulated: one websocket to the live relay."""

    def __init__(self, server: RunningServer, worker: Worker, run_id: str, hit_id: str, assignment_id: str) -> None:
        self.server, self.worker, self.run_id = server, worker, run_id
        self.hit_id, self.assignment_id = hit_id, assignment_id
        self.frames: list[dict] = []
        self._new = asyncio.Event()
        self.ws: Any = None
        self._reader: asyncio.Task | None = None
        self.closed: Any = None

    @property
    def url(self) -> str:
        q = urlencode({"assignmentId": self.assignment_id, "workerId": self.worker.worker_id, "hitId": self.hit_id})
        return f"{ws_base(self.server)}/live/v1/worker/{self.run_id}?{q}"

    async def connect(self) -> "SimWorker":
        self.ws = await websockets.connect(self.url, additional_headers={"Authorization": f"Bearer {self.worker.token}"})
        self._reader = asyncio.create_task(self._read(self.ws))
        return self

    async def _read(self, ws: Any) -> None:
        try:
            async for raw in ws:
                self.frames.append(orjson.loads(raw))
                self._new.set()
        except websockets.ConnectionClosed:
            pass
        self.closed = ws.close_code
        self._new.set()

    async def drop(self) -> None:
        """Lose the connection (as a reload or a network drop)."""
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def send(self, frame: dict | str) -> None:
        await self.ws.send(frame if isinstance(frame, str) else orjson.dumps(frame).decode())

    async def say(self, text: str) -> None:
        await self.send({"type": "message", "text": text})

    async def wait(self, predicate: Callable[[dict], bool], start: int = 0, limit: float = LIMIT) -> dict:
        """The first frame (from index `start`) that matches."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        i = start
        while True:
            while i < len(self.frames):
                if predicate(self.frames[i]):
                    return self.frames[i]
                i += 1
            if loop.time() > deadline:
                raise AssertionError(f"no matching frame; got {self.frames[-8:]}")
            self._new.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._new.wait(), 0.5)

    async def wait_state(self, status: str, **kw: Any) -> dict:
        return await self.wait(lambda f: f.get("type") == "state" and f.get("status") == status, **kw)

    async def wait_message(self, text: str | None = None) -> dict:
        return await self.wait(lambda f: f.get("type") == "message" and (text is None or f["message"].get("text") == text))

    def submit(self, answers: dict | None = None) -> httpx.Response:
        return self.server.submit(self.worker, self.assignment_id, answers or {"live": "done"})


def open_hits(server: RunningServer, requester: Requester, run_id: str) -> list[str]:
    """HITs of the run (by its RequesterAnnotation) that are still Assignable, oldest first."""
    client = server.client(requester)
    out = []
    for hit in client.list_hits(MaxResults=100)["HITs"]:
        if hit.get("RequesterAnnotation") == f"hitkit-live:{run_id}" and hit["HITStatus"] == "Assignable":
            out.append((hit["CreationTime"], hit["HITId"]))
    return [h for _, h in sorted(out)]


async def wait_for_hits(server: RunningServer, requester: Requester, run_id: str, count: int) -> list[str]:
    for _ in range(int(LIMIT / 0.1)):
        hits = await asyncio.to_thread(open_hits, server, requester, run_id)
        if len(hits) >= count:
            return hits
        await asyncio.sleep(0.1)
    raise AssertionError(f"the run did not create {count} HITs")


async def join(server: RunningServer, run_id: str, hit_id: str, worker: Worker | None = None) -> SimWorker:
    worker = worker or server.new_worker()
    assignment_id = await asyncio.to_thread(server.accept, worker, hit_id)
    return await SimWorker(server, worker, run_id, hit_id, assignment_id).connect()


def start_runner(server: RunningServer, requester: Requester, task: LiveTask, **kw: Any) -> tuple[LiveRunner, asyncio.Task]:
    kw.setdefault("settle_timeout", 30.0)
    kw.setdefault("poll_seconds", 0.2)
    runner = LiveRunner(task, server.client(requester), server.url, **kw)
    return runner, asyncio.create_task(runner.run())


async def finish(task: asyncio.Task, limit: float = LIMIT) -> Any:
    return await asyncio.wait_for(task, limit)


async def accepted_live_hit(server: RunningServer, mturk, run_id: str) -> tuple[Worker, str, str]:  # type: ignore[no-untyped-def]
    """A HIT (one assignment) whose ExternalQuestion is the run's live page, accepted by a new worker:
    (worker, HIT id, assignment id)."""
    question = ('<ExternalQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/'
                f'ExternalQuestion.xsd"><ExternalURL>{server.url}/live/{run_id}</ExternalURL><FrameHeight>600</FrameHeight>'
                '</ExternalQuestion>')
    hit_id = mturk.create_hit(**hit_params(Question=question, MaxAssignments=1))["HIT"]["HITId"]
    worker = server.new_worker()
    return worker, hit_id, await asyncio.to_thread(server.accept, worker, hit_id)
