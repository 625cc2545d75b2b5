"""Template kinds: what each needs from a row, how values are escaped, and that every rendered question is valid
MTurk Question XML of at most 65,535 bytes. simple-amt's helper is also run in Chromium."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hitkit.mturk.xml import parse_question
from hitkit.templates.task_template import (
    MAX_QUESTION_BYTES,
    TaskTemplate,
    TemplateError,
    guess_kind,
    load_template,
    script_safe_json,
    simpleamt_helper,
    simpleamt_input,
)

NASTY = "</script><script>alert(1)</script> & ]]> \"quoted\" 'single' <b>bold</b>"


def html_of(template: TaskTemplate, row: dict, row_number: int | None = 1) -> str:
    """The HTML content of the rendered HTMLQuestion (after the XML round trip the server does)."""
    doc = parse_question(template.render_question(row, frame_height=400, row_number=row_number))
    assert doc.kind == "HTMLQuestion" and doc.frame_height == 400
    return doc.html_content or ""


# -- jinja ---------------------------------------------------------------------------------------------------

def test_jinja_escapes_values_and_survives_cdata_terminators():
    t = TaskTemplate("jinja", "<p id=x>{{ row.text }}</p><!-- a literal ]]> in the template -->", "t.html")
    out = html_of(t, {"text": NASTY})
    assert "<script>alert(1)</script>" not in out and "&lt;/script&gt;" in out
    assert "]]&gt;" in out and "a literal ]]> in the template" in out  # split CDATA put back together
    assert "&#34;quoted&#34;" in out and "&#39;single&#39;" in out


def test_jinja_tojson_cannot_end_a_script_element():
    t = TaskTemplate("jinja", "<script>var row = {{ row | tojson }};</script>", "t.html")
    out = html_of(t, {"text": NASTY, "n": 3})
    body = re.search(r"var row = (.*);</script>", out, re.DOTALL).group(1)
    assert "</script" not in body.lower() and "<" not in body and "]]>" not in body
    assert json.loads(body) == {"text": NASTY, "n": 3}
    assert t.uses_whole_row and t.unused_columns([{"text": "a", "other": 1}]) == set()


def test_jinja_missing_column_names_the_row_and_column():
    t = TaskTemplate("jinja", "{{ row.image_url }} {{ row['caption'] }}", "t.html")
    assert t.columns == {"image_url", "caption"}
    with pytest.raises(TemplateError) as e:
        t.render_question({"image_url": "x"}, frame_height=400, row_number=17)
    assert (e.value.row, e.value.column) == (17, "caption")
    assert str(e.value).startswith("row 17, column `caption`:")


def test_jinja_optional_columns_and_unused_column_warnings():
    t = TaskTemplate("jinja", "{{ row.text }}{% if row.get('hint') %}<i>{{ row.get('hint') }}</i>{% endif %}", "t.html")
    assert (t.columns, t.optional_columns, t.uses_whole_row) == ({"text"}, {"hint"}, False)
    assert "<i>" not in html_of(t, {"text": "a"})
    assert "<i>psst</i>" in html_of(t, {"text": "a", "hint": "psst"})
    assert t.unused_columns([{"text": "a", "hint": "", "id": 1}, {"text": "b", "extra": 2}]) == {"id", "extra"}


def test_jinja_control_characters_are_reported_by_column():
    t = TaskTemplate("jinja", "{{ row.text }}", "t.html")
    with pytest.raises(TemplateError) as e:
        t.render_question({"text": "bell\x07"}, frame_height=400, row_number=3)
    assert (e.value.row, e.value.column) == (3, "text") and "U+0007" in str(e.value)


def test_jinja_sandbox_and_no_includes():
    with pytest.raises(TemplateError) as e:
        TaskTemplate("jinja", "line 1\n{% include 'other.html' %}", "t.html")
    assert "line 2" in str(e.value) and "other.html" in str(e.value)
    t = TaskTemplate("jinja", "{{ ''.__class__.__mro__[1].__subclasses__() }}", "t.html")
    with pytest.raises(TemplateError):
        t.render_question({}, frame_height=400, row_number=1)
    with pytest.raises(TemplateError) as e:
        TaskTemplate("jinja", "{% if row.x %}", "t.html")
    assert "t.html, line 1" in str(e.value)


def test_64_kib_limit_names_the_row():
    t = TaskTemplate("jinja", "<p>{{ row.text }}</p>", "t.html")
    html_of(t, {"text": "a" * 60_000})
    with pytest.raises(TemplateError) as e:
        t.render_question({"text": "é" * 33_000}, frame_height=400, row_number=5)  # 66,000 bytes of UTF-8
    assert e.value.row == 5 and str(MAX_QUESTION_BYTES) in str(e.value)


# -- mturk ${x} ----------------------------------------------------------------------------------------------

def test_mturk_placeholders_always_escaped_and_dollars_kept():
    t = TaskTemplate("mturk", "<p>${text}</p><p>${text}</p> costs $5, ${a + b}, $ {x}, ${img.url}", "t.html")
    assert t.columns == {"text", "img.url"}
    out = html_of(t, {"text": NASTY, "img.url": "https://e.org/a.png?x=1&y=2"})
    assert out.count("&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;") == 2
    assert "]]&gt;" in out and "&quot;quoted&quot;" in out and "&#x27;single&#x27;" in out
    assert "costs $5, ${a + b}, $ {x}, https://e.org/a.png?x=1&amp;y=2" in out
    assert "${text|raw}" in TaskTemplate("mturk", "${text|raw}", "t").render_html({})  # no unescaped form: literal
    assert TaskTemplate("mturk", "${text|raw}", "t").columns == set()


def test_mturk_values_of_other_types():
    t = TaskTemplate("mturk", "<form>[${a}][${b}][${c}][${d}]</form>", "t.html")
    assert t.render_html({"a": None, "b": 3, "c": True, "d": ["x", "<y>"]}) == \
        '<form>[][3][true][[&quot;x&quot;, &quot;&lt;y&gt;&quot;]]</form>'


def test_mturk_missing_column_names_the_row_and_column():
    t = TaskTemplate("mturk", "${image_url} ${label_set}", "t.html")
    with pytest.raises(TemplateError) as e:
        t.render_question({"image_url": "x"}, frame_height=400, row_number=2)
    assert (e.value.row, e.value.column) == (2, "label_set")
    assert t.unused_columns([{"image_url": "x", "label_set": "y", "note": "z"}]) == {"note"}


def test_mturk_fragment_goes_inside_mturk_form_with_a_submit_button():
    out = html_of(TaskTemplate("mturk", '<img src="${url}"><input name="label">', "t.html"), {"url": "u"})
    assert '<form name="mturk_form" method="post" id="mturk_form"' in out
    assert 'name="assignmentId" id="assignmentId"' in out and 'id="submitButton"' in out
    assert "mturk-public/externalHIT_v1.js" in out and "turkSetAssignmentID();" in out
    with_button = html_of(TaskTemplate("mturk", '<input name="x"><button>Send</button>', "t.html"), {})
    assert 'id="submitButton"' not in with_button and "mturk_form" in with_button
    other_button = html_of(TaskTemplate("mturk", '<button type="button">Play</button>', "t.html"), {})
    assert 'id="submitButton"' in other_button  # a plain button does not submit
    own_form = "<crowd-form><crowd-input name='x'></crowd-input></crowd-form>"
    assert html_of(TaskTemplate("mturk", own_form, "t.html"), {}) == own_form


# -- simple-amt ----------------------------------------------------------------------------------------------

SIMPLE = """<html><head></head><body>
<div id='q'></div>
{% include "hit_templates/simpleamt.html" %}
<script>
  var input = simpleamt.getInput({"category": "default"});
  document.getElementById('q').textContent = JSON.stringify(input);
  if (!simpleamt.isPreview()) { document.getElementById('submit-btn').disabled = false; }
  simpleamt.setupSubmit();
  simpleamt.setOutput({"answer": input});
