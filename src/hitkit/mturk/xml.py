"""MTurk question/answer XML: parsing HIT questions and qualification tests, encoding and parsing
QuestionFormAnswers, validating QuestionForm answers, and AnswerKey parsing and grading.

This module owns every XML format of the MTurk data schemas that the emulator reads or writes
(HTMLQuestion, ExternalQuestion, QuestionForm, QuestionFormAnswers, AnswerKey).  All functions are
pure (no I/O).  Untrusted XML is parsed only with ``defusedxml`` with DTDs forbidden, so DOCTYPEs,
entity declarations (billion laughs) and external entities (XXE) are refused with
:class:`QuestionXMLError`.

hitkit's documented rules where MTurk's behaviour is unknown or where hitkit deliberately deviates:

* ExternalURL must be ``https://``; for local development ``http://127.0.0.1``, ``http://localhost``
  and ``http://[::1]`` (any port/path) are also accepted.
* Leading whitespace before the XML declaration is ignored.
* Repeated form field names are joined with ``|`` into one FreeText answer.
* Characters not allowed in XML 1.0 are dropped from encoded answers; output is pure ASCII.
* Numeric FreeText answers may be decimals (``-3``, ``2.5``); AnswerFormatRegex uses Python ``re``
  search semantics (like JavaScript ``RegExp.test``) with flags ``i``, ``m``, ``s`` honoured.
* Only one AnswerFormatRegex per FreeText question is supported (a second one is refused).
* ``encode_questionform_answers`` writes answers in question order, omits questions absent from the
  answers and selection questions with nothing chosen, and writes FileUpload answers as just an
  ``UploadedFileKey`` (the value passed in).
* ``parse_answers`` merges repeated QuestionIdentifiers (text joined with ``|``, lists concatenated).
* ``grade`` treats every item of a list answer (OtherSelectionText included) as part of the selected
  set, and a non-empty string answer as a one-item set.
* Percentage/Scale mappings round half away from zero ("half-up" on magnitudes).
* AnswerKey documents share the 65,535-byte limit of Question documents.
"""

from __future__ import annotations

from functools import lru_cache

import html
import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as DefusedET
from defusedxml.common import DefusedXmlException

__all__ = [
    "MAX_QUESTION_BYTES",
    "NS_ANSWERS",
    "NS_ANSWER_KEY",
    "NS_EXTERNAL",
    "NS_HTML",
    "NS_QUESTIONFORM_2005",
    "NS_QUESTIONFORM_2017",
    "RESERVED_FORM_FIELDS",
    "STYLE_SUGGESTIONS",
    "AnswerKey",
    "AnswerOption",
    "FormQuestion",
    "KeyQuestion",
    "PercentageMapping",
    "QuestionDoc",
    "QuestionXMLError",
    "RangeMapping",
    "ScaleMapping",
    "Selection",
    "encode_form_answers",
    "encode_questionform_answers",
    "grade",
    "parse_answer_key",
    "parse_answers",
    "parse_question",
    "parse_test",
]

_SCHEMA_BASE = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas"
NS_HTML = f"{_SCHEMA_BASE}/2011-11-11/HTMLQuestion.xsd"
NS_EXTERNAL = f"{_SCHEMA_BASE}/2006-07-14/ExternalQuestion.xsd"
NS_QUESTIONFORM_2005 = f"{_SCHEMA_BASE}/2005-10-01/QuestionForm.xsd"
NS_QUESTIONFORM_2017 = f"{_SCHEMA_BASE}/2017-11-06/QuestionForm.xsd"
NS_ANSWERS = f"{_SCHEMA_BASE}/2005-10-01/QuestionFormAnswers.xsd"
NS_ANSWER_KEY = f"{_SCHEMA_BASE}/2005-10-01/AnswerKey.xsd"

MAX_QUESTION_BYTES = 65535

RESERVED_FORM_FIELDS = frozenset({"assignmentId", "hitId", "workerId", "turkSubmitTo"})
STYLE_SUGGESTIONS = frozenset({"radiobutton", "checkbox", "list", "dropdown", "combobox", "multichooser"})

_XML_DECL = '<?xml version="1.0" encoding="ASCII"?>'
_MAX_INT = 2**31 - 1
_MAX_FILE_BYTES = 2_000_000_000
_INT_RE = re.compile(r"[+-]?[0-9]+")
_DECIMAL_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_INVALID_XML_CHARS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#13;"})
_TAG_RE = re.compile(r"<[^>]*>")
_ONLY_DECL_RE = re.compile(r"\s*(?:<\?xml[^>]*\?>)?\s*")
_LOCAL_HTTP_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_REGEX_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "g": 0, "u": 0, "y": 0}
_ROOTS = {
    ("HTMLQuestion", NS_HTML),
    ("ExternalQuestion", NS_EXTERNAL),
    ("QuestionForm", NS_QUESTIONFORM_2005),
    ("QuestionForm", NS_QUESTIONFORM_2017),
}


class QuestionXMLError(ValueError):
    """Bad question/answer-key/test XML. .message is a human sentence saying what is wrong and where."""

    def __init__(self, message: str) -> None:
        """Store the human-readable message."""
        super().__init__(message)
        self.message = message


# --------------------------------------------------------------------------------------------
# Data model
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Image:
    """A `Binary` content element shown as an image: its URL (http, https or a data: image) and alt text."""

    url: str
    alt: str = ""


@dataclass(frozen=True)
class Selection:
    """One choice of a SelectionAnswer: its identifier and plain display text (and image, for Binary)."""

    identifier: str
    text: str
    image: Image | None = None


@dataclass(frozen=True)
class FormQuestion:
    """One Question of a QuestionForm with its answer specification flattened."""

    identifier: str
    display_name: str | None
    is_required: bool
    content_text: str
    answer_type: str  # "FreeText" | "Selection" | "FileUpload"
    selections: tuple[Selection, ...] = ()
    min_selections: int = 1
    max_selections: int = 1
    style: str | None = None
    allow_other: bool = False
    is_numeric: bool = False
    min_value: int | None = None
    max_value: int | None = None
    min_length: int | None = None
    max_length: int | None = None
    regex: str | None = None
    regex_error_text: str | None = None
    default_text: str | None = None
    lines: int | None = None
    # hitkit additions (defaults keep the documented constructor working)
    regex_flags: str | None = None
    min_file_size: int | None = None
    max_file_size: int | None = None
    images: tuple[Image, ...] = ()  # Binary images of QuestionContent, shown after its text


