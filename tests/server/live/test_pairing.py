"""Two simulated workers (real websocket clients) are paired by a real LiveRunner through a real server: the
conversation is relayed, stored, and both are paid."""

from __future__ import annotations

import asyncio

from hitkit.requester.live import LiveTask, PaymentPolicy
from tests.server.live.support import finish, join, start_runner, wait_for_hits


async def chat(world):  # type: ignore[no-untyped-def]
    a, b = world.humans
    for turn in range(4):
        speaker, listener = (a, b) if turn % 2 == 0 else (b, a)
        message = await speaker.act()
        if message.get("event"):
            return {"ended": message["event"]}
        await listener.observe(message)
    return {"turns": 4}


def test_two_workers_are_paired_and_paid(server, requester):  # type: ignore[no-untyped-def]
    task = LiveTask(name="pairing", world=chat, humans_per_world=2, waiting_timeout=120, act_timeout=120,
                    policy=PaymentPolicy(bonus_completed="0.10"))

    async def scenario() -> None:
        runner, running = start_runner(server, requester, task, conversations=1)
        hits = await wait_for_hits(server, requester, runner.run_id, 2)
        w1 = await join(server, runner.run_id, hits[0])
        w2 = await join(server, runner.run_id, hits[1])
        await w1.wait_state("in_world")
        await w2.wait_state("in_world")
        await w1.say("hello")
        assert (await w2.wait_message("hello"))["message"]["id"] == w1.worker.worker_id
        await w2.say("hi there")
        await w1.wait_message("hi there")
        await w1.say("how are you")
        await w2.wait_message("how are you")
        await w2.say("fine")
        done1 = await w1.wait_state("done")
        await w2.wait_state("done")
        assert done1["can_submit"] is True and done1["outcome"] == "completed"
        for w in (w1, w2):
            r = await asyncio.to_thread(w.submit)
            assert r.status_code == 200, r.text
        summary = await finish(running)
        assert summary.completed_worlds == 1
        assert summary.approved == 2
        client = server.client(requester)
        for w in (w1, w2):
            assert client.get_assignment(AssignmentId=w.assignment_id)["Assignment"]["AssignmentStatus"] == "Approved"
            bonuses = client.list_bonus_payments(AssignmentId=w.assignment_id)["BonusPayments"]
            assert [b["BonusAmount"] for b in bonuses] == ["0.10"]

    asyncio.run(scenario())


async def one_line(world):  # type: ignore[no-untyped-def]
    human = world.humans[0]
    message = await human.act()
    return {"said": message.get("text")}


def test_max_concurrent_worlds(server, requester):  # type: ignore[no-untyped-def]
    """With max_concurrent_worlds=1 the second worker waits until the first world ends, then gets its own."""
    task = LiveTask(name="one-at-a-time", world=one_line, humans_per_world=1, max_concurrent_worlds=1,
                    waiting_timeout=120, act_timeout=120)

    async def scenario() -> None:
        runner, running = start_runner(server, requester, task, conversations=2)
        hits = await wait_for_hits(server, requester, runner.run_id, 2)
        first = await join(server, runner.run_id, hits[0])
        await first.wait_state("in_world")
        second = await join(server, runner.run_id, hits[1])
        await second.wait_state("waiting")
        for _ in range(600):  # the runner files the worker as waiting right after telling it so
            if runner.waiting:
                break
            await asyncio.sleep(0.05)
        assert len(runner.worlds) == 1 and [a.assignment_id for a in runner.waiting] == [second.assignment_id]
        await first.say("done")
        await first.wait_state("done")
        await second.wait_state("in_world")
        await second.say("me too")
        await second.wait_state("done")
        for w in (first, second):
            assert (await asyncio.to_thread(w.submit)).status_code == 200
        summary = await finish(running)
        assert summary.completed_worlds == 2 and summary.approved == 2

    asyncio.run(scenario())
