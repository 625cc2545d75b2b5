"""The pure parts of hitkit.requester.live: the payment policy, request tokens, the daily-cap value, ExternalQuestion
XML, task files, and the ParlAI-like conversation grouping of stored events."""

from __future__ import annotations

import pytest

from hitkit.mturk.xml import parse_question
from hitkit.requester.live import PaymentPolicy
from hitkit.requester.live import hits
from hitkit.requester.live.export import conversations
from hitkit.requester.live.loader import TaskFileError, load_task
from hitkit.requester.live.task import (
    COMPLETED, DAILY_CAP, DISCONNECTED, INTERRUPTED, ONBOARDING_FAILED, PARTNER_LEFT, WAITING_TIMEOUT,
)


def test_payment_policy() -> None:
    p = PaymentPolicy(min_messages_partner_left=2, pay_waiting_timeout=False)
    assert p.pays(COMPLETED, 0)
    assert not p.pays(PARTNER_LEFT, 1) and p.pays(PARTNER_LEFT, 2)
    assert not p.pays(WAITING_TIMEOUT, 0)
    assert p.pays(ONBOARDING_FAILED, 0) and p.pays(INTERRUPTED, 0)
    assert not p.pays(DISCONNECTED, 10) and not p.pays(DAILY_CAP, 0)


def test_tokens_and_daily_values() -> None:
    token = hits.request_token("r" * 64, "hit-123456")
    assert len(token) <= 64 and token == hits.request_token("r" * 64, "hit-123456")
    assert token != hits.request_token("r" * 64, "hit-123457")
    now = 1_800_000_000.0
    value = hits.daily_value(125.2, now)
    assert value < 2**31 and hits.seconds_today(value, now) == 126
    assert hits.seconds_today(value, now + 86400) == 0 and hits.seconds_today(None, now) == 0


def test_external_question_is_valid() -> None:
    doc = parse_question(hits.external_question(hits.live_page_url("http://127.0.0.1:8000/", "run-1"), 700))
    assert doc.kind == "ExternalQuestion" and doc.external_url == "http://127.0.0.1:8000/live/run-1"


def test_task_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "good.py"
    good.write_text("from hitkit.requester.live import LiveTask\nasync def w(world):\n    return 1\n"
                    "task = LiveTask(name='t', world=w)\n")
    assert load_task(good).name == "t"
    bad = tmp_path / "bad.py"
    bad.write_text("raise ValueError('nope')\n")
    with pytest.raises(TaskFileError, match="ValueError: nope"):
        load_task(bad)


def test_conversations_from_events() -> None:
    agents = [{"assignment_id": "A1", "worker_id": "W1", "outcome": "completed"},
              {"assignment_id": "A2", "worker_id": "W2", "outcome": "partner_left"}]

    def ev(seq, kind, body, world="w0", aid=None):  # type: ignore[no-untyped-def]
        return {"seq": seq, "kind": kind, "body": body, "world_id": world, "assignment_id": aid, "created_at": seq}

    events = [
        ev(1, "world", {"kind": "world_start", "number": 0, "data": {"p": "x"}, "bots": ["Bot"],
                        "humans": [{"assignment_id": "A1", "worker_id": "W1"}, {"assignment_id": "A2", "worker_id": "W2"}]}),
        ev(2, "delivery", {"id": "System", "text": "Hi all"}, aid="A1"),
        ev(3, "delivery", {"id": "System", "text": "Hi all"}, aid="A2"),
        ev(4, "message", {"text": "hello"}, aid="A1"),
        ev(5, "delivery", {"id": "W1", "text": "hello"}, aid="A2"),
        ev(6, "world", {"kind": "bot_message", "agent": "Bot", "message": {"id": "Bot", "text": "beep"}}),
        ev(7, "event", {"event": "worker_left"}, aid="A2"),
        ev(8, "world", {"kind": "timeout", "agent": "W2"}),
        ev(9, "world", {"kind": "world_end", "reason": "completed", "result": {"n": 1}}),
        ev(10, "message", {"text": "onboarding answer"}, world="onb-A1", aid="A1"),
        ev(11, "event", {"event": "requester_connected"}, world=None),
    ]
    talks = list(conversations({"run": {"id": "r"}, "agents": agents, "events": events}))
    assert [t["world_id"] for t in talks] == ["w0", "onb-A1"]
    w0 = talks[0]
    assert [(d[0]["id"], d[0]["text"]) for d in w0["dialog"]] == [("System", "Hi all"), ("W1", "hello"), ("Bot", "beep")]
    assert w0["dialog"][-1][0]["episode_done"] is True
    assert w0["outcomes"] == {"A1": "completed", "A2": "partner_left"} and w0["result"] == {"n": 1}
    assert [e.get("event") or e.get("kind") for e in w0["events"]] == ["worker_left", "timeout"]
    assert talks[1]["onboarding"] is True and talks[1]["workers"] == ["W1"]
