"""Example and property tests for hitkit.mturk.xml (question parsing, answer encoding, AnswerKey grading)."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hitkit.mturk.xml import (
    Image,
    MAX_QUESTION_BYTES,
    NS_ANSWER_KEY,
    NS_ANSWERS,
    NS_EXTERNAL,
    NS_HTML,
    NS_QUESTIONFORM_2005,
    NS_QUESTIONFORM_2017,
    AnswerKey,
    AnswerOption,
    FormQuestion,
    KeyQuestion,
    PercentageMapping,
    QuestionDoc,
    QuestionXMLError,
    RangeMapping,
    ScaleMapping,
    Selection,
    encode_form_answers,
    encode_questionform_answers,
    grade,
    parse_answer_key,
    parse_answers,
    parse_question,
    parse_test,
)

FAST = settings(max_examples=200, deadline=None)
RESERVED = {"assignmentId", "hitId", "workerId", "turkSubmitTo"}
_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

# Any code point at all, including control characters and lone surrogates.
any_text = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()), max_size=40)

HTML_DOC = "<!DOCTYPE html><html><head></head><body><form><input name='x'/></form></body></html>"


def html_question(content: str = HTML_DOC, height: str = "450", ns: str = NS_HTML, extra: str = "") -> str:
    """An HTMLQuestion document."""
    return (
        f'<HTMLQuestion xmlns="{ns}"><HTMLContent><![CDATA[{content}]]></HTMLContent>'
        f"<FrameHeight>{height}</FrameHeight>{extra}</HTMLQuestion>"
    )


def external_question(url: str, height: str = "0", ns: str = NS_EXTERNAL) -> str:
    """An ExternalQuestion document."""
    return (
        f'<ExternalQuestion xmlns="{ns}"><ExternalURL>{url}</ExternalURL>'
        f"<FrameHeight>{height}</FrameHeight></ExternalQuestion>"
    )


def form(*questions: str, ns: str = NS_QUESTIONFORM_2017, overview: str = "") -> str:
    """A QuestionForm document from Question element strings."""
    return f'<QuestionForm xmlns="{ns}">{overview}{"".join(questions)}</QuestionForm>'


def free_text_q(qid: str, constraints: str = "", required: bool = False, extra: str = "") -> str:
    """A FreeTextAnswer Question element."""
    cons = f"<Constraints>{constraints}</Constraints>" if constraints else ""
    return (
        f"<Question><QuestionIdentifier>{qid}</QuestionIdentifier>"
        f"<IsRequired>{'true' if required else 'false'}</IsRequired>"
        f"<QuestionContent><Text>Tell us about {qid}</Text></QuestionContent>"
        f"<AnswerSpecification><FreeTextAnswer>{cons}{extra}</FreeTextAnswer></AnswerSpecification></Question>"
    )


def selection_q(
    qid: str,
    ids: tuple[str, ...] = ("a", "b", "c"),
    lo: int | None = None,
    hi: int | None = None,
    style: str = "radiobutton",
    other: bool = False,
    required: bool = False,
) -> str:
    """A SelectionAnswer Question element."""
    counts = ""
    if lo is not None:
        counts += f"<MinSelectionCount>{lo}</MinSelectionCount>"
    if hi is not None:
        counts += f"<MaxSelectionCount>{hi}</MaxSelectionCount>"
    sels = "".join(
        f"<Selection><SelectionIdentifier>{s}</SelectionIdentifier><Text>Option {s}</Text></Selection>" for s in ids
    )
    if other:
        sels += "<OtherSelection/>"
    return (
        f"<Question><QuestionIdentifier>{qid}</QuestionIdentifier><DisplayName>Pick {qid}</DisplayName>"
        f"<IsRequired>{'true' if required else 'false'}</IsRequired>"
        f"<QuestionContent><Title>Choose</Title><Text>Which {qid}?</Text></QuestionContent>"
        f"<AnswerSpecification><SelectionAnswer>{counts}<StyleSuggestion>{style}</StyleSuggestion>"
        f"<Selections>{sels}</Selections></SelectionAnswer></AnswerSpecification></Question>"
    )


def upload_q(qid: str) -> str:
    """A FileUploadAnswer Question element (2005 schema only)."""
    return (
        f"<Question><QuestionIdentifier>{qid}</QuestionIdentifier><QuestionContent><Text>Upload</Text></QuestionContent>"
        "<AnswerSpecification><FileUploadAnswer><MaxFileSizeInBytes>1000</MaxFileSizeInBytes>"
        "<MinFileSizeInBytes>10</MinFileSizeInBytes></FileUploadAnswer></AnswerSpecification></Question>"
    )


def error_of(func, *args) -> str:  # type: ignore[no-untyped-def]
    """Call func and return the QuestionXMLError message it raises."""
    with pytest.raises(QuestionXMLError) as info:
        func(*args)
    assert isinstance(info.value, ValueError)
    assert info.value.message == str(info.value)
    return info.value.message


# ----------------------------------------------------------------------------------------------
# Constants
# ----------------------------------------------------------------------------------------------


def test_namespace_constants_are_full_urls() -> None:
    base = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas"
    assert NS_HTML == f"{base}/2011-11-11/HTMLQuestion.xsd"
    assert NS_EXTERNAL == f"{base}/2006-07-14/ExternalQuestion.xsd"
    assert NS_QUESTIONFORM_2005 == f"{base}/2005-10-01/QuestionForm.xsd"
    assert NS_QUESTIONFORM_2017 == f"{base}/2017-11-06/QuestionForm.xsd"
    assert NS_ANSWERS == f"{base}/2005-10-01/QuestionFormAnswers.xsd"
    assert NS_ANSWER_KEY == f"{base}/2005-10-01/AnswerKey.xsd"
    assert MAX_QUESTION_BYTES == 65535


# ----------------------------------------------------------------------------------------------
# HTMLQuestion
# ----------------------------------------------------------------------------------------------


def test_html_question_valid() -> None:
    doc = parse_question(html_question())
    assert doc == QuestionDoc(kind="HTMLQuestion", frame_height=450, html_content=HTML_DOC)


def test_html_question_with_declaration_leading_whitespace_and_zero_height() -> None:
    xml = '\n  <?xml version="1.0" encoding="UTF-8"?>\n' + html_question(height=" 0 ")
    doc = parse_question(xml)
    assert doc.frame_height == 0
    assert doc.kind == "HTMLQuestion"


def test_html_question_escaped_content_is_accepted() -> None:
    xml = (
        f'<HTMLQuestion xmlns="{NS_HTML}"><HTMLContent>&lt;p&gt;hi &amp; bye&lt;/p&gt;</HTMLContent>'
        "<FrameHeight>1</FrameHeight></HTMLQuestion>"
    )
    assert parse_question(xml).html_content == "<p>hi & bye</p>"


@pytest.mark.parametrize(
    ("xml", "fragment"),
    [
        (f'<HTMLQuestion xmlns="{NS_HTML}"><FrameHeight>1</FrameHeight></HTMLQuestion>', "missing HTMLContent"),
        (html_question(content="   "), "HTMLContent is empty"),
        (f'<HTMLQuestion xmlns="{NS_HTML}"><HTMLContent><![CDATA[x]]></HTMLContent></HTMLQuestion>', "missing FrameHeight"),
        (html_question(height="-1"), "FrameHeight must be at least 0"),
        (html_question(height="tall"), "FrameHeight must be an integer"),
        (html_question(height="1.5"), "FrameHeight must be an integer"),
        (html_question(extra="<Bogus/>"), "unexpected element <Bogus>"),
        (html_question(extra="<FrameHeight>3</FrameHeight>"), "<FrameHeight> appears more than once"),
        (
            f'<HTMLQuestion xmlns="{NS_HTML}"><HTMLContent><p>x</p></HTMLContent><FrameHeight>1</FrameHeight></HTMLQuestion>',
            "CDATA",
        ),
    ],
)
def test_html_question_invalid(xml: str, fragment: str) -> None:
    message = error_of(parse_question, xml)
    assert fragment in message
    assert message.startswith("HTMLQuestion")


@pytest.mark.parametrize(
    "xml",
    [
        html_question(ns=NS_EXTERNAL),
        html_question(ns=NS_HTML.replace("2011-11-11", "2011-11-12")),
        html_question().replace(f' xmlns="{NS_HTML}"', ""),
        external_question("https://example.org", ns=NS_HTML),
        form(free_text_q("q"), ns=NS_ANSWERS),
        f'<Question xmlns="{NS_HTML}"/>',
    ],
)
def test_wrong_root_or_namespace_refused(xml: str) -> None:
    assert "root element" in error_of(parse_question, xml)


def test_children_in_foreign_namespace_refused() -> None:
    xml = (
        f'<HTMLQuestion xmlns="{NS_HTML}"><HTMLContent xmlns="urn:other"><![CDATA[x]]></HTMLContent>'
        "<FrameHeight>1</FrameHeight></HTMLQuestion>"
    )
    assert "not in the document namespace" in error_of(parse_question, xml)


# ----------------------------------------------------------------------------------------------
# ExternalQuestion
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://tasks.example.org/label?item=17&amp;x=1",
        "HTTPS://EXAMPLE.ORG/",
        "http://127.0.0.1:8000/task",
        "http://localhost/task",
        "http://localhost:5000",
        "http://[::1]:9000/x?y=1",
    ],
)
def test_external_question_valid(url: str) -> None:
    doc = parse_question(external_question(f"  {url}\n", height="600"))
    assert doc.kind == "ExternalQuestion"
    assert doc.frame_height == 600
    assert doc.external_url == url.replace("&amp;", "&")
    assert doc.html_content is None and doc.questions == ()


@pytest.mark.parametrize(
    "url",
    [
        "http://example.org/task",
        "http://localhost.evil.example/task",
        "http://127.0.0.1.nip.io/",
        "http://127.0.0.1@evil.example/",
        "http://10.0.0.1/",
        "ftp://example.org/file",
        "javascript:alert(1)",
        "example.org/task",
        "https://",
        "https://exa mple.org/",
        "https://example.org:notaport/",
        "",
    ],
)
def test_external_question_bad_url_refused(url: str) -> None:
    message = error_of(parse_question, external_question(url))
    assert message.startswith("ExternalQuestion")
    assert "ExternalURL" in message


def test_external_question_missing_parts() -> None:
    no_url = f'<ExternalQuestion xmlns="{NS_EXTERNAL}"><FrameHeight>0</FrameHeight></ExternalQuestion>'
    assert "missing ExternalURL" in error_of(parse_question, no_url)
    no_height = f'<ExternalQuestion xmlns="{NS_EXTERNAL}"><ExternalURL>https://a.example</ExternalURL></ExternalQuestion>'
    assert "missing FrameHeight" in error_of(parse_question, no_height)
    assert "FrameHeight must be at least 0" in error_of(parse_question, external_question("https://a.example", "-5"))


# ----------------------------------------------------------------------------------------------
# QuestionForm
# ----------------------------------------------------------------------------------------------

FULL_FORM_2005 = form(
    free_text_q(
        "age",
        constraints='<IsNumeric minValue="18" maxValue="99"/><Length minLength="1" maxLength="3"/>',
        required=True,
        extra="<DefaultText>30</DefaultText><NumberOfLinesSuggestion>1</NumberOfLinesSuggestion>",
    ),
    selection_q("colour", ids=("red", "green", "blue"), lo=1, hi=2, style="checkbox", other=True),
    free_text_q("code", constraints='<AnswerFormatRegex regex="^[a-z]+$" errorText="Lowercase only." flags="i"/>'),
    upload_q("photo"),
    ns=NS_QUESTIONFORM_2005,
    overview="<Overview><Title>Survey</Title><Text>Please answer &amp; be honest.</Text>"
    "<List><ListItem>one</ListItem><ListItem>two</ListItem></List>"
    "<FormattedContent><![CDATA[<p>Be <b>nice</b> &amp; kind</p>]]></FormattedContent></Overview>",
)


def test_question_form_full_parse() -> None:
    doc = parse_question(FULL_FORM_2005)
    assert doc.kind == "QuestionForm"
    assert doc.frame_height is None
    assert doc.overview_text == "Survey\nPlease answer & be honest.\none\ntwo\nBe nice & kind"
    age, colour, code, photo = doc.questions
    assert age == FormQuestion(
        identifier="age",
        display_name=None,
        is_required=True,
        content_text="Tell us about age",
        answer_type="FreeText",
        is_numeric=True,
        min_value=18,
        max_value=99,
        min_length=1,
        max_length=3,
        default_text="30",
        lines=1,
    )
    assert colour.answer_type == "Selection"
    assert colour.display_name == "Pick colour"
    assert colour.content_text == "Choose\nWhich colour?"
    assert colour.selections == (
        Selection("red", "Option red"),
        Selection("green", "Option green"),
        Selection("blue", "Option blue"),
    )
    assert (colour.min_selections, colour.max_selections, colour.style, colour.allow_other) == (1, 2, "checkbox", True)
    assert (code.regex, code.regex_error_text, code.regex_flags) == ("^[a-z]+$", "Lowercase only.", "i")
    assert photo.answer_type == "FileUpload"
    assert (photo.min_file_size, photo.max_file_size) == (10, 1000)


def test_question_form_defaults_and_selection_content_kinds() -> None:
    q = (
        "<Question><QuestionIdentifier> q1 </QuestionIdentifier><QuestionContent><Text>x</Text></QuestionContent>"
        "<AnswerSpecification><SelectionAnswer><Selections>"
        "<Selection><SelectionIdentifier>a</SelectionIdentifier><FormattedContent><![CDATA[<i>A</i> &lt;]]></FormattedContent></Selection>"
        "<Selection><SelectionIdentifier>b</SelectionIdentifier><Binary><MimeType><Type>image</Type></MimeType>"
        "<DataURL>https://x.example/b.png</DataURL><AltText>Bee</AltText></Binary></Selection>"
        "</Selections></SelectionAnswer></AnswerSpecification></Question>"
    )
    doc = parse_question(form(q))
    (question,) = doc.questions
    assert question.identifier == "q1"
    assert question.is_required is False
    assert (question.min_selections, question.max_selections, question.style) == (1, 1, None)
    assert question.selections == (Selection("a", "A <"), Selection("b", "Bee", Image("https://x.example/b.png", "Bee")))


def test_question_form_images_by_url_and_unsafe_urls_dropped() -> None:
    binary = "<Binary><MimeType><Type>{kind}</Type></MimeType><DataURL>{url}</DataURL><AltText>{alt}</AltText></Binary>"
    overview = "<Overview><Text>Look</Text>" + "".join(binary.format(kind=k, url=u, alt=a) for k, u, a in (
        ("image", "https://x.example/a.png", "A bird"),
        ("image", "javascript:alert(1)", "script"),
        ("video", "https://x.example/v.mp4", "video"),
        ("image", "data:image/png;base64,iVBORw0KGgo=", "inline"),
    )) + "</Overview>"
    q = ("<Question><QuestionIdentifier>q</QuestionIdentifier><QuestionContent><Text>Which?</Text>"
         + binary.format(kind="image", url="http://x.example/q.jpg", alt="Q") + "</QuestionContent>"
         "<AnswerSpecification><FreeTextAnswer/></AnswerSpecification></Question>")
    doc = parse_question(form(overview + q))
    assert doc.overview_images == (Image("https://x.example/a.png", "A bird"), Image("data:image/png;base64,iVBORw0KGgo=", "inline"))
    assert doc.questions[0].images == (Image("http://x.example/q.jpg", "Q"),)


def test_question_form_missing_answer_specification_message() -> None:
    q3 = "<Question><QuestionIdentifier>q3</QuestionIdentifier><QuestionContent><Text>t</Text></QuestionContent></Question>"
    xml = form(free_text_q("q1"), free_text_q("q2"), q3)
    assert error_of(parse_question, xml) == "QuestionForm: Question 3 (identifier 'q3') has no AnswerSpecification"


def test_file_upload_only_in_2005_namespace() -> None:
    assert parse_question(form(upload_q("f"), ns=NS_QUESTIONFORM_2005)).questions[0].answer_type == "FileUpload"
    message = error_of(parse_question, form(upload_q("f"), ns=NS_QUESTIONFORM_2017))
    assert "FileUploadAnswer" in message and "2017-11-06" in message and "'f'" in message


def test_application_content_only_in_2005_namespace() -> None:
    overview = "<Overview><Application><JavaApplet/></Application></Overview>"
    assert parse_question(form(free_text_q("q"), ns=NS_QUESTIONFORM_2005, overview=overview)).kind == "QuestionForm"
    assert "Application" in error_of(parse_question, form(free_text_q("q"), overview=overview))


@pytest.mark.parametrize(
    ("xml", "fragment"),
    [
        (form(overview="<Overview><Text>only</Text></Overview>"), "contains no Question"),
        (form(free_text_q("dup"), free_text_q("x"), free_text_q("dup")), "Question 3 (identifier 'dup') reuses"),
        (form("<Question><AnswerSpecification><FreeTextAnswer/></AnswerSpecification></Question>"), "Question 1 has no QuestionIdentifier"),
        (form(free_text_q(" ")), "empty QuestionIdentifier"),
        (form("<Bogus/>"), "unexpected element <Bogus>"),
        (form(free_text_q("q").replace("<IsRequired>false", "<IsRequired>maybe")), "IsRequired must be 'true' or 'false'"),
        (
            form("<Question><QuestionIdentifier>e</QuestionIdentifier><AnswerSpecification/></Question>"),
            "Question 1 (identifier 'e') has an empty AnswerSpecification",
        ),
        (
            form(
                "<Question><QuestionIdentifier>e</QuestionIdentifier><AnswerSpecification><FreeTextAnswer/>"
                "<FreeTextAnswer/></AnswerSpecification></Question>"
            ),
            "exactly one answer type",
        ),
        (form(selection_q("s", style="slider")), "StyleSuggestion 'slider'"),
        (form(selection_q("s", lo=3, hi=2)), "MinSelectionCount 3 is greater than MaxSelectionCount 2"),
        (form(selection_q("s", hi=0)), "MaxSelectionCount must be at least 1"),
        (form(selection_q("s", ids=("a", "a"))), "'a' is used more than once"),
        (form(selection_q("s", ids=())), "contains no Selection"),
        (form(free_text_q("r", constraints='<AnswerFormatRegex regex="(unclosed"/>')), "not a valid regular expression"),
        (form(free_text_q("r", constraints='<AnswerFormatRegex regex="a" flags="q"/>')), "flag 'q'"),
        (form(free_text_q("r", constraints="<AnswerFormatRegex/>")), "no regex attribute"),
        (form(free_text_q("n", constraints='<IsNumeric minValue="5" maxValue="1"/>')), "minValue 5 is greater than maxValue 1"),
        (form(free_text_q("n", constraints='<IsNumeric minValue="x"/>')), "minValue must be an integer"),
        (form(free_text_q("l", constraints='<Length minLength="-1"/>')), "minLength must be at least 0"),
        (form(free_text_q("l", constraints="<Bogus/>")), "unexpected element <Bogus>"),
        (form(free_text_q("l", extra="<NumberOfLinesSuggestion>0</NumberOfLinesSuggestion>")), "NumberOfLinesSuggestion"),
    ],
)
def test_question_form_invalid(xml: str, fragment: str) -> None:
    message = error_of(parse_question, xml)
    assert fragment in message
    assert message.startswith("QuestionForm")


def test_parse_test_requires_question_form() -> None:
    assert parse_test(form(selection_q("q"))).kind == "QuestionForm"
    assert "must be a QuestionForm" in error_of(parse_test, html_question())
    assert "must be a QuestionForm" in error_of(parse_test, external_question("https://a.example"))
    assert "not well-formed" in error_of(parse_test, "<QuestionForm")


# ----------------------------------------------------------------------------------------------
# Size, well-formedness and hostile XML
# ----------------------------------------------------------------------------------------------


def _padded(total_bytes: int) -> str:
    """An HTMLQuestion of exactly total_bytes UTF-8 bytes (padding with a 2-byte character)."""
    base = html_question(content="X")
    missing = total_bytes - len(base.encode("utf-8"))
    padding = "é" * (missing // 2) + "y" * (missing % 2)
    xml = html_question(content="X" + padding)
    assert len(xml.encode("utf-8")) == total_bytes
    return xml


def test_size_limit_in_utf8_bytes() -> None:
    assert parse_question(_padded(MAX_QUESTION_BYTES)).kind == "HTMLQuestion"
    message = error_of(parse_question, _padded(MAX_QUESTION_BYTES + 1))
    assert "65536 bytes" in message and "65535" in message
    # 40,000 characters but > 65,535 bytes
    assert "bytes" in error_of(parse_question, html_question(content="é" * 40000))


@pytest.mark.parametrize(
    "xml",
    [
        "",
        "   ",
        "not xml at all",
        "<HTMLQuestion",
        f'<HTMLQuestion xmlns="{NS_HTML}"><HTMLContent>x</FrameHeight></HTMLQuestion>',
        f'<HTMLQuestion xmlns="{NS_HTML}"><HTMLContent>&nbsp;</HTMLContent><FrameHeight>1</FrameHeight></HTMLQuestion>',
        html_question() + "<extra/>",
        "<a>\x00</a>",
    ],
)
def test_malformed_xml_refused(xml: str) -> None:
    assert "not well-formed" in error_of(parse_question, xml)


@pytest.mark.parametrize("bad", [None, 42, b"<HTMLQuestion/>", "<a>\ud800</a>"])
def test_non_string_or_unencodable_input_refused(bad: object) -> None:
    error_of(parse_question, bad)
    error_of(parse_answers, bad)
    error_of(parse_answer_key, bad)


XXE = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    + "]>"
)
HOSTILE_PREFIXES = [
    XXE,
    BILLION_LAUGHS,
    '<!DOCTYPE x SYSTEM "http://attacker.example/evil.dtd">',
    '<!DOCTYPE x [<!ENTITY % p SYSTEM "http://attacker.example/p.dtd"> %p;]>',
    "<!DOCTYPE x>",
]


@pytest.mark.parametrize("prefix", HOSTILE_PREFIXES)
def test_dtd_entities_and_xxe_refused_everywhere(prefix: str) -> None:
    entity = "&e;" if prefix is XXE else "&lol9;" if prefix is BILLION_LAUGHS else "x"
    docs = [
        (parse_question, prefix + html_question(content="]]>" + entity + "<![CDATA[")),
        (parse_test, prefix + form(free_text_q("q")).replace("Tell us", entity)),
        (
            parse_answers,
            prefix + f'<QuestionFormAnswers xmlns="{NS_ANSWERS}"><Answer><QuestionIdentifier>q</QuestionIdentifier>'
            f"<FreeText>{entity}</FreeText></Answer></QuestionFormAnswers>",
        ),
        (parse_answer_key, prefix + KEY_PERCENT.replace("<DefaultScore>0", f"<DefaultScore>{entity}0")),
    ]
    for func, xml in docs:
        assert "not allowed" in error_of(func, xml)


def test_xxe_exact_payload_from_brief() -> None:
    xml = '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'
    for func in (parse_question, parse_test, parse_answers, parse_answer_key):
        assert "not allowed" in error_of(func, xml)


def test_deeply_nested_content_does_not_crash() -> None:
    depth = 3000
    overview = "<Overview>" + "<List>" * depth + "<ListItem>deep</ListItem>" + "</List>" * depth + "</Overview>"
    doc = parse_question(form(free_text_q("q"), overview=overview))
    assert doc.overview_text == "deep"


# ----------------------------------------------------------------------------------------------
# encode_form_answers
# ----------------------------------------------------------------------------------------------


def test_encode_form_answers_exact_output() -> None:
    xml = encode_form_answers([("assignmentId", "A1"), ("label", "cat"), ("hitId", "H"), ("n", "2")])
    assert xml == (
        '<?xml version="1.0" encoding="ASCII"?>\n'
        f'<QuestionFormAnswers xmlns="{NS_ANSWERS}">'
        "<Answer><QuestionIdentifier>label</QuestionIdentifier><FreeText>cat</FreeText></Answer>"
        "<Answer><QuestionIdentifier>n</QuestionIdentifier><FreeText>2</FreeText></Answer>"
        "</QuestionFormAnswers>"
    )


def test_encode_form_answers_escaping_and_ascii() -> None:
    xml = encode_form_answers([('a<&>"b', 'x<y & z>"w"'), ("utf", "café 😀 ü")])
    assert xml.isascii()
    assert "<QuestionIdentifier>a&lt;&amp;&gt;&quot;b</QuestionIdentifier>" in xml
    assert "<FreeText>x&lt;y &amp; z&gt;&quot;w&quot;</FreeText>" in xml
    assert "caf&#233; &#128512; &#252;" in xml
    assert parse_answers(xml) == {'a<&>"b': 'x<y & z>"w"', "utf": "café 😀 ü"}


def test_encode_form_answers_joins_repeated_names_in_first_seen_order() -> None:
    xml = encode_form_answers([("tags", "a"), ("other", "o"), ("tags", "b"), ("tags", "c|d")])
    assert parse_answers(xml) == {"tags": "a|b|c|d", "other": "o"}
    assert list(parse_answers(xml)) == ["tags", "other"]
    assert xml.count("<Answer>") == 2


def test_encode_form_answers_drops_reserved_names_and_invalid_chars() -> None:
    fields = [("assignmentId", "A"), ("hitId", "H"), ("workerId", "W"), ("turkSubmitTo", "T"), ("HitId", "kept")]
    fields.append(("ctl", "a\x00b\x1fc\x0bd\ud800e\uffff\tf\r\ng"))
    xml = encode_form_answers(fields)
    assert parse_answers(xml) == {"HitId": "kept", "ctl": "abcde\tf\r\ng"}
    assert "&#13;" in xml


def test_encode_form_answers_empty() -> None:
    xml = encode_form_answers([])
    assert xml.startswith('<?xml version="1.0" encoding="ASCII"?>')
    assert parse_answers(xml) == {}
    assert parse_answers(encode_form_answers([("assignmentId", "x")])) == {}
    assert parse_answers(encode_form_answers([("blank", "")])) == {"blank": ""}


def _model(fields: list[tuple[str, str]]) -> dict[str, str]:
    """Reference model of encode_form_answers followed by parse_answers."""
    grouped: dict[str, list[str]] = {}
    for name, value in fields:
        name = _INVALID.sub("", name)
        if name not in RESERVED:
            grouped.setdefault(name, []).append(_INVALID.sub("", value))
    return {name: "|".join(values) for name, values in grouped.items()}


field_names = st.one_of(any_text, st.sampled_from(sorted(RESERVED)), st.sampled_from(["q1", "q2", "a b"]))


@FAST
@given(st.lists(st.tuples(field_names, any_text), max_size=8))
def test_form_answers_round_trip(fields: list[tuple[str, str]]) -> None:
    xml = encode_form_answers(fields)
    assert xml.isascii()
    assert xml.startswith('<?xml version="1.0" encoding="ASCII"?>')
    parsed = parse_answers(xml)
    expected = _model(fields)
    assert parsed == expected
    assert list(parsed) == list(expected)


@FAST
@given(st.text(), st.text())
def test_single_field_round_trip_plain_text(name: str, value: str) -> None:
    if _INVALID.sub("", name) in RESERVED:
        return
    assert parse_answers(encode_form_answers([(name, value)])) == {_INVALID.sub("", name): _INVALID.sub("", value)}


# ----------------------------------------------------------------------------------------------
# encode_questionform_answers
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def survey() -> QuestionDoc:
    """The full 2005 QuestionForm used by the answer-validation tests."""
    return parse_question(FULL_FORM_2005)


def test_questionform_answers_valid_round_trip(survey: QuestionDoc) -> None:
    answers: dict[str, str | list[str]] = {"age": "42", "colour": ["blue", "red"], "code": "ABC", "photo": "uploads/k1"}
    xml = encode_questionform_answers(survey, answers)
    assert xml.isascii()
    assert "<SelectionIdentifier>blue</SelectionIdentifier><SelectionIdentifier>red</SelectionIdentifier>" in xml
    assert "<UploadedFileKey>uploads/k1</UploadedFileKey>" in xml
    assert parse_answers(xml) == answers
    # Answers appear in question order.
    assert [m for m in re.findall(r"<QuestionIdentifier>(\w+)<", xml)] == ["age", "colour", "code", "photo"]


def test_questionform_other_selection(survey: QuestionDoc) -> None:
    xml = encode_questionform_answers(survey, {"age": "18", "colour": ["red", "mauve & <pink>"]})
    assert "<OtherSelectionText>mauve &amp; &lt;pink&gt;</OtherSelectionText>" in xml
    assert parse_answers(xml) == {"age": "18", "colour": ["red", "mauve & <pink>"]}


def test_questionform_optional_questions_may_be_omitted(survey: QuestionDoc) -> None:
    assert parse_answers(encode_questionform_answers(survey, {"age": "99"})) == {"age": "99"}
    assert parse_answers(encode_questionform_answers(survey, {"age": ["99"], "colour": [], "code": ""})) == {
        "age": "99",
        "code": "",
    }


@pytest.mark.parametrize(
    ("answers", "fragment"),
    [
        ({}, "Question 'age' is required"),
        ({"age": "   "}, "Question 'age' is required"),
        ({"age": "42", "nope": "x"}, "unknown question 'nope'"),
        ({"age": "forty"}, "Question 'age' must be a number"),
        ({"age": "17"}, "Question 'age' must be at least 18"),
        ({"age": "100"}, "Question 'age' must be at most 99"),
        ({"age": "18.5e1"}, "must be a number"),
        ({"age": "020.5"}, "at most 3 characters"),
        ({"age": ["1", "2"]}, "single text answer"),
        ({"age": 42}, "must be a string"),
        ({"age": "42", "code": "abc1"}, "Question 'code': Lowercase only."),
        ({"age": "42", "colour": ["red", "green", "blue"]}, "at most 2 selections (got 3)"),
        ({"age": "42", "colour": ["red", "x", "y"]}, "only one 'other' answer"),
        ({"age": "42", "colour": [1]}, "selections must be strings"),
    ],
)
def test_questionform_answer_validation(survey: QuestionDoc, answers: dict, fragment: str) -> None:  # type: ignore[type-arg]
    assert fragment in error_of(encode_questionform_answers, survey, answers)


def test_questionform_selection_rules() -> None:
    doc = parse_question(form(selection_q("s", ids=("a", "b", "c"), lo=2, hi=3, required=True), selection_q("t")))
    message = error_of(encode_questionform_answers, doc, {"s": ["a", "zzz"]})
    assert message == "Question 's' has no selection 'zzz'"
    assert "at least 2 selections (got 1)" in error_of(encode_questionform_answers, doc, {"s": "a"})
    assert "at least 2 selections (got 1)" in error_of(encode_questionform_answers, doc, {"s": ["a", "a", ""]})
    assert "required" in error_of(encode_questionform_answers, doc, {"s": [], "t": "a"})
    assert parse_answers(encode_questionform_answers(doc, {"s": ["c", "a"], "t": "b"})) == {"s": ["c", "a"], "t": ["b"]}


def test_questionform_regex_without_error_text_and_length_minimum() -> None:
    doc = parse_question(
        form(
            free_text_q("z", constraints=r'<AnswerFormatRegex regex="\S"/>'),
            free_text_q("m", constraints='<Length minLength="3"/>'),
        )
    )
    assert "does not match the required format" in error_of(encode_questionform_answers, doc, {"z": "   "})
    assert "at least 3 characters long (got 2)" in error_of(encode_questionform_answers, doc, {"m": "ab"})
    assert parse_answers(encode_questionform_answers(doc, {"z": " x ", "m": "abc"})) == {"z": " x ", "m": "abc"}


def test_questionform_regex_flags() -> None:
    doc = parse_question(form(free_text_q("c", constraints='<AnswerFormatRegex regex="^[a-z]+$" flags="i"/>')))
    assert parse_answers(encode_questionform_answers(doc, {"c": "AbC"})) == {"c": "AbC"}
    strict = parse_question(form(free_text_q("c", constraints='<AnswerFormatRegex regex="^[a-z]+$"/>')))
    error_of(encode_questionform_answers, strict, {"c": "AbC"})


def test_encode_questionform_answers_needs_question_form() -> None:
    assert "QuestionForm" in error_of(encode_questionform_answers, parse_question(html_question()), {"x": "y"})


@FAST
@given(st.dictionaries(st.sampled_from(["f1", "f2", "f3"]), st.text(), max_size=3))
def test_questionform_free_text_round_trip(values: dict[str, str]) -> None:
    doc = parse_question(form(free_text_q("f1"), free_text_q("f2"), free_text_q("f3")))
    expected = {k: _INVALID.sub("", v) for k, v in values.items()}
    assert parse_answers(encode_questionform_answers(doc, values)) == expected  # type: ignore[arg-type]


@FAST
@given(st.lists(st.sampled_from(["a", "b", "c", "d"]), unique=True, max_size=4))
def test_questionform_selection_round_trip(chosen: list[str]) -> None:
    doc = parse_question(form(selection_q("s", ids=("a", "b", "c", "d"), lo=0, hi=4)))
    parsed = parse_answers(encode_questionform_answers(doc, {"s": chosen}))
    assert parsed == ({"s": chosen} if chosen else {})


# ----------------------------------------------------------------------------------------------
# parse_answers
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "xml",
    ["", "  \n", '<?xml version="1.0" encoding="ASCII"?>', f'<QuestionFormAnswers xmlns="{NS_ANSWERS}"/>', "<QuestionFormAnswers/>"],
)
def test_parse_answers_empty(xml: str) -> None:
    assert parse_answers(xml) == {}


def test_parse_answers_all_kinds_with_and_without_namespace() -> None:
    body = (
        "<Answer><QuestionIdentifier>country</QuestionIdentifier><FreeText>United States</FreeText></Answer>"
        "<Answer><QuestionIdentifier>colour</QuestionIdentifier><SelectionIdentifier>red</SelectionIdentifier>"
        "<SelectionIdentifier>blue</SelectionIdentifier></Answer>"
        "<Answer><QuestionIdentifier>fruit</QuestionIdentifier><OtherSelectionText>durian</OtherSelectionText></Answer>"
        "<Answer><QuestionIdentifier>photo</QuestionIdentifier><UploadedFileSizeInBytes>20481</UploadedFileSizeInBytes>"
        "<UploadedFileKey>key/1</UploadedFileKey></Answer>"
        "<Answer><QuestionIdentifier>empty</QuestionIdentifier></Answer>"
        "<Answer><QuestionIdentifier>blank</QuestionIdentifier><FreeText/></Answer>"
    )
    expected = {
        "country": "United States",
        "colour": ["red", "blue"],
        "fruit": ["durian"],
        "photo": "key/1",
        "empty": "",
        "blank": "",
    }
    with_ns = f'<?xml version="1.0" encoding="ASCII"?>\n<QuestionFormAnswers xmlns="{NS_ANSWERS}">{body}</QuestionFormAnswers>'
    assert parse_answers(with_ns) == expected
    assert parse_answers(f"<QuestionFormAnswers>{body}</QuestionFormAnswers>") == expected


def test_parse_answers_duplicate_identifiers_are_merged() -> None:
    xml = (
        "<QuestionFormAnswers><Answer><QuestionIdentifier>a</QuestionIdentifier><FreeText>1</FreeText></Answer>"
        "<Answer><QuestionIdentifier>a</QuestionIdentifier><FreeText>2</FreeText></Answer>"
        "<Answer><QuestionIdentifier>s</QuestionIdentifier><SelectionIdentifier>x</SelectionIdentifier></Answer>"
        "<Answer><QuestionIdentifier>s</QuestionIdentifier><SelectionIdentifier>y</SelectionIdentifier></Answer>"
        "</QuestionFormAnswers>"
    )
    assert parse_answers(xml) == {"a": "1|2", "s": ["x", "y"]}


@pytest.mark.parametrize(
    ("xml", "fragment"),
    [
        ("<QuestionFormAnswers><Answer>", "not well-formed"),
        ("<Answers/>", "expected QuestionFormAnswers"),
        ('<QuestionFormAnswers xmlns="urn:x"/>', "expected QuestionFormAnswers"),
        ("<QuestionFormAnswers><Answer><FreeText>x</FreeText></Answer></QuestionFormAnswers>", "Answer 1 has no QuestionIdentifier"),
    ],
)
def test_parse_answers_bad_xml(xml: str, fragment: str) -> None:
    assert fragment in error_of(parse_answers, xml)


# ----------------------------------------------------------------------------------------------
# AnswerKey
# ----------------------------------------------------------------------------------------------

TEST_FORM = form(
    selection_q("q1", ids=("a", "b", "c")),
    selection_q("q2", ids=("x", "y", "z"), lo=1, hi=3, style="checkbox"),
    selection_q("q3", ids=("t", "f")),
    free_text_q("comment"),
)


def key_xml(questions: str, mapping: str = "") -> str:
    """An AnswerKey document."""
    qvm = f"<QualificationValueMapping>{mapping}</QualificationValueMapping>" if mapping else ""
    return f'<AnswerKey xmlns="{NS_ANSWER_KEY}">{questions}{qvm}</AnswerKey>'


def key_q(qid: str, options: list[tuple[tuple[str, ...], int | str]], default: int | str | None = None) -> str:
    """An AnswerKey Question element."""
    opts = "".join(
        "<AnswerOption>"
        + "".join(f"<SelectionIdentifier>{s}</SelectionIdentifier>" for s in ids)
        + f"<AnswerScore>{score}</AnswerScore></AnswerOption>"
        for ids, score in options
    )
    dflt = f"<DefaultScore>{default}</DefaultScore>" if default is not None else ""
    return f"<Question><QuestionIdentifier>{qid}</QuestionIdentifier>{opts}{dflt}</Question>"


KEY_QUESTIONS = (
    key_q("q1", [(("b",), 1)], default=0)
    + key_q("q2", [(("x", "z"), 2), (("y",), -1)])
    + key_q("q3", [(("t",), 1)], default=-1)
)
KEY_PERCENT = key_xml(KEY_QUESTIONS, "<PercentageMapping><MaximumSummedScore>4</MaximumSummedScore></PercentageMapping>")


def test_parse_answer_key_structure() -> None:
    key = parse_answer_key(KEY_PERCENT, parse_test(TEST_FORM))
    assert key == AnswerKey(
        questions=(
            KeyQuestion("q1", (AnswerOption(frozenset({"b"}), 1),), 0),
            KeyQuestion("q2", (AnswerOption(frozenset({"x", "z"}), 2), AnswerOption(frozenset({"y"}), -1)), 0),
            KeyQuestion("q3", (AnswerOption(frozenset({"t"}), 1),), -1),
        ),
        mapping=PercentageMapping(max_summed_score=4),
    )
    assert parse_answer_key(key_xml(KEY_QUESTIONS)).mapping is None


@pytest.mark.parametrize(
    ("answers", "raw"),
    [
        ({"q1": ["b"], "q2": ["z", "x"], "q3": ["t"]}, 4),
        ({"q1": "b", "q2": ["x", "z"], "q3": "t"}, 4),
        ({"q1": ["b"], "q2": ["x", "y", "z"], "q3": ["t"]}, 2),  # superset is not an exact match
        ({"q1": ["b"], "q2": ["x"], "q3": ["t"]}, 2),  # subset is not an exact match either
        ({"q1": ["a"], "q2": ["y"], "q3": ["f"]}, -2),
        ({}, -1),
        ({"q2": ["y"], "q3": [], "comment": "hi"}, -2),
    ],
)
def test_grade_raw_sum(answers: dict, raw: int) -> None:  # type: ignore[type-arg]
    assert grade(parse_answer_key(key_xml(KEY_QUESTIONS)), answers) == raw


@pytest.mark.parametrize(
    ("total", "maximum", "expected"),
    [(4, 4, 100), (2, 4, 50), (1, 8, 13), (1, 3, 33), (2, 3, 67), (3, 8, 38), (-1, 8, -13), (0, 7, 0), (9, 4, 225)],
)
def test_grade_percentage_rounds_half_up(total: int, maximum: int, expected: int) -> None:
    key = AnswerKey(
        questions=(KeyQuestion("q", (AnswerOption(frozenset({"a"}), total),), 0),),
        mapping=PercentageMapping(max_summed_score=maximum),
    )
    assert grade(key, {"q": ["a"]}) == expected


def test_grade_percentage_from_xml() -> None:
    key = parse_answer_key(KEY_PERCENT)
    assert grade(key, {"q1": ["b"], "q2": ["x", "z"], "q3": ["t"]}) == 100
    assert grade(key, {"q1": ["b"], "q3": ["t"]}) == 50
    assert grade(key, {"q1": ["b"], "q2": ["y"], "q3": ["f"]}) == -25


@pytest.mark.parametrize(
    ("multiplier", "answers", "expected"),
    [
        ("1.5", {"q1": ["b"], "q2": ["x", "z"], "q3": ["t"]}, 6),
        ("1.5", {"q1": ["b"], "q2": ["x", "z"], "q3": ["f"]}, 3),
        ("2.5", {"q1": ["b"]}, 0),
        ("0.5", {"q1": ["b"], "q3": ["t"]}, 1),
        ("0.5", {"q1": ["b"], "q2": ["x", "z"]}, 1),  # 1 + 2 - 1 = 2 -> 1
        ("0.5", {"q1": ["a"], "q2": ["y"], "q3": ["t"]}, 0),  # 0 - 1 + 1 = 0
        ("-3", {"q1": ["b"], "q2": ["x", "z"], "q3": ["t"]}, -12),
        ("0.25", {"q2": ["x", "z"]}, 0),  # 2 - 1 = 1 -> 0.25 -> 0
        ("1.5", {"q1": ["b"], "q2": ["y"], "q3": ["f"]}, -2),  # -1 * 1.5 = -1.5 -> -2 (half away from zero)
    ],
)
def test_grade_scale_mapping(multiplier: str, answers: dict, expected: int) -> None:  # type: ignore[type-arg]
    mapping = f"<ScaleMapping><SummedScoreMultiplier>{multiplier}</SummedScoreMultiplier></ScaleMapping>"
    key = parse_answer_key(key_xml(KEY_QUESTIONS, mapping))
    assert key.mapping == ScaleMapping(multiplier=Decimal(multiplier))
    assert grade(key, answers) == expected


def test_grade_scale_exact_half_rounding() -> None:
    key = AnswerKey(
        questions=(KeyQuestion("q", (AnswerOption(frozenset({"a"}), 3),), -3),),
        mapping=ScaleMapping(multiplier=Decimal("0.5")),
    )
    assert grade(key, {"q": "a"}) == 2  # 1.5 -> 2
    assert grade(key, {"q": "b"}) == -2  # -1.5 -> -2
    tiny = AnswerKey(questions=key.questions, mapping=ScaleMapping(multiplier=Decimal("0.1666666666666666666666666666667")))
    assert grade(tiny, {"q": "a"}) == 1  # 0.5000000000000000000000000000001 -> 1


RANGE_MAPPING = (
    "<RangeMapping>"
    "<SummedScoreRange><InclusiveLowerBound>3</InclusiveLowerBound><InclusiveUpperBound>4</InclusiveUpperBound>"
    "<QualificationValue>90</QualificationValue></SummedScoreRange>"
    "<SummedScoreRange><InclusiveLowerBound>0</InclusiveLowerBound><InclusiveUpperBound>3</InclusiveUpperBound>"
    "<QualificationValue>40</QualificationValue></SummedScoreRange>"
    "<OutOfRangeQualificationValue>-7</OutOfRangeQualificationValue>"
    "</RangeMapping>"
)


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({"q1": ["b"], "q2": ["x", "z"], "q3": ["t"]}, 90),  # 4
        ({"q1": ["a"], "q2": ["x", "z"], "q3": ["t"]}, 90),  # 3 -> first matching range wins
        ({"q1": ["b"], "q2": ["x", "z"], "q3": ["f"]}, 40),  # 2
        ({"q1": ["b"], "q3": ["t"]}, 40),  # 2
        ({"q1": ["a"], "q3": ["t"]}, 40),  # 1
        ({"q3": ["t"]}, 40),  # 1
        ({"q2": ["y"], "q3": ["t"]}, 40),  # 0
        ({"q2": ["y"], "q3": ["f"]}, -7),  # -2 out of range
    ],
)
def test_grade_range_mapping(answers: dict, expected: int) -> None:  # type: ignore[type-arg]
    key = parse_answer_key(key_xml(KEY_QUESTIONS, RANGE_MAPPING))
    assert key.mapping == RangeMapping(ranges=((3, 4, 90), (0, 3, 40)), out_of_range_value=-7)
    assert grade(key, answers) == expected


@FAST
@given(
    st.lists(st.integers(min_value=-50, max_value=50), min_size=1, max_size=5),
    st.lists(st.booleans(), min_size=5, max_size=5),
    st.integers(min_value=1, max_value=300),
)
def test_grade_percentage_property(scores: list[int], correct: list[bool], maximum: int) -> None:
    questions = tuple(
        KeyQuestion(f"q{i}", (AnswerOption(frozenset({"right"}), s),), default_score=-1) for i, s in enumerate(scores)
    )
    answers = {f"q{i}": ["right" if correct[i] else "wrong"] for i in range(len(scores))}
    total = sum(s if correct[i] else -1 for i, s in enumerate(scores))
    assert grade(AnswerKey(questions), answers) == total
    pct = Decimal(total * 100) / Decimal(maximum)
    expected = int(pct.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    assert grade(AnswerKey(questions, PercentageMapping(maximum)), answers) == expected


ONE_Q = key_q("q", [(("a",), 1)])
NO_ID = "<Question><AnswerOption><SelectionIdentifier>a</SelectionIdentifier><AnswerScore>1</AnswerScore></AnswerOption></Question>"
NO_SEL = "<Question><QuestionIdentifier>q</QuestionIdentifier><AnswerOption><AnswerScore>1</AnswerScore></AnswerOption></Question>"
NO_SCORE = (
    "<Question><QuestionIdentifier>q</QuestionIdentifier>"
    "<AnswerOption><SelectionIdentifier>a</SelectionIdentifier></AnswerOption></Question>"
)
OUT_OF_RANGE = "<OutOfRangeQualificationValue>-7</OutOfRangeQualificationValue>"


def _pct(top: str) -> str:
    """A PercentageMapping with the given MaximumSummedScore text."""
    return f"<PercentageMapping><MaximumSummedScore>{top}</MaximumSummedScore></PercentageMapping>"


@pytest.mark.parametrize(
    ("xml", "fragment"),
    [
        ("<AnswerKey/>", "expected AnswerKey in"),
        (f'<AnswerKey xmlns="{NS_ANSWERS}">{KEY_QUESTIONS}</AnswerKey>', "expected AnswerKey in"),
        (key_xml(""), "contains no Question"),
        (key_xml(key_q("q1", [(("a",), 1)]) + key_q("q1", [(("b",), 1)])), "'q1' is keyed more than once"),
        (key_xml(NO_ID), "Question 1 has no QuestionIdentifier"),
        (key_xml(NO_SEL), "has no SelectionIdentifier"),
        (key_xml(NO_SCORE), "has no AnswerScore"),
        (key_xml(key_q("q", [(("a",), "x")])), "AnswerScore must be an integer"),
        (key_xml(key_q("q", [(("a",), 1), (("a",), 2)])), "repeats the selection set"),
        (key_xml(key_q("q", [(("a",), 1)], default="1.5")), "DefaultScore must be an integer"),
        (key_xml(ONE_Q, _pct("0")), "MaximumSummedScore must be at least 1"),
        (key_xml(ONE_Q, _pct("many")), "MaximumSummedScore must be an integer"),
        (key_xml(ONE_Q, "<PercentageMapping/>"), "has no MaximumSummedScore"),
        (key_xml(ONE_Q, "<ScaleMapping><SummedScoreMultiplier>NaN</SummedScoreMultiplier></ScaleMapping>"), "decimal"),
        (key_xml(ONE_Q, "<ScaleMapping/>"), "has no SummedScoreMultiplier"),
        (key_xml(ONE_Q, f"<RangeMapping>{OUT_OF_RANGE}</RangeMapping>"), "has no SummedScoreRange"),
        (key_xml(ONE_Q, RANGE_MAPPING.replace(OUT_OF_RANGE, "")), "has no OutOfRangeQualificationValue"),
        (
            key_xml(ONE_Q, RANGE_MAPPING.replace("<InclusiveUpperBound>4<", "<InclusiveUpperBound>2<")),
            "InclusiveLowerBound 3 is greater than InclusiveUpperBound 2",
        ),
        (key_xml(ONE_Q, RANGE_MAPPING.replace("<QualificationValue>90</QualificationValue>", "")), "no QualificationValue"),
        (key_xml(ONE_Q, "<Bogus/>"), "unexpected element <Bogus>"),
        (key_xml(ONE_Q, _pct("1") + _pct("2")), "exactly one of"),
        (key_xml(ONE_Q).replace("</AnswerKey>", "<QualificationValueMapping/></AnswerKey>"), "exactly one of"),
        (key_xml(ONE_Q + "<Extra/>"), "unexpected element <Extra>"),
        ("<AnswerKey", "not well-formed"),
    ],
)
def test_parse_answer_key_invalid(xml: str, fragment: str) -> None:
    message = error_of(parse_answer_key, xml)
    assert fragment in message


def test_parse_answer_key_checks_against_test() -> None:
    test = parse_test(TEST_FORM)
    assert "'nope' does not exist in the Test" in error_of(parse_answer_key, key_xml(key_q("nope", [(("a",), 1)])), test)
    assert "only Selection questions" in error_of(parse_answer_key, key_xml(key_q("comment", [(("a",), 1)])), test)
    assert "'zz'" in error_of(parse_answer_key, key_xml(key_q("q1", [(("a", "zz"), 1)])), test)
    # Without a test, the same keys parse fine.
    assert parse_answer_key(key_xml(key_q("nope", [(("a",), 1)]))).questions[0].identifier == "nope"


def test_end_to_end_qualification_test_grading() -> None:
    test = parse_test(TEST_FORM)
    key = parse_answer_key(KEY_PERCENT, test)
    submitted = encode_questionform_answers(test, {"q1": "b", "q2": ["z", "x"], "q3": "f", "comment": "fun"})
    assert grade(key, parse_answers(submitted)) == 50  # 1 + 2 - 1 = 2 of 4


# ----------------------------------------------------------------------------------------------
# Robustness: arbitrary or damaged input only ever raises QuestionXMLError
# ----------------------------------------------------------------------------------------------

VALID_DOCS = [html_question(), external_question("https://a.example/x"), FULL_FORM_2005, TEST_FORM]


def _never_crashes(func, text: str) -> None:  # type: ignore[no-untyped-def]
    """func(text) either returns or raises QuestionXMLError with a non-empty message."""
    try:
        func(text)
    except QuestionXMLError as exc:
        assert exc.message


@FAST
@given(any_text)
def test_arbitrary_text_never_crashes(text: str) -> None:
    for func in (parse_question, parse_test, parse_answers, parse_answer_key):
        _never_crashes(func, text)
        _never_crashes(func, "<QuestionForm>" + text)


@FAST
@given(st.sampled_from(VALID_DOCS + [KEY_PERCENT, KEY_QUESTIONS]), st.data())
def test_damaged_documents_never_crash(doc: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(min_value=0, max_value=len(doc)))
    stop = data.draw(st.integers(min_value=start, max_value=min(len(doc), start + 40)))
    insert = data.draw(st.sampled_from(["", "<", "&", "]]>", "<Question>", "-1", "\x00", "é"]))
    damaged = doc[:start] + insert + doc[stop:]
    for func in (parse_question, parse_answers, parse_answer_key):
        _never_crashes(func, damaged)
