"""Live multi-party tasks, the requester's half: write an async world function, run it with workers and bots.

    from hitkit.requester.live import LiveTask, LiveRunner

The requester's process runs the worlds and connects out to a hitkit server by websocket (so it may sit behind a
firewall); HITs are ExternalQuestions pointing at the server's live page, created and paid through the MTurk API
(boto3), like any other HIT. This package never imports `hitkit.server`.

  task.py        LiveTask, World, PaymentPolicy, the outcomes
  agents.py      HumanAgent (a worker's browser through the relay), BotAgent (observe/act objects), events
  runner.py      LiveRunner: HITs, onboarding, waiting room, worlds, timeouts, payments, resuming a run
  connection.py  the SigV4-signed websocket to the server, reconnects
  hits.py        the MTurk calls (HITs, qualifications, approve/reject/bonus)
  export.py      a run's conversations as ParlAI-like JSONL
  loader.py      loading a task file (`hitkit live run my_task.py`)
"""

from hitkit.requester.live.agents import DISCONNECT, PARTNER_DISCONNECT, TIMEOUT, Agent, BotAgent, HumanAgent, is_event
from hitkit.requester.live.runner import LiveRunner, RunSummary, new_run_id
from hitkit.requester.live.task import LiveTask, PaymentPolicy, World

__all__ = [
    "Agent", "BotAgent", "HumanAgent", "LiveRunner", "LiveTask", "PaymentPolicy", "RunSummary", "World",
    "DISCONNECT", "PARTNER_DISCONNECT", "TIMEOUT", "is_event", "new_run_id",
]
