"""Model evaluation, as in ParlAI's MTurk guide: a worker chats with a bot for a few turns, then rates it from 0
to 10. The bot is any object with `observe(message)` and `act()` (plain or async): put your model behind them.

    hitkit live run task.py --endpoint-url $AWS_ENDPOINT_URL_MTURK --conversations 10 --reward 0.75
"""

import re

from hitkit.requester.live import LiveTask

TURNS = 3


class ParrotModel:
    """A stand-in model: answers with a canned reply that mentions the last thing it heard."""

    id = "Model"
    REPLIES = ["Interesting! Tell me more about {}.", "Why do you say {}?", "I also like {}."]

    def __init__(self) -> None:
        self.heard = ""
        self.turn = 0

    def observe(self, message: dict) -> None:
        self.heard = message.get("text", "")

    def act(self) -> dict:
        words = re.findall(r"[A-Za-z']+", self.heard)
        topic = " ".join(words[-2:]) or "that"
        reply = self.REPLIES[self.turn % len(self.REPLIES)].format(topic)
        self.turn += 1
        return {"text": reply}


async def evaluate(world):
    human, model = world.humans[0], world.bots[0]
    await human.observe({"id": "System", "text": f"Chat with the model for {TURNS} turns. Say something: your turn."})
    for _ in range(TURNS):
        message = await human.act()
        if message.get("event"):
            return {"completed": False, "ended": message["event"]}
        await model.observe(message)
        await human.observe(await model.act())
    for _ in range(3):
        await human.observe({"id": "System", "text": "How good was the model, from 0 (awful) to 10 (great)? Rate it."})
        answer = await human.act()
        if answer.get("event"):
            return {"completed": False, "ended": answer["event"]}
        found = re.search(r"\b(10|[0-9])\b", answer.get("text", ""))
        if found:
            rating = int(found.group(1))
            await world.record({"kind": "rating", "rating": rating, "model": model.id})
            await human.observe({"id": "System", "text": "Thank you!", "episode_done": True})
            return {"rating": rating}
    return {"completed": False, "ended": "no rating"}


task = LiveTask(
    name="model-evaluation",
    world=evaluate,
    humans_per_world=1,
    bots=[ParrotModel],
    title="Chat with a chatbot and rate it",
    description="Have a short conversation with a chatbot, then rate it from 0 to 10.",
    act_timeout=300,
    waiting_timeout=300,
)
