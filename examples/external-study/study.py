"""A tiny online study, standing in for an oTree or psiTurk experiment: its own web server, its own data.

    python study.py --port 8800 --data work/study

MTurk (here: hitkit) shows it in the HIT's frame as an ExternalQuestion, with `assignmentId`, `hitId`, `workerId`
and `turkSubmitTo` in the query string. The study then does what oTree's and psiTurk's MTurk modes did:

- preview (`assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE`): an "ad" saying what the study is; nothing recorded;
- landing after accept: refuses a worker its own records show took part under another assignment (MTurk
  qualifications alone "do not stop 100% of repeats", as oTree's code says), records the start, and grants the
  "took part" qualification at once (oTree's `grant_qualification_id`), so the worker cannot accept this study's
  HITs again, even after returning this one;
- five arithmetic questions; on submit, the score goes to the study's score file `DATA/scores.csv` together
  with a completion code made for this assignment;
- the last page shows the code and a "Submit HIT" button that posts it to `turkSubmitTo/mturk/externalSubmit`
  (oTree's `{% next_button %}`), which is how the HIT is submitted.

The qualification to grant is read from `DATA/mturk.json` (written by publish.py); the boto3 client is aimed at
hitkit by AWS_ENDPOINT_URL_MTURK, like any MTurk client. Only the standard library and boto3 are used.
"""

import argparse
import base64
import csv
import hashlib
import hmac
import html
import json
import os
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import boto3

PREVIEW = "ASSIGNMENT_ID_NOT_AVAILABLE"
QUESTIONS = [("7 + 5", 12), ("9 \u00d7 3", 27), ("15 \u2212 8", 7), ("6 \u00d7 7", 42), ("81 \u00f7 9", 9)]
SCORE_FIELDS = ["worker_id", "assignment_id", "hit_id", "started", "finished", "score", "completion_code"]
PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title}</title><style>body{{font-family:sans-serif;max-width:36em;margin:1.5em auto;padding:0 1em}}
input[type=number]{{width:5em}} .code{{font-size:1.6em;font-family:monospace}}</style></head>
<body><h1>{title}</h1>{body}</body></html>"""


class Study:
    """The study's records: who started (in memory, and started.csv) and who finished (scores.csv)."""

    def __init__(self, data: Path) -> None:
        self.data = data
        data.mkdir(parents=True, exist_ok=True)
        secret_file = data / "secret.txt"
        if not secret_file.exists():
            secret_file.write_text(secrets.token_hex(32))
        self.secret = secret_file.read_text().strip().encode()
        self.lock = threading.Lock()
        self.started: dict[str, dict] = {}  # assignment id -> {"worker_id", "hit_id", "started"}
        self.finished: dict[str, dict] = {}  # assignment id -> the score row
        for row in self._read("started.csv"):
            self.started[row["assignment_id"]] = row
        for row in self._read("scores.csv"):
            self.finished[row["assignment_id"]] = row
        self.granted: set[str] = set()
        self._mturk = None

    def _read(self, name: str) -> list[dict]:
        path = self.data / name
        if not path.exists():
            return []
        with path.open(newline="") as f:
            return list(csv.DictReader(f))

    def _append(self, name: str, fields: list[str], row: dict) -> None:
        path = self.data / name
        new = not path.exists()
        with path.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            if new:
                writer.writeheader()
            writer.writerow(row)

    def completion_code(self, assignment_id: str) -> str:
        digest = hmac.new(self.secret, assignment_id.encode(), hashlib.sha256).digest()
        code = base64.b32encode(digest).decode()[:8]
        return f"{code[:4]}-{code[4:]}"

    def took_part_elsewhere(self, worker_id: str, assignment_id: str) -> bool:
        return any(r["worker_id"] == worker_id and a != assignment_id for a, r in self.started.items())

    def start(self, worker_id: str, assignment_id: str, hit_id: str) -> None:
        with self.lock:
            if assignment_id not in self.started:
                row = {"worker_id": worker_id, "assignment_id": assignment_id, "hit_id": hit_id,
                       "started": f"{time.time():.3f}"}
                self.started[assignment_id] = row
                self._append("started.csv", ["worker_id", "assignment_id", "hit_id", "started"], row)
        self.grant_qualification(worker_id)

    def grant_qualification(self, worker_id: str) -> None:
        """Grant the "took part" qualification once per worker (publish.py wrote its id)."""
        settings = self.data / "mturk.json"
        if worker_id in self.granted or not settings.exists():
            return
        qual_id = json.loads(settings.read_text())["qualification_type_id"]
        if self._mturk is None:
            self._mturk = boto3.client("mturk", region_name="us-east-1")
        self._mturk.associate_qualification_with_worker(
            QualificationTypeId=qual_id, WorkerId=worker_id, IntegerValue=1, SendNotification=False)
        self.granted.add(worker_id)

    def finish(self, assignment_id: str, answers: dict) -> dict:
        with self.lock:
            if assignment_id in self.finished:  # a reload or a second click: the same code again
                return self.finished[assignment_id]
            begun = self.started[assignment_id]
            score = sum(1 for i, (_, right) in enumerate(QUESTIONS, start=1)
                        if answers.get(f"q{i}", "").strip() == str(right))
            row = {**begun, "finished": f"{time.time():.3f}", "score": score,
                   "completion_code": self.completion_code(assignment_id)}
            self.finished[assignment_id] = row
            self._append("scores.csv", SCORE_FIELDS, row)
            return row


