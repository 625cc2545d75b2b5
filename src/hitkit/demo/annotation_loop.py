"""The annotation loop of the SageMaker + MTurk iris tutorial, end to end on one machine.

1. A hitkit server starts in this process (SQLite in the data directory, a free port on 127.0.0.1).
2. A project shows each of the 150 flowers as a picture and asks for its species; 2 assignments each.
3. A simulated crowd of 12 workers (experts, average workers who mix up versicolor and virginica, two sloppy
   ones and a spammer) does the HITs through the worker API. Their work time is simulated by moving the server's
   clock, so wages and times are realistic while the run takes seconds.
4. Dynamic overlap: items whose answers differ get one more assignment until two agree (at most 5).
5. The answers are aggregated (the default method of `hitkit aggregate`), merged with the flowers' measurements,
   and split train/test; a logistic regression is trained on the crowd's labels and scored against the truth.
6. Model in the loop: the model's least confident predictions on held-out items go back to the crowd, who
   confirm or correct them; the corrections are reported.
7. The work is approved, and the summary counts HITs, assignments, cost with fees and the effective wage.

Everything goes through the MTurk API (boto3) and the worker API, as with any other requester and crowd.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
import pandas as pd
from botocore.config import Config

from hitkit.crowd.models import Profile, WorkerModel
from hitkit.crowd.simulate import Crowd, SimWorker
from hitkit.demo.iris_items import MEASUREMENTS, SPECIES, Flower, image_data_url, iris_flowers
from hitkit.server.config import ServerConfig
from hitkit.server.domain import accounts, web_accounts
from hitkit.server.embedded import Bootstrap, ServerThread, bootstrap, serve_in_thread
from hitkit.server.store import db

Progress = Callable[[str, int, int | None], None]  # (phase, done, total)

HIT_TOML = """# The iris labelling project `hitkit demo` made. Rerun its steps with the hitkit verbs, e.g.
#   hitkit status {name} --endpoint-url {url}
[hit]
title = "{title}"
description = "{description}"
keywords = ["image", "flowers", "classification"]
reward = "{reward}"
assignments = {assignments}
lifetime = "3d"
duration = "10m"
auto_approval_delay = "3d"
frame_height = 560

[template]
file = "template.html"
kind = "jinja"
"""

TEMPLATE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Which iris is this?</title>
<style>
 body {{ font-family: system-ui, sans-serif; margin: 1rem; max-width: 40rem; }}
 .choices label {{ display: inline-block; margin: .3rem 1rem .3rem 0; font-size: 1.1rem; }}
 .hint {{ color: #555; font-size: .9rem; }}
</style></head><body>
<form name="mturk_form" method="post" id="mturk_form" action="https://www.mturk.com/mturk/externalSubmit">
<input type="hidden" name="assignmentId" id="assignmentId" value="">
<input type="hidden" name="item_id" value="{{{{ row.item_id }}}}">
<h2>{question}</h2>
<img src="{{{{ row.image }}}}" width="240" height="240" alt="An iris flower drawn to scale from its measurements">
{extra}
<p class="hint">Sepals are green, petals purple, drawn to scale. Setosa has short, narrow petals; virginica the
longest and widest; versicolor is in between.</p>
<div class="choices">
 <label><input type="radio" name="species" value="setosa" required> setosa</label>
 <label><input type="radio" name="species" value="versicolor"> versicolor</label>
 <label><input type="radio" name="species" value="virginica"> virginica</label>
</div>
<p><input type="submit" value="Submit"></p>
</form></body></html>
"""

VALIDATION_EXTRA = '<p>A model thinks this is <b>{{ row.model_guess }}</b>. Is it? Pick the right species.</p>'


def crowd_models() -> list[WorkerModel]:
    """12 workers of mixed accuracy; work times in seconds (median, spread)."""
    confusable = {"setosa": {"setosa": 0.97, "versicolor": 0.02, "virginica": 0.01},
                  "versicolor": {"versicolor": 0.86, "virginica": 0.12, "setosa": 0.02},
                  "virginica": {"virginica": 0.86, "versicolor": 0.13, "setosa": 0.01}}
    experts = [WorkerModel(accuracy=a, work_time=(14.0, 4.0)) for a in (0.97, 0.96, 0.95, 0.95, 0.93)]
    average = [WorkerModel(confusion=confusable, work_time=(18.0, 6.0)) for _ in range(4)]
    sloppy = [WorkerModel(accuracy=a, work_time=(8.0, 3.0)) for a in (0.75, 0.7)]
    spammer = [WorkerModel(kind="spammer", work_time=(3.0, 1.0))]
    return experts + average + sloppy + spammer


