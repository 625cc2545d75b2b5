"""The requester's process (`hitkit live run`, a real child process) is killed with SIGKILL mid-run: workers are
told at once and may return the HIT; started again with `--run RUN`, it resumes: workers whose world was lost
are released with the `interrupted` outcome and paid, a waiting worker is matched, no HIT is created twice."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap

from tests.server.live.support import LIMIT, join, open_hits, wait_for_hits

TASK = textwrap.dedent('''
    from hitkit.requester.live import LiveTask

    async def chat(world):
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

    task = LiveTask(name="restartable", world=chat, humans_per_world=2, waiting_timeout=300, act_timeout=300,
                    grace_seconds=300)
''')


def _start(server, requester, task_file, run_id: str) -> subprocess.Popen:  # type: ignore[no-untyped-def]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": requester.access_key, "AWS_SECRET_ACCESS_KEY": requester.secret,
           "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_DEFAULT_REGION": "us-east-1"}
    return subprocess.Popen(
        [sys.executable, "-m", "hitkit.cli.main", "live", "run", str(task_file), "--endpoint-url", server.url,
         "--conversations", "2", "--reward", "0.40", "--run", run_id, "--settle-timeout", "5"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_requester_process_killed_and_restarted(server, requester, tmp_path):  # type: ignore[no-untyped-def]
    task_file = tmp_path / "task.py"
    task_file.write_text(TASK)
    run_id = "restart-test-1"
    client = server.client(requester)

    async def scenario() -> None:
        proc = _start(server, requester, task_file, run_id)
        try:
            hits = await wait_for_hits(server, requester, run_id, 4)
            assert len(hits) == 4
            a = await join(server, run_id, hits[0])
            b = await join(server, run_id, hits[1])
            await a.wait_state("in_world")
            await b.wait_state("in_world")
            c = await join(server, run_id, hits[2])
            await c.wait_state("waiting")
            await a.say("hello")
            await b.wait_message("hello")

            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=LIMIT)
            for w in (a, b, c):
                gone = await w.wait(lambda f: f["type"] == "requester_gone")
                assert "return the HIT" in gone["message"]

            proc = _start(server, requester, task_file, run_id)
            for w in (a, b, c):
                await w.wait(lambda f: f["type"] == "requester_back")
            for w in (a, b):
                state = await w.wait(lambda f: f["type"] == "state" and f.get("outcome") == "interrupted")
                assert state["can_submit"] is True
                assert (await asyncio.to_thread(w.submit)).status_code == 200
            # the waiting worker is matched with the next one after the restart
            d = await join(server, run_id, hits[3])
            await c.wait_state("in_world")
            await d.wait_state("in_world")
            await c.say("again [DONE]")
            await d.wait_message("again [DONE]")
            await c.wait_state("done")
            for w in (c, d):
                assert (await asyncio.to_thread(w.submit)).status_code == 200
            for w in (a, b, c, d):
                for _ in range(int(LIMIT / 0.1)):
                    status = client.get_assignment(AssignmentId=w.assignment_id)["Assignment"]["AssignmentStatus"]
                    if status == "Approved":
                        break
                    await asyncio.sleep(0.1)
                assert status == "Approved", w.assignment_id
            # 4 HITs at first, 2 replacements for the interrupted world: none twice
            annotated = [h for h in client.list_hits(MaxResults=100)["HITs"]
                         if h.get("RequesterAnnotation") == f"hitkit-live:{run_id}"]
            assert len(annotated) == 6
            assert len(await asyncio.to_thread(open_hits, server, requester, run_id)) == 2
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=LIMIT)

    asyncio.run(scenario())
