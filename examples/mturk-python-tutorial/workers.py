"""Stand-in for the people who would do the HIT (not part of the tutorial).

Three simulated workers do the HIT through hitkit's worker API (docs/worker-api.md): two answer with a word,
one submits the form blank, so get_results.py has something to approve and something to reject. Only the
standard library is used.

    python workers.py HITID

Environment: AWS_ENDPOINT_URL_MTURK (the hitkit server) and HITKIT_ADMIN_TOKEN (which may make workers).
"""

import json
import os
import sys
import urllib.error
import urllib.request

SERVER = os.environ["AWS_ENDPOINT_URL_MTURK"].rstrip("/")
ADMIN_TOKEN = os.environ["HITKIT_ADMIN_TOKEN"]

# (worker name, what they type into the form's `answer` box)
PEOPLE = [("tutorial-worker-1", "excited"), ("tutorial-worker-2", "happy"), ("tutorial-worker-3", "")]


def call(method: str, path: str, token: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(SERVER + path, data=data, method=method, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as e:
        sys.exit(f"{method} {path}: HTTP {e.code} {e.read().decode(errors='replace')}")


def main() -> None:
    hit_id = sys.argv[1]
    for name, text in PEOPLE:
        worker = call("POST", "/api/admin/v1/workers", ADMIN_TOKEN, {"name": name, "country": "US", "reuse": True})
        token = worker["token"]
        assignment = call("POST", f"/api/worker/v1/hits/{hit_id}/accept", token)
        call("POST", f"/api/worker/v1/assignments/{assignment['AssignmentId']}/submit", token,
             {"answers": {"answer": text}})
        print(f"{name} ({worker['WorkerId']}) submitted {text!r}")


if __name__ == "__main__":
    main()
