"""Notification settings and delivery by HTTP POST to a receiver on 127.0.0.1, through boto3."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from botocore.exceptions import ClientError
from sqlalchemy import select

from hitkit.server.store.tables import events
from tests.conftest import hit_params


class Receiver:
    """A tiny HTTP server that records every JSON document POSTed to it."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.documents: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                receiver.documents.append({"path": self.path, "content_type": self.headers.get("content-type"),
                                           "body": json.loads(body or b"null")})
                self.send_response(receiver.status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/mturk-events"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def events(self) -> list[dict]:
        return [e for d in self.documents for e in d["body"]["Events"]]

    def wait_for(self, event_type: str, timeout: float = 15.0) -> dict:
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = [e for e in self.events() if e["EventType"] == event_type]
            if found:
                return found[0]
            time.sleep(0.1)
        raise AssertionError(f"no {event_type} event arrived; got {self.events()}")

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def receiver():
    r = Receiver()
    yield r
    r.close()


def spec(destination: str, *event_types: str, transport: str = "SQS", version: str = "2006-05-05") -> dict:
    return {"Destination": destination, "Transport": transport, "Version": version,
            "EventTypes": list(event_types) or ["AssignmentSubmitted"]}


def _type_params() -> dict:
    p = hit_params()
    return {k: p[k] for k in ("Title", "Description", "Reward", "AssignmentDurationInSeconds",
                              "AutoApprovalDelayInSeconds", "Keywords")}


def _hit_of_type(mturk, type_id: str) -> str:
    p = hit_params()
    return mturk.create_hit_with_hit_type(HITTypeId=type_id, LifetimeInSeconds=3600, MaxAssignments=3,
                                          Question=p["Question"])["HIT"]["HITId"]


def _error(exc: pytest.ExceptionInfo) -> dict:
    return exc.value.response["Error"]


def test_assignment_submitted_is_posted_as_an_event_document(server, requester, mturk, receiver):
    type_id = mturk.create_hit_type(**_type_params())["HITTypeId"]
    mturk.update_notification_settings(HITTypeId=type_id, Notification=spec(receiver.url, "AssignmentSubmitted"), Active=True)
    hit_id = _hit_of_type(mturk, type_id)
    aid = server.do_hit(server.new_worker(), hit_id, {"answer": "cat"})

    event = receiver.wait_for("AssignmentSubmitted")
    assert event["HITId"] == hit_id and event["AssignmentId"] == aid and event["HITTypeId"] == type_id
    assert time.strptime(event["EventTimestamp"], "%Y-%m-%dT%H:%M:%SZ")
    doc = next(d for d in receiver.documents if event in d["body"]["Events"])
    assert doc["path"] == "/mturk-events" and doc["content_type"] == "application/json"
    body = doc["body"]
    assert body["EventDocVersion"] == "2014-08-15"
    assert body["CustomerId"] == requester.requester_id and body["EventDocId"]
    time.sleep(1.2)  # a few delivery passes: only the subscribed event type is sent
    assert {e["EventType"] for e in receiver.events()} == {"AssignmentSubmitted"}


def test_active_toggles_an_existing_specification(server, mturk, receiver):
    type_id = mturk.create_hit_type(**_type_params())["HITTypeId"]
    mturk.update_notification_settings(HITTypeId=type_id, Notification=spec(receiver.url, "AssignmentAccepted"))
    mturk.update_notification_settings(HITTypeId=type_id, Active=False)
    hit_id = _hit_of_type(mturk, type_id)
    server.accept(server.new_worker(), hit_id)
    time.sleep(1.5)
    assert receiver.events() == []

    mturk.update_notification_settings(HITTypeId=type_id, Active=True)
    aid = server.accept(server.new_worker(), hit_id)
    assert receiver.wait_for("AssignmentAccepted")["AssignmentId"] == aid
    assert len(receiver.events()) == 1


def test_new_notification_replaces_the_stored_one(server, mturk, receiver):
    other = Receiver()
    try:
        type_id = mturk.create_hit_type(**_type_params())["HITTypeId"]
        mturk.update_notification_settings(HITTypeId=type_id, Notification=spec(other.url, "AssignmentAccepted"))
        mturk.update_notification_settings(HITTypeId=type_id, Notification=spec(receiver.url, "AssignmentSubmitted"))
        hit_id = _hit_of_type(mturk, type_id)
        server.do_hit(server.new_worker(), hit_id)
        receiver.wait_for("AssignmentSubmitted")
        assert other.documents == []
    finally:
        other.close()


def test_send_test_event_notification_delivers_ping_at_once(server, requester, mturk, receiver):
    mturk.send_test_event_notification(Notification=spec(receiver.url, "Ping", "AssignmentSubmitted"), TestEventType="Ping")
    assert [e["EventType"] for e in receiver.events()] == ["Ping"]  # delivered within the call
    assert receiver.documents[0]["body"]["CustomerId"] == requester.requester_id
    # The test event type need not be among the specification's EventTypes.
    mturk.send_test_event_notification(Notification=spec(receiver.url, "HITCreated"), TestEventType="AssignmentReturned")
    assert [e["EventType"] for e in receiver.events()] == ["Ping", "AssignmentReturned"]
    with server._engine.connect() as conn:
        rows = conn.execute(select(events).where(events.c.requester_id == requester.requester_id,
                                                 events.c.event_type.in_(["Ping", "AssignmentReturned"]))).all()
    assert len(rows) == 2 and all(r.delivered_at is not None and r.attempts == 1 for r in rows)
    time.sleep(1.0)
    assert len(receiver.events()) == 2  # not delivered again by the background loop


def test_send_test_event_notification_reports_delivery_failure(server, mturk):
    failing = Receiver(status=500)
    try:
        with pytest.raises(ClientError) as e:
            mturk.send_test_event_notification(Notification=spec(failing.url, "Ping"), TestEventType="Ping")
        assert _error(e)["Code"] == "RequestError"
        assert "HTTP 500" in _error(e)["Message"]
    finally:
        failing.close()
    with pytest.raises(ClientError) as e:  # nobody listens there any more
        mturk.send_test_event_notification(Notification=spec(failing.url, "Ping"), TestEventType="Ping")
    assert _error(e)["Code"] == "RequestError"


def test_send_test_event_notification_to_email_is_recorded_not_delivered(server, requester, mturk):
    mturk.send_test_event_notification(
        Notification=spec("lab@example.org", "AssignmentSubmitted", transport="Email"), TestEventType="AssignmentSubmitted"
    )
    with server._engine.connect() as conn:
        row = conn.execute(select(events).where(events.c.requester_id == requester.requester_id)).one()
    assert row.event_type == "AssignmentSubmitted" and row.delivered_at is None
    assert json.loads(row.destination) == {"Destination": "lab@example.org", "Transport": "Email"}
    assert "http" in row.last_error


@pytest.mark.parametrize(
    "notification,parameter",
    [
        (spec("http://127.0.0.1:9/x", version="2017-01-17"), "Version"),
        (spec("http://127.0.0.1:9/x", "Ping"), "EventTypes"),
        (spec("not an address", transport="Email"), "Destination"),
        (spec("queue-name", transport="SQS"), "Destination"),
        (spec("arn:aws:sqs:us-east-1:123456789012:q", transport="SNS"), "Destination"),
    ],
)
def test_update_notification_settings_rejects_bad_specifications(server, mturk, notification, parameter):
    type_id = mturk.create_hit_type(**_type_params())["HITTypeId"]
    with pytest.raises(ClientError) as e:
        mturk.update_notification_settings(HITTypeId=type_id, Notification=notification)
    err = _error(e)
    assert err["Code"] == "ParameterValidationError"
    assert f"for the parameter {parameter}." in err["Message"]


def test_update_notification_settings_accepts_each_transport(server, mturk):
    type_id = mturk.create_hit_type(**_type_params())["HITTypeId"]
    for notification in (
        spec("lab@example.org", transport="Email"),
        spec("https://sqs.us-east-1.amazonaws.com/123456789012/hits", transport="SQS"),
        spec("arn:aws:sns:us-east-1:123456789012:hits", transport="SNS"),
        spec("http://127.0.0.1:9/hook", transport="SNS"),
    ):
        mturk.update_notification_settings(HITTypeId=type_id, Notification=notification)


def test_send_test_event_notification_checks_version(server, mturk):
    with pytest.raises(ClientError) as e:
        mturk.send_test_event_notification(Notification=spec("http://127.0.0.1:9/x", version="2014-08-15"),
                                           TestEventType="Ping")
    assert _error(e)["Code"] == "ParameterValidationError"


def test_update_notification_settings_own_hit_type_only(server, mturk):
    other = server.client(server.new_requester())
    their_type = other.create_hit_type(**_type_params())["HITTypeId"]
    with pytest.raises(ClientError) as e:
        mturk.update_notification_settings(HITTypeId=their_type, Notification=spec("http://127.0.0.1:9/x"))
    assert _error(e)["Code"] == "RequestError"
    assert e.value.response["TurkErrorCode"] == "AWS.MechanicalTurk.HITTypeDoesNotExist"
    with pytest.raises(ClientError) as e:
        mturk.update_notification_settings(HITTypeId="3NOSUCHTYPE0000000000000000000", Active=True)
    assert _error(e)["Code"] == "RequestError"


def test_update_notification_settings_needs_something_to_do(server, mturk):
    type_id = mturk.create_hit_type(**_type_params())["HITTypeId"]
    with pytest.raises(ClientError) as e:
        mturk.update_notification_settings(HITTypeId=type_id)
    assert _error(e)["Code"] == "ParameterValidationError"
    with pytest.raises(ClientError) as e:  # nothing stored yet to switch on
        mturk.update_notification_settings(HITTypeId=type_id, Active=True)
    assert _error(e)["Code"] == "ParameterValidationError"
