"""A multi-agent dialog, as in ParlAI's MTurk guide: two workers and one local human typing in this terminal
take turns, round robin, until someone sends a message ending in [DONE].

    hitkit live run task.py --endpoint-url $AWS_ENDPOINT_URL_MTURK --conversations 1 --reward 0.50

The local human is an agent like a bot: `observe` prints to the terminal and `act` reads a line from it.
"""

import asyncio
import sys

from hitkit.requester.live import LiveTask


class TerminalHuman:
    """You, in the terminal that runs `hitkit live run`."""

    id = "Local human"

    def observe(self, message: dict) -> None:
        print(f"[{message.get('id', '?')}] {message.get('text', '')}", flush=True)

    async def act(self) -> dict:
        print("your turn> ", end="", flush=True)
        line = await asyncio.to_thread(sys.stdin.readline)
        if not line:  # the terminal closed
            return {"text": "", "event": "disconnect", "episode_done": True}
        return {"text": line.rstrip("\n")}


async def round_robin(world):
    speakers = world.humans + world.bots  # worker 1, worker 2, the local human
    await world.broadcast({"id": "System", "text": "Welcome! Take turns; end a message with [DONE] to finish."})
    turn = 0
    while turn < 60:
        speaker = speakers[turn % len(speakers)]
        if speaker.is_human:
            await speaker.observe({"id": "System", "text": "It is your turn."})
        message = await speaker.act()
        if message.get("event"):
            return {"completed": False, "ended": message["event"], "by": speaker.id}
        await world.broadcast(message, exclude=speaker)
        if message.get("text", "").rstrip().endswith("[DONE]"):
            return {"turns": turn + 1, "done_by": speaker.id}
        turn += 1
    return {"turns": turn}


task = LiveTask(
    name="multi-agent-dialog",
    world=round_robin,
    humans_per_world=2,
    bots=[TerminalHuman],
    title="A three-way conversation",
    description="Chat with another worker and a researcher, taking turns.",
    act_timeout=600,
    waiting_timeout=600,
)
