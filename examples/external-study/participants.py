"""Stand-ins for the participants (not part of the study): simulated people who find the HIT on hitkit, accept
it through the worker API (docs/worker-api.md), and then use the study as a browser would: open the
ExternalQuestion's URL with the four MTurk parameters, answer, and press "Submit HIT", which posts the completion
code to hitkit's /mturk/externalSubmit. Some of them drop out or cheat, as people do.

    python participants.py --hit-id HITID first    # ana ... gus
    python participants.py --hit-id HITID second   # jo, through the recruitment link (work/study/link.json)
    python participants.py --hit-id HITID late     # ivy

Jo has no worker account: jo opens the participant link, presses Start and Accept on hitkit's pages (with a
cookie, as a browser), does the study in the HIT's frame, and reads the link's completion code at the end.

Environment: AWS_ENDPOINT_URL_MTURK (the hitkit server) and HITKIT_ADMIN_TOKEN (which may make workers).
Standard library only.
"""

import argparse
import html
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

SERVER = os.environ["AWS_ENDPOINT_URL_MTURK"].rstrip("/")
ADMIN_TOKEN = os.environ["HITKIT_ADMIN_TOKEN"]
RIGHT = ["12", "27", "7", "42", "9"]

# name -> what they do. "complete:K" answers K of the five questions right.
WAVES = {
    "first": [("ana", "complete:5"), ("ben", "return"), ("cat", "start-return-retry"), ("dan", "walk-away"),
              ("eve", "fake-code"), ("fay", "complete:3"), ("gus", "complete:4")],
    "second": [("jo", "link:4")],
    "late": [("ivy", "complete:5")],
}


def http(method, url, token=None, body=None, form=None):
    """(status, text) of a request; JSON bodies for the worker API, form posts for pages."""
    headers = {}
    data = None
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if body is not None:
        data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def api(method, path, token, body=None):
    status, text = http(method, SERVER + path, token, body=body)
    return status, json.loads(text) if text else {}


class Participant:
    def __init__(self, name, worker_id=None):
        """A new worker account made by the admin API, or (worker_id given) someone hitkit's pages signed in."""
        self.name, self.worker_id, self.token = name, worker_id, None
        if worker_id is None:
            status, made = api("POST", "/api/admin/v1/workers", ADMIN_TOKEN, {"name": f"study-{name}", "reuse": False})
            if status != 200:
                sys.exit(f"could not make worker {name}: {made}")
            self.worker_id, self.token = made["WorkerId"], made["token"]

    def say(self, text):
        print(f"{self.name} ({self.worker_id}): {text}")

    def sees(self, hit_id):
        status, listed = api("GET", "/api/worker/v1/hits?limit=100", self.token)
        return any(h["HITId"] == hit_id for h in listed.get("hits", []))

    def accept(self, hit_id):
        status, body = api("POST", f"/api/worker/v1/hits/{hit_id}/accept", self.token)
        if status != 200:
            return None, body["error"]["code"]
        return body["AssignmentId"], None

    def open_study(self, hit_id, assignment_id):
        """The study page, as hitkit's work frame loads it (the ExternalURL with the four parameters)."""
        _, details = api("GET", f"/api/worker/v1/assignments/{assignment_id}", self.token)
        url = html.unescape(re.search(r"<ExternalURL>\s*(.*?)\s*</ExternalURL>", details["Question"], re.S).group(1))
        params = {"assignmentId": assignment_id, "hitId": hit_id, "workerId": self.worker_id, "turkSubmitTo": SERVER}
        url += ("&" if "?" in url else "?") + urllib.parse.urlencode(params)
        status, page = http("GET", url)
        return url, status, page

    def finish_study(self, url, page, right):
        fields = {k: html.unescape(v) for k, v in re.findall(r"<input type='hidden' name='(\w+)' value='([^']*)'>", page)}
        for i, answer in enumerate(RIGHT, start=1):
            fields[f"q{i}"] = answer if i <= right else "0"
        status, done = http("POST", urllib.parse.urljoin(url, "/submit"), form=fields)
        code = re.search(r"id='completion-code'>([^<]+)<", done).group(1)
        action = html.unescape(re.search(r"<form method='post' action='([^']+)'>", done).group(1))
        hidden = {k: html.unescape(v) for k, v in re.findall(r"<input type='hidden' name='(\w+)' value='([^']*)'>", done)}
        return code, action, hidden

    def submit_hit(self, action, fields):
        status, page = http("POST", action, form=fields)  # the study's "Submit HIT" button
        if status != 200:
            sys.exit(f"{self.name}: submitting the HIT failed: {status} {page[:300]}")


