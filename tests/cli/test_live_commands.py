"""`hitkit live run` and `hitkit live export` as a user runs them (child processes) against a live server: bad task
files and refused credentials give one-line errors, a bot-only run completes, and its export is JSONL."""

from __future__ import annotations

import json
import os

from tests.support.processes import hitkit

BOT_TASK = '''
from hitkit.requester.live import LiveTask


class Counter:
    id = "Counter"

    def __init__(self):
        self.n = 0

    def observe(self, message):
        pass

    def act(self):
        self.n += 1
        return {"text": f"count {self.n}"}


async def world(world):
    human = world.humans[0]
    message = await human.act(timeout=0.2)           # nobody is typing: the timeout comes back as an event
    assert message["event"] == "timeout"
    return {"completed": False}


task = LiveTask(name="cli-test", world=world, humans_per_world=1, bots=[Counter])
'''


def _env(server, requester) -> dict:  # type: ignore[no-untyped-def]
    return {"AWS_ACCESS_KEY_ID": requester.access_key, "AWS_SECRET_ACCESS_KEY": requester.secret,
            "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_DEFAULT_REGION": "us-east-1"}


def test_bad_task_files(server, requester, tmp_path):  # type: ignore[no-untyped-def]
    env = _env(server, requester)
    missing = hitkit("live", "run", str(tmp_path / "nope.py"), "--endpoint-url", server.url, env=env, check=False)
    assert missing.returncode == 1 and "no such file" in missing.stderr
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    r = hitkit("live", "run", str(empty), "--endpoint-url", server.url, env=env, check=False)
    assert r.returncode == 1 and "must define `task = LiveTask(...)`" in r.stderr
    broken = tmp_path / "broken.py"
    broken.write_text("import does_not_exist_anywhere\n")
    r = hitkit("live", "run", str(broken), "--endpoint-url", server.url, env=env, check=False)
    assert r.returncode == 1 and "ModuleNotFoundError" in r.stderr and "Traceback" not in r.stderr


def test_refused_credentials_and_unknown_run(server, requester, tmp_path):  # type: ignore[no-untyped-def]
    task = tmp_path / "task.py"
    task.write_text(BOT_TASK)
    env = {**_env(server, requester), "AWS_SECRET_ACCESS_KEY": "wrong" * 8}
    r = hitkit("live", "run", str(task), "--endpoint-url", server.url, env=env, check=False)
    assert r.returncode == 1 and "refused the credentials" in r.stderr
    r = hitkit("live", "export", "no-such-run", "--endpoint-url", server.url, env=_env(server, requester), check=False)
    assert r.returncode == 1 and "You have no live run no-such-run" in r.stderr


def test_export_writes_jsonl(server, requester, tmp_path):  # type: ignore[no-untyped-def]
    """A run driven by a requester process (here the library in this test), exported by the CLI."""
    import asyncio

    from hitkit.requester.live import LiveTask
    from tests.server.live.support import join, start_runner, wait_for_hits

    async def world(w):  # type: ignore[no-untyped-def]
        human = w.humans[0]
        message = await human.act()
        await human.observe({"id": "System", "text": f"got {message['text']}"})
        return {"ok": True}

    async def scenario() -> str:
        runner, running = start_runner(server, requester, LiveTask(name="cli-export", world=world, humans_per_world=1))
        hits = await wait_for_hits(server, requester, runner.run_id, 1)
        w = await join(server, runner.run_id, hits[0])
        await w.wait_state("in_world")
        await w.say("hi")
        await w.wait_state("done")
        await asyncio.to_thread(w.submit)
        await asyncio.wait_for(running, 60)
        return runner.run_id

    run_id = asyncio.run(scenario())
    out = tmp_path / "talks.jsonl"
    r = hitkit("live", "export", run_id, "--endpoint-url", server.url, "--output", str(out), env=_env(server, requester))
    assert "1 conversation(s) written" in r.stdout
    (talk,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert [t[0]["text"] for t in talk["dialog"]] == ["hi", "got hi"] and talk["result"] == {"ok": True}
