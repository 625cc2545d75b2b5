"""Answer XML -> columns: every format MTurk and hitkit produce, escaping included (simple-amt's regex bug)."""

from __future__ import annotations

import json

import pytest

from hitkit.mturk.xml import encode_form_answers
from hitkit.mturk.answers import AnswerFormatError, flatten, parse_answer_xml

NS = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/QuestionFormAnswers.xsd"


def doc(*answers: str, decl: bool = True) -> str:
    head = '<?xml version="1.0" encoding="ASCII"?>' if decl else ""
    return f'{head}<QuestionFormAnswers xmlns="{NS}">{"".join(answers)}</QuestionFormAnswers>'


def answer(qid: str, body: str) -> str:
    return f"<Answer><QuestionIdentifier>{qid}</QuestionIdentifier>{body}</Answer>"


def test_question_form_answers_of_every_kind():
    xml = doc(
        answer("country", "<FreeText>United States</FreeText>"),
        answer("colour", "<SelectionIdentifier>red</SelectionIdentifier><SelectionIdentifier>blue</SelectionIdentifier>"),
        answer("size", "<SelectionIdentifier>large</SelectionIdentifier>"),
        answer("fruit", "<OtherSelectionText>durian</OtherSelectionText>"),
        answer("pet", "<SelectionIdentifier>cat</SelectionIdentifier><OtherSelectionText>axolotl</OtherSelectionText>"),
        answer("photo", "<UploadedFileSizeInBytes>20481</UploadedFileSizeInBytes><UploadedFileKey>k/1</UploadedFileKey>"),
        answer("empty", ""),
    )
    assert parse_answer_xml(xml) == {
        "country": "United States", "colour": ["red", "blue"], "size": "large", "fruit": "durian",
        "pet": ["cat", "axolotl"], "photo": "k/1", "empty": "",
    }


def test_escaped_text_comes_back_as_typed():
    # What simple-amt's `<FreeText>(.*?)</FreeText>` regex returned as entities or broke json.loads on.
    text = 'Tom & Jerry <b>"bold"</b> 5 > 3 \u00e9\u4e2d'
    xml = encode_form_answers([("comment", text), ("output", json.dumps({"note": text}))])
    assert "&amp;" in xml and "&lt;" in xml  # really escaped on the wire
    assert parse_answer_xml(xml) == {"comment": text, "note": text}
    cdata = doc(answer("c", "<FreeText><![CDATA[a & b < c]]></FreeText>"))
    assert parse_answer_xml(cdata) == {"c": "a & b < c"}
    numeric = doc(answer("c", "<FreeText>caf&#233; &#x4e2d;</FreeText>"))
    assert parse_answer_xml(numeric) == {"c": "caf\u00e9 \u4e2d"}


def test_html_form_fields_and_repeated_fields():
    xml = encode_form_answers([("label", "cat"), ("tags", "a"), ("tags", "b"), ("notes", "")])
    assert parse_answer_xml(xml) == {"label": "cat", "tags": "a|b", "notes": ""}


def test_crowd_form_task_answers_flattened():
    task = [{"sentiment": {"label": "cat"}, "cat": {"on": True}, "dog": {"on": False}, "score": 4, "text": "x & y",
             "boxes": [{"left": 1}], "nothing": {}}]
    xml = encode_form_answers([("taskAnswers", json.dumps(task))])
    assert parse_answer_xml(xml) == {"sentiment.label": "cat", "cat.on": True, "dog.on": False, "score": 4,
                                     "text": "x & y", "boxes": [{"left": 1}], "nothing": {}}


def test_json_fields_that_collide_or_are_not_objects():
    # A flattened key that names a real field of the form is kept apart.
    xml = encode_form_answers([("label", "form"), ("output", json.dumps({"label": "json"}))])
    assert parse_answer_xml(xml) == {"label": "form", "output.label": "json"}
    # simple-amt outputs that are arrays stay one column; text that is not JSON stays text.
    assert parse_answer_xml(encode_form_answers([("output", "[1, 2]")])) == {"output": [1, 2]}
    assert parse_answer_xml(encode_form_answers([("output", "5")])) == {"output": "5"}
    assert parse_answer_xml(encode_form_answers([("output", "{broken")])) == {"output": "{broken"}
    several = json.dumps([{"a": 1}, {"a": 2}])
    assert parse_answer_xml(encode_form_answers([("taskAnswers", several)])) == {"taskAnswers": [{"a": 1}, {"a": 2}]}


