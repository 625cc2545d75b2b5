#!/usr/bin/env python
"""A time-boxed hypothesis fuzz campaign against a live hitkit server, from botocore's MTurk model.

Starts a real hitkit server on 127.0.0.1 (port 0; SQLite by default, or a fresh schema in PostgreSQL's `test`
database at 127.0.0.1:5432 with `--database postgres`), two requesters (A, who fuzzes, and B, whose objects A
must not reach), workers who accept, submit and request qualifications, and a notification sink on 127.0.0.1.
Then, round after round over all 39 operations, it sends SigV4-signed (botocore's signer) requests drawn by
hypothesis from the operation's input shape:

  valid            within the model's types, min/max, patterns and enums; ids of existing objects (A's and B's)
  boundary         valid, with limit values mixed in: max lengths and one past, min/max ints, 2**63, 10**30,
                   empty and oversized lists, unicode, NUL, odd timestamps
  mixed            the suite's test_fuzz.py mix (random text, patterns, odd values, wrong-sized ints)
  wrong-type / missing-required / unknown-member / null-member
                   a valid request broken in one way
  raw-body         invalid JSON, non-object JSON, deep nesting, BOM, lone surrogates, NaN, 1e999, binary
  bad-target       absent, wrong prefix, unknown or wrongly cased operation in X-Amz-Target
  bad-sigv4        absent, garbled, stale or future X-Amz-Date, unknown key, wrong secret, wrong scope,
                   tampered body or signature, host not signed, wrong payload hash
  read-back        after every change answered 2xx: GetHIT / GetAssignment / GetQualificationType of the objects
                   it named or made, and ListHITs, so what was accepted is also answered in a parseable shape

and checks every answer: status < 500; the body is a JSON object with Content-Type
application/x-amz-json-1.1; errors carry `__type` and `Message` (and `TurkErrorCode` for RequestError and
ServiceFault) and botocore reads the same error code; 200 answers parse with botocore's parser and match the
output shape (types, enums, required members, no unknown members). It also flags as "wrong": a 2xx to a bad
target or signature, a 200 to A for an operation on B's HIT, assignment, qualification request or
QualificationType, and any of B's private ids in an answer to A.

It stops at `--minutes` or after `--max-examples` requests, prints a table per operation, and exits 1 when any
answer was 5xx, malformed or wrong, printing a reduced reproducer (operation + params) for each distinct finding.
Only 127.0.0.1 is ever contacted: every string in a request that holds "://" is pointed at the local sink.

    python benchmarks/fuzz_api.py                       # 10 minutes, SQLite
    python benchmarks/fuzz_api.py --minutes 1 --max-examples 3000
    python benchmarks/fuzz_api.py --database postgres --minutes 5
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import random
import re
import sys
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from hitkit.mturk.model import TARGET_PREFIX, operation_model, operation_names  # noqa: E402
from tests.support import mturk_fuzz as fz  # noqa: E402

# ------------------------------------------------------------------------------------------------ documents

HTML_QUESTION = """<HTMLQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2011-11-11/HTMLQuestion.xsd">
<HTMLContent><![CDATA[<!DOCTYPE html><html><head><meta charset="utf-8"/></head><body>
<form name="mturk_form" method="post" id="mturk_form" action="https://www.mturk.com/mturk/externalSubmit">
<input type="hidden" name="assignmentId" id="assignmentId" value=""/><input name="answer" type="text"/>
<input type="submit"/></form></body></html>]]></HTMLContent><FrameHeight>450</FrameHeight></HTMLQuestion>"""
EXTERNAL_QUESTION = """<ExternalQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/ExternalQuestion.xsd">
<ExternalURL>https://127.0.0.1:9/task?x=1&amp;y=2</ExternalURL><FrameHeight>0</FrameHeight></ExternalQuestion>"""
QUESTION_FORM = """<QuestionForm xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2017-11-06/QuestionForm.xsd">
<Question><QuestionIdentifier>q1</QuestionIdentifier><IsRequired>true</IsRequired>
<QuestionContent><Text>Pick one</Text></QuestionContent>
<AnswerSpecification><SelectionAnswer><StyleSuggestion>radiobutton</StyleSuggestion><Selections>
<Selection><SelectionIdentifier>a</SelectionIdentifier><Text>A</Text></Selection>
<Selection><SelectionIdentifier>b</SelectionIdentifier><Text>B</Text></Selection>
</Selections></SelectionAnswer></AnswerSpecification></Question>
<Question><QuestionIdentifier>q2</QuestionIdentifier><QuestionContent><Text>Say</Text></QuestionContent>
<AnswerSpecification><FreeTextAnswer><Constraints><Length minLength="1" maxLength="20"/></Constraints></FreeTextAnswer></AnswerSpecification>
</Question></QuestionForm>"""
ANSWER_KEY = """<AnswerKey xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/AnswerKey.xsd">
<Question><QuestionIdentifier>q1</QuestionIdentifier><AnswerOption><SelectionIdentifier>a</SelectionIdentifier>
<AnswerScore>10</AnswerScore></AnswerOption></Question>
<QualificationValueMapping><PercentageMapping><MaximumSummedScore>10</MaximumSummedScore></PercentageMapping></QualificationValueMapping>
</AnswerKey>"""
XXE = """<?xml version="1.0"?><!DOCTYPE q [<!ENTITY x SYSTEM "file:///etc/passwd">]><HTMLQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2011-11-11/HTMLQuestion.xsd"><HTMLContent>&x;</HTMLContent><FrameHeight>1</FrameHeight></HTMLQuestion>"""
LAUGHS = ("<?xml version='1.0'?><!DOCTYPE l [<!ENTITY a 'aaaaaaaaaa'>" + "".join(
    f"<!ENTITY {chr(98 + i)} '{('&' + chr(97 + i) + ';') * 10}'>" for i in range(8)) + "]><QuestionForm>&i;</QuestionForm>")