@dataclass(frozen=True)
class QuestionDoc:
    """A parsed HIT Question or qualification Test document."""

    kind: str  # "HTMLQuestion" | "ExternalQuestion" | "QuestionForm"
    frame_height: int | None = None
    html_content: str | None = None
    external_url: str | None = None
    questions: tuple[FormQuestion, ...] = ()
    overview_text: str = ""
    overview_images: tuple[Image, ...] = ()


@dataclass(frozen=True)
class AnswerOption:
    """An AnswerKey option: the exact set of SelectionIdentifiers and the score it earns."""

    selection_ids: frozenset[str]
    score: int


@dataclass(frozen=True)
class KeyQuestion:
    """An AnswerKey Question: its options in document order and the score when none matches."""

    identifier: str
    options: tuple[AnswerOption, ...]
    default_score: int = 0


@dataclass(frozen=True)
class PercentageMapping:
    """QualificationValueMapping/PercentageMapping: value = round(sum / max_summed_score * 100)."""

    max_summed_score: int


@dataclass(frozen=True)
class ScaleMapping:
    """QualificationValueMapping/ScaleMapping: value = round(sum * multiplier)."""

    multiplier: Decimal


@dataclass(frozen=True)
class RangeMapping:
    """QualificationValueMapping/RangeMapping: (lo, hi, value) ranges checked in order, else out_of_range_value."""

    ranges: tuple[tuple[int, int, int], ...]
    out_of_range_value: int


@dataclass(frozen=True)
class AnswerKey:
    """A parsed AnswerKey: keyed questions plus the optional qualification value mapping."""

    questions: tuple[KeyQuestion, ...]
    mapping: PercentageMapping | ScaleMapping | RangeMapping | None = None


# --------------------------------------------------------------------------------------------
# Low-level helpers
# --------------------------------------------------------------------------------------------


def _split_tag(tag: object) -> tuple[str, str]:
    """Split an ElementTree tag '{ns}local' into (ns, local)."""
    if not isinstance(tag, str):
        return ("", "")
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


