"""Onboarding: a worker who passes gets the task's qualification and goes on to the waiting room; one who fails is
paid by policy and soft-blocked (a qualification the task's HITs require not to have), so the server refuses
them the next HIT. Unique workers: a worker who took part cannot accept another HIT of the task."""

from __future__ import annotations

import asyncio

from hitkit.requester.live import LiveTask
from tests.server.live.support import join, start_runner, wait_for_hits


async def quiz(agent):  # type: ignore[no-untyped-def]
    await agent.observe({"id": "System", "text": "What is 2 + 2?"})
    answer = await agent.act()
    return answer.get("text", "").strip() == "4"


async def chat(world):  # type: ignore[no-untyped-def]
    first, *others = world.humans
    message = await first.act()
    if not message.get("event"):
        for other in others:
            await other.observe(message)
    return {}


def _qualification(client, name: str) -> str:  # type: ignore[no-untyped-def]
    found = client.list_qualification_types(MustBeRequestable=False, MustBeOwnedByCaller=True, Query=name)
    return next(q["QualificationTypeId"] for q in found["QualificationTypes"] if q["Name"] == name)


def test_onboarding_pass_grants_and_fail_soft_blocks(server, requester):  # type: ignore[no-untyped-def]
    task = LiveTask(name="onboarded", world=chat, humans_per_world=2, onboarding=quiz, waiting_timeout=120,
                    act_timeout=120, grace_seconds=0.5)

    async def scenario() -> None:
        runner, running = start_runner(server, requester, task, conversations=1)
        hits = await wait_for_hits(server, requester, runner.run_id, 2)
        good = await join(server, runner.run_id, hits[0])
        bad = await join(server, runner.run_id, hits[1])
        for w in (good, bad):
            await w.wait_state("onboarding")
            await w.wait_message("What is 2 + 2?")
        await good.say("4")
        await bad.say("5")
        await good.wait_state("waiting")
        failed = await bad.wait(lambda f: f["type"] == "state" and f.get("outcome") == "onboarding_failed")
        assert failed["can_submit"] is True and "did not pass" in failed["text"]
        assert (await asyncio.to_thread(bad.submit)).status_code == 200
        client = server.client(requester)
        passed_q = _qualification(client, "hitkit live onboarded: onboarding passed")
        blocked_q = _qualification(client, "hitkit live onboarded: not eligible")
        assert client.get_qualification_score(QualificationTypeId=passed_q, WorkerId=good.worker.worker_id)[
            "Qualification"]["IntegerValue"] == 1
        assert client.get_qualification_score(QualificationTypeId=blocked_q, WorkerId=bad.worker.worker_id)[
            "Qualification"]["Status"] == "Granted"
        # a replacement HIT appears; the soft-blocked worker cannot take it, a new worker can
        fresh = await wait_for_hits(server, requester, runner.run_id, 1)
        r = server.worker_call(bad.worker, "POST", f"/api/worker/v1/hits/{fresh[0]}/accept")
        assert r.status_code in (403, 409), r.text
        assert "qualif" in r.text.lower()
        third = await join(server, runner.run_id, fresh[0])
        await third.wait_message("What is 2 + 2?")
        await third.say("4")
        await third.wait_state("in_world")
        await good.wait_state("in_world")
        running.cancel()

    asyncio.run(scenario())


def test_unique_workers_across_runs(server, requester):  # type: ignore[no-untyped-def]
    task = LiveTask(name="once-only", world=chat, humans_per_world=1, unique_workers=True, waiting_timeout=120,
                    act_timeout=120)

    async def scenario() -> None:
        runner, running = start_runner(server, requester, task, conversations=1)
        hits = await wait_for_hits(server, requester, runner.run_id, 1)
        w = await join(server, runner.run_id, hits[0])
        await w.wait_state("in_world")
        await w.say("hi")
        await w.wait_state("done")
        assert (await asyncio.to_thread(w.submit)).status_code == 200
        await asyncio.wait_for(running, 60)
        runner2, running2 = start_runner(server, requester, task, conversations=1)
        hits2 = await wait_for_hits(server, requester, runner2.run_id, 1)
        r = server.worker_call(w.worker, "POST", f"/api/worker/v1/hits/{hits2[0]}/accept")
        assert r.status_code in (403, 409) and "qualif" in r.text.lower(), r.text
        running2.cancel()

    asyncio.run(scenario())
