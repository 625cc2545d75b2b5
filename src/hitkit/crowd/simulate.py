"""Run a simulated crowd against a hitkit server's worker API.

Workers take turns (round robin, one request at a time), so a run with a seed is repeatable: the same workers
do the same HITs with the same answers. Each worker pages through the HITs it may accept, accepts the first
it has not skipped, reads the question, and then submits (or returns, or abandons, as its model says).
"""

from __future__ import annotations

import hashlib
import random
import time
from dataclasses import dataclass, field
from typing import Callable

import httpx

from hitkit.crowd.forms import Form, form_from_question
from hitkit.crowd.models import Profile, WorkerModel


@dataclass
class SimWorker:
    name: str
    worker_id: str
    token: str
    model: WorkerModel
    skipped: set[str] = field(default_factory=set)
    done: bool = False


@dataclass
class Report:
    submitted: int = 0
    returned: int = 0
    abandoned: int = 0
    refused: int = 0  # accepts that lost a race for the last slot, and similar refusals
    errors: list[str] = field(default_factory=list)
    per_worker: dict[str, int] = field(default_factory=dict)

    @property
    def attempted(self) -> int:
        return self.submitted + self.returned + self.abandoned


class CrowdError(RuntimeError):
    """The server answered something a simulated worker cannot go on from."""


class Crowd:
    def __init__(self, endpoint_url: str, workers: list[SimWorker], profile: Profile, *, seed: int = 0,
                 timeout: float = 30.0, advance_clock: Callable[[float], None] | None = None) -> None:
        """`advance_clock(seconds)`, when given, stands in for sleeping through each worker's work time: a server
        with clock control (`hitkit demo`) then records hours of simulated work in seconds. Workers take turns,
        so the simulated time stays consistent."""
        self.http = httpx.Client(base_url=endpoint_url.rstrip("/"), timeout=timeout)
        self.advance_clock = advance_clock
        self.workers = workers
        self.profile = profile
        self.seed = seed
        self._forms: dict[str, Form] = {}

    def close(self) -> None:
        self.http.close()

    def _call(self, w: SimWorker, method: str, path: str, **kw) -> httpx.Response:  # type: ignore[no-untyped-def]
        return self.http.request(method, path, headers={"Authorization": f"Bearer {w.token}"}, **kw)

    def next_hit(self, w: SimWorker) -> str | None:
        """The first HIT this worker may accept and has not skipped, paging through the list."""
        after = 0
        while True:
            r = self._call(w, "GET", f"/api/worker/v1/hits?limit=100&after={after}")
            if r.status_code != 200:
                raise CrowdError(f"listing HITs for {w.name} failed: HTTP {r.status_code} {r.text[:200]}")
            body = r.json()
            for h in body["hits"]:
                if h.get("CanAccept") and h["HITId"] not in w.skipped:
                    return h["HITId"]
            if "next" not in body:
                return None
            after = body["next"]

    def _form(self, hit_id: str, question: str | None) -> Form:
        if hit_id not in self._forms:
            self._forms[hit_id] = form_from_question(question or "", fetch=self._fetch)
        return self._forms[hit_id]

    def _fetch(self, url: str) -> str:
        try:
            return httpx.get(url, timeout=10, follow_redirects=True).text
        except httpx.HTTPError:
            return ""

    def step(self, w: SimWorker, report: Report) -> bool:
        """One HIT for worker `w`; False when there is nothing left it can do."""
        hit_id = self.next_hit(w)
        if hit_id is None:
            return False
        r = self._call(w, "POST", f"/api/worker/v1/hits/{hit_id}/accept")
        if r.status_code != 200:
            report.refused += 1
            w.skipped.add(hit_id)  # lost the race or no longer qualified: move on
            return True
        assignment_id = r.json()["AssignmentId"]
        details = self._call(w, "GET", f"/api/worker/v1/assignments/{assignment_id}").json()
        # Keyed on the task's content, not its random HITId: the same seed and tasks give the same answers.
        content = hashlib.sha256((details.get("Question") or hit_id).encode()).hexdigest()[:16]
        rng = random.Random(f"{self.seed}:{w.name}:{content}")
        fate = rng.random()
        if fate < w.model.abandon_rate:
            report.abandoned += 1
            w.skipped.add(hit_id)
            return True
        if fate < w.model.abandon_rate + w.model.return_rate:
            self._call(w, "POST", f"/api/worker/v1/assignments/{assignment_id}/return")
            report.returned += 1
            w.skipped.add(hit_id)
            return True
        answers = self.profile.answers(w.model, self._form(hit_id, details.get("Question")), rng)
        pause = w.model.seconds(rng)
        if pause and self.advance_clock is not None:
            self.advance_clock(pause)
        elif pause:
            time.sleep(pause)
        r = self._call(w, "POST", f"/api/worker/v1/assignments/{assignment_id}/submit", json={"answers": answers})
        if r.status_code != 200:
            report.errors.append(f"{w.name} submitting {assignment_id}: HTTP {r.status_code} {r.text[:200]}")
            w.skipped.add(hit_id)
            return True
        report.submitted += 1
        report.per_worker[w.worker_id] = report.per_worker.get(w.worker_id, 0) + 1
        return True

    def run(self, *, duration: float | None = None, until_done: bool = True, max_assignments: int | None = None,
            on_progress: Callable[[Report], None] | None = None) -> Report:
        """Workers take turns until none can do anything more (`until_done`), `duration` seconds pass, or
        `max_assignments` have been attempted."""
        report = Report()
        deadline = time.monotonic() + duration if duration else None
        while True:
            active = False
            for w in self.workers:
                if deadline and time.monotonic() >= deadline:
                    return report
                if max_assignments is not None and report.attempted >= max_assignments:
                    return report
                if self.step(w, report):
                    active = True
                    if on_progress:
                        on_progress(report)
            if not active:
                if until_done or deadline is None:
                    return report
                time.sleep(0.5)  # nothing to do now: wait for new HITs until the duration ends