BROKEN_XML = ["", "<", "<HTMLQuestion/>", "<HTMLQuestion><HTMLContent>x</HTMLContent></HTMLQuestion>", "not xml", XXE, LAUGHS,
              HTML_QUESTION.replace("450", "-1"), HTML_QUESTION.replace("<![CDATA[", "").replace("]]>", ""),
              EXTERNAL_QUESTION.replace("https://127.0.0.1:9", "javascript:alert(1)//"), QUESTION_FORM[:200],
              HTML_QUESTION.replace("<FrameHeight>450</FrameHeight>", "<FrameHeight>99999999999999999999</FrameHeight>")]

POLICY_KEYS = ["AnswerKey", "ApproveIfKnownAnswerScoreIsAtLeast", "ApproveReason", "RejectIfKnownAnswerScoreIsLessThan",
               "RejectReason", "ExtendIfKnownAnswerScoreIsLessThan", "ExtendMaximumAssignments", "ExtendMinimumTimeInSeconds",
               "QuestionIds", "QuestionAgreementThreshold", "DisregardAssignmentIfRejected", "DisregardAssignmentIfKnownAnswerScoreIsLessThan",
               "ExtendIfHITAgreementScoreIsLessThan", "ApproveIfWorkerAgreementScoreIsAtLeast", "RejectIfWorkerAgreementScoreIsLessThan"]
SMKA = {"PolicyName": "ScoreMyKnownAnswers/2011-09-01", "Parameters": [
    {"Key": "AnswerKey", "MapEntries": [{"Key": "q1", "Values": ["a"]}]},
    {"Key": "ApproveIfKnownAnswerScoreIsAtLeast", "Values": ["90"]}, {"Key": "RejectIfKnownAnswerScoreIsLessThan", "Values": ["10"]},
    {"Key": "ExtendIfKnownAnswerScoreIsLessThan", "Values": ["50"]}, {"Key": "ExtendMaximumAssignments", "Values": ["5"]}]}
PLURALITY = {"PolicyName": "SimplePlurality/2011-09-01", "Parameters": [
    {"Key": "QuestionIds", "Values": ["q1"]}, {"Key": "QuestionAgreementThreshold", "Values": ["50"]},
    {"Key": "ExtendIfHITAgreementScoreIsLessThan", "Values": ["60"]}, {"Key": "ExtendMaximumAssignments", "Values": ["4"]},
    {"Key": "ApproveIfWorkerAgreementScoreIsAtLeast", "Values": ["50"]}]}
SYSTEM_QUALS = ["00000000000000000071", "000000000000000000L0", "00000000000000000040", "2F1QJWKUDD8XADTFD2Q0G6UTO95ALH",
                "2ARFPLSP75KLA8M8DH1HTEQVJT3SY6", "3AWO4KN9YO3JRSN25G0KTXS4AQW9I6"]

# ------------------------------------------------------------------------------------------------ the world

CHANGES = ("Create", "Update", "Delete", "Approve", "Reject", "Send", "Associate", "Disassociate", "Accept", "Notify")
READ_BACK = {"HITId": "GetHIT", "AssignmentId": "GetAssignment", "QualificationTypeId": "GetQualificationType"}


def collect_ids(value: Any, found: dict) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            if k in READ_BACK and isinstance(v, str):
                found[k].add(v)
            else:
                collect_ids(v, found)
    elif isinstance(value, list):
        for v in value:
            collect_ids(v, found)


KINDS = ("HITId", "AssignmentId", "QualificationTypeId", "HITTypeId", "QualificationRequestId", "WorkerId", "NextToken")
PRIVATE = ("HITId", "AssignmentId", "QualificationRequestId")  # B's ids of these kinds must never reach A
PRIMARY = {  # operation -> the member naming the object it acts on, which must be the caller's own
    **{op: "HITId" for op in ("GetHIT", "DeleteHIT", "UpdateExpirationForHIT", "UpdateHITReviewStatus", "UpdateHITTypeOfHIT",
                              "CreateAdditionalAssignmentsForHIT", "ListAssignmentsForHIT", "ListReviewPolicyResultsForHIT")},
    **{op: "AssignmentId" for op in ("GetAssignment", "ApproveAssignment", "RejectAssignment", "SendBonus", "GetFileUploadURL")},
    **{op: "QualificationRequestId" for op in ("AcceptQualificationRequest", "RejectQualificationRequest")},
    **{op: "QualificationTypeId" for op in ("UpdateQualificationType", "DeleteQualificationType", "AssociateQualificationWithWorker",
                                            "DisassociateQualificationFromWorker", "ListWorkersWithQualificationType",
                                            "GetQualificationScore", "ListQualificationRequests")},
}


