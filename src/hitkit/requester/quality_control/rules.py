"""Quality-control rules: a collector (what is counted per worker), a condition over its figures, and actions.

    [[quality_control]]
    name = "gold"                                   # optional; default "rule N"
    collector = "golden_set"                        # see COLLECTORS
    history = 10                                    # the collector's parameters
    when = "accuracy < 0.7 and total >= 4"          # the rule language of `hitkit review --rule`, never eval
    action = ["reject", "soft_block"]               # one action or a list
    feedback = "Too many control items were wrong." # reject (required) and approve

From Python: `Rule("golden_set", "accuracy < 0.7 and total >= 4", ["soft_block"], history=10)`. Every problem in
hitkit.toml is reported at once, each naming the rule and the key: `quality_control[2].when: unknown name
`acuracy``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from hitkit.requester.review import RuleError, compile_condition, unknown_names

MAX_FEEDBACK = 1024

# collector -> (its parameters with defaults, the names its condition may use)
COLLECTORS: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "fast_submissions": ({"seconds": 10.0, "history": None},
                         ("total", "fast", "fast_rate", "median_seconds")),
    "golden_set": ({"history": 10, "field": None},
                   ("total", "correct", "incorrect", "accuracy", "incorrect_rate")),
    "majority_vote": ({"history": None, "min_answers": 3, "field": None},
                      ("total", "correct", "incorrect", "accuracy", "incorrect_rate")),
    "returns": ({"history": None}, ("total", "in_row", "last_day")),
    "abandons": ({"history": None}, ("total", "in_row", "last_day")),
    "assignments_per_day": ({}, ("total", "count")),
    "earnings_per_day": ({}, ("total", "earnings")),
}
COMMON_NAMES = ("submitted",)  # every collector: the worker's submitted assignments in the project
ACTIONS = ("approve", "reject", "soft_block", "hard_block", "set_qualification", "add_assignments")
ACTION_KEYS = ("feedback", "reason", "qualification", "value", "assignments")
RULE_KEYS = ("name", "collector", "when", "action")


class QualityControlError(ValueError):
    """Rules that cannot be used; `problems` lists each as 'quality_control[i].key: what is wrong'."""

    def __init__(self, problems: list[str], source: str = "hitkit.toml") -> None:
        self.problems = problems
        self.source = source
        super().__init__(f"{source}: " + "; ".join(problems) if len(problems) == 1 else
                         f"{source} has {len(problems)} problems:\n  " + "\n  ".join(problems))


@dataclass(frozen=True)
class Action:
    """What a rule does to a worker it catches.

    approve / reject: the worker's Submitted assignments (through `hitkit review`'s decisions), with `feedback`
    (required to reject). soft_block: grant the project's block qualification (`qualification`, default
    "<project> blocked"), which the project's HITs require DoesNotExist. hard_block: CreateWorkerBlock with `reason`.
    set_qualification: `qualification` (created when missing) = `value`. add_assignments: `assignments` more on each
    of the worker's HITs (not gold), once per worker and HIT."""

    kind: str
    feedback: str | None = None
    reason: str | None = None
    qualification: str | None = None
    value: int | None = None
    assignments: int = 1

    def problems(self) -> list[tuple[str, str]]:
        """(key, problem) pairs; empty when the action is usable."""
        out: list[tuple[str, str]] = []
        if self.kind not in ACTIONS:
            out.append(("action", f"unknown action {self.kind!r} (known: {', '.join(ACTIONS)})"))
            return out
        if self.feedback is not None and (not isinstance(self.feedback, str) or len(self.feedback) > MAX_FEEDBACK):
            out.append(("feedback", f"expected text of at most {MAX_FEEDBACK} characters"))
        if self.kind == "reject" and not (isinstance(self.feedback, str) and self.feedback.strip()):
            out.append(("feedback", "a reject action needs feedback for the worker"))
        if self.reason is not None and (not isinstance(self.reason, str) or not self.reason.strip()):
            out.append(("reason", "expected non-empty text"))
        if self.qualification is not None and (not isinstance(self.qualification, str) or not self.qualification.strip()):
            out.append(("qualification", "expected the name of a qualification type"))
        if self.kind == "set_qualification":
            if self.qualification is None:
                out.append(("qualification", "set_qualification needs the qualification type's name"))
            if isinstance(self.value, bool) or not isinstance(self.value, int):
                out.append(("value", f"set_qualification needs a whole number value, not {self.value!r}"))
        if self.kind == "add_assignments" and (
                isinstance(self.assignments, bool) or not isinstance(self.assignments, int) or not 1 <= self.assignments <= 100):
            out.append(("assignments", f"expected a whole number from 1 to 100, not {self.assignments!r}"))
        return out


