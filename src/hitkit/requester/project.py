"""A project folder: `hitkit.toml` (HIT properties, template settings), the task template, and the ledger in
`.hitkit/ledger.sqlite`. `Project.load("my-task")` reads and validates it; `render_rows` checks a whole input
before anything is posted.

    [template]
    file = "template.html"      # default; the kind is guessed from the content when not given
    kind = "jinja"              # jinja | mturk | simple-amt | html-question | external-question | question-form

    [gold]                      # gold (honeypot) items mixed into each batch: see quality_control/gold.py
    file = "gold.csv"
    rate = 0.1

    [[quality_control]]         # rules: see quality_control/rules.py and docs/quality-control.md
    collector = "golden_set"
    when = "accuracy < 0.7 and total >= 4"
    action = "soft_block"
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from hitkit.requester.inputs import Input
from hitkit.requester.ledger.store import open_ledger
from hitkit.mturk.hit_properties import CustomQualification, HitProperties, PropertiesError, parse_properties
from hitkit.requester.quality_control.gold import Gold, parse_gold
from hitkit.requester.quality_control.rules import QualityControlError, Rule, parse_rules
from hitkit.templates.task_template import TaskTemplate, TemplateError, load_template

CONFIG_FILE = "hitkit.toml"
LEDGER_FILE = Path(".hitkit") / "ledger.sqlite"


class ProjectError(ValueError):
    """A project folder that cannot be used, with what to do about it."""


@dataclass
class Project:
    root: Path
    config: dict[str, Any]
    properties: HitProperties
    template: TaskTemplate
    quality_control: tuple[Rule, ...] = ()
    gold: Gold | None = None
    _ledger: Engine | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.root.name

    @classmethod
    def load(cls, path: str | Path) -> "Project":
        root = Path(path).expanduser().resolve()
        config_path = root / CONFIG_FILE
        if not config_path.exists():
            hint = f"`hitkit new {Path(path).name} --template text-classification`"
            raise ProjectError(f"{root} is not a hitkit project: it has no {CONFIG_FILE} (make one with {hint}).")
        try:
            config = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise ProjectError(f"{config_path}: not valid TOML: {e}") from None
        try:
            properties = parse_properties(config, source=str(config_path))
        except PropertiesError as e:
            raise ProjectError(str(e)) from None
        rules, gold = _quality_control(config, root, str(config_path))
        blocks = block_qualifications(rules, root.name)
        if blocks:  # soft blocks: the project's HITs require that the worker does not have the block qualification
            properties = dataclasses.replace(properties, custom=properties.custom + tuple(
                CustomQualification("DoesNotExist", name=b, actions_guarded="DiscoverPreviewAndAccept") for b in blocks))
        settings = config.get("template", {})
        if not isinstance(settings, dict):
            raise ProjectError(f"{config_path}: template: expected a table with file and kind")
        try:
            template = load_template(root / settings.get("file", "template.html"), settings.get("kind"))
        except TemplateError as e:
            raise ProjectError(str(e)) from None
        return cls(root, config, properties, template, rules, gold)

    @property
    def owned_qualifications(self) -> tuple[str, ...]:
        """Names of the qualification types the project's rules grant (created when missing, at launch or when a
        rule first acts)."""
        names = list(block_qualifications(self.quality_control, self.name))
        names += [a.qualification for r in self.quality_control for a in r.actions
                  if a.kind == "set_qualification" and a.qualification]
        return tuple(dict.fromkeys(names))

    @property
    def ledger_path(self) -> Path:
        return self.root / LEDGER_FILE

    @property
    def ledger(self) -> Engine:
        """The project's ledger, opened (and migrated) on first use."""
        if self._ledger is None:
            self._ledger = open_ledger(self.ledger_path)
        return self._ledger

    def render(self, row: dict[str, Any], row_number: int | None = None) -> str:
        """The Question XML for one input row."""
        return self.template.render_question(row, frame_height=self.properties.frame_height, row_number=row_number)

    def render_rows(self, data: Input, *, max_problems: int = 20) -> list[str]:
        """Every row's Question XML, or TemplateError listing the problems found (each naming its row and column):
        one bad row means nothing is posted."""
        questions: list[str] = []
        problems: list[TemplateError] = []
        for number, row in enumerate(data.rows, start=1):
            try:
                questions.append(self.render(row, number))
            except TemplateError as e:
                problems.append(e)
                if len(problems) >= max_problems:
                    break
        if problems:
            more = f" (stopped after the first {max_problems})" if len(problems) >= max_problems else ""
            error = TemplateError(
                f"{len(problems)} row{'s' if len(problems) > 1 else ''} of {data.name} cannot be rendered{more}; "
                "nothing was posted:\n  " + "\n  ".join(str(p) for p in problems)
            )
            error.problems = problems  # type: ignore[attr-defined]
            raise error
        return questions

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.dispose()
            self._ledger = None


def block_qualifications(rules: tuple[Rule, ...], project_name: str) -> tuple[str, ...]:
    """The qualification types the rules' soft blocks grant (default: "<project> blocked")."""
    names = [a.qualification or f"{project_name} blocked" for r in rules for a in r.actions if a.kind == "soft_block"]
    return tuple(dict.fromkeys(names))


def _quality_control(config: dict[str, Any], root: Path, source: str) -> tuple[tuple[Rule, ...], Gold | None]:
    """The `[gold]` table and the `[[quality_control]]` rules, checked together (every problem at once)."""
    problems: list[str] = []
    gold = parse_gold(config, root, problems)
    try:
        rules = parse_rules(config.get("quality_control"), source)
    except QualityControlError as e:
        problems += e.problems
        rules = ()
    out = []
    for rule in rules:
        if rule.collector == "golden_set" and gold is None and "gold" not in config:
            problems.append(f"quality_control[{rule.index}].collector: golden_set needs gold items: add a [gold] table "
                            "(file, rate)")
        if rule.collector == "majority_vote" and rule.field is None:
            fields = gold.fields if gold is not None else ()
            if len(fields) != 1:
                problems.append(f"quality_control[{rule.index}].field: say which answer field majority_vote compares "
                                "(field = \"label\")")
                continue
            rule = dataclasses.replace(rule, field=fields[0])
        out.append(rule)
    if problems:
        raise ProjectError(f"{source}: {problems[0]}" if len(problems) == 1 else
                           f"{source} has {len(problems)} problems:\n  " + "\n  ".join(problems))
    return tuple(out), gold
