"""QA data collection, as in ParlAI's MTurk guide: a worker reads a paragraph (shown beside the chat) and writes
a question about it, then the question's answer. One worker per world, no bot.

    hitkit live run task.py --endpoint-url $AWS_ENDPOINT_URL_MTURK --conversations 3 --reward 0.50
"""

from hitkit.requester.live import LiveTask

PARAGRAPHS = [
    "The Amazon rainforest covers much of the Amazon basin of South America. Most of it is in Brazil, followed by "
    "Peru and Colombia. It is home to about 390 billion trees of 16,000 species.",
    "The Rosetta Stone is a granodiorite stele inscribed with three versions of a decree issued in 196 BC. It was "
    "the key to deciphering Egyptian hieroglyphs.",
    "Honey bees communicate the direction and distance of flowers with the waggle dance, a figure-eight movement "
    "performed on the honeycomb.",
]


async def qa_world(world):
    worker = world.humans[0]
    await worker.observe({"id": "System", "text": "Read the paragraph, then write a question about it. Your turn."})
    question = await worker.act()
    if question.get("event"):
        return {"completed": False, "ended": question["event"]}
    await worker.observe({"id": "System", "text": "Thanks. Now write the answer to your question. Your turn."})
    answer = await worker.act()
    if answer.get("event"):
        return {"completed": False, "ended": answer["event"]}
    await world.record({"kind": "qa", "paragraph": world.data["paragraph"], "question": question["text"],
                        "answer": answer["text"]})
    await worker.observe({"id": "System", "text": "Thank you!", "episode_done": True})
    return {"question": question["text"], "answer": answer["text"]}


task = LiveTask(
    name="qa-collection",
    world=qa_world,
    humans_per_world=1,
    title="Write a question and its answer about a paragraph",
    description="Read a short paragraph, ask a question about it, and answer it.",
    world_data=lambda n: {"paragraph": PARAGRAPHS[n % len(PARAGRAPHS)]},
    act_timeout=300,
    waiting_timeout=300,
)
