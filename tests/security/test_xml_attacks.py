"""Security sweep: XXE and entity expansion. Billion laughs, quadratic blow-up, external entities
(file:///etc/passwd and http:// to a canary server run by the test), parameter entities, external and internal
DTDs in the XML a requester sends (Question of CreateHIT: HTMLQuestion, ExternalQuestion, QuestionForm; Test and
AnswerKey of CreateQualificationType and UpdateQualificationType) are refused with MTurk's error shape (HTTP 400,
ParameterValidationError or ValidationException), never a 500, never with a file's content echoed, and the canary
is never fetched. Answer XML is made by the server from workers' values (worker API submit, externalSubmit,
QuestionForm answers, qualification test answers): DOCTYPEs, entity references and markup in those values are
stored as text (escaped), so the Answer a requester reads parses without a DTD and holds the literal value.
hitkit parses untrusted XML only with defusedxml, DTDs forbidden (mturk/xml.py _parse_xml)."""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from botocore.exceptions import ClientError

from hitkit.mturk.xml import NS_ANSWER_KEY, NS_QUESTIONFORM_2017, parse_answers
from tests.conftest import HTML_QUESTION, hit_params

TEST_XML = (
    f'<QuestionForm xmlns="{NS_QUESTIONFORM_2017}">'
    "<Question><QuestionIdentifier>q1</QuestionIdentifier><IsRequired>true</IsRequired>"
    "<QuestionContent><Text>Which letter is b?</Text></QuestionContent>"
    "<AnswerSpecification><SelectionAnswer><Selections>"
    "<Selection><SelectionIdentifier>a</SelectionIdentifier><Text>a</Text></Selection>"
    "<Selection><SelectionIdentifier>b</SelectionIdentifier><Text>b</Text></Selection>"
    "</Selections></SelectionAnswer></AnswerSpecification></Question>"
    "<Question><QuestionIdentifier>c</QuestionIdentifier>"
    "<QuestionContent><Text>Any comment?</Text></QuestionContent>"
    "<AnswerSpecification><FreeTextAnswer/></AnswerSpecification></Question>"
    "</QuestionForm>"
)
ANSWER_KEY = (
    f'<AnswerKey xmlns="{NS_ANSWER_KEY}">'
    "<Question><QuestionIdentifier>q1</QuestionIdentifier>"
    "<AnswerOption><SelectionIdentifier>b</SelectionIdentifier><AnswerScore>1</AnswerScore></AnswerOption></Question>"
    "<QualificationValueMapping><PercentageMapping><MaximumSummedScore>1</MaximumSummedScore>"
    "</PercentageMapping></QualificationValueMapping></AnswerKey>"
)
EXTERNAL_QUESTION = (
    '<ExternalQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/ExternalQuestion.xsd">'
    "<ExternalURL>https://example.org/task</ExternalURL><FrameHeight>400</FrameHeight></ExternalQuestion>"
)
LEAKS = ["root:x:", "canary-secret", "lollollol", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"]


@pytest.fixture(scope="module")
def canary():  # type: ignore[no-untyped-def]
    """An HTTP server that counts requests: an external entity or DTD that got fetched would show here."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            hits.append(self.path)
            body = b'<!ENTITY leak "canary-secret">' if self.path.endswith(".dtd") else b"canary-secret"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", hits
    httpd.shutdown()
    httpd.server_close()


def attacks(base: str, canary_url: str) -> dict[str, str]:
    """`base` with each attack: a DOCTYPE before the root element and a reference in the first text."""
    root = re.match(r"<(\w+)", base).group(1)  # type: ignore[union-attr]
    laughs = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol;" if i == 1 else f"&lol{i - 1};") * 10}">' for i in range(1, 10))
    dtds = {
        "billion_laughs": (f"<!DOCTYPE {root} [{laughs}]>", "&lol9;"),
        "quadratic_blowup": (f'<!DOCTYPE {root} [<!ENTITY a "{"A" * 50_000}">]>', "&a;" * 200),
        "external_file": (f'<!DOCTYPE {root} [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', "&xxe;"),
        "external_http": (f'<!DOCTYPE {root} [<!ENTITY xxe SYSTEM "{canary_url}/entity">]>', "&xxe;"),
        "parameter_entity": (f'<!DOCTYPE {root} [<!ENTITY % ext SYSTEM "{canary_url}/param.dtd"> %ext;]>', "&leak;"),
        "parameter_file": (f'<!DOCTYPE {root} [<!ENTITY % f SYSTEM "file:///etc/passwd"> %f;]>', ""),
        "external_dtd": (f'<!DOCTYPE {root} SYSTEM "{canary_url}/doc.dtd">', "&leak;"),
        "public_dtd": (f'<!DOCTYPE {root} PUBLIC "-//X//Y" "{canary_url}/public.dtd">', ""),
        "internal_dtd": (f"<!DOCTYPE {root} [<!ELEMENT {root} ANY>]>", ""),
        "internal_entity": (f'<!DOCTYPE {root} [<!ENTITY x "harmless">]>', "&x;"),
    }
    out = {}
    for name, (doctype, ref) in dtds.items():
        doc = re.sub(r"(<(?:Text|HTMLContent|ExternalURL|QuestionIdentifier)>)", lambda m: m.group(1) + ref, base, count=1)
        out[name] = '<?xml version="1.0" encoding="UTF-8"?>' + doctype + doc
    return out


def _refused(call, *args, **kw) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as caught:
        call(*args, **kw)
    err = caught.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400, err
    assert err["Error"]["Code"] in ("ParameterValidationError", "ValidationException"), err["Error"]
    text = str(err)
    for leak in LEAKS:
        assert leak not in text, leak


def test_question_xml_attacks_refused(server, mturk, canary):
    url, hits = canary
    before = mturk.list_hits(MaxResults=100)["NumResults"]
    for base in (HTML_QUESTION, EXTERNAL_QUESTION, TEST_XML):
        for name, doc in attacks(base, url).items():
            _refused(mturk.create_hit, **hit_params(Question=doc))
            hit_type = mturk.create_hit_type(Title="t", Description="d", Reward="0.10", AssignmentDurationInSeconds=60)
            _refused(mturk.create_hit_with_hit_type, HITTypeId=hit_type["HITTypeId"], LifetimeInSeconds=600, Question=doc)
    assert mturk.list_hits(MaxResults=100)["NumResults"] == before
    assert hits == [], hits


def test_test_and_answer_key_attacks_refused(server, mturk, canary):
    url, hits = canary
    for name, doc in attacks(TEST_XML, url).items():
        _refused(mturk.create_qualification_type, Name=f"x-{name}", Description="d", QualificationTypeStatus="Active",
                 Test=doc, TestDurationInSeconds=60)
    for name, doc in attacks(ANSWER_KEY, url).items():
        _refused(mturk.create_qualification_type, Name=f"k-{name}", Description="d", QualificationTypeStatus="Active",
                 Test=TEST_XML, TestDurationInSeconds=60, AnswerKey=doc)
    qt = mturk.create_qualification_type(Name="tested", Description="d", QualificationTypeStatus="Active",
                                         Test=TEST_XML, TestDurationInSeconds=60, AnswerKey=ANSWER_KEY)["QualificationType"]
    for name, doc in attacks(TEST_XML, url).items():
        _refused(mturk.update_qualification_type, QualificationTypeId=qt["QualificationTypeId"], Test=doc,
                 TestDurationInSeconds=60)
    for name, doc in attacks(ANSWER_KEY, url).items():
        _refused(mturk.update_qualification_type, QualificationTypeId=qt["QualificationTypeId"], AnswerKey=doc)
    assert hits == [], hits
    names = {q["Name"] for q in mturk.list_qualification_types(MustBeRequestable=False, MustBeOwnedByCaller=True,
                                                                MaxResults=100)["QualificationTypes"]}
    assert not any(n.startswith(("x-", "k-")) for n in names)


def _values(canary_url: str) -> list[str]:
    return [
        '<!DOCTYPE a [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>&xxe;',
        f'<!DOCTYPE a SYSTEM "{canary_url}/answer.dtd">&leak;',
        "&lol9; &amp; &#x41; ]]> <![CDATA[x]]>",
        "</FreeText></Answer><Answer><QuestionIdentifier>injected</QuestionIdentifier><FreeText>1</FreeText></Answer>",
        '<?xml version="1.0"?><!ENTITY % p SYSTEM "file:///etc/passwd"> %p;',
    ]


def _answers_of(mturk, hit_id: str) -> list[dict]:  # type: ignore[no-untyped-def]
    out = []
    for a in mturk.list_assignments_for_hit(HITId=hit_id)["Assignments"]:
        assert "<!DOCTYPE" not in a["Answer"] and "<!ENTITY" not in a["Answer"], a["Answer"][:500]
        out.append(parse_answers(a["Answer"]))  # defusedxml, DTDs forbidden: parses, so no DTD got in
    return out


def test_answer_values_become_text_never_markup(server, mturk, canary):
    url, hits = canary
    values = _values(url)
    # HTMLQuestion via the worker API
    hit = mturk.create_hit(**hit_params(MaxAssignments=len(values) + 1))["HIT"]
    for v in values:
        worker = server.new_worker()
        aid = server.accept(worker, hit["HITId"])
        r = server.submit(worker, aid, {"answer": v, "other": [v, "plain"]})
        assert r.status_code == 200, r.text
    # and via externalSubmit (the HTML form post)
    worker = server.new_worker()
    aid = server.accept(worker, hit["HITId"])
    r = server.http.post("/mturk/externalSubmit", data={"assignmentId": aid, "answer": values[0], "extra": values[3]})
    assert r.status_code == 200, r.text[:300]
    got = _answers_of(mturk, hit["HITId"])
    assert sorted(a["answer"] for a in got) == sorted(values + [values[0]])
    assert all("injected" not in a for a in got)
    # QuestionForm free-text answers
    form_hit = mturk.create_hit(**hit_params(Question=TEST_XML, MaxAssignments=len(values)))["HIT"]
    for v in values:
        worker = server.new_worker()
        aid = server.accept(worker, form_hit["HITId"])
        r = server.submit(worker, aid, {"q1": "b", "c": v})
        assert r.status_code == 200, r.text
    got = _answers_of(mturk, form_hit["HITId"])
    assert sorted(a["c"] for a in got) == sorted(values)
    assert hits == [], hits


def test_qualification_test_answers_become_text(server, mturk, canary):
    url, hits = canary
    qt = mturk.create_qualification_type(Name="graded", Description="d", QualificationTypeStatus="Active",
                                         Test=TEST_XML, TestDurationInSeconds=60)["QualificationType"]
    for v in _values(url):
        worker = server.new_worker()
        r = server.worker_call(worker, "POST", f"/api/worker/v1/qualifications/{qt['QualificationTypeId']}/request",
                               json={"answers": {"q1": "b", "c": v}})
        assert r.status_code < 500 and r.status_code in (200, 201), r.text
    requests = mturk.list_qualification_requests(QualificationTypeId=qt["QualificationTypeId"])["QualificationRequests"]
    comments = sorted(parse_answers(q["Answer"])["c"] for q in requests)
    assert comments == sorted(_values(url))
    # a selection that is itself an attack is refused as a bad answer, not parsed
    worker = server.new_worker()
    r = server.worker_call(worker, "POST", f"/api/worker/v1/qualifications/{qt['QualificationTypeId']}/request",
                           json={"answers": {"q1": _values(url)[0], "c": "x"}})
    assert r.status_code == 400, r.text
    assert hits == [], hits
