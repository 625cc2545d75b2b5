"""The live page an ExternalQuestion HIT points at: a preview before accepting, the signed-in worker checked
against the assignment (session or bearer token), phone browsers refused when the task says so, unknown runs and
odd ids answered with a page (never a 500); and the daily time cap per worker."""

from __future__ import annotations

import asyncio
import re

import websockets

from hitkit.requester.live import LiveTask
from tests.server.live.support import accepted_live_hit, join, start_runner, wait_for_hits, ws_base
from tests.server.live.test_protocol import recv, requester_socket

PHONE = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36"


def test_live_page_checks(server, requester, mturk):  # type: ignore[no-untyped-def]
    async def open_run() -> object:
        ws = await requester_socket(server, requester, "page-run", config={
            "title": "Chat <b>now</b>", "description": "A live chat.", "refuse_mobile": True})
        await recv(ws, "welcome")
        return ws

    async def scenario() -> None:
        ws = await open_run()
        worker, hit_id, aid = await accepted_live_hit(server, mturk, "page-run")
        http = server.http
        preview = http.get("/live/page-run", params={"assignmentId": "ASSIGNMENT_ID_NOT_AVAILABLE", "hitId": hit_id})
        assert preview.status_code == 200 and "Chat &lt;b&gt;now&lt;/b&gt;" in preview.text and "A live chat." in preview.text
        params = {"assignmentId": aid, "workerId": worker.worker_id, "hitId": hit_id, "turkSubmitTo": server.url}
        signed_out = http.get("/live/page-run", params=params)
        assert signed_out.status_code == 403 and "Sign in" in signed_out.text
        other = server.new_worker()
        r = http.get("/live/page-run", params=params, headers={"Authorization": f"Bearer {other.token}"})
        assert r.status_code == 403 and "another worker" in r.text
        r = http.get("/live/page-run", params=params, headers={"Authorization": f"Bearer {worker.token}", "User-Agent": PHONE})
        assert r.status_code == 403 and "desktop" in r.text
        page = http.get("/live/page-run", params=params, headers={"Authorization": f"Bearer {worker.token}"})
        assert page.status_code == 200
        assert "frame-ancestors 'self'" in page.headers["content-security-policy"]
        assert f'action="{server.url}/mturk/externalSubmit"' in page.text
        token = re.search(r'data-token="([^"]+)"', page.text).group(1)
        # the page's token opens the worker's websocket (no cookie, as from the sandboxed frame)
        sock = await websockets.connect(f"{ws_base(server)}/live/v1/worker/page-run?assignmentId={aid}"
                                        f"&workerId={worker.worker_id}&hitId={hit_id}&token={token}")
        assert (await recv(sock))["type"] == "state"
        await sock.close()
        # the same token for another worker id is refused
        sock = await websockets.connect(f"{ws_base(server)}/live/v1/worker/page-run?assignmentId={aid}"
                                        f"&workerId={other.worker_id}&hitId={hit_id}&token={token}")
        assert (await recv(sock))["code"] == "not_allowed"
        for path in ("/live/no-such-run", "/live/%00", "/live/" + "x" * 300, "/live/v1/runs/page-run/events/abc"):
            r = http.get(path, params=params)
            assert r.status_code in (403, 404), (path, r.status_code)
        await ws.close()

    asyncio.run(scenario())


async def solo(world):  # type: ignore[no-untyped-def]
    human = world.humans[0]
    message = await human.act()
    return {"said": message.get("text")}


def test_daily_time_cap(server, requester):  # type: ignore[no-untyped-def]
    task = LiveTask(name="capped", world=solo, humans_per_world=1, daily_cap_seconds=0.001, act_timeout=120)

    async def scenario() -> None:
        runner, running = start_runner(server, requester, task, conversations=2)
        hits = await wait_for_hits(server, requester, runner.run_id, 2)
        worker = server.new_worker()
        first = await join(server, runner.run_id, hits[0], worker)
        await first.wait_state("in_world")
        await first.say("hello")
        await first.wait_state("done")
        assert (await asyncio.to_thread(first.submit)).status_code == 200
        second = await join(server, runner.run_id, hits[1], worker)
        capped = await second.wait(lambda f: f["type"] == "state" and f.get("outcome") == "daily_cap")
        assert capped["can_submit"] is False and "today's time limit" in capped["text"]
        running.cancel()

    asyncio.run(scenario())
