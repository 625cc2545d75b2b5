"""A live run's conversations as JSONL in a ParlAI-like format, one line per world:

    {"run_id": ..., "world_id": ..., "number": 0, "data": {...}, "workers": [...], "assignment_ids": [...],
     "bots": [...], "dialog": [[{"id": "A1B2", "text": "hello", "episode_done": false}], ...],
     "result": {...}, "end_reason": "completed", "outcomes": {"ASSIGNMENT": "completed"}, "events": [...]}

`dialog` holds one single-utterance list per turn, in the order the server stored them: the workers' messages,
bots' messages (recorded by the world) and what the world said itself (`id` not an agent's, e.g. "System");
relays of an agent's message to the others are not repeated. `events` are timeouts, disconnects and anything
else the world recorded. Onboarding sessions are exported with `"onboarding": true`.

The events come from the server's `GET /live/v1/runs/RUN/events/AFTER`, signed with SigV4 as MTurk API calls are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import httpx
import orjson

from hitkit.requester.live.connection import signed_headers


class ExportError(RuntimeError):
    pass


def fetch_run(endpoint_url: str, credentials: Any, run_id: str, *, region: str = "us-east-1") -> dict:
    """The run, its agents and all its events, from the server."""
    base = endpoint_url.rstrip("/")
    after, events, first = 0, [], None
    with httpx.Client(timeout=60) as http:
        while True:
            url = f"{base}/live/v1/runs/{run_id}/events/{after}"
            r = http.get(url, headers=signed_headers(url, credentials, region))
            if r.status_code != 200:
                try:
                    message = r.json()["error"]["message"]
                except Exception:
                    message = r.text[:200]
                raise ExportError(f"{url}: {r.status_code}: {message}")
            page = r.json()
            first = first or page
            events.extend(page["events"])
            if page.get("next") is None:
                break
            after = page["next"]
    assert first is not None
    return {"run": first["run"], "agents": first["agents"], "events": events}


def conversations(run: dict) -> Iterator[dict]:
    """One dict per world (and per onboarding session) of a fetched run, in the order they started."""
    run_id = run["run"]["id"]
    by_assignment = {a["assignment_id"]: a for a in run["agents"]}
    worlds: dict[str, dict] = {}

    def world(world_id: str) -> dict:
        if world_id not in worlds:
            worlds[world_id] = {"run_id": run_id, "world_id": world_id, "number": None, "data": None, "workers": [],
                                "assignment_ids": [], "bots": [], "dialog": [], "result": None, "end_reason": None,
                                "outcomes": {}, "events": [], "onboarding": world_id.startswith("onb-")}
        return worlds[world_id]

    for e in run["events"]:
        world_id = e.get("world_id")
        if not world_id:
            continue
        w = world(world_id)
        body, kind, aid = e["body"], e["kind"], e.get("assignment_id")
        if kind == "message":
            worker = by_assignment.get(aid, {}).get("worker_id", aid)
            w["dialog"].append([{"id": worker, "text": body.get("text", ""), "episode_done": False,
                                 **({"task_data": body["task_data"]} if "task_data" in body else {})}])
            if aid and aid not in w["assignment_ids"]:
                w["assignment_ids"].append(aid)
                w["workers"].append(worker)
        elif kind == "world":
            k = body.get("kind")
            if k == "world_start":
                w["number"], w["data"] = body.get("number"), body.get("data")
                w["assignment_ids"] = [h["assignment_id"] for h in body.get("humans", [])]
                w["workers"] = [h["worker_id"] for h in body.get("humans", [])]
                w["bots"] = list(body.get("bots", []))
            elif k == "world_end":
                w["result"], w["end_reason"] = body.get("result"), body.get("reason")
            elif k == "bot_message":
                m = body.get("message") or {}
                w["dialog"].append([{"id": m.get("id", body.get("agent")), "text": m.get("text", ""),
                                     "episode_done": bool(m.get("episode_done", False)),
                                     **({"task_data": m["task_data"]} if "task_data" in m else {})}])
            else:
                w["events"].append({"seq": e["seq"], **body})
        elif kind == "delivery":
            speaker = body.get("id")
            if speaker in w["workers"] or speaker in w["bots"]:
                continue  # a relay of an utterance already in the dialog
            last = w["dialog"][-1][0] if w["dialog"] else None
            if last is not None and last.get("id") == speaker and last.get("text") == body.get("text", ""):
                continue  # the same system message sent to each agent
            w["dialog"].append([{"id": speaker or "System", "text": body.get("text", ""),
                                 "episode_done": bool(body.get("episode_done", False)),
                                 **({"task_data": body["task_data"]} if "task_data" in body else {})}])
        elif kind == "event" and body.get("event") in ("worker_disconnected", "worker_reconnected", "worker_left"):
            w["events"].append({"seq": e["seq"], "event": body["event"], "assignment_id": aid})
    for w in worlds.values():
        for aid in w["assignment_ids"]:
            w["outcomes"][aid] = by_assignment.get(aid, {}).get("outcome")
        if w["dialog"]:
            w["dialog"][-1][0]["episode_done"] = True
    yield from worlds.values()


def export_jsonl(run: dict, path: Path | str, *, include_onboarding: bool = False) -> int:
    """Write the run's conversations to `path`; how many lines were written."""
    n = 0
    with open(path, "wb") as f:
        for conversation in conversations(run):
            if conversation["onboarding"] and not include_onboarding:
                continue
            f.write(orjson.dumps(conversation) + b"\n")
            n += 1
    return n
