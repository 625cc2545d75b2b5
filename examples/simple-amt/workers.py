"""Stand-in for the people (not part of simple-amt): simulated workers who do the HITs through hitkit's worker API
(docs/worker-api.md), posting what the template's JavaScript would post.

A simple-amt page answers with one hidden field, `output`, which its script fills with JSON when the worker
presses Submit (`simpleamt.setOutput`). A simulated worker here does the same: it reads the HIT's input from the
page's `<script type='text/json' id='input'>` element, writes a sentence about it, and submits
`output = {"sentence": ...}`. Three workers take turns, MaxAssignments of them per HIT; the third is careless and
writes two words, which the review rule in run.sh rejects.

    python workers.py --hit_type_id HITTYPEID      # every open HIT of that type
    python workers.py --hit_ids_file hit_ids.txt   # the HITs listed, one id a line

Environment: AWS_ENDPOINT_URL_MTURK (the hitkit server) and HITKIT_ADMIN_TOKEN (which may make workers).
"""

import argparse
import html
import json
import os
import re
import sys
import urllib.error
import urllib.request

SERVER = os.environ["AWS_ENDPOINT_URL_MTURK"].rstrip("/")
ADMIN_TOKEN = os.environ["HITKIT_ADMIN_TOKEN"]
WORKERS = ["shape-worker-1", "shape-worker-2", "shape-worker-3-careless"]


def call(method, path, token, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(SERVER + path, data=data, method=method,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as e:
        sys.exit(f"{method} {path}: HTTP {e.code} {e.read().decode(errors='replace')}")


def page_input(question_xml):
    """The JSON simple-amt pasted into the page: what simpleamt.getInput() returns in the browser."""
    content = re.search(r"<HTMLContent><!\[CDATA\[(.*)\]\]></HTMLContent>", question_xml, re.S)
    page = content.group(1) if content else html.unescape(question_xml)
    script = re.search(r"<script type='text/json' id='input'>(.*?)</script>", page, re.S)
    return json.loads(script.group(1))


def sentence(worker, data):
    if worker.endswith("careless"):
        return "nice shape"
    return f"A {data['shape']} drawn in {data['color']}."


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--hit_type_id")
    parser.add_argument("--hit_ids_file")
    args = parser.parse_args()

    tokens = {}
    for name in WORKERS:
        made = call("POST", "/api/admin/v1/workers", ADMIN_TOKEN, {"name": name, "country": "US", "reuse": True})
        tokens[name] = made["token"]

    if args.hit_ids_file:
        with open(args.hit_ids_file) as f:
            hit_ids = [line.strip() for line in f if line.strip()]
    else:
        listed = call("GET", f"/api/worker/v1/hits?limit=100&hit_type_id={args.hit_type_id}", tokens[WORKERS[0]])
        hit_ids = [h["HITId"] for h in listed["hits"]]

    turn = 0
    for hit_id in hit_ids:
        while True:  # workers take turns until the HIT has no free slot left
            name = WORKERS[turn % len(WORKERS)]
            turn += 1
            req = urllib.request.Request(f"{SERVER}/api/worker/v1/hits/{hit_id}/accept", method="POST",
                                         headers={"Authorization": f"Bearer {tokens[name]}"})
            try:
                with urllib.request.urlopen(req, timeout=30) as resp:
                    assignment_id = json.loads(resp.read())["AssignmentId"]
            except urllib.error.HTTPError as e:
                code = json.loads(e.read())["error"]["code"]
                if code in ("no_slots", "hit_expired"):
                    turn -= 1  # this worker did nothing: it starts on the next HIT
                    break
                if code == "already_accepted":
                    continue
                sys.exit(f"{name} could not accept {hit_id}: {code}")
            details = call("GET", f"/api/worker/v1/assignments/{assignment_id}", tokens[name])
            output = {"sentence": sentence(name, page_input(details["Question"]))}
            call("POST", f"/api/worker/v1/assignments/{assignment_id}/submit", tokens[name],
                 {"answers": {"output": json.dumps(output)}})
            print(f"{name} did {hit_id}: {output['sentence']!r}")


if __name__ == "__main__":
    main()
