"""Worker models: how a simulated worker answers, how long it takes, and how often it gives up.

A profile (TOML or JSON) lists groups of workers:

    truth_field = "truth"              # a hidden input of the task holding the right answer
    answer_source = "mymodule:predict" # optional: callable(hit_form_values: dict) -> truth value
    [[workers]]
    count = 10
    accuracy = 0.9                     # or per_class = {cat = 0.95, dog = 0.7}, or confusion = {cat = {cat = 0.8, dog = 0.2}}
    [[workers]]
    count = 2
    kind = "spammer"                   # careful | spammer (uniform) | constant (always the first option) | adversarial
    work_time = [4.0, 1.5]             # seconds: median and spread (log-normal); default: no waiting
    return_rate = 0.05
    abandon_rate = 0.02
    country = "US"; adult = false; masters = false

With no profile every worker is careful with accuracy 0.9.
"""

from __future__ import annotations

import importlib
import json
import math
import random
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from hitkit.crowd.forms import Field, Form

KINDS = ("careful", "spammer", "constant", "adversarial")
SENTENCES = ("Looks fine to me.", "I am not sure.", "It shows what the title says.", "Nothing to add.")


class ProfileError(ValueError):
    """A profile that cannot be used; the message names the group and key."""


@dataclass
class WorkerModel:
    kind: str = "careful"
    accuracy: float = 0.9
    per_class: dict[str, float] = field(default_factory=dict)
    confusion: dict[str, dict[str, float]] = field(default_factory=dict)
    work_time: tuple[float, float] | None = None
    return_rate: float = 0.0
    abandon_rate: float = 0.0
    country: str | None = "US"
    subdivision: str | None = None
    adult: bool = False
    masters: bool = False

    def choose(self, options: list[str], truth: str | None, rng: random.Random) -> str:
        """One option for a single-choice field."""
        if not options:
            return truth or ""
        if self.kind == "spammer" or truth is None or truth not in options:
            return options[0] if self.kind == "constant" else rng.choice(options)
        if self.kind == "constant":
            return options[0]
        wrong = [o for o in options if o != truth] or [truth]
        if self.kind == "adversarial":
            return rng.choice(wrong)
        if truth in self.confusion:
            row = self.confusion[truth]
            return rng.choices(list(row), weights=list(row.values()))[0]
        p = self.per_class.get(truth, self.accuracy)
        return truth if rng.random() < p else rng.choice(wrong)

    def seconds(self, rng: random.Random) -> float:
        if not self.work_time:
            return 0.0
        median, spread = self.work_time
        return max(0.0, rng.lognormvariate(math.log(max(median, 1e-3)), max(spread, 0.0) / max(median, 1e-3)))


@dataclass
class Profile:
    workers: list[WorkerModel]
    truth_field: str | None = "truth"
    answer_source: Callable[[dict], Any] | None = None

    def answers(self, model: WorkerModel, form: Form, rng: random.Random) -> dict[str, str | list[str]]:
        """Values for every field of the form, as the worker would submit them."""
        hidden = form.hidden()
        truth = hidden.get(self.truth_field) if self.truth_field else None
        if self.answer_source is not None:
            truth = str(self.answer_source(hidden))
        out: dict[str, str | list[str]] = dict(hidden)
        choice_seen = False
        for f in form.to_fill():
            field_truth = truth if not choice_seen else None
            out[f.name] = _answer(model, f, field_truth, rng)
            choice_seen = choice_seen or f.kind in ("choice", "multi")
        if form.crowd_form:
            return {"taskAnswers": json.dumps([out])}
        return out


def _answer(model: WorkerModel, f: Field, truth: str | None, rng: random.Random) -> str | list[str]:
    if f.kind == "choice":
        return model.choose(f.options, truth, rng)
    if f.kind == "multi":
        if truth is not None and truth in f.options:
            return [model.choose(f.options, truth, rng)]
        return [o for o in f.options if rng.random() < 0.5] or f.options[:1]
    if model.kind in ("spammer", "constant"):
        return "x" if model.kind == "constant" else rng.choice(SENTENCES)
    return truth if truth is not None and model.kind == "careful" and rng.random() < model.accuracy else rng.choice(SENTENCES)


def _number(group: dict, key: str, where: str, lo: float, hi: float, default: float) -> float:
    value = group.get(key, default)
    if not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise ProfileError(f"{where}: `{key}` must be a number from {lo} to {hi}, not {value!r}.")
    return float(value)


def load_profile(path: str | Path | None, default_workers: int = 0) -> Profile:
    """Read a TOML or JSON profile (None: careful workers, accuracy 0.9). Errors name the group and key."""
    if path is None:
        return Profile([WorkerModel() for _ in range(default_workers)])
    p = Path(path)
    try:
        raw = json.loads(p.read_text()) if p.suffix == ".json" else tomllib.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise ProfileError(f"{p}: cannot read the profile: {e}") from None
    workers: list[WorkerModel] = []
    for i, group in enumerate(raw.get("workers", []), start=1):
        where = f"{p}: [[workers]] group {i}"
        if not isinstance(group, dict):
            raise ProfileError(f"{where} must be a table.")
        kind = group.get("kind", "careful")
        if kind not in KINDS:
            raise ProfileError(f"{where}: `kind` must be one of {', '.join(KINDS)}, not {kind!r}.")
        count = group.get("count", 1)
        if not isinstance(count, int) or count < 0:
            raise ProfileError(f"{where}: `count` must be a whole number >= 0, not {count!r}.")
        work_time = group.get("work_time")
        if work_time is not None and (not isinstance(work_time, list) or len(work_time) != 2):
            raise ProfileError(f"{where}: `work_time` is [median, spread] in seconds, not {work_time!r}.")
        model = WorkerModel(
            kind=kind,
            accuracy=_number(group, "accuracy", where, 0, 1, 0.9),
            per_class={str(k): float(v) for k, v in group.get("per_class", {}).items()},
            confusion={str(k): {str(a): float(b) for a, b in row.items()} for k, row in group.get("confusion", {}).items()},
            work_time=tuple(work_time) if work_time else None,  # type: ignore[arg-type]
            return_rate=_number(group, "return_rate", where, 0, 1, 0.0),
            abandon_rate=_number(group, "abandon_rate", where, 0, 1, 0.0),
            country=group.get("country", "US"),
            subdivision=group.get("subdivision"),
            adult=bool(group.get("adult", False)),
            masters=bool(group.get("masters", False)),
        )
        workers.extend(WorkerModel(**model.__dict__) for _ in range(count))
    source = raw.get("answer_source")
    return Profile(workers, raw.get("truth_field", "truth"), _load_callable(source, p) if source else None)


def _load_callable(spec: str, where: Path) -> Callable[[dict], Any]:
    module, _, name = spec.partition(":")
    try:
        fn = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as e:
        raise ProfileError(f"{where}: answer_source {spec!r} cannot be loaded ({e}); write it as module:function.") from None
    if not callable(fn):
        raise ProfileError(f"{where}: answer_source {spec!r} is not callable.")
    return fn
