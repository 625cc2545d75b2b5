"""Turn a submission (worker API JSON or a posted form) into the Answer XML MTurk would have stored."""

from __future__ import annotations

import re

from hitkit.mturk.xml import QuestionXMLError, encode_form_answers, encode_questionform_answers, parse_question_cached

RESERVED_FIELDS = frozenset({"assignmentId", "hitId", "workerId", "turkSubmitTo"})

# The root element of a stored question, after any XML declaration, processing instructions, comments and space.
_ROOT = re.compile(r"(?:\s|<\?.*?\?>|<!--.*?-->)*<(?:[A-Za-z_][\w.-]*:)?(HTMLQuestion|ExternalQuestion|QuestionForm)[\s/>]", re.S)


def question_kind(question_xml: str | None) -> str | None:
    """HTMLQuestion, ExternalQuestion or QuestionForm, for a question stored by CreateHIT (which validated it).
    Read from the root element's name: each HIT has its own question, so a parse per request (~60 us) would
    rarely hit parse_question_cached; anything unusual falls back to parsing."""
    if not question_xml:
        return None
    m = _ROOT.match(question_xml)
    return m.group(1) if m else parse_question_cached(question_xml).kind


def group_fields(pairs: list[tuple[str, str]]) -> dict[str, str | list[str]]:
    """Form pairs to {name: value or [values]}, in first-seen order, without MTurk's reserved names."""
    grouped: dict[str, list[str]] = {}
    for k, v in pairs:
        if k not in RESERVED_FIELDS:
            grouped.setdefault(k, []).append(v)
    return {k: v[0] if len(v) == 1 else v for k, v in grouped.items()}


def encode_submission(question_xml: str | None, answers: object) -> str:
    """QuestionForm HITs: answers checked against the form (selections, constraints). HTML and External
    questions: every field as FreeText, repeated fields joined with `|`. Raises QuestionXMLError."""
    if not isinstance(answers, dict):
        raise QuestionXMLError('Send {"answers": {"field": "value" or ["v1", "v2"]}}.')
    for name, value in answers.items():
        ok = isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))
        if not ok:
            raise QuestionXMLError(f"Answer {name!r} must be a string or a list of strings.")
    if question_kind(question_xml) == "QuestionForm":
        return encode_questionform_answers(parse_question_cached(question_xml), answers)
    return encode_form_answers([(k, v) for k, vs in answers.items() for v in (vs if isinstance(vs, list) else [vs])])
