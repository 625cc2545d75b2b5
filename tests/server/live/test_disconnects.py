"""Waiting-room timeout, disconnects in each phase (waiting, onboarding, in a world), reconnecting within the grace
period with history, and the partner-disconnect payment policy: real websocket clients, a real runner and server."""

from __future__ import annotations

import asyncio

from hitkit.requester.live import LiveTask, PaymentPolicy
from tests.server.live.support import finish, join, start_runner, wait_for_hits


async def chat(world):  # type: ignore[no-untyped-def]
    a, b = world.humans
    turn = 0
    while True:
        speaker, listener = (a, b) if turn % 2 == 0 else (b, a)
        message = await speaker.act()
        if message.get("event"):
            return {"ended": message["event"], "completed": False}
        await listener.observe(message)
        if message.get("text", "").endswith("[DONE]"):
            return {"turns": turn + 1}
        turn += 1


def _task(**kw) -> LiveTask:  # type: ignore[no-untyped-def]
    kw.setdefault("waiting_timeout", 120)
    kw.setdefault("act_timeout", 120)
    kw.setdefault("grace_seconds", 0.5)
    return LiveTask(name="disconnects", world=chat, humans_per_world=2, **kw)


def status_of(server, requester, assignment_id):  # type: ignore[no-untyped-def]
    return server.client(requester).get_assignment(AssignmentId=assignment_id)["Assignment"]["AssignmentStatus"]


def test_waiting_room_timeout_releases_and_pays(server, requester):  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        runner, running = start_runner(server, requester, _task(waiting_timeout=0.5), conversations=1)
        hits = await wait_for_hits(server, requester, runner.run_id, 2)
        w = await join(server, runner.run_id, hits[0])
        await w.wait_state("waiting")
        released = await w.wait_state("released")
        assert released["outcome"] == "waiting_timeout" and released["can_submit"] is True
        assert "nobody could be matched" in released["text"]
        assert (await asyncio.to_thread(w.submit)).status_code == 200
        for _ in range(300):  # the runner pays while it runs
            if await asyncio.to_thread(status_of, server, requester, w.assignment_id) == "Approved":
                break
            await asyncio.sleep(0.1)
        assert await asyncio.to_thread(status_of, server, requester, w.assignment_id) == "Approved"
        running.cancel()

    asyncio.run(scenario())


def test_disconnect_while_waiting_frees_the_place(server, requester):  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        runner, running = start_runner(server, requester, _task(), conversations=1)
        hits = await wait_for_hits(server, requester, runner.run_id, 2)
        gone = await join(server, runner.run_id, hits[0])
        await gone.wait_state("waiting")
        await gone.drop()
        for _ in range(300):
            if runner.agents.get(gone.assignment_id) and runner.agents[gone.assignment_id].outcome:
                break
            await asyncio.sleep(0.1)
        assert runner.agents[gone.assignment_id].outcome == "disconnected"
        # the next two workers are paired (the one who left is not)
        hits = await wait_for_hits(server, requester, runner.run_id, 2)
        a = await join(server, runner.run_id, hits[0])
        b = await join(server, runner.run_id, hits[1])
        await a.wait_state("in_world")
        await b.wait_state("in_world")
        await a.say("bye [DONE]")
        await a.wait_state("done")
        for w in (a, b):
            assert (await asyncio.to_thread(w.submit)).status_code == 200
        summary = await finish(running)
        assert summary.completed_worlds == 1 and summary.approved == 2

    asyncio.run(scenario())


def test_reconnect_within_grace_rejoins_with_history(server, requester):  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        runner, running = start_runner(server, requester, _task(grace_seconds=60), conversations=1)
        hits = await wait_for_hits(server, requester, runner.run_id, 2)
        a = await join(server, runner.run_id, hits[0])
        b = await join(server, runner.run_id, hits[1])
        await a.wait_state("in_world")
        await b.wait_state("in_world")
        await a.say("first")
        await b.wait_message("first")
        await b.drop()  # a reload
        await b.connect()
        history = await b.wait(lambda f: f["type"] == "history" and len(f["messages"]) >= 1)
        assert [m["text"] for m in history["messages"]] == ["first"]
        assert history["messages"][0]["own"] is False
        state = await b.wait(lambda f: f["type"] == "state" and f["status"] == "in_world")
        assert state["world_id"]
        await b.say("second [DONE]")
        await a.wait_message("second [DONE]")
        await a.wait_state("done")
        later = len(b.frames)
        await b.wait(lambda f: f["type"] == "state" and f["status"] == "done", start=later - 1)
        for w in (a, b):
            assert (await asyncio.to_thread(w.submit)).status_code == 200
        summary = await finish(running)
        assert summary.completed_worlds == 1 and summary.approved == 2

    asyncio.run(scenario())


