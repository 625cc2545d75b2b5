"""The live chat page in a real browser (Debian's Chromium through Playwright): a signed-in worker accepts a live
HIT on the worker site, the work page frames the live page (sandboxed, as any ExternalQuestion), the worker chats
with a bot world run by a real LiveRunner, sees the task data beside the chat, reloads the page (and gets
the conversation back), ends the conversation, and submits;
the runner approves the assignment through the MTurk API. Screenshots go to tests/artifacts/."""

from __future__ import annotations

import asyncio
import threading

from hitkit.requester.live import LiveRunner, LiveTask
from tests.server.web.test_worker_site_browser import sign_in
from tests.support.browser import chromium_page, screenshot
from tests.server.live.support import open_hits

TIMEOUT_MS = 60_000


class Echo:
    id = "EchoBot"

    def __init__(self) -> None:
        self.last = ""

    def observe(self, message: dict) -> None:
        self.last = message.get("text", "")

    def act(self) -> dict:
        return {"text": f"You said: {self.last}"}


async def chat_with_bot(world):  # type: ignore[no-untyped-def]
    human, bot = world.humans[0], world.bots[0]
    await human.observe({"id": "System", "text": "Talk with the bot; end your last message with [DONE]."})
    while True:
        message = await human.act()
        if message.get("event"):
            return {"completed": False}
        await bot.observe(message)
        await human.observe(await bot.act())
        if message.get("text", "").endswith("[DONE]"):
            return {"ok": True}


def test_chat_page_in_chromium(server, requester):  # type: ignore[no-untyped-def]
    task = LiveTask(name="browser-chat", world=chat_with_bot, humans_per_world=1, bots=[Echo],
                    title="Chat with a bot", description="A short chat.", act_timeout=120, waiting_timeout=120,
                    world_data=lambda n: {"paragraph": "The cat sat on the mat."})
    runner = LiveRunner(task, server.client(requester), server.url, conversations=1, settle_timeout=60,
                        poll_seconds=0.2)
    result: dict = {}
    thread = threading.Thread(target=lambda: result.setdefault("summary", asyncio.run(runner.run())), daemon=True)
    thread.start()
    for _ in range(600):
        hits = open_hits(server, requester, runner.run_id)
        if hits:
            break
        threading.Event().wait(0.1)
    with chromium_page() as page:
        sign_in(page, server)
        page.goto(f"{server.url}/hits/{hits[0]}")
        page.click("#accept")
        page.wait_for_url("**/work/*")
        frame = page.frame_locator("#task")
        frame.locator("#status").filter(has_text="in the conversation").wait_for(timeout=TIMEOUT_MS)
        assert "The cat sat on the mat." in frame.locator("#context").inner_text()
        frame.locator("#messages li").filter(has_text="[DONE]").first.wait_for(timeout=TIMEOUT_MS)
        frame.locator("#text").fill("hello bot")
        frame.locator("#text").press("Enter")
        frame.locator("#messages li").filter(has_text="You said: hello bot").wait_for(timeout=TIMEOUT_MS)
        screenshot(page, "live-chat")
        page.reload()  # a reload rejoins the same conversation with its history
        frame = page.frame_locator("#task")
        frame.locator("#messages li").filter(has_text="You said: hello bot").wait_for(timeout=TIMEOUT_MS)
        assert frame.locator("#messages li.own").filter(has_text="hello bot").count() == 1
        frame.locator("#status").filter(has_text="in the conversation").wait_for(timeout=TIMEOUT_MS)
        frame.locator("#text").fill("bye [DONE]")
        frame.locator("#send").click()
        frame.locator("#submit").wait_for(state="visible", timeout=TIMEOUT_MS)
        assert "conversation is complete" in frame.locator("#status").inner_text()
        screenshot(page, "live-chat-done")
        frame.locator("#submit").click()
        page.wait_for_url("**/work/*/done*", timeout=TIMEOUT_MS)
    thread.join(timeout=120)
    summary = result["summary"]
    assert summary.completed_worlds == 1 and summary.approved == 1