@dataclass
class DemoOptions:
    data_dir: Path
    seed: int = 7
    assignments: int = 2
    agreement: int = 2
    max_assignments: int = 5
    validate: int = 10  # least confident held-out predictions sent back to the crowd
    validation_assignments: int = 3
    test_fraction: float = 0.3
    reward: str = "0.05"


@dataclass
class DemoSummary:
    url: str
    invitation_url: str
    items: int
    labelled: int
    hits: int
    assignments: int
    extra_assignments: int
    agreement_rounds: int
    cost_cents: int
    hourly_wage_cents: int | None
    simulated_hours: float
    krippendorff_alpha: float
    label_method: str
    label_accuracy: float
    majority_vote_accuracy: float
    model_accuracy: float
    train_items: int
    test_items: int
    validated: int
    model_right_before: int
    corrected: int
    corrected_right: int
    validated_right_after: int
    seconds: float
    projects: dict[str, Path] = field(default_factory=dict)
    labels: pd.DataFrame | None = field(default=None, repr=False)

    def rows(self) -> list[tuple[str, str]]:
        """The summary as (what, value) rows for a table."""
        wage = f"${self.hourly_wage_cents / 100:.2f}/hour" if self.hourly_wage_cents is not None else "n/a"
        return [
            ("items labelled", f"{self.labelled} of {self.items}"),
            ("HITs", str(self.hits)),
            ("assignments", f"{self.assignments} ({self.extra_assignments} added where workers disagreed, "
                            f"{self.agreement_rounds} rounds)"),
            ("cost with fees", f"${self.cost_cents / 100:.2f}"),
            ("effective hourly wage", f"{wage} (median work time; {self.simulated_hours:.1f} h of work simulated)"),
            ("agreement (Krippendorff's alpha)", f"{self.krippendorff_alpha:.3f}"),
            (f"label accuracy ({self.label_method})", f"{self.label_accuracy:.1%} "
                                                      f"(majority vote {self.majority_vote_accuracy:.1%})"),
            ("model accuracy (held-out)", f"{self.model_accuracy:.1%} on {self.test_items} items "
                                          f"(trained on {self.train_items} crowd labels)"),
            ("model in the loop", f"{self.validated} least confident predictions checked: model right on "
                                  f"{self.model_right_before}, crowd corrected {self.corrected} "
                                  f"({self.corrected_right} corrections right); after review "
                                  f"{self.validated_right_after} of {self.validated} right"),
            ("run time", f"{self.seconds:.1f} s"),
        ]

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k not in ("labels", "projects")}
        out["projects"] = {k: str(v) for k, v in self.projects.items()}
        return out