class Sink(BaseHTTPRequestHandler):
    """The notification destination: answers every POST with 200."""

    received = 0

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Sink.received += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


@dataclass
class Pools:
    own: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in KINDS})
    other: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in KINDS})

    def add(self, kind: str, value: str, other: bool = False, cap: int = 60) -> None:
        pool = (self.other if other else self.own)[kind]
        if value and value not in pool:
            pool.append(value)
            del pool[:-cap]


class World:
    """The live server and what exists on it."""

    def __init__(self, database: str) -> None:
        from tests.support.server import start_server

        self.server = start_server(database=database)
        self.a = self.server.new_requester(balance_cents=10**12)
        self.b = self.server.new_requester(balance_cents=10**9)
        self.ca, self.cb = self.server.client(self.a), self.server.client(self.b)
        self.workers: list = []
        self.pairs: list[tuple[str, str]] = []  # (AssignmentId, WorkerId) of A's submitted assignments, for SendBonus
        self.pools = Pools()
        self.sink = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
        threading.Thread(target=self.sink.serve_forever, daemon=True).start()
        self.sink_url = f"http://127.0.0.1:{self.sink.server_address[1]}/events"
        self.http = httpx.Client(base_url=self.server.url, timeout=60)

    def stop(self) -> None:
        self.http.close()
        self.sink.shutdown()
        self.server.stop()

    def seed(self, client, other: bool, hits: int = 1) -> None:  # type: ignore[no-untyped-def]
        """A HIT type, HITs with submitted assignments, a QualificationType with a pending request."""
        add = lambda kind, value: self.pools.add(kind, value, other=other)  # noqa: E731
        try:
            qt = client.create_qualification_type(Name=f"q-{random.getrandbits(48):x}", Description="fuzz",
                                                  QualificationTypeStatus="Active")["QualificationType"]["QualificationTypeId"]
            add("QualificationTypeId", qt)
            # fresh workers each time: the campaign blocks and disqualifies the ones it knows
            self.workers = [self.server.new_worker() for _ in range(3)]
            for w in self.workers:
                self.pools.add("WorkerId", w.worker_id)
                self.pools.add("WorkerId", w.worker_id, other=True)
            client.associate_qualification_with_worker(QualificationTypeId=qt, WorkerId=self.workers[0].worker_id, IntegerValue=5)
            self.server.worker_call(self.workers[1], "POST", f"/api/worker/v1/qualifications/{qt}/request", json={})
            listed = client.list_qualification_requests(QualificationTypeId=qt).get("QualificationRequests", [])
            for q in listed:
                add("QualificationRequestId", q["QualificationRequestId"])
            ht = client.create_hit_type(Title="fuzz type", Description="d", Reward="0.05", AssignmentDurationInSeconds=600)["HITTypeId"]
            add("HITTypeId", ht)
            if other:  # B's page tokens, for A to follow (an answer to A must not hold B's objects)
                for page in (client.list_hits(MaxResults=1), client.list_qualification_types(MustBeRequestable=False,
                             MustBeOwnedByCaller=True, MaxResults=1), client.list_reviewable_hits(MaxResults=1)):
                    add("NextToken", page.get("NextToken", ""))
            for _ in range(hits):
                hit = client.create_hit(Title="Fuzz HIT", Description="Do it", Reward="0.05", MaxAssignments=3,
                                        LifetimeInSeconds=86400, AssignmentDurationInSeconds=600, Question=HTML_QUESTION)["HIT"]
                add("HITId", hit["HITId"])
                add("HITTypeId", hit["HITTypeId"])
                for w in self.workers[:3]:
                    aid = self.server.do_hit(w, hit["HITId"], {"answer": "yes"})
                    add("AssignmentId", aid)
                    if not other:
                        self.pairs = [*self.pairs[-40:], (aid, w.worker_id)]
        except Exception as e:  # noqa: BLE001 - a seeding failure only narrows the campaign; it is reported
            print(f"  (seeding: {type(e).__name__}: {e})", file=sys.stderr)

    def hints(self) -> dict[str, st.SearchStrategy]:
        pools, now = self.pools, int(time.time())

        def ids(kind: str, pattern: str = r"[A-Z0-9]{20,30}") -> st.SearchStrategy:
            options = []
            if pools.own[kind]:
                options += [st.sampled_from(list(pools.own[kind]))] * 3
            if pools.other[kind]:
                options.append(st.sampled_from(list(pools.other[kind])))
            if kind == "QualificationTypeId":
                options.append(st.sampled_from(SYSTEM_QUALS))
            options.append(st.from_regex(pattern, fullmatch=True))
            return st.one_of(options)

        regular = st.from_regex(r"[1-9]\.[0-9]{2}", fullmatch=True)
        money = regular | regular | regular | st.sampled_from(
            ["0.00", "0.01", "0.05", "0.5", "1", "1.00", "10000.00", "99999999999999999999.99", "1.", "0.001", ".5"])
        question = st.sampled_from([HTML_QUESTION, EXTERNAL_QUESTION, QUESTION_FORM] * 3 + BROKEN_XML)
        locale = st.fixed_dictionaries({"Country": st.sampled_from(["US", "GB", "DE", "IN", "XX", "us"])},
                                       optional={"Subdivision": st.sampled_from(["CA", "NY", "ZZ"])})
        comparators = st.sampled_from(["LessThan", "LessThanOrEqualTo", "GreaterThan", "GreaterThanOrEqualTo", "EqualTo",
                                       "NotEqualTo", "Exists", "DoesNotExist", "In", "NotIn"])
        optional = {"RequiredToPreview": st.booleans(),
                    "ActionsGuarded": st.sampled_from(["Accept", "PreviewAndAccept", "DiscoverPreviewAndAccept"])}
        requirement = st.one_of(
            st.fixed_dictionaries({"QualificationTypeId": ids("QualificationTypeId"), "Comparator": comparators},
                                  optional={"IntegerValues": st.lists(st.integers(-10, 110), max_size=3), **optional}),
            st.fixed_dictionaries({"QualificationTypeId": st.just("00000000000000000071"),
                                   "Comparator": st.sampled_from(["EqualTo", "NotEqualTo", "In", "NotIn"]),
                                   "LocaleValues": st.lists(locale, min_size=1, max_size=3)}, optional=optional),
            st.fixed_dictionaries({"QualificationTypeId": ids("QualificationTypeId"), "Comparator": comparators},
                                  optional={"IntegerValues": st.lists(st.integers(-10, 110), max_size=3),
                                            "LocaleValues": st.lists(locale, max_size=3), **optional}),
        )
        notification = st.fixed_dictionaries(
            {"Destination": st.sampled_from([self.sink_url] * 4 + ["someone@example.org", "arn:aws:sns:us-east-1:123456789012:t", "not a url", ""]),
             "Transport": st.sampled_from(["Email", "SQS", "SNS"]),
             "Version": st.sampled_from(["2006-05-05"] * 6 + ["2014-08-15", ""]),
             "EventTypes": st.lists(st.sampled_from(["AssignmentAccepted", "AssignmentAbandoned", "AssignmentReturned", "AssignmentSubmitted",
                                                     "AssignmentRejected", "AssignmentApproved", "HITCreated", "HITExpired",
                                                     "HITReviewable", "HITExtended", "HITDisposed", "Ping"]), max_size=4)})
        return {
            "HITId": ids("HITId"), "AssignmentId": ids("AssignmentId"), "QualificationTypeId": ids("QualificationTypeId"),
            "HITTypeId": ids("HITTypeId"), "QualificationRequestId": ids("QualificationRequestId"),
            "WorkerId": ids("WorkerId", r"A[A-Z0-9]{12,20}"),
            "NextToken": (st.sampled_from(list(pools.own["NextToken"])) if pools.own["NextToken"] else st.nothing())
            | (st.sampled_from(list(pools.other["NextToken"])) if pools.other["NextToken"] else st.nothing())
            | st.text(min_size=1, max_size=40),
            "Reward": money, "BonusAmount": money, "Question": question,
            "Test": st.sampled_from([QUESTION_FORM, QUESTION_FORM, XXE, LAUGHS, "<QuestionForm/>"]),
            "AnswerKey": st.sampled_from([ANSWER_KEY, ANSWER_KEY, XXE, "<AnswerKey/>", ANSWER_KEY.replace("q1", "nope")]),
            "QualificationRequirement": requirement, "LocaleValue": locale, "Notification": notification,
            "PolicyName": st.sampled_from(["ScoreMyKnownAnswers/2011-09-01", "SimplePlurality/2011-09-01", "Nope"]),
            "Key": st.sampled_from(POLICY_KEYS) | st.text(max_size=10),
            "Value": st.sampled_from(["1", "90", "q1", "true", "a", "3600", "-1"]) | st.text(max_size=10),
            "ExpireAt": st.integers(now - 86400, now + 30 * 86400) | st.just(0),
            "UniqueRequestToken": st.sampled_from(["fuzz-token-1", "fuzz-token-2"]) | st.text(min_size=1, max_size=64),
            "IntegerValue": st.integers(-5, 200), "MaxResults": st.integers(1, 100),
            "QuestionIdentifier": st.sampled_from(["answer", "q1", "file"]) | st.text(min_size=1, max_size=20),
            "LifetimeInSeconds": st.integers(30, 31_536_000), "AssignmentDurationInSeconds": st.integers(30, 31_536_000),
            "MaxAssignments": st.integers(1, 20), "NumberOfAdditionalAssignments": st.integers(1, 5),
            # rarely present: hitkit has no HIT layouts, and review policies need matching parameters (null = absent)
            "HITLayoutId": st.none() | st.none() | st.none() | st.from_regex(r"[A-Z0-9]{5,30}", fullmatch=True),
            "HITLayoutParameters": st.none() | st.just([{"Name": "image", "Value": "x"}]),
            "AssignmentReviewPolicy": st.sampled_from([None, None, None, SMKA, {**SMKA, "Parameters": SMKA["Parameters"][1:]}]),
            "HITReviewPolicy": st.sampled_from([None, None, None, PLURALITY, {"PolicyName": "SimplePlurality/2011-09-01"}]),
        }

    def harvest(self, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                if k in KINDS and isinstance(v, str):
                    self.pools.add(k, v)
                else:
                    self.harvest(v)
        elif isinstance(value, list):
            for v in value:
                self.harvest(v)


# ------------------------------------------------------------------------------------------------ cases


@dataclass
class Case:
    op: str
    kind: str
    params: Any = None  # JSON-able (sent as json.dumps(params)) unless body is set
    body: bytes | None = None
    target: str | None = "default"
    auth: str = "ok"

    def payload(self) -> bytes:
        return self.body if self.body is not None else json.dumps(self.params).encode()

    def describe(self) -> str:
        lines = [f"operation: {self.op}    kind: {self.kind}"]
        if self.target != "default":
            lines.append(f"X-Amz-Target: {self.target!r}")
        if self.auth != "ok":
            lines.append(f"SigV4: {self.auth}")
        lines.append(f"params: {json.dumps(self.params)[:2000]}" if self.body is None else f"raw body: {self.body[:400]!r}")
        return "\n    ".join(lines)


RAW_BODIES = [b"", b" ", b"{", b"{}}", b'{"a":', b"\xef\xbb\xbf{}", b'{"a":1e999}', b'{"a":NaN}', b'"\\ud800"', b'{"HITId":"\\ud800"}',
              b'{"HITId":"\\udfff\\ud800"}', b"[" * 5000, b'{"a":' * 600 + b"1" + b"}" * 600, b"\xff\xfe", b'{"a":1,"a":2}', b"null", b"0",
              b"[]", b'"{}"', b"\x00" * 10, b"{\x00}", b'{"MaxResults": 1' + b"0" * 400 + b"}", b'{"MaxResults": -0}',
              b'{"MaxResults": 1.0}', b'{"MaxResults": 1e2}', b"\xc3\x28", b'{"\xc3\x28": 1}', b"x" * 1_100_000]
TARGETS = [None, "", TARGET_PREFIX, TARGET_PREFIX + ".", "MTurkRequesterServiceV20170117.NoSuchOperation", "DynamoDB_20120810.ListTables",
           TARGET_PREFIX + ".__class__", TARGET_PREFIX + ".__init__", "." , "\u00e9t\u00e9", "x" * 5000]
AUTHS = ["body-swapped-hash-header", "absent", "garbage", "unknown-key", "wrong-secret", "stale", "future", "bad-date", "impossible-date", "wrong-service",
         "scope-date-mismatch", "tampered-body", "tampered-signature", "host-not-signed", "wrong-payload-hash", "empty"]


def case_strategy(op: str, hints: dict[str, st.SearchStrategy], pairs: list[tuple[str, str]]) -> st.SearchStrategy:
    shape = operation_model(op).input_shape
    required = set(shape.metadata.get("required", ())) if shape is not None else set()
    full = fz.input_strategy(op, "valid", hints)
    # each optional member can make a request invalid, so half the valid requests carry only the required ones
    valid = st.tuples(full, st.booleans()).map(lambda t: t[0] if t[1] else {k: v for k, v in t[0].items() if k in required})
    if op in ("CreateHIT", "CreateHITWithHITType"):  # Question is optional in the model, but needed without a layout
        valid = st.tuples(valid, hints["Question"], st.integers(0, 9)).map(
            lambda t: {**t[0], "Question": t[0].get("Question") or t[1]} if t[2] else t[0])
    if op == "SendBonus" and pairs:  # the worker who did the assignment
        valid = st.tuples(valid, st.sampled_from(pairs), st.integers(0, 3)).map(
            lambda t: {**t[0], "AssignmentId": t[1][0], "WorkerId": t[1][1]} if t[2] else t[0])
    boundary = fz.input_strategy(op, "boundary", hints)
    mixed = fz.input_strategy(op, "mixed")
    mutated = fz.mutated_input(op, hints)
    raw = st.one_of(st.sampled_from(RAW_BODIES), st.binary(max_size=64),
                    fz.ANY_JSON.filter(lambda v: not isinstance(v, dict)).map(lambda v: json.dumps(v).encode()))
    return st.one_of(
        valid.map(lambda p: Case(op, "valid", p)),
        valid.map(lambda p: Case(op, "valid", p)),
        boundary.map(lambda p: Case(op, "boundary", p)),
        boundary.map(lambda p: Case(op, "boundary", p)),
        mixed.map(lambda p: Case(op, "mixed", p)),
        mutated.map(lambda kp: Case(op, kp[0], kp[1])),
        mutated.map(lambda kp: Case(op, kp[0], kp[1])),
        raw.map(lambda b: Case(op, "raw-body", body=b)),
        st.tuples(valid, st.sampled_from(TARGETS + [TARGET_PREFIX + "." + op.lower(), "MTurkRequesterServiceV20140101." + op]))
        .map(lambda pt: Case(op, "bad-target", pt[0], target=pt[1])),
        st.tuples(valid, st.sampled_from(AUTHS)).map(lambda pa: Case(op, "bad-sigv4", pa[0], auth=pa[1])),
    )


# ------------------------------------------------------------------------------------------------ sending


@dataclass
class Outcome:
    status: int
    headers: dict
    body: bytes
    problems: list[str]  # malformed
    wrong: list[str]  # answered, well formed, but what it says is wrong
    code: str = ""


def headers_for(world: World, case: Case, body: bytes) -> tuple[dict[str, str], bytes]:
    """Headers (signed, or broken as the case says) and the body actually sent."""
    srv, key, secret = world.server, world.a.access_key, world.a.secret
    url = srv.url + "/"
    target = fz.target_of(case.op) if case.target == "default" else case.target
    auth = case.auth
    if auth == "unknown-key":
        key = "AKIA" + "Z" * 16
    if auth == "wrong-secret":
        secret = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    date = {"stale": fz.amz_date(-20 * 60), "future": fz.amz_date(20 * 60)}.get(auth)
    h = fz.sign(url, key, secret, target, body, amz_date=date, service="mturk" if auth == "wrong-service" else "mturk-requester")
    if auth == "absent":
        h.pop("Authorization")
    elif auth == "empty":
        h["Authorization"] = ""
    elif auth == "garbage":
        h["Authorization"] = "AWS4-HMAC-SHA256 Credential=\u00e9/x, SignedHeaders=host, Signature=zz"
    elif auth == "bad-date":
        h["X-Amz-Date"] = "2026-11-23T10:00:00Z"
    elif auth == "impossible-date":
        h["X-Amz-Date"] = "20261399T256199Z"
    elif auth == "scope-date-mismatch":
        h["Authorization"] = h["Authorization"].replace(f"/{h['X-Amz-Date'][:8]}/", "/20000101/")
    elif auth == "tampered-body":
        body = body + b" "
    elif auth == "tampered-signature":
        sig = h["Authorization"][-64:]
        h["Authorization"] = h["Authorization"][:-64] + ("0" if sig[0] != "0" else "1") + sig[1:]
    elif auth == "host-not-signed":
        h["Authorization"] = re.sub(r"SignedHeaders=([^,]*)", lambda m: "SignedHeaders=" + ";".join(
            x for x in m[1].split(";") if x != "host"), h["Authorization"])
    elif auth == "body-swapped-hash-header":  # the signed body's hash declared, another body sent
        h["X-Amz-Content-SHA256"] = hashlib.sha256(body).hexdigest()
        body = b'{"MaxResults": 1}' if body != b'{"MaxResults": 1}' else b"{}"
    elif auth == "wrong-payload-hash":
        h["X-Amz-Content-SHA256"] = "0" * 64
    if target is None:
        h.pop("X-Amz-Target", None)
    return {k: v.encode("utf-8") if isinstance(v, str) and not v.isascii() else v for k, v in h.items()}, body


def execute(world: World, case: Case) -> Outcome:
    body = fz.local_only(case.payload(), world.sink_url) if case.body is None or len(case.body) < 100_000 else case.body
    headers, body = headers_for(world, case, body)
    try:
        resp = world.http.post("/", content=body, headers=headers)
    except httpx.HTTPError as e:
        return Outcome(0, {}, b"", [f"transport error: {type(e).__name__}: {e}"], [], "transport-error")
    status, rh, content = resp.status_code, dict(resp.headers), resp.content
    problems = fz.response_problems(case.op, status, resp.headers, content) if status < 500 else []
    wrong: list[str] = []
    data: Any = None
    try:
        data = json.loads(content)
    except (ValueError, RecursionError):
        pass
    code = "" if status < 300 else fz.error_code(data)
    if 200 <= status < 300:
        if case.kind in ("bad-target", "bad-sigv4"):
            wrong.append(f"a {case.kind} request ({case.target if case.kind == 'bad-target' else case.auth}) was answered {status}")
        if case.kind in ("missing-required", "wrong-type"):
            wrong.append(f"a {case.kind} request was answered {status}: the model's validation let it through")
    member = PRIMARY.get(case.op)
    probe = bool(member and isinstance(case.params, dict) and case.body is None and case.target == "default" and case.auth == "ok"
                 and isinstance(case.params.get(member), str) and case.params.get(member) in world.pools.other[member])
    with PROBE_LOCK:
        probes[0] += probe
    if 200 <= status < 300:
        if probe:
            wrong.append(f"{case.op} on requester B's {member} {case.params[member]} was answered 200 for requester A")
        leaked = other_ids_in(world, data)
        if leaked:
            wrong.append(f"the answer to requester A holds requester B's ids: {sorted(leaked)[:3]}")
        elif not problems:
            world.harvest(data)
    return Outcome(status, rh, content, problems, wrong, code)


def other_ids_in(world: World, data: Any) -> set[str]:
    private = {v for k in PRIVATE for v in world.pools.other[k]}
    found: set[str] = set()
    fz.walk_strings(data, lambda s: (found.add(s) if s in private else None) or s)
    return found


def failure_class(o: Outcome) -> str | None:
    if o.status >= 500 or o.status == 0:
        return "5xx"
    if o.problems:
        return "malformed"
    if o.wrong:
        return "wrong"
    return None


# ------------------------------------------------------------------------------------------------ reducing


def signature(o: Outcome) -> tuple:
    return failure_class(o), o.status, o.code, (o.problems or o.wrong or [""])[0][:40]


def reduce(world: World, case: Case, outcome: Outcome, budget_s: float = 20.0) -> tuple[Case, Outcome]:
    """Greedily drop members and shorten strings and lists while the answer fails in the same way (class,
    status, error code, first problem)."""
    if case.body is not None or not isinstance(case.params, dict):
        return case, outcome
    deadline = time.monotonic() + budget_s
    wanted = signature(outcome)
    last = [outcome]

    def still(params: Any) -> bool:
        trial = Case(case.op, case.kind, params, target=case.target, auth=case.auth)
        o = execute(world, trial)
        if signature(o) == wanted:
            last[0] = o
            return True
        return False

    def candidates(v: Any):  # type: ignore[no-untyped-def]
        if isinstance(v, dict):
            for k in list(v):
                yield {x: y for x, y in v.items() if x != k}
            for k in list(v):
                for smaller in candidates(v[k]):
                    yield {**v, k: smaller}
        elif isinstance(v, list):
            for i in range(len(v)):
                yield v[:i] + v[i + 1:]
            for i in range(len(v)):
                for smaller in candidates(v[i]):
                    yield v[:i] + [smaller] + v[i + 1:]
        elif isinstance(v, str) and len(v) > 1:
            yield v[: len(v) // 2]
            yield v[:1]

    params, improved = case.params, True
    while improved and time.monotonic() < deadline:
        improved = False
        for cand in candidates(params):
            if time.monotonic() > deadline:
                break
            if still(cand):
                params, improved = cand, True
                break
    return Case(case.op, case.kind, params, target=case.target, auth=case.auth), last[0]


# ------------------------------------------------------------------------------------------------ campaign


@dataclass
class Stats:
    sent: int = 0
    s2xx: int = 0
    s4xx: int = 0
    s5xx: int = 0
    malformed: int = 0
    wrong: int = 0
    codes: Counter = field(default_factory=Counter)


class CountingHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(self.format(record))


def campaign(args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    ops = sorted(operation_names())
    if args.operations:
        wanted = set(args.operations.split(","))
        ops = [op for op in ops if op in wanted]
    internal = CountingHandler()
    for name in ("hitkit", "uvicorn.error"):  # count what the server logs as errors instead of printing it
        logger = logging.getLogger(name)
        logger.addHandler(internal)
        logger.propagate = False

    print(f"starting a hitkit server ({args.database}) on 127.0.0.1 ...", file=sys.stderr)
    world = World(args.database)
    world.seed(world.cb, other=True, hits=2)
    world.seed(world.ca, other=False, hits=2)
    deadline = t0 + args.minutes * 60
    print(f"server {world.server.url}; fuzzing {len(ops)} operations for up to {args.minutes} min / {args.max_examples} requests",
          file=sys.stderr)

    stats: dict[str, Stats] = defaultdict(Stats)
    kinds: Counter = Counter()
    failures: dict[tuple, tuple[Case, Outcome]] = {}
    total = 0

    def stop() -> bool:
        return total >= args.max_examples or time.monotonic() >= deadline

    lock = threading.Lock()
    pool = ThreadPoolExecutor(max_workers=args.clients) if args.clients > 1 else None
    in_flight = threading.BoundedSemaphore(args.clients * 2)
    pending: list = []

    def run_case(case: Case) -> None:
        if stop():
            return
        o = execute(world, case)
        with lock:
            read = tally(case, o)
        if read:
            read_back(case, o)

    def tally(case: Case, o: Outcome) -> bool:
        nonlocal total
        total += 1
        s = stats[case.op]
        s.sent += 1
        kinds[case.kind] += 1
        if 200 <= o.status < 300:
            s.s2xx += 1
        elif 400 <= o.status < 500:
            s.s4xx += 1
        if o.code:
            s.codes[o.code] += 1
        cls = failure_class(o)
        if cls == "5xx":
            s.s5xx += 1
        elif cls == "malformed":
            s.malformed += 1
        elif cls == "wrong":
            s.wrong += 1
        if cls:
            detail = (o.problems or o.wrong or [o.code])[0]
            key = (case.op, cls, case.kind, o.status, detail[:60])
            failures.setdefault(key, (case, o))
        return not cls and 200 <= o.status < 300 and case.kind != "read-back"

    def submit(case: Case) -> None:
        """Run the case here, or (--clients N) on one of N threads, so that N requests are in flight at once."""
        if pool is None:
            run_case(case)
            return
        in_flight.acquire()
        future = pool.submit(run_case, case)
        future.add_done_callback(lambda _: in_flight.release())
        pending.append(future)

    def drain() -> None:
        while pending:
            pending.pop().result()  # re-raises a harness error from a client thread

    def read_back(case: Case, o: Outcome) -> None:
        """After a change answered 2xx, read the objects it named or made back (GetHIT, GetAssignment,
        GetQualificationType, ListHITs): what was accepted must still be answered in a shape clients can parse."""
        if not case.op.startswith(CHANGES) or case.target != "default" or case.auth != "ok":
            return
        found: dict[str, set] = defaultdict(set)
        for source in (case.params, json.loads(o.body or b"{}")):
            if isinstance(source, dict):
                collect_ids(source, found)
        for member, getter in READ_BACK.items():
            for value in list(found[member])[:2]:
                if value not in world.pools.other[member]:
                    run_case(Case(getter, "read-back", {member: value}))
        if found["HITId"]:
            run_case(Case("ListHITs", "read-back", {"MaxResults": 100}))

    rounds = 0
    while not stop():
        rounds += 1
        if rounds > 1:  # fresh submitted assignments and pending requests, as earlier rounds used them up
            world.seed(world.ca, other=False)
        if rounds % 10 == 0:
            world.seed(world.cb, other=True)
        hints = world.hints()
        order = ops[:]
        random.shuffle(order)
        for op in order:
            if stop():
                break

            @settings(max_examples=args.per_round, deadline=None, database=None, phases=[Phase.generate],
                      suppress_health_check=list(HealthCheck))
            @given(case=case_strategy(op, hints, list(world.pairs)))
            def fuzz(case: Case) -> None:
                submit(case)

            fuzz()
        drain()
        elapsed = time.monotonic() - t0
        print(f"  round {rounds}: {total} requests, {elapsed:.0f} s", file=sys.stderr)

    if pool is not None:
        pool.shutdown()
    # a final liveness probe: the server still answers a plain call
    alive = world.http.post("/", content=b"{}", headers=fz.sign(world.server.url + "/", world.a.access_key, world.a.secret,
                                                                 fz.target_of("GetAccountBalance"), b"{}")).status_code == 200
    elapsed = time.monotonic() - t0

    reproducers = []
    for (op, cls, kind, status, detail), (case, o) in list(failures.items())[: args.max_reproducers]:
        small, o = reduce(world, case, o)
        reproducers.append((op, cls, status, detail, small, o))
    world.stop()

    print_table(ops, stats, kinds, total, elapsed, rounds, args, alive, internal.records)
    if reproducers:
        print("\nreproducers (reduced):")
        for op, cls, status, detail, case, o in reproducers:
            print(f"\n- {cls} (HTTP {status}): {detail}\n    {case.describe()}\n    answer: {o.body[:300]!r}")
        if len(failures) > len(reproducers):
            print(f"\n... and {len(failures) - len(reproducers)} more distinct findings")
    bad = sum(s.s5xx + s.malformed + s.wrong for s in stats.values()) + (0 if alive else 1)
    print(f"\nresult: {'FAIL' if bad else 'PASS'} ({bad} bad answers)")
    return 1 if bad else 0


FRONT_DOOR = {"SerializationException", "UnknownOperationException", "InvalidSignatureException", "IncompleteSignatureException",
              "MissingAuthenticationTokenException", "UnrecognizedClientException", "RequestEntityTooLargeException"}


def short(code: str) -> str:
    return code.replace("Exception", "").replace("ParameterValidationError", "ParamValidation")


probes = [0]
PROBE_LOCK = threading.Lock()


def print_table(ops, stats, kinds, total, elapsed, rounds, args, alive, internal) -> None:  # type: ignore[no-untyped-def]
    print(f"\nAPI fuzz campaign: {args.database}, {args.clients} client(s), {elapsed:.0f} s, {total} requests ({total / max(elapsed, 1e-9):.0f}/s), "
          f"{rounds} rounds of up to {args.per_round} per operation\n")
    header = "| operation | sent | 2xx | 4xx | 5xx | malformed | wrong | distinct error codes |"
    print(header)
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    tot = Stats()
    for op in sorted(set(ops) | {op for op, st_ in stats.items() if st_.sent}):
        s = stats[op]
        codes = ", ".join(short(c) for c, _ in s.codes.most_common() if c not in FRONT_DOOR)
        print(f"| {op} | {s.sent} | {s.s2xx} | {s.s4xx} | {s.s5xx} | {s.malformed} | {s.wrong} | {codes} |")
        tot.sent += s.sent
        tot.s2xx += s.s2xx
        tot.s4xx += s.s4xx
        tot.s5xx += s.s5xx
        tot.malformed += s.malformed
        tot.wrong += s.wrong
        tot.codes.update(s.codes)
    print(f"| **total** | {tot.sent} | {tot.s2xx} | {tot.s4xx} | {tot.s5xx} | {tot.malformed} | {tot.wrong} | {len(tot.codes)} distinct |")
    front = [f"{short(c)} {n}" for c, n in tot.codes.most_common() if c in FRONT_DOOR]
    print("\nfront-door errors (every operation, not listed per row): " + ", ".join(front))
    print("\nrequests by kind: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    print(f"requests naming requester B's object as the one acted on: {probes[0]} (answered 200: {sum(s.wrong for s in stats.values())} wrong)")
    print(f"notifications delivered to the local sink: {Sink.received}; server alive at the end: {'yes' if alive else 'NO'}; "
          f"errors logged by the server: {len(internal)}")
    for line in internal[:5]:
        print("  logged: " + line.splitlines()[0][:200])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=10.0, help="time box for the campaign (default 10)")
    p.add_argument("--max-examples", type=int, default=1_000_000, help="stop after this many requests (default 1,000,000)")
    p.add_argument("--per-round", type=int, default=25, help="hypothesis examples per operation per round (default 25)")
    p.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--clients", type=int, default=1, help="requests in flight at once, from client threads (default 1)")
    p.add_argument("--operations", default="", help="comma-separated subset of operations (default: all 39)")
    p.add_argument("--max-reproducers", type=int, default=20, help="reduce and print at most this many distinct findings")
    p.add_argument("--seed", type=int, default=None, help="seed Python's random (round order, seeded names)")
    args = p.parse_args(argv)
    if args.seed is not None:
        random.seed(args.seed)
    os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(os.environ.get("TMPDIR", "/tmp"), "hitkit-fuzz-hypothesis"))
    return campaign(args)


if __name__ == "__main__":
    sys.exit(main())
