"""Task templates: what a project's `template.html` (or `.xml`) is, which input columns it needs, and the Question
XML one input row renders to.

Kinds (`[template] kind` in hitkit.toml; guessed from the content when not given):
- `jinja`: Jinja2 in a sandbox with HTML autoescape: `{{ row.text }}`, `{{ row | tojson }}`,
  `{{ row.get("note", "") }}` for an optional column; a missing column is an error naming the row and column,
  never an empty string. Wrapped in an HTMLQuestion.
- `mturk`: the MTurk requester website's batch templates: `${column}` placeholders, each replaced by the row's
  value, always HTML-escaped (MTurk had no unescaped form). A `$` not followed by `{name}` stays as written.
  A template without a `<form>` or `<crowd-form>` is put inside MTurk's `mturk_form` (hidden assignmentId,
  externalHIT_v1.js, and a Submit button when it has none), as the requester website did.
- `simple-amt`: simple-amt's Jinja templates. The variable `input` is the row as JSON (for a JSONL line that was
  not an object, the line's value), escaped so that `</script>` in data cannot end a script element;
  `{% include "simpleamt.html" %}` (or `"hit_templates/simpleamt.html"`) is hitkit's copy of simple-amt's helper.
- `html-question`, `external-question`, `question-form`: complete MTurk Question XML, itself a Jinja template
  (values XML-escaped), for requesters who wrote their own.

A rendered question must fit MTurk's 65,535 bytes.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import DictLoader, StrictUndefined, TemplateSyntaxError, Undefined, UndefinedError, nodes
from jinja2.sandbox import SandboxedEnvironment, SecurityError
from markupsafe import Markup

from hitkit.mturk.xml import QuestionXMLError, parse_question

MAX_QUESTION_BYTES = 65_535
HTML_QUESTION_NS = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2011-11-11/HTMLQuestion.xsd"
XML_KINDS = ("html-question", "external-question", "question-form")
HTML_KINDS = ("jinja", "mturk", "simple-amt")  # the template is HTML; hitkit wraps it in an HTMLQuestion
KINDS = (*HTML_KINDS, *XML_KINDS)
SIMPLEAMT_INCLUDES = ("simpleamt.html", "hit_templates/simpleamt.html")
# ${name}: MTurk's placeholders were CSV header names; `${a + b}` (a JS template literal) is not one.
MTURK_PLACEHOLDER = re.compile(r"\$\{([\w.\-]+)\}")
_DICT_METHODS = {"get", "items", "keys", "values"}
_INVALID_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_FORM_TAG = re.compile(r"<\s*(?:crowd-)?form\b", re.IGNORECASE)
# A submit control: type=submit, or a <button> that is not type=button/reset (a button submits by default).
_SUBMIT_CONTROL = re.compile(r"type\s*=\s*[\"']?submit\b|<\s*button\b(?![^>]*\btype\s*=\s*[\"']?(?:button|reset)\b)"
                             r"|<\s*crowd-button\b", re.IGNORECASE)
_HTML_TAG = re.compile(r"<\s*html\b", re.IGNORECASE)
_JSON_SCRIPT_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "'": "\\u0027",
                        "\u2028": "\\u2028", "\u2029": "\\u2029"}


class TemplateError(ValueError):
    """A template that cannot be used, or a row it cannot render; `row` and `column` say where when known."""

    def __init__(self, message: str, *, row: int | None = None, column: str | None = None) -> None:
        where = ", ".join(p for p in (f"row {row}" if row is not None else "", f"column `{column}`" if column else "") if p)
        super().__init__(f"{where}: {message}" if where else message)
        self.row, self.column, self.detail = row, column, message


def simpleamt_helper() -> str:
    """hitkit's copy of simple-amt's `simpleamt.html` (plain DOM, no jQuery or json3)."""
    return resources.files("hitkit").joinpath("templates", "simpleamt.html").read_text(encoding="utf-8")


def _environment(autoescape: bool, *, strict: bool = True, loader: DictLoader | None = None) -> SandboxedEnvironment:
    env = SandboxedEnvironment(autoescape=autoescape, undefined=StrictUndefined if strict else Undefined,
                               keep_trailing_newline=True, loader=loader)
    env.policies["json.dumps_kwargs"] = {"sort_keys": False, "ensure_ascii": False}
    return env


def analyse_row_use(ast: nodes.Template, name: str = "row") -> tuple[set[str], set[str], bool]:
    """(required columns, optional columns, whole row used) for a template reading `name`: `row.x` and `row["x"]`
    need x; `row.get("x")` reads x if present; any other use of `row` (`row | tojson`, `row.items()`) uses it all."""
    required: set[str] = set()
    optional: set[str] = set()
    consumed: set[int] = set()  # Name nodes accounted for as a column access
    for call in ast.find_all(nodes.Call):
        f = call.node
        if (isinstance(f, nodes.Getattr) and isinstance(f.node, nodes.Name) and f.node.name == name
                and f.attr == "get" and call.args and isinstance(call.args[0], nodes.Const)
                and isinstance(call.args[0].value, str)):
            optional.add(call.args[0].value)
            consumed.add(id(f.node))
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        if not (isinstance(node.node, nodes.Name) and node.node.name == name):
            continue
        if isinstance(node, nodes.Getattr):
            if node.attr not in _DICT_METHODS:
                required.add(node.attr)
                consumed.add(id(node.node))
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            required.add(node.arg.value)
            consumed.add(id(node.node))
    whole = any(n.name == name and id(n) not in consumed for n in ast.find_all(nodes.Name))
    return required, optional - required, whole


def row_columns(ast: nodes.Template, name: str = "row") -> set[str]:
    """The columns a template needs: read as `row.x` or `row["x"]` (the whole `row` object counts as none)."""
    return analyse_row_use(ast, name)[0]


def wrap_html_question(html_content: str, frame_height: int) -> str:
    """HTML content in an HTMLQuestion (CDATA; a `]]>` in the content is split so the XML stays well-formed)."""
    body = html_content.replace("]]>", "]]]]><![CDATA[>")
    return (f'<HTMLQuestion xmlns="{HTML_QUESTION_NS}"><HTMLContent><![CDATA[{body}]]></HTMLContent>'
            f"<FrameHeight>{frame_height}</FrameHeight></HTMLQuestion>")


def script_safe_json(value: Any) -> str:
    """JSON for a `<script>` element or a single-quoted attribute: `<`, `>`, `&`, `'` written as \\u escapes, so
    data cannot close the element (what Jinja's `tojson` does, plus U+2028/U+2029 for old JavaScript parsers)."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return re.sub("[<>&'\u2028\u2029]", lambda m: _JSON_SCRIPT_ESCAPES[m.group(0)], text)