</script></body></html>"""


def test_simple_amt_input_is_script_safe_json():
    t = TaskTemplate("simple-amt", SIMPLE, "simple.html")
    out = html_of(t, {"text": NASTY})
    script = re.search(r"<script type='text/json' id='input'>(.*?)</script>", out, re.DOTALL).group(1)
    assert "<" not in script and ">" not in script and "&" not in script and "'" not in script
    assert json.loads(script) == {"text": NASTY}
    assert t.uses_whole_row and t.columns == set() and t.unused_columns([{"a": 1}]) == set()


def test_simple_amt_input_of_non_object_lines():
    assert simpleamt_input({"input": [1, "two"]}) == [1, "two"]
    assert simpleamt_input({"input": "a string"}) == "a string"
    assert simpleamt_input({"input": {"nested": 1}}) == {"input": {"nested": 1}}
    assert simpleamt_input({"input": 1, "other": 2}) == {"input": 1, "other": 2}
    t = TaskTemplate("simple-amt", '{% include "simpleamt.html" %}', "t.html")
    out = html_of(t, {"input": ["a", "</script>"]})
    assert '["a", "\\u003c/script\\u003e"]' in out


def test_simple_amt_includes_and_helper():
    for name in ("simpleamt.html", "hit_templates/simpleamt.html"):
        TaskTemplate("simple-amt", f'{{% include "{name}" %}}', "t.html")
    with pytest.raises(TemplateError) as e:
        TaskTemplate("simple-amt", '{% include "hit_templates/other.html" %}', "t.html")
    assert "simpleamt.html" in str(e.value) and "other.html" in str(e.value)
    helper = simpleamt_helper()
    for part in ("id='results-form'", "name='assignmentId'", "name='output'", "id='submit-btn'", "disabled",
                 "getInput", "setOutput", "isPreview", "setupSubmit", "<script type='text/json' id='input'>"):
        assert part in helper
    assert "$" not in helper and "<script src" not in helper  # no jQuery, no CDN
    # simple-amt rendered unknown variables as empty text; its templates keep working.
    assert "<p></p>" in html_of(TaskTemplate("simple-amt", "<p>{{ nothing }}</p>", "t.html"), {"a": 1})


def test_simple_amt_helper_in_chromium(tmp_path: Path):
    from tests.support.browser import chromium_page

    t = TaskTemplate("simple-amt", SIMPLE, "simple.html")
    row = {"text": NASTY, "n": 1}
    page_path = tmp_path / "task.html"
    page_path.write_text(t.render_html(row), encoding="utf-8")
    with chromium_page() as page:
        page.goto(page_path.as_uri() + "?assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE&hitId=H")
        assert json.loads(page.text_content("#q")) == row  # getInput parsed the escaped JSON back
        assert page.evaluate("simpleamt.isPreview()") is True
        assert page.is_disabled("#submit-btn")  # the template enables it only outside preview
        page.goto(page_path.as_uri() + "?assignmentId=A1&hitId=H&workerId=W&turkSubmitTo=https%3A%2F%2Fhk.example")
        assert page.evaluate("simpleamt.isPreview()") is False and not page.is_disabled("#submit-btn")
        assert page.get_attribute("#results-form", "action") == "https://hk.example/mturk/externalSubmit"
        assert page.input_value("#assignmentId") == "A1"
        assert json.loads(page.input_value("#output")) == {"answer": row}
        page.goto(page_path.as_uri())  # no parameters at all: not a preview (as simple-amt)
        assert page.evaluate("simpleamt.isPreview()") is False
        # getInput(default) falls back when the JSON cannot be read.
        page.evaluate("document.getElementById('input').textContent = 'not json'")
        assert page.evaluate("simpleamt.getInput(7)") == 7 and page.evaluate("simpleamt.getInput()") is None


def test_script_safe_json():
    text = script_safe_json({"a": "</script>&'\u2028"})
    assert text == '{"a": "\\u003c/script\\u003e\\u0026\\u0027\\u2028"}' and json.loads(text) == {"a": "</script>&'\u2028"}


# -- XML kinds -----------------------------------------------------------------------------------------------

HTML_Q = """<HTMLQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2011-11-11/HTMLQuestion.xsd">
<HTMLContent><![CDATA[<p>{{ row.text }}</p>]]></HTMLContent><FrameHeight>300</FrameHeight></HTMLQuestion>"""
EXTERNAL_Q = """<ExternalQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/ExternalQuestion.xsd">
<ExternalURL>https://study.example.org/run?item={{ row.item }}&amp;v=2</ExternalURL><FrameHeight>0</FrameHeight></ExternalQuestion>"""
FORM_Q = """<QuestionForm xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2017-11-06/QuestionForm.xsd">
<Question><QuestionIdentifier>q1</QuestionIdentifier><IsRequired>true</IsRequired>
<QuestionContent><Text>Is "{{ row.claim }}" true?</Text></QuestionContent>
<AnswerSpecification><FreeTextAnswer/></AnswerSpecification></Question></QuestionForm>"""