class Demo:
    """The running demo: its server (kept until `stop`), requester client and crowd."""

    def __init__(self, options: DemoOptions, progress: Progress | None = None) -> None:
        self.options = options
        self.progress = progress or (lambda phase, done, total: None)
        self.server: ServerThread | None = None
        self.boot: Bootstrap | None = None
        self._crowd: Crowd | None = None
        self.flowers: dict[str, Flower] = {}

    # -- the server and the crowd -------------------------------------------------------------------------------

    def start_server(self) -> str:
        server_dir = self.options.data_dir / "server"
        server_dir.mkdir(parents=True, exist_ok=True)
        cfg = ServerConfig(data_dir=server_dir, database_url=f"sqlite:///{server_dir / 'hitkit.db'}",
                           allow_clock_control=True, sweep_interval=1.0)
        cfg.save()
        self.boot = bootstrap(cfg, requester_name="demo-requester")
        self.server = serve_in_thread(cfg)
        self._engine = db.make_engine(cfg.database_url)
        return self.server.url

    def stop(self) -> None:
        if self._crowd is not None:
            self._crowd.close()
        if self.server is not None:
            self.server.stop()
            self._engine.dispose()

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def client(self) -> Any:
        assert self.boot is not None
        return boto3.client("mturk", endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id=self.boot.access_key, aws_secret_access_key=self.boot.secret,
                            config=Config(retries={"mode": "standard", "max_attempts": 3}, max_pool_connections=16))

    def invitation(self) -> str:
        with self._engine.begin() as conn:
            code = web_accounts.create_invitation(conn, "demo", time.time(), max_uses=5)
        return f"{self.url}/join/{code}"

    def crowd(self) -> Crowd:
        if self._crowd is None:
            models = crowd_models()
            with self._engine.begin() as conn:
                creds = [accounts.worker_token(conn, f"demo-worker-{i + 1:02d}", time.time())
                         for i in range(len(models))]
            workers = [SimWorker(f"demo-worker-{i + 1:02d}", wid, token, m)
                       for i, ((wid, token), m) in enumerate(zip(creds, models))]
            truth = {f.item_id: f.species for f in self.flowers.values()}
            profile = Profile(workers=models, truth_field=None, answer_source=lambda hidden: truth[hidden["item_id"]])
            admin = httpx.Client(base_url=self.url, timeout=30,
                                 headers={"Authorization": f"Bearer {self.boot.admin_token}"})  # type: ignore[union-attr]

            def advance(seconds: float) -> None:
                admin.post("/api/admin/v1/clock", json={"advance": seconds}).raise_for_status()

            self._crowd = Crowd(self.url, workers, profile, seed=self.options.seed, advance_clock=advance)
            self._admin = admin
        return self._crowd

    def work(self, phase: str, expected: int) -> int:
        """The crowd does every HIT it can; returns the assignments submitted."""
        self.progress(phase, 0, expected)
        report = self.crowd().run(until_done=True,
                                  on_progress=lambda r: self.progress(phase, r.submitted, max(expected, r.submitted)))
        if report.errors:
            raise RuntimeError(f"the simulated crowd failed: {report.errors[0]}")
        self.progress(phase, report.submitted, report.submitted)
        return report.submitted

    # -- projects ---------------------------------------------------------------------------------------------------

    def project(self, name: str, *, title: str, description: str, question: str, assignments: int,
                extra: str = "") -> Any:
        from hitkit.requester.api import Project

        folder = self.options.data_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "hitkit.toml").write_text(HIT_TOML.format(name=name, url=self.url, title=title,
                                                            description=description, reward=self.options.reward,
                                                            assignments=assignments))
        (folder / "template.html").write_text(TEMPLATE.format(question=question, extra=extra))
        return Project(folder, client=self.client())

    # -- the loop ---------------------------------------------------------------------------------------------------

    def run(self) -> DemoSummary:
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import train_test_split

        from hitkit.analysis import MajorityVote, krippendorff_alpha

        started = time.monotonic()
        o = self.options
        if self.server is None:
            self.start_server()
        flowers = iris_flowers()
        self.flowers = {f.item_id: f for f in flowers}
        labelling = self.project("iris-labels", title="Which iris is this?",
                                 description="Look at a drawing of a flower and pick its species.",
                                 question="Which species of iris is this?", assignments=o.assignments)
        items = pd.DataFrame({"item_id": [f.item_id for f in flowers],
                              "image": [image_data_url(f) for f in flowers]})
        self.progress("launch", 0, len(items))
        launched = labelling.launch(items, progress=lambda done, total: self.progress("launch", done, total))
        if not launched.complete:
            raise RuntimeError(f"launch did not complete: {launched}")
        first = self.work("crowd labels", len(items) * o.assignments)

        rounds = added = 0
        while True:
            report = labelling.extend_until(o.agreement, max_assignments=o.max_assignments, field="species")
            rounds += 1
            self.progress("until two agree", report.done, report.items)
            if report.added == 0 and report.waiting == 0:
                break
            added += self.work("until two agree", report.added)

        labels = labelling.aggregate(field="species")
        answers = _long_answers(labelling.results())
        truth = pd.Series({f.item_id: f.species for f in flowers})
        merged = labels.labels.rename(columns={"Input.item_id": "item_id"})[["item_id", "label", "confidence"]]
        measurements = pd.DataFrame([{"item_id": f.item_id, **f.measurements()} for f in flowers])
        data = measurements.merge(merged, on="item_id", how="left")
        label_accuracy = float((data["label"] == data["item_id"].map(truth)).mean())
        mv = MajorityVote().fit_predict(answers)
        mv_accuracy = float((mv == truth.reindex(mv.index)).mean())

        train, test = train_test_split(data.dropna(subset=["label"]), test_size=o.test_fraction,
                                       random_state=o.seed, stratify=data.dropna(subset=["label"])["label"])
        model = LogisticRegression(max_iter=1000).fit(train[list(MEASUREMENTS)], train["label"])
        predicted = model.predict(test[list(MEASUREMENTS)])
        model_accuracy = float((predicted == test["item_id"].map(truth)).mean())

        # Model in the loop: the least confident held-out predictions go back to the crowd.
        proba = model.predict_proba(test[list(MEASUREMENTS)])
        test = test.assign(model_guess=predicted, model_confidence=proba.max(axis=1))
        doubtful = test.nsmallest(o.validate, "model_confidence")
        validation = self.project("iris-validation", title="Check a model's guess",
                                  description="A model guessed the species of a flower. Confirm or correct it.",
                                  question="Is the model right?", assignments=o.validation_assignments,
                                  extra=VALIDATION_EXTRA)
        rows = pd.DataFrame({"item_id": doubtful["item_id"],
                             "image": [image_data_url(self.flowers[i]) for i in doubtful["item_id"]],
                             "model_guess": doubtful["model_guess"]})
        if not validation.launch(rows).complete:
            raise RuntimeError("the validation batch did not launch completely")
        self.work("model in the loop", len(rows) * o.validation_assignments)
        validation.collect()
        checked = validation.aggregate("mv", field="species").labels.rename(columns={"Input.item_id": "item_id"})
        checked = checked.merge(doubtful[["item_id", "model_guess"]], on="item_id")
        checked["truth"] = checked["item_id"].map(truth)
        corrections = checked[checked["label"] != checked["model_guess"]]

        # Review: the requester approves the work (the tutorial's last step), then counts the money.
        for p in (labelling, validation):
            p.approve()
        status = [p.status() for p in (labelling, validation)]
        hits = sum(s.hits for s in status)
        wage = status[0].hourly_wage_cents
        clock = self._admin.post("/api/admin/v1/clock", json={"advance": 0}).json()
        summary = DemoSummary(
            url=self.url, invitation_url=self.invitation(), items=len(flowers), labelled=int(data["label"].notna().sum()),
            hits=hits, assignments=first + added + len(rows) * o.validation_assignments, extra_assignments=added,
            agreement_rounds=rounds, cost_cents=sum(s.cost_cents for s in status),
            hourly_wage_cents=int(wage) if wage is not None else None,
            simulated_hours=float(clock.get("offset", 0.0)) / 3600,
            krippendorff_alpha=float(krippendorff_alpha(answers)), label_method=labels.method,
            label_accuracy=label_accuracy, majority_vote_accuracy=mv_accuracy, model_accuracy=model_accuracy,
            train_items=len(train), test_items=len(test), validated=len(checked),
            model_right_before=int((checked["model_guess"] == checked["truth"]).sum()),
            corrected=len(corrections), corrected_right=int((corrections["label"] == corrections["truth"]).sum()),
            validated_right_after=int((checked["label"] == checked["truth"]).sum()),
            seconds=time.monotonic() - started,
            projects={"labels": labelling.root, "validation": validation.root}, labels=data,
        )
        (o.data_dir / "summary.json").write_text(json.dumps(summary.to_json(), indent=2, default=str) + "\n")
        data.to_csv(o.data_dir / "iris-labels.csv", index=False)
        return summary


def _long_answers(results: pd.DataFrame) -> pd.DataFrame:
    """The labelling answers in hitkit.analysis's long format (task = item id)."""
    voting = results[results["AssignmentStatus"].isin(["Submitted", "Approved"])]
    return pd.DataFrame({"task": voting["Input.item_id"], "worker": voting["WorkerId"],
                         "label": voting["Answer.species"]}).dropna().reset_index(drop=True)


__all__ = ["Demo", "DemoOptions", "DemoSummary", "SPECIES", "crowd_models"]
