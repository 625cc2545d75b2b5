"""The live examples (examples/live-*) run as a user would run them (run.sh from a copy of the folder) against a
live hitkit server: `hitkit live run` as the requester's process, simulated workers over real websockets, then
`hitkit live export`; the outcome checked through boto3 and the exported JSONL."""

from __future__ import annotations

import json

import pytest

from tests.examples.test_examples import example_env, run_example  # noqa: F401  (the fixture)


def _approved(mturk) -> list[dict]:  # type: ignore[no-untyped-def]
    out = []
    for hit in mturk.list_hits(MaxResults=100)["HITs"]:
        if (hit.get("RequesterAnnotation") or "").startswith("hitkit-live:"):
            out += [a for a in mturk.list_assignments_for_hit(HITId=hit["HITId"])["Assignments"]
                    if a["AssignmentStatus"] == "Approved"]
    return out


def test_live_qa_collection(example_env, mturk, tmp_path):  # type: ignore[no-untyped-def]  # noqa: F811
    folder, out, _ = run_example("live-qa-collection", example_env, tmp_path)
    assert "2 conversation(s), " in out and "approved 2" in out
    lines = [json.loads(line) for line in (folder / "conversations.jsonl").read_text().splitlines()]
    assert len(lines) == 2
    for talk in lines:
        assert talk["result"] == {"question": "Where is most of the rainforest?", "answer": "In Brazil."}
        assert "paragraph" in talk["data"] and talk["end_reason"] == "completed"
    assert len(_approved(mturk)) == 2


@pytest.mark.slow
def test_live_model_evaluation(example_env, mturk, tmp_path):  # type: ignore[no-untyped-def]  # noqa: F811
    folder, out, _ = run_example("live-model-evaluation", example_env, tmp_path)
    (talk,) = [json.loads(line) for line in (folder / "conversations.jsonl").read_text().splitlines()]
    assert talk["result"] == {"rating": 7} and talk["bots"] == ["Model"]
    assert [t[0]["id"] for t in talk["dialog"]].count("Model") == 3


@pytest.mark.slow
def test_live_multi_agent_dialog(example_env, mturk, tmp_path):  # type: ignore[no-untyped-def]  # noqa: F811
    folder, out, _ = run_example("live-multi-agent-dialog", example_env, tmp_path)
    (talk,) = [json.loads(line) for line in (folder / "conversations.jsonl").read_text().splitlines()]
    texts = [t[0]["text"] for t in talk["dialog"] if t[0]["id"] != "System"]
    assert texts[-1] == "Great talking, we are done [DONE]" and talk["result"]["done_by"] == "Local human"
    assert len(talk["workers"]) == 2 and talk["bots"] == ["Local human"]
    assert len(_approved(mturk)) == 2
