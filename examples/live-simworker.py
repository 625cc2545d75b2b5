"""Simulated workers for a live example (not part of the task): people stand-ins who accept the run's HITs through
hitkit's worker API, open the live page's websocket, answer the world's prompts from a script, and submit.

    python examples/live-simworker.py RUN_ID --workers 2 --reply "your turn=Hello there" --reply "rate=8"

Each `--reply PATTERN=TEXT` answers the first prompt containing PATTERN (case-insensitive) with TEXT, in order;
one rule is used once per worker. Environment: AWS_ENDPOINT_URL_MTURK (the server), AWS_ACCESS_KEY_ID /
AWS_SECRET_ACCESS_KEY (to find the run's HITs with boto3) and HITKIT_ADMIN_TOKEN (to make workers).
"""

import argparse
import asyncio
import json
import os
import sys
import time
import urllib.request

import boto3
import websockets

SERVER = os.environ["AWS_ENDPOINT_URL_MTURK"].rstrip("/")


def call(method: str, path: str, token: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(SERVER + path, data=data, method=method,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def run_hits(run_id: str, count: int, limit: float = 120) -> list[str]:
    mturk = boto3.client("mturk", endpoint_url=SERVER, region_name="us-east-1")
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        hits = [h for h in mturk.list_hits(MaxResults=100)["HITs"]
                if h.get("RequesterAnnotation") == f"hitkit-live:{run_id}" and h["HITStatus"] == "Assignable"]
        if len(hits) >= count:
            return [h["HITId"] for h in sorted(hits, key=lambda h: h["CreationTime"])][:count]
        time.sleep(0.3)
    sys.exit(f"the run {run_id} did not create {count} HITs")


async def worker(index: int, run_id: str, hit_id: str, rules: list[tuple[str, str]], limit: float) -> None:
    name = f"live-sim-{run_id}-{index}"
    me = call("POST", "/api/admin/v1/workers", os.environ["HITKIT_ADMIN_TOKEN"], {"name": name, "country": "US"})
    token, worker_id = me["token"], me["WorkerId"]
    assignment_id = call("POST", f"/api/worker/v1/hits/{hit_id}/accept", token)["AssignmentId"]
    url = (SERVER.replace("http", "ws", 1) + f"/live/v1/worker/{run_id}?assignmentId={assignment_id}"
           f"&workerId={worker_id}&hitId={hit_id}")
    todo = list(rules)
    async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        async def read() -> None:
            async for raw in ws:
                frame = json.loads(raw)
                if frame["type"] == "message":
                    text = frame["message"].get("text", "")
                    print(f"[{name}] sees {frame['message'].get('id')}: {text}")
                    for rule in todo:
                        if rule[0].lower() in text.lower():
                            todo.remove(rule)
                            await asyncio.sleep(0.05)
                            await ws.send(json.dumps({"type": "message", "text": rule[1]}))
                            print(f"[{name}] says: {rule[1]}")
                            break
                elif frame["type"] == "state" and frame.get("can_submit"):
                    call("POST", f"/api/worker/v1/assignments/{assignment_id}/submit", token,
                         {"answers": {"live_run": run_id, **frame.get("submit_fields", {})}})
                    print(f"[{name}] submitted ({frame.get('outcome')})")
                    return
                elif frame["type"] == "state" and frame.get("outcome"):
                    print(f"[{name}] ended: {frame.get('outcome')}")
                    return

        await asyncio.wait_for(read(), limit)


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("run_id")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--reply", action="append", default=[], help="PATTERN=TEXT")
    p.add_argument("--limit", type=float, default=180)
    args = p.parse_args()
    rules = [tuple(r.split("=", 1)) for r in args.reply]
    hits = run_hits(args.run_id, args.workers)
    await asyncio.gather(*(worker(i, args.run_id, h, rules, args.limit) for i, h in enumerate(hits)))


if __name__ == "__main__":
    asyncio.run(main())