def simpleamt_input(row: dict[str, Any]) -> Any:
    """The value simple-amt passed as `input`: a JSONL line that was not an object was wrapped by read_input as
    `{"input": value}`, so that value; any other row as a whole. (An object line whose only key is `input`, with
    a non-object value, reads the same way: the two cannot be told apart after reading.)"""
    if len(row) == 1 and "input" in row and not isinstance(row["input"], dict):
        return row["input"]
    return row


def mturk_value(value: Any) -> str:
    """A row value as MTurk's `${x}` substitution wrote it: text, HTML-escaped (None is empty; JSON for the rest)."""
    if value is None:
        text = ""
    elif isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, ensure_ascii=False, default=str)
    return html.escape(text, quote=True)


def mturk_form_page(content: str, *, add_submit: bool) -> str:
    """A requester-website template's content inside MTurk's `mturk_form`, as the website served it."""
    submit = '<p><input type="submit" id="submitButton" value="Submit"/></p>\n' if add_submit else ""
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"/>'
        '<meta name="viewport" content="width=device-width, initial-scale=1"/>\n'
        '<script src="https://s3.amazonaws.com/mturk-public/externalHIT_v1.js"></script></head><body>\n'
        '<form name="mturk_form" method="post" id="mturk_form" action="https://www.mturk.com/mturk/externalSubmit">\n'
        '<input type="hidden" value="" name="assignmentId" id="assignmentId"/>\n'
        f"{content}\n{submit}</form>\n<script>turkSetAssignmentID();</script>\n</body></html>\n"
    )


def _check_includes(ast: nodes.Template, allowed: Iterable[str], name: str) -> None:
    """Includes, imports and extends must name a template hitkit has: no file access from a template."""
    allowed = tuple(allowed)
    for node in ast.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
        target = node.template
        ok = isinstance(target, nodes.Const) and target.value in allowed
        if not ok:
            shown = target.value if isinstance(target, nodes.Const) else "an expression"
            can = f"only {' or '.join(repr(a) for a in allowed)} can be included" if allowed else \
                "this kind of template cannot include other files (paste their content in)"
            raise TemplateError(f"{name}, line {node.lineno}: includes {shown!r}: {can}")