class Browser:
    """Just enough of a browser for hitkit's pages: cookies, redirects, and the CSRF token of each form."""

    def __init__(self):
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())

    def get(self, url):
        with self.opener.open(url, timeout=30) as resp:
            return resp.geturl(), resp.read().decode()

    def post_form(self, url, page, action):
        """Press the button of the form posting to `action` on `page` (its CSRF token included)."""
        form = re.search(r'<form method="post" action="' + re.escape(action) + r'"[^>]*>(.*?)</form>', page, re.S)
        fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', form.group(1)))
        data = urllib.parse.urlencode(fields).encode()
        with self.opener.open(urllib.request.Request(urllib.parse.urljoin(url, action), data=data), timeout=30) as resp:
            return resp.geturl(), resp.read().decode()


def run_link(hit_id, name, right, data):
    with open(os.path.join(data, "link.json")) as f:
        link = json.load(f)
    b = Browser()
    url, page = b.get(link["url"])                                  # the welcome page
    url, page = b.post_form(url, page, urllib.parse.urlparse(link["url"]).path)   # Start: to the study's HIT
    url, page = b.post_form(url, page, f"/hits/{hit_id}/accept")    # Accept: the work page
    assignment_id = url.rstrip("/").rsplit("/", 1)[1]
    frame = html.unescape(re.search(r'<iframe[^>]* id="task"[^>]* src="([^"]+)"', page).group(1))
    worker_id = urllib.parse.parse_qs(urllib.parse.urlparse(frame).query)["workerId"][0]
    status, study_page = http("GET", frame)                          # the study, in the HIT's frame
    p = Participant(name, worker_id)
    code, action, fields = p.finish_study(frame, study_page, right)
    p.submit_hit(action, fields)
    _, done = b.get(urllib.parse.urljoin(url, f"/work/{assignment_id}/done"))
    link_code = re.search(r'id="completion-code">([^<]+)<', done).group(1)
    p.say(f"came through the recruitment link, did the study ({right}/5 right), got completion code {code}, "
          f"submitted the HIT, and was shown the link's completion code {link_code}")


def run(hit_id, name, plan, data):
    if plan.startswith("link:"):
        return run_link(hit_id, name, int(plan.split(":")[1]), data)
    p = Participant(name)
    if not p.sees(hit_id):
        p.say("does not see the study's HIT among the HITs on offer")
    assignment_id, refused = p.accept(hit_id)
    if refused:
        p.say(f"cannot accept the HIT: refused ({refused})")
        return
    if plan == "return":
        api("POST", f"/api/worker/v1/assignments/{assignment_id}/return", p.token)
        p.say("accepted, then returned the HIT without starting the study (the slot is free again)")
        return
    if plan == "fake-code":
        p.submit_hit(f"{SERVER}/mturk/externalSubmit", {"assignmentId": assignment_id, "completion_code": "7K2Q-XW4M"})
        p.say("accepted and submitted a made-up completion code without doing the study")
        return
    url, status, page = p.open_study(hit_id, assignment_id)
    if status != 200:
        p.say(f"the study refused: HTTP {status}")
        return
    if plan == "walk-away":
        p.say("accepted, opened the study, and walked away (holds the slot until the assignment's deadline)")
        return
    if plan == "start-return-retry":
        api("POST", f"/api/worker/v1/assignments/{assignment_id}/return", p.token)
        p.say("opened the study, then returned the HIT")
        again, refused = p.accept(hit_id)
        visible = "still sees" if p.sees(hit_id) else "no longer sees"
        p.say(f"{visible} the HIT; tries to accept it again: "
              + (f"refused ({refused})" if refused else f"ACCEPTED {again} (retake not prevented!)"))
        return
    right = int(plan.split(":")[1])
    code, action, fields = p.finish_study(url, page, right)
    p.submit_hit(action, fields)
    p.say(f"did the study ({right}/5 right), got completion code {code}, submitted the HIT")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--hit-id", required=True)
    parser.add_argument("--data", default="work/study", help="where recruitment_link.py wrote link.json")
    parser.add_argument("wave", choices=sorted(WAVES))
    args = parser.parse_args()
    for name, plan in WAVES[args.wave]:
        run(args.hit_id, name, plan, args.data)


if __name__ == "__main__":
    main()
