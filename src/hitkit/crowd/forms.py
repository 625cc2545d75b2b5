"""What a worker sees in a HIT's question: the fields to fill, their options, and the values already set (hidden
inputs, which is where a task can carry its truth). HTMLQuestion forms, crowd-form templates, QuestionForm, and
ExternalQuestion pages (fetched, as a browser would)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from hitkit.mturk.xml import QuestionXMLError, parse_question

RESERVED = frozenset({"assignmentId", "hitId", "workerId", "turkSubmitTo"})


@dataclass
class Field:
    name: str
    kind: str  # "choice" (one of options), "multi" (any of options), "text", "hidden"
    options: list[str] = field(default_factory=list)
    value: str | None = None  # hidden fields' values, a text field's default


@dataclass
class Form:
    fields: dict[str, Field] = field(default_factory=dict)
    crowd_form: bool = False  # answers are posted as one `taskAnswers` JSON, as <crowd-form> did

    def add(self, f: Field) -> None:
        known = self.fields.get(f.name)
        if known is None:
            self.fields[f.name] = f
        elif f.options:
            known.options.extend(o for o in f.options if o not in known.options)

    def hidden(self) -> dict[str, str]:
        return {n: f.value or "" for n, f in self.fields.items() if f.kind == "hidden"}

    def to_fill(self) -> list[Field]:
        return [f for f in self.fields.values() if f.kind != "hidden"]


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.form = Form()
        self._select: Field | None = None
        self._option_value: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        name = a.get("name", "")
        if tag == "crowd-form":
            self.form.crowd_form = True
        if tag in ("input", "crowd-input", "crowd-checkbox", "crowd-radio-button") and name and name not in RESERVED:
            kind = a.get("type", "text").lower() if tag == "input" else {"crowd-checkbox": "checkbox", "crowd-radio-button": "radio"}.get(tag, "text")
            if kind == "hidden":
                self.form.add(Field(name, "hidden", value=a.get("value", "")))
            elif kind == "radio":
                self.form.add(Field(name, "choice", [a.get("value") or "on"]))
            elif kind == "checkbox":
                self.form.add(Field(name, "multi", [a.get("value") or "on"]))
            elif kind not in ("submit", "button", "reset", "image", "file"):
                self.form.add(Field(name, "text", value=a.get("value") or None))
        elif tag in ("textarea", "crowd-text-area") and name:
            self.form.add(Field(name, "text"))
        elif tag == "select" and name:
            self._select = Field(name, "multi" if "multiple" in a else "choice")
        elif tag == "option" and self._select is not None:
            self._option_value = a.get("value")
            if self._option_value is not None:
                self._select.options.append(self._option_value)
        elif tag == "crowd-classifier" and name:
            categories = re.findall(r"['\"]([^'\"]+)['\"]", a.get("categories", ""))
            self.form.add(Field(name, "choice", categories))
        elif tag == "crowd-slider" and name:
            lo, hi = int(float(a.get("min", "0") or 0)), int(float(a.get("max", "100") or 100))
            self.form.add(Field(name, "choice", [str(v) for v in range(lo, hi + 1)] if hi - lo <= 1000 else [str(lo), str(hi)]))

    def handle_data(self, data: str) -> None:
        if self._select is not None and self._option_value is None and data.strip():
            self._select.options.append(data.strip())

    def handle_endtag(self, tag: str) -> None:
        if tag == "option":
            self._option_value = None
        elif tag == "select" and self._select is not None:
            self.form.add(self._select)
            self._select = None


def form_from_html(html: str) -> Form:
    parser = _FormParser()
    parser.feed(html)
    parser.close()
    return parser.form


def form_from_question(question_xml: str, fetch=None) -> Form:  # type: ignore[no-untyped-def]
    """The form of a HIT's Question. `fetch(url) -> html` loads an ExternalQuestion's page (None: unknown form)."""
    try:
        doc = parse_question(question_xml)
    except QuestionXMLError:
        return Form()
    if doc.kind == "HTMLQuestion":
        return form_from_html(doc.html_content or "")
    if doc.kind == "ExternalQuestion":
        return form_from_html(fetch(doc.external_url)) if fetch and doc.external_url else Form()
    form = Form()
    for q in doc.questions:
        if q.answer_type == "Selection":
            kind = "multi" if q.max_selections > 1 else "choice"
            form.add(Field(q.identifier, kind, [s.identifier for s in q.selections]))
        else:
            form.add(Field(q.identifier, "text", value=q.default_text))
    return form