def test_xml_kinds_escape_values_as_xml():
    doc = parse_question(TaskTemplate("html-question", HTML_Q, "q.xml").render_question({"text": NASTY}, frame_height=1))
    assert doc.frame_height == 300 and "&lt;/script&gt;" in (doc.html_content or "") and "]]&gt;" in doc.html_content
    ext = TaskTemplate("external-question", EXTERNAL_Q, "q.xml")
    doc = parse_question(ext.render_question({"item": "a&b"}, frame_height=1))
    assert doc.external_url == "https://study.example.org/run?item=a&b&v=2"
    form = TaskTemplate("question-form", FORM_Q, "q.xml")
    doc = parse_question(form.render_question({"claim": "1 < 2 & \"x\""}, frame_height=1))
    assert doc.questions[0].content_text == 'Is "1 < 2 & "x"" true?'
    with pytest.raises(TemplateError) as e:
        form.render_question({}, frame_height=1, row_number=4)
    assert (e.value.row, e.value.column) == (4, "claim")


def test_xml_kind_that_renders_invalid_xml_names_the_row():
    t = TaskTemplate("question-form", "<QuestionForm>{{ row.x }}", "q.xml")
    with pytest.raises(TemplateError) as e:
        t.render_question({"x": "y"}, frame_height=1, row_number=9)
    assert e.value.row == 9 and "not valid" in str(e.value)


# -- kinds and files -----------------------------------------------------------------------------------------

def test_guess_kind():
    assert guess_kind(HTML_Q) == "html-question"
    assert guess_kind(EXTERNAL_Q) == "external-question"
    assert guess_kind(FORM_Q) == "question-form"
    assert guess_kind(SIMPLE) == "simple-amt"
    assert guess_kind("<img src='${image_url}'>") == "mturk"
    assert guess_kind("<p>{{ row.text }}</p><script>`${x}`</script>") == "jinja"


def test_load_template_errors(tmp_path: Path):
    with pytest.raises(TemplateError, match="does not exist"):
        load_template(tmp_path / "missing.html")
    (tmp_path / "latin1.html").write_bytes(b"caf\xe9")
    with pytest.raises(TemplateError, match="not UTF-8"):
        load_template(tmp_path / "latin1.html")
    (tmp_path / "t.html").write_text("${x}", encoding="utf-8")
    assert load_template(tmp_path / "t.html").kind == "mturk"
    assert load_template(tmp_path / "t.html", "jinja").columns == set()
    with pytest.raises(TemplateError, match="unknown template kind 'handlebars'"):
        load_template(tmp_path / "t.html", "handlebars")