@dataclass(frozen=True)
class Rule:
    """One quality-control rule. `actions` may be given as names ("soft_block") or Action objects; a name takes
    `feedback`, `reason`, `qualification`, `value` and `assignments` from the keyword arguments of the same name."""

    collector: str
    when: str
    actions: tuple[Action, ...] = ()
    name: str = ""
    history: int | None = None
    seconds: float | None = None
    min_answers: int | None = None
    field: str | None = None
    feedback: str | None = None
    reason: str | None = None
    qualification: str | None = None
    value: int | None = None
    assignments: int = 1
    index: int = 0  # its place in hitkit.toml (0-based, as in messages)
    _condition: Any = dc_field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        acts = (self.actions,) if isinstance(self.actions, (str, Action)) else tuple(self.actions)
        object.__setattr__(self, "actions", tuple(
            a if isinstance(a, Action) else Action(str(a), self.feedback, self.reason, self.qualification, self.value,
                                                   self.assignments) for a in acts))
        if not self.name:
            object.__setattr__(self, "name", f"rule {self.index}")
        problems = self.problems()
        if problems:
            raise QualityControlError([f"quality_control[{self.index}].{k}: {p}" for k, p in problems], "Rule")

    # ----------------------------------------------------------------------------------------------------------

    @property
    def names(self) -> tuple[str, ...]:
        return COLLECTORS[self.collector][1] + COMMON_NAMES

    def param(self, key: str) -> Any:
        value = getattr(self, key, None)
        return COLLECTORS[self.collector][0].get(key) if value is None else value

    def problems(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if self.collector not in COLLECTORS:
            return [("collector", f"unknown collector {self.collector!r} (known: {', '.join(COLLECTORS)})")]
        params = COLLECTORS[self.collector][0]
        for key in ("history", "seconds", "min_answers", "field"):
            if getattr(self, key) is not None and key not in params:
                out.append((key, f"the {self.collector} collector takes no {key} (it takes: "
                                 f"{', '.join(params) or 'nothing'})"))
        if self.history is not None and (isinstance(self.history, bool) or not isinstance(self.history, int)
                                         or not 1 <= self.history <= 100_000):
            out.append(("history", f"expected a whole number from 1 to 100000, not {self.history!r}"))
        if self.min_answers is not None and (isinstance(self.min_answers, bool) or not isinstance(self.min_answers, int)
                                             or not 2 <= self.min_answers <= 1000):
            out.append(("min_answers", f"expected a whole number from 2 to 1000, not {self.min_answers!r}"))
        if self.seconds is not None and (isinstance(self.seconds, bool) or not isinstance(self.seconds, (int, float))
                                         or not 0 < self.seconds <= 365 * 86400):
            out.append(("seconds", f"expected a positive number of seconds, not {self.seconds!r}"))
        if self.field is not None and (not isinstance(self.field, str) or not self.field.strip()):
            out.append(("field", "expected the name of an answer field"))
        if not isinstance(self.when, str) or not self.when.strip():
            out.append(("when", "required: a condition such as \"accuracy < 0.7 and total >= 4\""))
        else:
            try:
                unknown = unknown_names(self.when, self.names)
            except SyntaxError as e:
                out.append(("when", f"not a valid expression: {e.msg}"))
            else:
                if unknown:
                    out.append(("when", f"unknown name `{unknown[0]}` (the {self.collector} collector gives: "
                                        f"{', '.join(self.names)})"))
                else:
                    try:
                        object.__setattr__(self, "_condition", compile_condition(self.when, self.names))
                    except RuleError as e:
                        out.append(("when", str(e)))
        if not self.actions:
            out.append(("action", f"required: one of {', '.join(ACTIONS)}, or a list of them"))
        kinds = [a.kind for a in self.actions]
        if "approve" in kinds and "reject" in kinds:
            out.append(("action", "a rule cannot both approve and reject"))
        if len(set(kinds)) != len(kinds):
            out.append(("action", "an action is listed twice"))
        for a in self.actions:
            out += a.problems()
        return out

    def holds(self, figures: dict[str, Any]) -> bool:
        """The condition over one worker's figures (RuleError when it cannot be evaluated)."""
        return bool(self._condition(figures))

    def describe(self) -> str:
        params = {k: self.param(k) for k in COLLECTORS[self.collector][0] if self.param(k) is not None}
        args = ", ".join(f"{k}={v}" for k, v in params.items())
        return f"{self.name}: {self.collector}({args}) when {self.when} -> {', '.join(a.kind for a in self.actions)}"


def parse_rules(data: Any, source: str = "hitkit.toml") -> tuple[Rule, ...]:
    """Rules from the parsed TOML's `quality_control` array of tables, or QualityControlError naming every problem
    (`quality_control[i].key: ...`)."""
    if data is None:
        return ()
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise QualityControlError(["quality_control: expected [[quality_control]] tables"], source)
    problems: list[str] = []
    out: list[Rule] = []
    names: set[str] = set()
    for i, raw in enumerate(data):
        where = f"quality_control[{i}]"
        if not isinstance(raw, dict):
            problems.append(f"{where}: expected a table with collector, when and action")
            continue
        collector = raw.get("collector")
        if collector is None:
            problems.append(f"{where}.collector: required, one of {', '.join(COLLECTORS)}")
            continue
        if collector not in COLLECTORS:
            problems.append(f"{where}.collector: unknown collector {collector!r} (known: {', '.join(COLLECTORS)})")
            continue
        params = COLLECTORS[collector][0]
        known = set(RULE_KEYS) | set(params) | set(ACTION_KEYS)
        bad = False
        for key in sorted(set(raw) - known):
            problems.append(f"{where}.{key}: unknown key (known: {', '.join(sorted(known))})")
            bad = True
        name = raw.get("name", f"rule {i}")
        if not isinstance(name, str) or not name.strip() or len(name) > 100 or re.search(r"[\x00-\x1f]", name):
            problems.append(f"{where}.name: expected a short text")
            bad = True
        elif name in names:
            problems.append(f"{where}.name: another rule is named {name!r}")
            bad = True
        names.add(str(name))
        action = raw.get("action")
        if isinstance(action, str):
            action = [action]
        if not isinstance(action, list) or not action or not all(isinstance(a, str) for a in action):
            problems.append(f"{where}.action: required, one of {', '.join(ACTIONS)} or a list of them")
            continue
        if bad:
            continue
        kw = {k: raw[k] for k in ("history", "seconds", "min_answers", "field") if k in raw}
        if "seconds" in kw and isinstance(kw["seconds"], int) and not isinstance(kw["seconds"], bool):
            kw["seconds"] = float(kw["seconds"])
        try:
            out.append(Rule(collector, raw.get("when"), tuple(action), name=str(name), index=i,  # type: ignore[arg-type]
                            feedback=raw.get("feedback"), reason=raw.get("reason"),
                            qualification=raw.get("qualification"), value=raw.get("value"),
                            assignments=raw.get("assignments", 1), **kw))
        except QualityControlError as e:
            problems += e.problems
    if problems:
        raise QualityControlError(problems, source)
    return tuple(out)