def test_partner_disconnect_is_an_event_and_pays_by_min_messages(server, requester):  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        task = _task(policy=PaymentPolicy(min_messages_partner_left=1))
        runner, running = start_runner(server, requester, task, conversations=1)
        hits = await wait_for_hits(server, requester, runner.run_id, 2)
        a = await join(server, runner.run_id, hits[0])
        b = await join(server, runner.run_id, hits[1])
        await a.wait_state("in_world")
        await b.wait_state("in_world")
        await a.say("hello")
        await b.wait_message("hello")
        await b.drop()  # b is gone for good; the world waits on b.act() and hears `disconnect`
        state = await a.wait(lambda f: f["type"] == "state" and f.get("outcome") == "partner_left")
        assert state["can_submit"] is True and "partner left" in state["text"]
        assert (await asyncio.to_thread(a.submit)).status_code == 200
        for _ in range(300):
            if await asyncio.to_thread(status_of, server, requester, a.assignment_id) == "Approved":
                break
            await asyncio.sleep(0.1)
        assert await asyncio.to_thread(status_of, server, requester, a.assignment_id) == "Approved"
        assert runner.agents[b.assignment_id].outcome == "disconnected"
        running.cancel()

    asyncio.run(scenario())


def test_partner_disconnect_before_any_message_asks_to_return(server, requester):  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        task = _task(policy=PaymentPolicy(min_messages_partner_left=1))
        runner, running = start_runner(server, requester, task, conversations=1)
        hits = await wait_for_hits(server, requester, runner.run_id, 2)
        a = await join(server, runner.run_id, hits[0])
        b = await join(server, runner.run_id, hits[1])
        await a.wait_state("in_world")
        await b.wait_state("in_world")
        await b.drop()  # a is asked to speak first, b leaves: a's act() sees partner_disconnect
        state = await a.wait(lambda f: f["type"] == "state" and f.get("outcome") == "partner_left")
        assert state["can_submit"] is False and "return the HIT" in state["text"]
        running.cancel()

    asyncio.run(scenario())


async def quiz(agent):  # type: ignore[no-untyped-def]
    await agent.observe({"id": "System", "text": "What is 2 + 2?"})
    answer = await agent.act()
    return answer.get("text", "").strip() == "4"


def test_disconnect_during_onboarding(server, requester):  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        runner, running = start_runner(server, requester, _task(onboarding=quiz), conversations=1)
        hits = await wait_for_hits(server, requester, runner.run_id, 2)
        w = await join(server, runner.run_id, hits[0])
        await w.wait_state("onboarding")
        await w.wait_message("What is 2 + 2?")
        await w.drop()
        for _ in range(300):
            if runner.agents[w.assignment_id].outcome:
                break
            await asyncio.sleep(0.1)
        assert runner.agents[w.assignment_id].outcome == "disconnected"
        running.cancel()

    asyncio.run(scenario())


def test_every_timeout_reaches_the_world(server, requester):  # type: ignore[no-untyped-def]
    """An act() timeout comes back to the world as an event; a world that never ends is cancelled at world_timeout
    and its workers still get an outcome (partner_left, paid by messages sent)."""
    seen: list[str] = []

    async def slow(world):  # type: ignore[no-untyped-def]
        a, b = world.humans
        message = await a.act(timeout=0.3)  # nobody types: the timeout is an event, not a hang
        seen.append(message.get("event"))
        await b.observe({"id": "System", "text": f"a was silent ({message.get('event')})"})
        await asyncio.sleep(3600)  # a world that never ends by itself

    async def scenario() -> None:
        task = _task(world_timeout=1.0)
        task.world = slow
        runner, running = start_runner(server, requester, task, conversations=1)
        hits = await wait_for_hits(server, requester, runner.run_id, 2)
        a = await join(server, runner.run_id, hits[0])
        b = await join(server, runner.run_id, hits[1])
        await b.wait_message("a was silent (timeout)")
        state_a = await a.wait(lambda f: f["type"] == "state" and f.get("outcome"))
        state_b = await b.wait(lambda f: f["type"] == "state" and f.get("outcome"))
        assert state_a["outcome"] == state_b["outcome"] == "partner_left"
        assert state_a["can_submit"] is False  # sent nothing (policy: at least one message)
        assert seen == ["timeout"]
        running.cancel()

    asyncio.run(scenario())