def test_empty_and_odd_documents():
    assert parse_answer_xml("") == {}
    assert parse_answer_xml('<?xml version="1.0" encoding="ASCII"?>') == {}
    assert parse_answer_xml(doc()) == {}
    assert parse_answer_xml(doc(answer("a", "<FreeText>1</FreeText>"), decl=False).replace(f' xmlns="{NS}"', "")) == {"a": "1"}
    repeated = doc(answer("a", "<FreeText>1</FreeText>"), answer("a", "<FreeText>2</FreeText>"))
    assert parse_answer_xml(repeated) == {"a": "1|2"}


@pytest.mark.parametrize("bad", [
    "<QuestionFormAnswers><Answer><FreeText>x</FreeText></Answer></QuestionFormAnswers>",  # no identifier
    "<Other/>",
    "<QuestionFormAnswers>",
    '<!DOCTYPE x [<!ENTITY a "aaaa">]><QuestionFormAnswers/>',
])
def test_refused(bad):
    with pytest.raises(AnswerFormatError):
        parse_answer_xml(bad)


def test_flatten():
    assert flatten({"a": {"b": {"c": 1}}, "d": [1, {"e": 2}]}) == {"a.b.c": 1, "d": [1, {"e": 2}]}


def test_every_format_through_a_live_server(server, mturk):
    """Answers as the server stores them after real submissions (HTML, crowd-form, simple-amt, QuestionForm)."""
    from tests.conftest import hit_params

    qform = (
        '<QuestionForm xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2017-11-06/QuestionForm.xsd">'
        "<Question><QuestionIdentifier>colour</QuestionIdentifier><QuestionContent><Text>Colour?</Text></QuestionContent>"
        "<AnswerSpecification><SelectionAnswer><MinSelectionCount>1</MinSelectionCount><MaxSelectionCount>3</MaxSelectionCount>"
        "<StyleSuggestion>checkbox</StyleSuggestion><Selections>"
        "<Selection><SelectionIdentifier>red</SelectionIdentifier><Text>Red</Text></Selection>"
        "<Selection><SelectionIdentifier>blue</SelectionIdentifier><Text>Blue</Text></Selection><OtherSelection/></Selections>"
        "</SelectionAnswer></AnswerSpecification></Question>"
        "<Question><QuestionIdentifier>why</QuestionIdentifier><QuestionContent><Text>Why?</Text></QuestionContent>"
        "<AnswerSpecification><FreeTextAnswer/></AnswerSpecification></Question></QuestionForm>"
    )
    cases = [
        (hit_params(MaxAssignments=1), {"answer": "a & b <c>", "tags": ["x", "y"]}, {"answer": "a & b <c>", "tags": "x|y"}),
        (hit_params(MaxAssignments=1), {"taskAnswers": json.dumps([{"sentiment": {"label": "<cat>"}}])},
         {"sentiment.label": "<cat>"}),
        (hit_params(MaxAssignments=1), {"output": json.dumps({"labels": ["a&b"], "ok": True})},
         {"labels": ["a&b"], "ok": True}),
        (hit_params(MaxAssignments=1, Question=qform), {"colour": ["red", "blue", "teal & co"], "why": "x < y"},
         {"colour": ["red", "blue", "teal & co"], "why": "x < y"}),
    ]
    worker = server.new_worker()
    for params, submitted, expected in cases:
        hit_id = mturk.create_hit(**params)["HIT"]["HITId"]
        server.do_hit(worker, hit_id, submitted)
        (a,) = mturk.list_assignments_for_hit(HITId=hit_id)["Assignments"]
        assert parse_answer_xml(a["Answer"]) == expected