def make_handler(study: Study):  # type: ignore[no-untyped-def]
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt: str, *args) -> None:  # type: ignore[no-untyped-def]
            pass  # quiet: the study's data is in its files

        def _send(self, status: int, title: str, body: str) -> None:
            data = PAGE.format(title=html.escape(title), body=body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            if url.path != "/":
                return self._send(404, "Not found", "<p>There is no such page.</p>")
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            assignment_id, worker_id, hit_id = q.get("assignmentId", ""), q.get("workerId", ""), q.get("hitId", "")
            if not assignment_id or assignment_id == PREVIEW or not worker_id:
                return self._send(200, "A 3-minute arithmetic study", (
                    "<p>Answer five short arithmetic questions. You are paid the HIT's reward for taking part, "
                    "plus a bonus of $0.10 for every correct answer.</p>"
                    "<p>You can take part only once. <b>Accept the HIT to begin.</b></p>"))
            if study.took_part_elsewhere(worker_id, assignment_id):
                return self._send(403, "You have already taken part", (
                    "<p>Our records show you have already started this study, so you cannot take it again. "
                    "Please return this HIT.</p>"))
            study.start(worker_id, assignment_id, hit_id)
            if assignment_id in study.finished:
                return self._done(study.finished[assignment_id], q.get("turkSubmitTo", ""))
            hidden = "".join(f"<input type='hidden' name='{k}' value='{html.escape(q.get(k, ''), quote=True)}'>"
                             for k in ("assignmentId", "hitId", "workerId", "turkSubmitTo"))
            items = "".join(f"<p><label>{i}. {html.escape(text)} = <input type='number' name='q{i}' required>"
                            "</label></p>" for i, (text, _) in enumerate(QUESTIONS, start=1))
            self._send(200, "Quick arithmetic", (
                "<p>By continuing you agree that your answers are used for research, without your name.</p>"
                f"<form method='post' action='/submit'>{hidden}{items}<p><button>Finish</button></p></form>"))

        def do_POST(self) -> None:
            if urlparse(self.path).path != "/submit":
                return self._send(404, "Not found", "<p>There is no such page.</p>")
            length = min(int(self.headers.get("Content-Length") or 0), 64 * 1024)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode("utf-8", "replace")).items()}
            assignment_id = form.get("assignmentId", "")
            begun = study.started.get(assignment_id)
            if begun is None or begun["worker_id"] != form.get("workerId"):
                return self._send(400, "Not recorded", "<p>This study was not started from its HIT.</p>")
            self._done(study.finish(assignment_id, form), form.get("turkSubmitTo", ""))

        def _done(self, row: dict, submit_to: str) -> None:
            if not submit_to.startswith(("https://", "http://")):
                submit_to = "https://www.mturk.com"
            action = html.escape(submit_to.rstrip("/") + "/mturk/externalSubmit", quote=True)
            code = html.escape(row["completion_code"])
            self._send(200, "Thank you!", (
                f"<p>You answered {int(row['score'])} of {len(QUESTIONS)} questions correctly.</p>"
                f"<p>Your completion code is <span class='code' id='completion-code'>{code}</span></p>"
                f"<form method='post' action='{action}'>"
                f"<input type='hidden' name='assignmentId' value='{html.escape(row['assignment_id'], quote=True)}'>"
                f"<input type='hidden' name='completion_code' value='{code}'>"
                "<p><button>Submit HIT</button></p></form>"))

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8800, help="0 picks a free port")
    parser.add_argument("--data", default="work/study", help="where the study keeps its records")
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), make_handler(Study(Path(args.data))))
    print(f"study listening on http://{args.host}:{server.server_address[1]}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
