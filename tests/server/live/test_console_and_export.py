"""A finished live run read back: in the requester console (/console/live, only the signed-in requester's runs)
and through `hitkit.requester.live.export` (the SigV4-signed events route), with a bot world and a recorded rating."""

from __future__ import annotations

import asyncio
import json

from hitkit.requester.live import LiveTask
from hitkit.requester.live.connection import client_credentials
from hitkit.requester.live.export import ExportError, conversations, export_jsonl, fetch_run
from tests.server.live.support import finish, join, start_runner, wait_for_hits
from tests.server.web.staff_support import console


class Bot:
    id = "Bot"

    def observe(self, message: dict) -> None:
        self.heard = message.get("text", "")

    async def act(self) -> dict:
        return {"text": f"<b>echo</b> {self.heard}"}


async def rated(world):  # type: ignore[no-untyped-def]
    human, bot = world.humans[0], world.bots[0]
    await human.observe({"id": "System", "text": "Say something."})
    message = await human.act()
    await bot.observe(message)
    await human.observe(await bot.act())
    await human.observe({"id": "System", "text": "Rate 0-10."})
    rating = await human.act()
    await world.record({"kind": "rating", "rating": int(rating["text"])})
    return {"rating": int(rating["text"])}


def test_console_and_export_show_the_conversation(server, tmp_path):  # type: ignore[no-untyped-def]
    site, requester = console(server)
    task = LiveTask(name="console-read", world=rated, humans_per_world=1, bots=[Bot], act_timeout=120,
                    world_data=lambda n: {"paragraph": "Some context."})

    async def scenario() -> str:
        runner, running = start_runner(server, requester, task, conversations=1)
        hits = await wait_for_hits(server, requester, runner.run_id, 1)
        w = await join(server, runner.run_id, hits[0])
        await w.wait_message("Say something.")
        await w.say("hello <script>alert(1)</script>")
        await w.wait_message("Rate 0-10.")
        await w.say("8")
        await w.wait_state("done")
        assert (await asyncio.to_thread(w.submit)).status_code == 200
        await finish(running)
        return runner.run_id

    run_id = asyncio.run(scenario())
    page = site.get("/console/live")
    assert page.status_code == 200 and run_id in page.text
    page = site.get(f"/console/live/{run_id}")
    assert page.status_code == 200
    text = page.text
    assert "hello &lt;script&gt;alert(1)&lt;/script&gt;" in text and "<script>alert(1)" not in text
    assert "&lt;b&gt;echo&lt;/b&gt;" in text and "Rate 0-10." in text and "completed" in text
    assert "Some context." in text
    # another requester sees neither the run nor its page
    other, _ = console(server)
    assert run_id not in other.get("/console/live").text
    assert other.get(f"/console/live/{run_id}").status_code == 404
    assert other.get("/console/live/%00bad").status_code in (404, 400)

    client = server.client(requester)
    run = fetch_run(server.url, client_credentials(client), run_id)
    (talk,) = [c for c in conversations(run) if not c["onboarding"]]
    assert [(t[0]["id"], t[0]["text"]) for t in talk["dialog"]] == [
        ("System", "Say something."), (talk["workers"][0], "hello <script>alert(1)</script>"),
        ("Bot", "<b>echo</b> hello <script>alert(1)</script>"), ("System", "Rate 0-10."), (talk["workers"][0], "8")]
    assert talk["dialog"][-1][0]["episode_done"] is True
    assert talk["result"] == {"rating": 8} and talk["end_reason"] == "completed"
    assert talk["data"] == {"paragraph": "Some context."} and talk["bots"] == ["Bot"]
    assert list(talk["outcomes"].values()) == ["completed"]
    assert any(e.get("kind") == "rating" and e["rating"] == 8 for e in talk["events"])
    path = tmp_path / "out.jsonl"
    assert export_jsonl(run, path) == 1
    assert json.loads(path.read_text())["world_id"] == talk["world_id"]
    other_client = server.client(server.new_requester())
    try:
        fetch_run(server.url, client_credentials(other_client), run_id)
    except ExportError as e:
        assert "404" in str(e)
    else:
        raise AssertionError("another requester read the run")