def _parse_xml(xml: object, what: str, limit: int | None) -> Element:
    """Parse untrusted XML with defusedxml (no DTDs, entities or external references)."""
    if not isinstance(xml, str):
        raise QuestionXMLError(f"{what} must be a string, got {type(xml).__name__}")
    try:
        size = len(xml.encode("utf-8"))
    except UnicodeEncodeError:
        raise QuestionXMLError(f"{what} contains characters that cannot be encoded as UTF-8 (lone surrogates)")
    if limit is not None and size > limit:
        raise QuestionXMLError(f"{what} is {size} bytes (UTF-8); the maximum is {limit} bytes")
    try:
        return DefusedET.fromstring(xml.lstrip(), forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise QuestionXMLError(
            f"{what} is refused: DTDs, entity declarations and external references are not allowed "
            f"({type(exc).__name__})"
        ) from None
    except ParseError as exc:
        raise QuestionXMLError(f"{what} is not well-formed XML: {exc}") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise QuestionXMLError(f"{what} could not be parsed: {type(exc).__name__}") from None


def _iter_elements(root: Element) -> list[Element]:
    """All elements under root (inclusive) in document order, without recursion."""
    out: list[Element] = []
    stack = [root]
    while stack:
        el = stack.pop()
        out.append(el)
        stack.extend(reversed(list(el)))
    return out


def _all_text(root: Element) -> str:
    """Concatenated text content of root and its descendants, without recursion."""
    parts: list[str] = []
    stack: list[Element | str] = [root]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            parts.append(item)
            continue
        if isinstance(item.tag, str) and item.text:
            parts.append(item.text)
        for child in reversed(list(item)):
            if child.tail:
                stack.append(child.tail)
            stack.append(child)
    return "".join(parts)


def _kids(el: Element, ns: str, where: str) -> list[tuple[str, Element]]:
    """Child elements of el as (local name, element); every child must be in namespace ns."""
    out: list[tuple[str, Element]] = []
    for child in el:
        cns, local = _split_tag(child.tag)
        if not local:
            continue
        if cns != ns:
            shown = f"{{{cns}}}{local}" if cns else local
            raise QuestionXMLError(f"{where}: element <{shown}> is not in the document namespace {ns}")
        out.append((local, child))
    return out


def _singles(kids: list[tuple[str, Element]], allowed: tuple[str, ...], where: str) -> dict[str, Element]:
    """Map local name -> element for children that may appear at most once; reject anything else."""
    out: dict[str, Element] = {}
    for local, child in kids:
        if local not in allowed:
            raise QuestionXMLError(f"{where}: unexpected element <{local}> (allowed: {', '.join(allowed)})")
        if local in out:
            raise QuestionXMLError(f"{where}: element <{local}> appears more than once")
        out[local] = child
    return out


def _leaf_text(el: Element, where: str) -> str:
    """Text of an element that must not contain child elements."""
    if len(el):
        _, local = _split_tag(el.tag)
        raise QuestionXMLError(f"{where}: <{local}> must contain only text, not XML elements")
    return el.text or ""


def _parse_int(raw: str | None, where: str, name: str, lo: int | None = None, hi: int | None = None) -> int:
    """Parse an XML integer value with optional bounds."""
    text = (raw or "").strip()
    if not _INT_RE.fullmatch(text):
        raise QuestionXMLError(f"{where}: {name} must be an integer, got {text!r}")
    value = int(text)
    if lo is not None and value < lo:
        raise QuestionXMLError(f"{where}: {name} must be at least {lo}, got {value}")
    if hi is not None and value > hi:
        raise QuestionXMLError(f"{where}: {name} must be at most {hi}, got {value}")
    return value


def _parse_bool(raw: str, where: str, name: str) -> bool:
    """Parse an xs:boolean."""
    text = raw.strip()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise QuestionXMLError(f"{where}: {name} must be 'true' or 'false', got {text!r}")


def _clean(text: str) -> str:
    """Drop characters that XML 1.0 cannot carry (control chars, lone surrogates, U+FFFE/U+FFFF)."""
    return _INVALID_XML_CHARS.sub("", text)


def _esc(text: str) -> str:
    """XML-escape cleaned text as pure ASCII (non-ASCII as decimal character references)."""
    return _clean(text).translate(_ESCAPES).encode("ascii", "xmlcharrefreplace").decode("ascii")


def _wrap_answers(answer_parts: list[str]) -> str:
    """Wrap encoded <Answer> elements in a QuestionFormAnswers document."""
    return f'{_XML_DECL}\n<QuestionFormAnswers xmlns="{NS_ANSWERS}">{"".join(answer_parts)}</QuestionFormAnswers>'


def _answer(identifier: str, body: str) -> str:
    """One encoded <Answer> element."""
    return f"<Answer><QuestionIdentifier>{_esc(identifier)}</QuestionIdentifier>{body}</Answer>"


# --------------------------------------------------------------------------------------------
# Question documents
# --------------------------------------------------------------------------------------------


def parse_question(xml: str) -> QuestionDoc:
    """Parse and validate a HIT Question (HTMLQuestion, ExternalQuestion or QuestionForm)."""
    root = _parse_xml(xml, "Question XML", MAX_QUESTION_BYTES)
    ns, local = _split_tag(root.tag)
    if (local, ns) not in _ROOTS:
        shown = f"<{local}> in namespace {ns!r}" if ns else f"<{local}> without a namespace"
        raise QuestionXMLError(
            f"Question XML root element is {shown}; expected HTMLQuestion ({NS_HTML}), "
            f"ExternalQuestion ({NS_EXTERNAL}) or QuestionForm ({NS_QUESTIONFORM_2017} or {NS_QUESTIONFORM_2005})"
        )
    if local == "HTMLQuestion":
        return _parse_html_question(root, ns)
    if local == "ExternalQuestion":
        return _parse_external_question(root, ns)
    return _parse_question_form(root, ns)


def parse_test(xml: str) -> QuestionDoc:
    """Parse a qualification Test, which must be a QuestionForm."""
    doc = parse_question(xml)
    if doc.kind != "QuestionForm":
        raise QuestionXMLError(f"A qualification Test must be a QuestionForm, not {doc.kind}")
    return doc


def _frame_height(el: Element | None, where: str) -> int:
    """Parse a required FrameHeight (integer >= 0)."""
    if el is None:
        raise QuestionXMLError(f"{where}: missing FrameHeight")
    return _parse_int(_leaf_text(el, where), where, "FrameHeight", lo=0, hi=_MAX_INT)


def _parse_html_question(root: Element, ns: str) -> QuestionDoc:
    """Validate an HTMLQuestion: non-empty HTMLContent and FrameHeight >= 0."""
    where = "HTMLQuestion"
    parts = _singles(_kids(root, ns, where), ("HTMLContent", "FrameHeight"), where)
    content_el = parts.get("HTMLContent")
    if content_el is None:
        raise QuestionXMLError(f"{where}: missing HTMLContent")
    if len(content_el):
        raise QuestionXMLError(
            f"{where}: HTMLContent must be text (wrap the HTML in <![CDATA[ ... ]]>), not XML elements"
        )
    content = content_el.text or ""
    if not content.strip():
        raise QuestionXMLError(f"{where}: HTMLContent is empty")
    height = _frame_height(parts.get("FrameHeight"), where)
    return QuestionDoc(kind="HTMLQuestion", frame_height=height, html_content=content)


def _check_external_url(url: str, where: str) -> None:
    """hitkit's ExternalURL rule: https://, or http:// to 127.0.0.1, localhost or [::1]."""
    if not url:
        raise QuestionXMLError(f"{where}: ExternalURL is empty")
    if any(ch.isspace() or ord(ch) < 0x20 for ch in url):
        raise QuestionXMLError(f"{where}: ExternalURL {url!r} contains whitespace or control characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port
    except ValueError:
        raise QuestionXMLError(f"{where}: ExternalURL {url!r} is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme == "https" and host:
        return
    if scheme == "http" and host in _LOCAL_HTTP_HOSTS:
        return
    raise QuestionXMLError(
        f"{where}: ExternalURL {url!r} must use https:// (http:// is only accepted for 127.0.0.1, localhost and [::1])"
    )


def _parse_external_question(root: Element, ns: str) -> QuestionDoc:
    """Validate an ExternalQuestion: allowed ExternalURL and FrameHeight >= 0."""
    where = "ExternalQuestion"
    parts = _singles(_kids(root, ns, where), ("ExternalURL", "FrameHeight"), where)
    url_el = parts.get("ExternalURL")
    if url_el is None:
        raise QuestionXMLError(f"{where}: missing ExternalURL")
    url = _leaf_text(url_el, where).strip()
    _check_external_url(url, where)
    height = _frame_height(parts.get("FrameHeight"), where)
    return QuestionDoc(kind="ExternalQuestion", frame_height=height, external_url=url)


def _content_text(el: Element) -> str:
    """Plain text of a content element: Title, Text, ListItem and (tag-stripped) FormattedContent, one per line."""
    lines: list[str] = []
    for node in _iter_elements(el):
        _, local = _split_tag(node.tag)
        if local in ("Title", "Text", "ListItem"):
            text = _all_text(node).strip()
        elif local == "FormattedContent":
            text = html.unescape(_TAG_RE.sub("", _all_text(node))).strip()
        else:
            continue
        if text:
            lines.append(text)
    return "\n".join(lines)


_IMAGE_URL = re.compile(r"(?:https?://\S+|data:image/(?:png|jpeg|gif|webp|svg\+xml);base64,[A-Za-z0-9+/=\s]+)", re.IGNORECASE)


def _content_images(el: Element) -> tuple[Image, ...]:
    """The Binary elements of a content element that are images with a URL a page may show (others are skipped)."""
    images: list[Image] = []
    for node in _iter_elements(el):
        if _split_tag(node.tag)[1] != "Binary":
            continue
        fields = {_split_tag(child.tag)[1]: _all_text(child).strip() for child in node}
        mime = {_split_tag(child.tag)[1]: child for child in node}.get("MimeType")
        kind = ""
        if mime is not None:
            kind = {_split_tag(c.tag)[1]: _all_text(c).strip() for c in mime}.get("Type", "") or _all_text(mime).strip()
        url = fields.get("DataURL", "")
        if kind.lower().startswith("image") and _IMAGE_URL.fullmatch(url):
            images.append(Image(url=url, alt=fields.get("AltText", "")))
    return tuple(images)


def _check_content(el: Element, is2017: bool, where: str) -> None:
    """Reject content elements removed from the 2017-11-06 schema (Application)."""
    if not is2017:
        return
    for child in el:
        if _split_tag(child.tag)[1] == "Application":
            raise QuestionXMLError(f"{where}: Application is not allowed in the 2017-11-06 QuestionForm schema")


def _parse_question_form(root: Element, ns: str) -> QuestionDoc:
    """Validate a QuestionForm: >= 1 Question, unique identifiers, each with an AnswerSpecification."""
    is2017 = ns == NS_QUESTIONFORM_2017
    overview: list[str] = []
    overview_images: list[Image] = []
    questions: list[FormQuestion] = []
    seen: dict[str, int] = {}
    number = 0
    for local, child in _kids(root, ns, "QuestionForm"):
        if local == "Overview":
            _check_content(child, is2017, "QuestionForm: Overview")
            text = _content_text(child)
            if text:
                overview.append(text)
            overview_images.extend(_content_images(child))
        elif local == "Question":
            number += 1
            question = _parse_form_question(child, ns, number, is2017)
            if question.identifier in seen:
                raise QuestionXMLError(
                    f"QuestionForm: Question {number} (identifier {question.identifier!r}) reuses the "
                    f"QuestionIdentifier of Question {seen[question.identifier]}"
                )
            seen[question.identifier] = number
            questions.append(question)
        else:
            raise QuestionXMLError(f"QuestionForm: unexpected element <{local}> (allowed: Overview, Question)")
    if not questions:
        raise QuestionXMLError("QuestionForm: contains no Question element")
    return QuestionDoc(kind="QuestionForm", questions=tuple(questions), overview_text="\n".join(overview),
                       overview_images=tuple(overview_images))


_QUESTION_CHILDREN = ("QuestionIdentifier", "DisplayName", "IsRequired", "QuestionContent", "AnswerSpecification")


def _parse_form_question(el: Element, ns: str, number: int, is2017: bool) -> FormQuestion:
    """Parse one QuestionForm Question."""
    where = f"QuestionForm: Question {number}"
    parts = _singles(_kids(el, ns, where), _QUESTION_CHILDREN, where)
    id_el = parts.get("QuestionIdentifier")
    if id_el is None:
        raise QuestionXMLError(f"{where} has no QuestionIdentifier")
    identifier = _leaf_text(id_el, where).strip()
    if not identifier:
        raise QuestionXMLError(f"{where} has an empty QuestionIdentifier")
    where = f"QuestionForm: Question {number} (identifier {identifier!r})"
    display_name = _leaf_text(parts["DisplayName"], where).strip() if "DisplayName" in parts else None
    is_required = False
    if "IsRequired" in parts:
        is_required = _parse_bool(_leaf_text(parts["IsRequired"], where), where, "IsRequired")
    content_text = ""
    images: tuple[Image, ...] = ()
    if "QuestionContent" in parts:
        _check_content(parts["QuestionContent"], is2017, f"{where} QuestionContent")
        content_text = _content_text(parts["QuestionContent"])
        images = _content_images(parts["QuestionContent"])
    spec = parts.get("AnswerSpecification")
    if spec is None:
        raise QuestionXMLError(f"{where} has no AnswerSpecification")
    spec_kids = _kids(spec, ns, f"{where} AnswerSpecification")
    if not spec_kids:
        raise QuestionXMLError(f"{where} has an empty AnswerSpecification")
    if len(spec_kids) > 1:
        raise QuestionXMLError(f"{where}: AnswerSpecification must contain exactly one answer type")
    kind, answer_el = spec_kids[0]
    common = {
        "identifier": identifier,
        "display_name": display_name,
        "is_required": is_required,
        "content_text": content_text,
        "images": images,
    }
    if kind == "FreeTextAnswer":
        spec_fields = _parse_free_text(answer_el, ns, f"{where} FreeTextAnswer")
        return FormQuestion(answer_type="FreeText", **common, **spec_fields)
    if kind == "SelectionAnswer":
        return FormQuestion(answer_type="Selection", **common, **_parse_selection(answer_el, ns, where))
    if kind == "FileUploadAnswer":
        if is2017:
            raise QuestionXMLError(
                f"{where}: FileUploadAnswer is not allowed in the 2017-11-06 QuestionForm schema "
                f"(use the 2005-10-01 namespace {NS_QUESTIONFORM_2005})"
            )
        return FormQuestion(answer_type="FileUpload", **common, **_parse_file_upload(answer_el, ns, where))
    raise QuestionXMLError(
        f"{where}: unexpected element <{kind}> in AnswerSpecification "
        "(allowed: FreeTextAnswer, SelectionAnswer, FileUploadAnswer)"
    )


def _int_attr(el: Element, name: str, where: str, lo: int | None = None) -> int | None:
    """Optional integer attribute."""
    raw = el.get(name)
    return None if raw is None else _parse_int(raw, where, name, lo=lo)


def _parse_free_text(el: Element, ns: str, where: str) -> dict[str, object]:
    """Parse a FreeTextAnswer (or OtherSelection) into FormQuestion keyword arguments."""
    parts = _singles(_kids(el, ns, where), ("Constraints", "DefaultText", "NumberOfLinesSuggestion"), where)
    out: dict[str, object] = {}
    if "Constraints" in parts:
        cwhere = f"{where} Constraints"
        for local, c in _kids(parts["Constraints"], ns, cwhere):
            if local == "IsNumeric":
                if out.get("is_numeric"):
                    raise QuestionXMLError(f"{cwhere}: element <IsNumeric> appears more than once")
                lo = _int_attr(c, "minValue", f"{cwhere} IsNumeric")
                hi = _int_attr(c, "maxValue", f"{cwhere} IsNumeric")
                if lo is not None and hi is not None and lo > hi:
                    raise QuestionXMLError(f"{cwhere}: IsNumeric minValue {lo} is greater than maxValue {hi}")
                out.update(is_numeric=True, min_value=lo, max_value=hi)
            elif local == "Length":
                if "min_length" in out:
                    raise QuestionXMLError(f"{cwhere}: element <Length> appears more than once")
                lo = _int_attr(c, "minLength", f"{cwhere} Length", lo=0)
                hi = _int_attr(c, "maxLength", f"{cwhere} Length", lo=0)
                if lo is not None and hi is not None and lo > hi:
                    raise QuestionXMLError(f"{cwhere}: Length minLength {lo} is greater than maxLength {hi}")
                out.update(min_length=lo, max_length=hi)
            elif local == "AnswerFormatRegex":
                if "regex" in out:  # hitkit keeps one regex per question
                    raise QuestionXMLError(f"{cwhere}: hitkit supports only one AnswerFormatRegex per question")
                pattern = c.get("regex")
                if pattern is None or pattern == "":
                    raise QuestionXMLError(f"{cwhere}: AnswerFormatRegex has no regex attribute")
                flags = c.get("flags")
                _compile_regex(pattern, flags, cwhere)
                out.update(regex=pattern, regex_error_text=c.get("errorText"), regex_flags=flags)
            else:
                raise QuestionXMLError(
                    f"{cwhere}: unexpected element <{local}> (allowed: IsNumeric, Length, AnswerFormatRegex)"
                )
    if "DefaultText" in parts:
        out["default_text"] = _leaf_text(parts["DefaultText"], where)
    if "NumberOfLinesSuggestion" in parts:
        out["lines"] = _parse_int(
            _leaf_text(parts["NumberOfLinesSuggestion"], where), where, "NumberOfLinesSuggestion", lo=1, hi=_MAX_INT
        )
    return out


def _compile_regex(pattern: str, flags: str | None, where: str) -> re.Pattern[str]:
    """Compile an AnswerFormatRegex with its JavaScript-style flags."""
    value = 0
    for letter in flags or "":
        if letter not in _REGEX_FLAGS:
            raise QuestionXMLError(f"{where}: AnswerFormatRegex flag {letter!r} is not supported (use i, m or s)")
        value |= _REGEX_FLAGS[letter]
    try:
        return re.compile(pattern, value)
    except (re.error, RecursionError, OverflowError) as exc:
        raise QuestionXMLError(
            f"{where}: AnswerFormatRegex regex {pattern!r} is not a valid regular expression ({exc})"
        ) from None


def _selection_text(el: Element, ns: str, where: str) -> tuple[str, str]:
    """Parse a Selection into (identifier, plain text)."""
    parts = _singles(_kids(el, ns, where), ("SelectionIdentifier", "Text", "FormattedContent", "Binary"), where)
    id_el = parts.get("SelectionIdentifier")
    if id_el is None:
        raise QuestionXMLError(f"{where} has no SelectionIdentifier")
    identifier = _leaf_text(id_el, where).strip()
    if not identifier:
        raise QuestionXMLError(f"{where} has an empty SelectionIdentifier")
    content = [name for name in ("Text", "FormattedContent", "Binary") if name in parts]
    if len(content) != 1:
        raise QuestionXMLError(
            f"{where} (identifier {identifier!r}) must have exactly one of Text, FormattedContent or Binary"
        )
    node = parts[content[0]]
    if content[0] == "Text":
        text = _all_text(node).strip()
    elif content[0] == "FormattedContent":
        text = html.unescape(_TAG_RE.sub("", _all_text(node))).strip()
    else:
        text = ""
        for child in node:
            if _split_tag(child.tag)[1] == "AltText":
                text = _all_text(child).strip()
    return identifier, text


def _parse_selection(el: Element, ns: str, qwhere: str) -> dict[str, object]:
    """Parse a SelectionAnswer into FormQuestion keyword arguments."""
    where = f"{qwhere} SelectionAnswer"
    parts = _singles(
        _kids(el, ns, where), ("MinSelectionCount", "MaxSelectionCount", "StyleSuggestion", "Selections"), where
    )
    lo = 1
    hi = 1
    if "MinSelectionCount" in parts:
        lo = _parse_int(_leaf_text(parts["MinSelectionCount"], where), where, "MinSelectionCount", lo=0, hi=_MAX_INT)
    if "MaxSelectionCount" in parts:
        hi = _parse_int(_leaf_text(parts["MaxSelectionCount"], where), where, "MaxSelectionCount", lo=1, hi=_MAX_INT)
    if lo > hi:
        raise QuestionXMLError(f"{where}: MinSelectionCount {lo} is greater than MaxSelectionCount {hi}")
    style = None
    if "StyleSuggestion" in parts:
        style = _leaf_text(parts["StyleSuggestion"], where).strip()
        if style not in STYLE_SUGGESTIONS:
            raise QuestionXMLError(
                f"{where}: StyleSuggestion {style!r} is not one of {', '.join(sorted(STYLE_SUGGESTIONS))}"
            )
    sel_el = parts.get("Selections")
    if sel_el is None:
        raise QuestionXMLError(f"{where} has no Selections")
    selections: list[Selection] = []
    seen: set[str] = set()
    allow_other = False
    for local, child in _kids(sel_el, ns, f"{where} Selections"):
        if local == "Selection":
            swhere = f"{where} Selection {len(selections) + 1}"
            identifier, text = _selection_text(child, ns, swhere)
            if identifier in seen:
                raise QuestionXMLError(f"{swhere}: SelectionIdentifier {identifier!r} is used more than once")
            seen.add(identifier)
            image = next(iter(_content_images(child)), None)
            selections.append(Selection(identifier=identifier, text=text, image=image))
        elif local == "OtherSelection":
            if allow_other:
                raise QuestionXMLError(f"{where}: element <OtherSelection> appears more than once")
            _parse_free_text(child, ns, f"{where} OtherSelection")
            allow_other = True
        else:
            raise QuestionXMLError(
                f"{where} Selections: unexpected element <{local}> (allowed: Selection, OtherSelection)"
            )
    if not selections:
        raise QuestionXMLError(f"{where}: Selections contains no Selection")
    return {
        "selections": tuple(selections),
        "min_selections": lo,
        "max_selections": hi,
        "style": style,
        "allow_other": allow_other,
    }


def _parse_file_upload(el: Element, ns: str, qwhere: str) -> dict[str, object]:
    """Parse a FileUploadAnswer (2005 schema only) into FormQuestion keyword arguments."""
    where = f"{qwhere} FileUploadAnswer"
    parts = _singles(_kids(el, ns, where), ("MaxFileSizeInBytes", "MinFileSizeInBytes"), where)
    out: dict[str, object] = {}
    if "MinFileSizeInBytes" in parts:
        out["min_file_size"] = _parse_int(
            _leaf_text(parts["MinFileSizeInBytes"], where), where, "MinFileSizeInBytes", lo=0, hi=_MAX_FILE_BYTES
        )
    if "MaxFileSizeInBytes" in parts:
        out["max_file_size"] = _parse_int(
            _leaf_text(parts["MaxFileSizeInBytes"], where), where, "MaxFileSizeInBytes", lo=0, hi=_MAX_FILE_BYTES
        )
    lo, hi = out.get("min_file_size"), out.get("max_file_size")
    if isinstance(lo, int) and isinstance(hi, int) and lo > hi:
        raise QuestionXMLError(f"{where}: MinFileSizeInBytes {lo} is greater than MaxFileSizeInBytes {hi}")
    return out


# --------------------------------------------------------------------------------------------
# Answers
# --------------------------------------------------------------------------------------------


def encode_form_answers(fields: list[tuple[str, str]]) -> str:
    """Encode an HTML/External form post as ASCII QuestionFormAnswers XML (repeated names joined with '|')."""
    grouped: dict[str, list[str]] = {}
    for name, value in fields:
        clean_name = _clean(str(name))
        if clean_name in RESERVED_FORM_FIELDS:
            continue
        grouped.setdefault(clean_name, []).append(_clean(str(value)))
    parts = [_answer(name, f"<FreeText>{_esc('|'.join(values))}</FreeText>") for name, values in grouped.items()]
    return _wrap_answers(parts)


def _single_text(question: FormQuestion, raw: object) -> str | None:
    """Normalise a FreeText/FileUpload answer value to one string (None when absent)."""
    if raw is None:
        return None
    if isinstance(raw, str):
        return _clean(raw)
    if isinstance(raw, (list, tuple)):
        if not raw:
            return None
        if len(raw) == 1 and isinstance(raw[0], str):
            return _clean(raw[0])
        raise QuestionXMLError(f"Question {question.identifier!r} takes a single text answer, got {len(raw)} values")
    raise QuestionXMLError(f"Question {question.identifier!r}: answer must be a string, got {type(raw).__name__}")


def _check_free_text(question: FormQuestion, value: str) -> None:
    """Validate a non-empty FreeText answer against the question's constraints."""
    qid = question.identifier
    if question.is_numeric:
        text = value.strip()
        if not _DECIMAL_RE.fullmatch(text):
            raise QuestionXMLError(f"Question {qid!r} must be a number, got {value!r}")
        number = Decimal(text)
        if question.min_value is not None and number < question.min_value:
            raise QuestionXMLError(f"Question {qid!r} must be at least {question.min_value}, got {text}")
        if question.max_value is not None and number > question.max_value:
            raise QuestionXMLError(f"Question {qid!r} must be at most {question.max_value}, got {text}")
    if question.min_length is not None and len(value) < question.min_length:
        raise QuestionXMLError(
            f"Question {qid!r} must be at least {question.min_length} characters long (got {len(value)})"
        )
    if question.max_length is not None and len(value) > question.max_length:
        raise QuestionXMLError(
            f"Question {qid!r} must be at most {question.max_length} characters long (got {len(value)})"
        )
    if question.regex is not None:
        pattern = _compile_regex(question.regex, question.regex_flags, f"Question {qid!r}")
        if pattern.search(value) is None:
            if question.regex_error_text:
                raise QuestionXMLError(f"Question {qid!r}: {question.regex_error_text}")
            raise QuestionXMLError(f"Question {qid!r} does not match the required format /{question.regex}/")


def _selection_values(question: FormQuestion, raw: object) -> list[str]:
    """Normalise a Selection answer to a de-duplicated list of non-empty strings."""
    if raw is None:
        return []
    items: list[object] = [raw] if isinstance(raw, str) else list(raw) if isinstance(raw, (list, tuple)) else [raw]
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise QuestionXMLError(
                f"Question {question.identifier!r}: selections must be strings, got {type(item).__name__}"
            )
        item = _clean(item)
        if item and item not in out:
            out.append(item)
    return out


def _encode_selection(question: FormQuestion, raw: object) -> str | None:
    """Validate and encode a Selection answer body (None when nothing was chosen)."""
    qid = question.identifier
    valid = {s.identifier for s in question.selections}
    chosen: list[str] = []
    other: list[str] = []
    for value in _selection_values(question, raw):
        if value in valid:
            chosen.append(value)
        elif question.allow_other:
            other.append(value)
        else:
            raise QuestionXMLError(f"Question {qid!r} has no selection {value!r}")
    if len(other) > 1:
        raise QuestionXMLError(f"Question {qid!r} accepts only one 'other' answer, got {len(other)}")
    count = len(chosen) + len(other)
    if count == 0:
        if question.is_required:
            raise QuestionXMLError(f"Question {qid!r} is required but no selection was made")
        return None
    if count < question.min_selections:
        raise QuestionXMLError(f"Question {qid!r} needs at least {question.min_selections} selections (got {count})")
    if count > question.max_selections:
        raise QuestionXMLError(f"Question {qid!r} allows at most {question.max_selections} selections (got {count})")
    body = "".join(f"<SelectionIdentifier>{_esc(v)}</SelectionIdentifier>" for v in chosen)
    body += "".join(f"<OtherSelectionText>{_esc(v)}</OtherSelectionText>" for v in other)
    return body


def encode_questionform_answers(doc: QuestionDoc, answers: dict[str, str | list[str]]) -> str:
    """Validate answers to a QuestionForm (HIT or qualification test) and encode them as QuestionFormAnswers XML."""
    if doc.kind != "QuestionForm":
        raise QuestionXMLError(f"Only QuestionForm answers can be encoded this way, not {doc.kind}")
    known = {q.identifier for q in doc.questions}
    for key in answers:
        if key not in known:
            raise QuestionXMLError(f"Answer for unknown question {key!r}")
    parts: list[str] = []
    for question in doc.questions:
        raw = answers.get(question.identifier)
        qid = question.identifier
        if question.answer_type == "Selection":
            body = _encode_selection(question, raw)
            if body is not None:
                parts.append(_answer(qid, body))
            continue
        value = _single_text(question, raw)
        if question.is_required and (value is None or not value.strip()):
            raise QuestionXMLError(f"Question {qid!r} is required but has no answer")
        if value is None:
            continue
        if question.answer_type == "FileUpload":
            if value:
                parts.append(_answer(qid, f"<UploadedFileKey>{_esc(value)}</UploadedFileKey>"))
            continue
        if value:
            _check_free_text(question, value)
        parts.append(_answer(qid, f"<FreeText>{_esc(value)}</FreeText>"))
    return _wrap_answers(parts)


def _merge(old: str | list[str], new: str | list[str]) -> str | list[str]:
    """Combine two answers to the same QuestionIdentifier ('|' for text, concatenation for lists)."""
    if isinstance(old, str) and isinstance(new, str):
        return f"{old}|{new}"
    left = old if isinstance(old, list) else ([old] if old else [])
    right = new if isinstance(new, list) else ([new] if new else [])
    return left + right


def parse_answers(xml: str) -> dict[str, str | list[str]]:
    """Parse QuestionFormAnswers XML into {QuestionIdentifier: text or list of selections}."""
    if isinstance(xml, str) and _ONLY_DECL_RE.fullmatch(xml):
        return {}
    root = _parse_xml(xml, "QuestionFormAnswers XML", None)
    ns, local = _split_tag(root.tag)
    if local != "QuestionFormAnswers" or ns not in ("", NS_ANSWERS):
        raise QuestionXMLError(f"QuestionFormAnswers XML root element is <{local}>; expected QuestionFormAnswers")
    result: dict[str, str | list[str]] = {}
    number = 0
    for child in root:
        if _split_tag(child.tag)[1] != "Answer":
            continue
        number += 1
        identifier: str | None = None
        free_text: str | None = None
        file_key: str | None = None
        selections: list[str] = []
        has_selection = False
        for part in child:
            name = _split_tag(part.tag)[1]
            if name == "QuestionIdentifier":
                identifier = _all_text(part)
            elif name == "FreeText":
                free_text = _all_text(part) if free_text is None else f"{free_text}|{_all_text(part)}"
            elif name in ("SelectionIdentifier", "OtherSelectionText"):
                has_selection = True
                selections.append(_all_text(part))
            elif name == "UploadedFileKey":
                file_key = _all_text(part)
        if identifier is None:
            raise QuestionXMLError(f"QuestionFormAnswers: Answer {number} has no QuestionIdentifier")
        value: str | list[str]
        if has_selection:
            value = selections
        elif free_text is not None:
            value = free_text
        elif file_key is not None:
            value = file_key
        else:
            value = ""
        result[identifier] = _merge(result[identifier], value) if identifier in result else value
    return result


# --------------------------------------------------------------------------------------------
# AnswerKey
# --------------------------------------------------------------------------------------------


def parse_answer_key(xml: str, test: QuestionDoc | None = None) -> AnswerKey:
    """Parse and validate an AnswerKey, optionally checking it against the qualification Test it grades."""
    root = _parse_xml(xml, "AnswerKey XML", MAX_QUESTION_BYTES)
    ns, local = _split_tag(root.tag)
    if local != "AnswerKey" or ns != NS_ANSWER_KEY:
        shown = f"<{local}> in namespace {ns!r}" if ns else f"<{local}> without a namespace"
        raise QuestionXMLError(f"AnswerKey XML root element is {shown}; expected AnswerKey in {NS_ANSWER_KEY}")
    questions: list[KeyQuestion] = []
    seen: set[str] = set()
    mapping: PercentageMapping | ScaleMapping | RangeMapping | None = None
    have_mapping = False
    for name, child in _kids(root, ns, "AnswerKey"):
        if name == "Question":
            question = _parse_key_question(child, ns, len(questions) + 1)
            if question.identifier in seen:
                raise QuestionXMLError(f"AnswerKey: QuestionIdentifier {question.identifier!r} is keyed more than once")
            seen.add(question.identifier)
            questions.append(question)
        elif name == "QualificationValueMapping":
            if have_mapping:
                raise QuestionXMLError("AnswerKey: element <QualificationValueMapping> appears more than once")
            mapping = _parse_mapping(child, ns)
            have_mapping = True
        else:
            raise QuestionXMLError(
                f"AnswerKey: unexpected element <{name}> (allowed: Question, QualificationValueMapping)"
            )
    if not questions:
        raise QuestionXMLError("AnswerKey: contains no Question element")
    if test is not None:
        _check_key_against_test(questions, test)
    return AnswerKey(questions=tuple(questions), mapping=mapping)


def _parse_key_question(el: Element, ns: str, number: int) -> KeyQuestion:
    """Parse one AnswerKey Question."""
    where = f"AnswerKey: Question {number}"
    kids = _kids(el, ns, where)
    identifier: str | None = None
    default: int | None = None
    options: list[AnswerOption] = []
    for name, child in kids:
        if name == "QuestionIdentifier":
            if identifier is not None:
                raise QuestionXMLError(f"{where}: element <QuestionIdentifier> appears more than once")
            identifier = _leaf_text(child, where).strip()
            if not identifier:
                raise QuestionXMLError(f"{where} has an empty QuestionIdentifier")
            where = f"AnswerKey: Question {number} (identifier {identifier!r})"
        elif name == "DefaultScore":
            if default is not None:
                raise QuestionXMLError(f"{where}: element <DefaultScore> appears more than once")
            default = _parse_int(_leaf_text(child, where), where, "DefaultScore", lo=-_MAX_INT - 1, hi=_MAX_INT)
        elif name == "AnswerOption":
            option = _parse_option(child, ns, f"{where} AnswerOption {len(options) + 1}")
            if any(o.selection_ids == option.selection_ids for o in options):
                raise QuestionXMLError(
                    f"{where}: AnswerOption {len(options) + 1} repeats the selection set of an earlier AnswerOption"
                )
            options.append(option)
        else:
            raise QuestionXMLError(
                f"{where}: unexpected element <{name}> (allowed: QuestionIdentifier, AnswerOption, DefaultScore)"
            )
    if identifier is None:
        raise QuestionXMLError(f"{where} has no QuestionIdentifier")
    return KeyQuestion(identifier=identifier, options=tuple(options), default_score=0 if default is None else default)


def _parse_option(el: Element, ns: str, where: str) -> AnswerOption:
    """Parse one AnswerOption (one or more SelectionIdentifiers and an AnswerScore)."""
    ids: set[str] = set()
    score: int | None = None
    for name, child in _kids(el, ns, where):
        if name == "SelectionIdentifier":
            sid = _leaf_text(child, where).strip()
            if not sid:
                raise QuestionXMLError(f"{where} has an empty SelectionIdentifier")
            ids.add(sid)
        elif name == "AnswerScore":
            if score is not None:
                raise QuestionXMLError(f"{where}: element <AnswerScore> appears more than once")
            score = _parse_int(_leaf_text(child, where), where, "AnswerScore", lo=-_MAX_INT - 1, hi=_MAX_INT)
        else:
            raise QuestionXMLError(f"{where}: unexpected element <{name}> (allowed: SelectionIdentifier, AnswerScore)")
    if not ids:
        raise QuestionXMLError(f"{where} has no SelectionIdentifier")
    if score is None:
        raise QuestionXMLError(f"{where} has no AnswerScore")
    return AnswerOption(selection_ids=frozenset(ids), score=score)


def _parse_mapping(el: Element, ns: str) -> PercentageMapping | ScaleMapping | RangeMapping:
    """Parse a QualificationValueMapping (exactly one of Percentage/Scale/Range mapping)."""
    where = "AnswerKey: QualificationValueMapping"
    kids = _kids(el, ns, where)
    if len(kids) != 1:
        raise QuestionXMLError(f"{where} must contain exactly one of PercentageMapping, ScaleMapping or RangeMapping")
    name, child = kids[0]
    if name not in ("PercentageMapping", "ScaleMapping", "RangeMapping"):
        raise QuestionXMLError(
            f"{where}: unexpected element <{name}> (allowed: PercentageMapping, ScaleMapping, RangeMapping)"
        )
    where = f"{where} {name}"
    if name == "PercentageMapping":
        parts = _singles(_kids(child, ns, where), ("MaximumSummedScore",), where)
        if "MaximumSummedScore" not in parts:
            raise QuestionXMLError(f"{where} has no MaximumSummedScore")
        top = _parse_int(_leaf_text(parts["MaximumSummedScore"], where), where, "MaximumSummedScore", lo=1, hi=_MAX_INT)
        return PercentageMapping(max_summed_score=top)
    if name == "ScaleMapping":
        parts = _singles(_kids(child, ns, where), ("SummedScoreMultiplier",), where)
        if "SummedScoreMultiplier" not in parts:
            raise QuestionXMLError(f"{where} has no SummedScoreMultiplier")
        raw = _leaf_text(parts["SummedScoreMultiplier"], where).strip()
        if not _DECIMAL_RE.fullmatch(raw) or len(raw) > 64:
            raise QuestionXMLError(f"{where}: SummedScoreMultiplier must be a decimal number, got {raw!r}")
        return ScaleMapping(multiplier=Decimal(raw))
    return _parse_range_mapping(child, ns, where)


def _parse_range_mapping(el: Element, ns: str, where: str) -> RangeMapping:
    """Parse a RangeMapping: SummedScoreRange+ and OutOfRangeQualificationValue."""
    ranges: list[tuple[int, int, int]] = []
    out_of_range: int | None = None
    for name, child in _kids(el, ns, where):
        if name == "SummedScoreRange":
            rwhere = f"{where} SummedScoreRange {len(ranges) + 1}"
            parts = _singles(
                _kids(child, ns, rwhere), ("InclusiveLowerBound", "InclusiveUpperBound", "QualificationValue"), rwhere
            )
            values = []
            for field in ("InclusiveLowerBound", "InclusiveUpperBound", "QualificationValue"):
                if field not in parts:
                    raise QuestionXMLError(f"{rwhere} has no {field}")
                text = _leaf_text(parts[field], rwhere)
                values.append(_parse_int(text, rwhere, field, lo=-_MAX_INT - 1, hi=_MAX_INT))
            lo, hi, value = values
            if lo > hi:
                raise QuestionXMLError(f"{rwhere}: InclusiveLowerBound {lo} is greater than InclusiveUpperBound {hi}")
            ranges.append((lo, hi, value))
        elif name == "OutOfRangeQualificationValue":
            if out_of_range is not None:
                raise QuestionXMLError(f"{where}: element <OutOfRangeQualificationValue> appears more than once")
            out_of_range = _parse_int(
                _leaf_text(child, where), where, "OutOfRangeQualificationValue", lo=-_MAX_INT - 1, hi=_MAX_INT
            )
        else:
            raise QuestionXMLError(
                f"{where}: unexpected element <{name}> (allowed: SummedScoreRange, OutOfRangeQualificationValue)"
            )
    if not ranges:
        raise QuestionXMLError(f"{where} has no SummedScoreRange")
    if out_of_range is None:
        raise QuestionXMLError(f"{where} has no OutOfRangeQualificationValue")
    return RangeMapping(ranges=tuple(ranges), out_of_range_value=out_of_range)


def _check_key_against_test(questions: list[KeyQuestion], test: QuestionDoc) -> None:
    """Every keyed question must be a Selection question of the test, keyed with its own selection ids."""
    by_id = {q.identifier: q for q in test.questions}
    for kq in questions:
        tq = by_id.get(kq.identifier)
        if tq is None:
            raise QuestionXMLError(f"AnswerKey: QuestionIdentifier {kq.identifier!r} does not exist in the Test")
        if tq.answer_type != "Selection":
            raise QuestionXMLError(
                f"AnswerKey: Question {kq.identifier!r} is a {tq.answer_type} question in the Test; "
                "only Selection questions can be scored"
            )
        valid = {s.identifier for s in tq.selections}
        for option in kq.options:
            unknown = sorted(option.selection_ids - valid)
            if unknown:
                raise QuestionXMLError(
                    f"AnswerKey: Question {kq.identifier!r} keys SelectionIdentifier {unknown[0]!r}, "
                    "which is not a selection of that question in the Test"
                )


def _round_half_up(value: Fraction) -> int:
    """Round to the nearest integer, halves away from zero."""
    sign = -1 if value < 0 else 1
    magnitude = abs(value)
    return sign * int(magnitude + Fraction(1, 2))


def _selected_set(raw: object) -> frozenset[str]:
    """The set of identifiers a worker selected, from a parse_answers value."""
    if raw is None:
        return frozenset()
    if isinstance(raw, str):
        return frozenset([raw]) if raw else frozenset()
    return frozenset(str(item) for item in raw)  # type: ignore[union-attr]


def grade(key: AnswerKey, answers: dict[str, str | list[str]]) -> int:
    """Score answers with an AnswerKey (exact selection-set match, summed, then mapped) to a qualification value."""
    total = 0
    for question in key.questions:
        chosen = _selected_set(answers.get(question.identifier))
        score = question.default_score
        for option in question.options:
            if option.selection_ids == chosen:
                score = option.score
                break
        total += score
    mapping = key.mapping
    if isinstance(mapping, PercentageMapping):
        return _round_half_up(Fraction(total * 100, mapping.max_summed_score))
    if isinstance(mapping, ScaleMapping):
        return _round_half_up(Fraction(total) * Fraction(mapping.multiplier))
    if isinstance(mapping, RangeMapping):
        for lo, hi, value in mapping.ranges:
            if lo <= total <= hi:
                return value
        return mapping.out_of_range_value
    return total


# Workers read and submit the same question many times: parse each distinct document once. QuestionDoc is frozen,
# so sharing it is safe; documents that fail to parse raise every time (lru_cache keeps no exceptions).
parse_question_cached = lru_cache(maxsize=256)(parse_question)
