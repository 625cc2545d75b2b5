"""Task templates: what a project's `template.html` (or `.xml`) is, which input columns it needs, and the Question
XML one input row renders to.

Kinds:
- `jinja`: Jinja2 in a sandbox with autoescape: `{{ row.text }}`, `{{ row | tojson }}`; an unknown column is
  an error, never an empty string. Wrapped in an HTMLQuestion.
- `html-question`, `external-question`, `question-form`: complete MTurk Question XML, itself a Jinja template
  (XML-escaped values), for requesters who wrote their own.

A rendered question must fit MTurk's 65,535 bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, nodes
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from hitkit.mturk.xml import QuestionXMLError, parse_question

MAX_QUESTION_BYTES = 65_535
HTML_QUESTION_NS = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2011-11-11/HTMLQuestion.xsd"
XML_KINDS = ("html-question", "external-question", "question-form")
KINDS = ("jinja", *XML_KINDS)


class TemplateError(ValueError):
    """A template that cannot be used, or a row it cannot render; `row` and `column` say where when known."""

    def __init__(self, message: str, *, row: int | None = None, column: str | None = None) -> None:
        where = ", ".join(p for p in (f"row {row}" if row is not None else "", f"column `{column}`" if column else "") if p)
        super().__init__(f"{where}: {message}" if where else message)
        self.row, self.column, self.detail = row, column, message


def _environment(autoescape: bool) -> SandboxedEnvironment:
    env = SandboxedEnvironment(autoescape=autoescape, undefined=StrictUndefined, keep_trailing_newline=True)
    env.policies["json.dumps_kwargs"] = {"sort_keys": False, "ensure_ascii": False}
    return env


def row_columns(ast: nodes.Template, name: str = "row") -> set[str]:
    """The columns a template reads as `row.x` or `row["x"]` (the whole `row` object counts as none)."""
    cols: set[str] = set()
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        if isinstance(node.node, nodes.Name) and node.node.name == name:
            if isinstance(node, nodes.Getattr):
                cols.add(node.attr)
            elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                cols.add(node.arg.value)
    return cols


def wrap_html_question(html: str, frame_height: int) -> str:
    """HTML content in an HTMLQuestion (CDATA; a `]]>` in the content is split so the XML stays well-formed)."""
    body = html.replace("]]>", "]]]]><![CDATA[>")
    return (f'<HTMLQuestion xmlns="{HTML_QUESTION_NS}"><HTMLContent><![CDATA[{body}]]></HTMLContent>'
            f"<FrameHeight>{frame_height}</FrameHeight></HTMLQuestion>")


@dataclass
class TaskTemplate:
    kind: str
    source: str
    name: str  # file name, for messages

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise TemplateError(f"{self.name}: unknown template kind {self.kind!r} (known: {', '.join(KINDS)})")
        env = _environment(autoescape=True)
        try:
            ast = env.parse(self.source)
            self._template = env.from_string(self.source)
        except TemplateSyntaxError as e:
            raise TemplateError(f"{self.name}, line {e.lineno}: {e.message}") from None
        self.columns = row_columns(ast)
        self.uses_whole_row = any(
            isinstance(n, nodes.Name) and n.name == "row" for n in ast.find_all(nodes.Name)
        ) and not self.columns

    def render_html(self, row: dict[str, Any], *, row_number: int | None = None) -> str:
        """The template's own output for one row (HTML, or the Question XML for XML kinds)."""
        missing = sorted(c for c in self.columns if c not in row)
        if missing:
            raise TemplateError(f"the template uses {', '.join(missing)} but the row has no such column"
                                + ("s" if len(missing) > 1 else ""), row=row_number, column=missing[0])
        try:
            return self._template.render(row=row)
        except UndefinedError as e:
            raise TemplateError(f"the template failed: {e.message}", row=row_number) from None
        except SecurityError as e:
            raise TemplateError(f"the template tried something the sandbox forbids: {e}", row=row_number) from None
        except Exception as e:  # a filter or test raising on this row's values
            raise TemplateError(f"the template failed on this row: {type(e).__name__}: {e}", row=row_number) from None

    def render_question(self, row: dict[str, Any], *, frame_height: int, row_number: int | None = None) -> str:
        """The Question XML for one row, checked as the server will check it, at most 65,535 bytes."""
        out = self.render_html(row, row_number=row_number)
        question = wrap_html_question(out, frame_height) if self.kind == "jinja" else out
        size = len(question.encode())
        if size > MAX_QUESTION_BYTES:
            raise TemplateError(f"the rendered question is {size} bytes; MTurk allows at most {MAX_QUESTION_BYTES}",
                                row=row_number)
        try:
            parse_question(question)
        except QuestionXMLError as e:
            raise TemplateError(f"the rendered question is not valid: {e.message}", row=row_number) from None
        return question


def load_template(path: Path, kind: str | None = None) -> TaskTemplate:
    """The template at `path`; the kind defaults from the content (XML roots) or to `jinja`."""
    try:
        source = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TemplateError(f"the template file {path} does not exist") from None
    except UnicodeDecodeError as e:
        raise TemplateError(f"{path.name} is not UTF-8 text (byte {e.start})") from None
    return TaskTemplate(kind or guess_kind(source), source, path.name)


def guess_kind(source: str) -> str:
    head = source.lstrip()[:300]
    for root, kind in (("<HTMLQuestion", "html-question"), ("<ExternalQuestion", "external-question"),
                       ("<QuestionForm", "question-form")):
        if root in head:
            return kind
    return "jinja"


def sample_row(template: TaskTemplate) -> dict[str, str]:
    """A row with a placeholder for every column the template reads (for previews)."""
    return {c: f"[{c}]" for c in sorted(template.columns)}


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
