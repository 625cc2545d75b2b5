"""A project folder: `hitkit.toml` (HIT properties, template settings), the task template, and the ledger in
`.hitkit/ledger.sqlite`. `Project.load("my-task")` reads and validates it; `render_rows` checks a whole input
before anything is posted.

    [template]
    file = "template.html"      # default; the kind is guessed from the content when not given
    kind = "jinja"              # jinja | mturk | simple-amt | html-question | external-question | question-form
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from hitkit.requester.inputs import Input
from hitkit.requester.ledger.store import open_ledger
from hitkit.requester.properties import HitProperties, PropertiesError, parse_properties
from hitkit.requester.task_templates import TaskTemplate, TemplateError, load_template

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
        settings = config.get("template", {})
        if not isinstance(settings, dict):
            raise ProjectError(f"{config_path}: template: expected a table with file and kind")
        try:
            template = load_template(root / settings.get("file", "template.html"), settings.get("kind"))
        except TemplateError as e:
            raise ProjectError(str(e)) from None
        return cls(root, config, properties, template)

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
