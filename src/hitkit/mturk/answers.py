"""An assignment's Answer (QuestionFormAnswers XML) as columns.

`parse_answer_xml(xml)` gives a flat dict of column name -> value, the `answers` the ledger keeps next to the raw
XML (which is never altered):

- a `FreeText` answer (every field of an HTML or External form, QuestionForm free text) is a string; repeated
  form fields arrive joined with `|`, as MTurk stored them, and stay that way;
- a QuestionForm selection is the `SelectionIdentifier` when one was chosen and a list when several were; text
  typed in an "other" box (`OtherSelectionText`) counts as one more selected value;
- crowd-form's single `taskAnswers` field (a JSON array holding one object) becomes one column per key, nested
  objects flattened with dots: `{"sentiment": {"label": "cat"}}` -> `sentiment.label`;
- simple-amt's `output` field (JSON written by `simpleamt.setOutput`) likewise when it holds an object; a JSON
  array stays one `output` column holding the list.

A flattened key that would overwrite a field of the form itself is kept under `taskAnswers.<key>` /
`output.<key>` instead. Text is XML-unescaped by the parser (`&amp;` is `&`, CDATA sections are plain text), which
is what simple-amt's regex (`<FreeText>(.*?)</FreeText>`) got wrong. The XML is parsed with defusedxml: no DTDs,
entities or external references.
"""

from __future__ import annotations

import json
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as DefusedET
from defusedxml.common import DefusedXmlException

# Form fields that hold JSON to be spread into columns: crowd-form's and simple-amt's.
JSON_FIELDS = ("taskAnswers", "output")


class AnswerFormatError(ValueError):
    """An Answer that is not QuestionFormAnswers XML."""


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _text(el: Element) -> str:
    return "".join(el.itertext())


def parse_xml(xml: str) -> list[tuple[str, Any]]:
    """The (QuestionIdentifier, value) pairs of a QuestionFormAnswers document, in document order, before any
    JSON is spread into columns. An empty Answer (an empty submission) gives no pairs."""
    if xml is None or not xml.strip():
        return []
    text = xml.strip()
    if text.startswith("<?xml") and text.endswith("?>") and "<" not in text[2:]:
        return []
    try:
        root = DefusedET.fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as e:
        raise AnswerFormatError(f"the Answer XML is refused: it declares a DTD or entities ({type(e).__name__})") from None
    except ParseError as e:
        raise AnswerFormatError(f"the Answer is not well-formed XML: {e}") from None
    if _local(root.tag) != "QuestionFormAnswers":
        raise AnswerFormatError(f"the Answer's root element is <{_local(root.tag)}>, not <QuestionFormAnswers>")
    pairs: list[tuple[str, Any]] = []
    for number, answer in enumerate((c for c in root if _local(c.tag) == "Answer"), start=1):
        identifier: str | None = None
        free: list[str] = []
        chosen: list[str] = []
        file_key: str | None = None
        for part in answer:
            name = _local(part.tag)
            if name == "QuestionIdentifier":
                identifier = _text(part).strip()
            elif name == "FreeText":
                free.append(_text(part))
            elif name in ("SelectionIdentifier", "OtherSelectionText"):
                chosen.append(_text(part))
            elif name == "UploadedFileKey":
                file_key = _text(part)
        if not identifier:
            raise AnswerFormatError(f"Answer {number} of the QuestionFormAnswers has no QuestionIdentifier")
        value: Any
        if chosen:
            value = chosen[0] if len(chosen) == 1 else chosen
        elif free:
            value = "|".join(free)
        elif file_key is not None:
            value = file_key
        else:
            value = ""
        pairs.append((identifier, value))
    return pairs


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """`{"a": {"b": 1}, "c": [1]}` -> `{"a.b": 1, "c": [1]}` (lists are kept as values; an empty object is
    kept as `{}` so the key does not vanish)."""
    out: dict[str, Any] = {}
    if isinstance(value, dict):
        if not value and prefix:
            out[prefix] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    else:
        out[prefix] = value
    return out


def _json_object(field: str, raw: Any) -> Any:
    """The parsed JSON of a taskAnswers/output field when it holds an object or an array, else None."""
    if not isinstance(raw, str):
        return None
    s = raw.strip()
    if not s or s[0] not in "[{":
        return None
    try:
        value = json.loads(s)
    except ValueError:
        return None
    if field == "taskAnswers" and isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
        return value[0]  # crowd-form: an array holding one object
    return value


def to_columns(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Columns from the answer pairs: JSON fields spread out, later repeats of an identifier merged with `|`."""
    columns: dict[str, Any] = {}
    for identifier, value in pairs:
        if identifier in columns:  # a repeated QuestionIdentifier: merge as MTurk did for repeated fields
            old = columns[identifier]
            if isinstance(old, str) and isinstance(value, str):
                columns[identifier] = f"{old}|{value}"
            else:
                columns[identifier] = (old if isinstance(old, list) else [old]) + (value if isinstance(value, list) else [value])
        else:
            columns[identifier] = value
    fields = set(columns)
    for field in JSON_FIELDS:
        if field not in columns:
            continue
        parsed = _json_object(field, columns[field])
        if parsed is None:
            continue
        if isinstance(parsed, dict):
            del columns[field]
            for key, v in flatten(parsed).items():
                name = key if key not in fields else f"{field}.{key}"
                columns[name] = v
        else:
            columns[field] = parsed
    return columns


def parse_answer_xml(xml: str) -> dict[str, Any]:
    """An assignment's Answer as columns (see the module docstring). Raises AnswerFormatError."""
    return to_columns(parse_xml(xml))