@dataclass
class TaskTemplate:
    kind: str
    source: str
    name: str  # file name, for messages
    columns: set[str] = field(init=False, default_factory=set)  # every row must have these
    optional_columns: set[str] = field(init=False, default_factory=set)  # read when present
    uses_whole_row: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise TemplateError(f"{self.name}: unknown template kind {self.kind!r} (known: {', '.join(KINDS)})")
        if self.kind == "mturk":
            self.columns = set(MTURK_PLACEHOLDER.findall(self.source))
            wrap = not _FORM_TAG.search(self.source) and not _HTML_TAG.search(self.source)
            self._mturk_wrap = (wrap, wrap and not _SUBMIT_CONTROL.search(self.source))
            return
        simple = self.kind == "simple-amt"
        loader = DictLoader({n: simpleamt_helper() for n in SIMPLEAMT_INCLUDES}) if simple else None
        # simple-amt rendered unknown variables as empty text; keep that for its templates.
        env = _environment(autoescape=True, strict=not simple, loader=loader)
        try:
            ast = env.parse(self.source)
            _check_includes(ast, SIMPLEAMT_INCLUDES if simple else (), self.name)
            self._template = env.from_string(self.source)
        except TemplateSyntaxError as e:
            raise TemplateError(f"{self.name}, line {e.lineno}: {e.message}") from None
        if simple:
            self.uses_whole_row = True  # `input` is the whole row
            return
        self.columns, self.optional_columns, self.uses_whole_row = analyse_row_use(ast)

    def unused_columns(self, rows: Iterable[dict[str, Any]]) -> set[str]:
        """Input columns the template never reads (worth a warning: a misspelt header, or a column to drop)."""
        if self.uses_whole_row:
            return set()
        seen: set[str] = set()
        for row in rows:
            seen.update(row)
        return seen - self.columns - self.optional_columns

    def _check_row(self, row: dict[str, Any], row_number: int | None) -> None:
        missing = sorted(c for c in self.columns if c not in row)
        if missing:
            raise TemplateError(f"the template uses {', '.join(missing)} but the row has no such column"
                                + ("s" if len(missing) > 1 else ""), row=row_number, column=missing[0])
        if self.kind == "simple-amt":
            return  # JSON escapes control characters
        for column in sorted(self.columns | (self.optional_columns & set(row))):
            value = row[column]
            bad = _INVALID_XML_CHAR.search(value) if isinstance(value, str) else None
            if bad:
                raise TemplateError(f"contains the control character U+{ord(bad.group(0)):04X}, which a Question "
                                    "(XML) cannot carry", row=row_number, column=column)

    def render_html(self, row: dict[str, Any], *, row_number: int | None = None) -> str:
        """The template's own output for one row (HTML, or the Question XML for XML kinds)."""
        self._check_row(row, row_number)
        if self.kind == "mturk":
            content = MTURK_PLACEHOLDER.sub(lambda m: mturk_value(row[m.group(1)]), self.source)
            wrap, add_submit = self._mturk_wrap
            return mturk_form_page(content, add_submit=add_submit) if wrap else content
        context: dict[str, Any]
        if self.kind == "simple-amt":
            context = {"input": Markup(script_safe_json(simpleamt_input(row)))}
        else:
            context = {"row": row}
        try:
            return self._template.render(**context)
        except UndefinedError as e:
            raise TemplateError(f"the template failed: {e.message}", row=row_number) from None
        except SecurityError as e:
            raise TemplateError(f"the template tried something the sandbox forbids: {e}", row=row_number) from None
        except Exception as e:  # noqa: BLE001 (a filter or test raising on this row's values)
            raise TemplateError(f"the template failed on this row: {type(e).__name__}: {e}", row=row_number) from None

    def render_question(self, row: dict[str, Any], *, frame_height: int, row_number: int | None = None) -> str:
        """The Question XML for one row, checked as the server will check it, at most 65,535 bytes."""
        out = self.render_html(row, row_number=row_number)
        question = wrap_html_question(out, frame_height) if self.kind in HTML_KINDS else out
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
    """The template at `path`; the kind defaults from the content (XML roots, simple-amt's include, `${x}`)."""
    try:
        source = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TemplateError(f"the template file {path} does not exist") from None
    except UnicodeDecodeError as e:
        raise TemplateError(f"{path.name} is not UTF-8 text (byte {e.start})") from None
    return TaskTemplate(kind or guess_kind(source), source, path.name)


def guess_kind(source: str) -> str:
    """The kind a template's content looks like; `jinja` when nothing else fits."""
    head = source.lstrip()[:300]
    for root, kind in (("<HTMLQuestion", "html-question"), ("<ExternalQuestion", "external-question"),
                       ("<QuestionForm", "question-form")):
        if root in head:
            return kind
    if re.search(r"""\{%-?\s*include\s+["'](?:hit_templates/)?simpleamt\.html["']""", source):
        return "simple-amt"
    if MTURK_PLACEHOLDER.search(source) and "{{" not in source and "{%" not in source:
        return "mturk"
    return "jinja"


def sample_row(template: TaskTemplate) -> dict[str, str]:
    """A row with a placeholder for every column the template reads (for previews)."""
    return {c: f"[{c}]" for c in sorted(template.columns)}


def to_json(value: Any) -> str:
    """JSON text, keeping non-ASCII characters as they are."""
    return json.dumps(value, ensure_ascii=False, default=str)
