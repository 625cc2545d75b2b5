"""Notifications and review results: UpdateNotificationSettings, SendTestEventNotification,
ListReviewPolicyResultsForHIT.

hitkit delivers notifications by HTTP POST (notification_delivery.py): a destination that is an http(s) URL
receives MTurk's SQS-style event document. Email addresses, SNS topic ARNs and other destinations are accepted
and their events recorded, but nothing can be delivered to them.
"""

from __future__ import annotations

import json
import re

import httpx
from sqlalchemy import insert, select, update

from hitkit.server.api.errors import ParameterValidationError, RequestError, invalid_value
from hitkit.server.api.hits import load_hit
from hitkit.server.api.operations import Ctx, drop_none, operation, paginate
from hitkit.server.notification_delivery import MAX_ATTEMPTS, event_document, event_item
from hitkit.server.store.tables import events, hit_types, notification_settings, review_results

VERSION = "2006-05-05"
TEST_POST_TIMEOUT = httpx.Timeout(5.0, connect=3.0)
REVIEW_PAGE_SIZE = 100  # no paginator exists for this operation, so one page holds as much as MaxResults allows
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URL_RE = re.compile(r"^https?://[^\s/]+\S*$", re.IGNORECASE)
_ARN_RE = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$")


# ---------------------------------------------------------------- notification specifications


def is_http(destination: str) -> bool:
    return bool(_URL_RE.match(destination))


def check_specification(spec: dict, *, allow_ping: bool) -> None:
    """MTurk's rules for a NotificationSpecification; raises ParameterValidationError."""
    if spec["Version"] != VERSION:
        raise invalid_value(spec["Version"], "Version", f"The only supported version is {VERSION}.")
    event_types = spec["EventTypes"]
    if not event_types:
        raise ParameterValidationError("EventTypes must name at least one event type.", "EventTypes")
    if "Ping" in event_types and not allow_ping:
        raise invalid_value(
            "Ping", "EventTypes", "Ping is only valid as the TestEventType of SendTestEventNotification."
        )
    destination, transport = spec["Destination"].strip(), spec["Transport"]
    if transport == "Email":
        ok, wanted = bool(_EMAIL_RE.match(destination)), "an e-mail address"
    elif transport == "SQS":
        ok, wanted = is_http(destination), "a queue URL (hitkit POSTs events to an http(s) URL)"
    else:  # SNS (the model's enum admits nothing else)
        ok = bool(_ARN_RE.match(destination)) or is_http(destination)
        wanted = "a topic ARN or an http(s) URL (hitkit POSTs events to an http(s) URL)"
    if not ok:
        raise invalid_value(spec["Destination"], "Destination", f"With Transport {transport} it must be {wanted}.")


@operation("UpdateNotificationSettings")
def update_notification_settings(ctx: Ctx, params: dict) -> dict:
    type_id = params["HITTypeId"]
    owned = ctx.conn.execute(
        select(hit_types.c.id).where(hit_types.c.id == type_id, hit_types.c.requester_id == ctx.requester_id)
    ).first()
    if owned is None:
        raise RequestError(f"HITType {type_id} does not exist.", "AWS.MechanicalTurk.HITTypeDoesNotExist")
    spec, active = params.get("Notification"), params.get("Active")
    if spec is None and active is None:
        raise ParameterValidationError(
            "Either Notification or Active must be provided to UpdateNotificationSettings.", "Notification"
        )
    current = ctx.conn.execute(
        select(notification_settings).where(notification_settings.c.hit_type_id == type_id)
    ).first()
    if spec is None:
        if current is None:
            raise invalid_value(
                str(active).lower(), "Active",
                f"HITType {type_id} has no notification specification to switch; pass a Notification first.",
            )
        ctx.conn.execute(
            update(notification_settings).where(notification_settings.c.hit_type_id == type_id).values(active=active)
        )
        return {}
    check_specification(spec, allow_ping=False)
    values = {
        "destination": spec["Destination"].strip(),
        "transport": spec["Transport"],
        "version": spec["Version"],
        "event_types": json.dumps(list(dict.fromkeys(spec["EventTypes"]))),
        "active": True if active is None else active,  # a new specification is active unless told otherwise
    }
    if current is None:
        ctx.conn.execute(insert(notification_settings).values(hit_type_id=type_id, **values))
    else:
        ctx.conn.execute(
            update(notification_settings).where(notification_settings.c.hit_type_id == type_id).values(**values)
        )
    return {}


def post_now(destination: str, document: dict) -> str | None:
    """POST one event document synchronously; returns an error text, or None when delivered."""
    try:
        with httpx.Client(timeout=TEST_POST_TIMEOUT, follow_redirects=False) as client:
            r = client.post(destination, json=document)
    except httpx.HTTPError as e:
        return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
    return None if r.status_code < 300 else f"HTTP {r.status_code}"


@operation("SendTestEventNotification")
def send_test_event_notification(ctx: Ctx, params: dict) -> dict:
    spec, event_type = params["Notification"], params["TestEventType"]
    check_specification(spec, allow_ping=True)
    destination = spec["Destination"].strip()
    values = {
        "requester_id": ctx.requester_id, "event_type": event_type, "event_time": ctx.now,
        "destination": json.dumps({"Destination": destination, "Transport": spec["Transport"]}),
    }
    if not is_http(destination):
        # Nothing to POST to: record the event as undeliverable (the background loop will not retry it).
        ctx.conn.execute(
            insert(events).values(
                **values, attempts=MAX_ATTEMPTS,
                last_error=f"not an http(s) destination: {destination[:100]}; hitkit delivers only by HTTP POST",
            )
        )
        return {}
    document = event_document(ctx.requester_id, [event_item(event_type, ctx.now, None, None, None)])
    error = post_now(destination, document)
    if error is not None:
        raise RequestError(
            f"The test notification could not be delivered to {destination[:200]}: {error}.",
            "AWS.MechanicalTurk.NotificationDeliveryFailed",
        )
    ctx.conn.execute(insert(events).values(**values, attempts=1, delivered_at=ctx.now))
    return {}


# ---------------------------------------------------------------- review policy results


def _public(body: dict) -> dict:
    """A stored ReviewResultDetail/ReviewActionDetail without hitkit's bookkeeping members (`_...`)."""
    return drop_none({k: v for k, v in body.items() if not k.startswith("_")})


@operation("ListReviewPolicyResultsForHIT", read_only=True)
def list_review_policy_results_for_hit(ctx: Ctx, params: dict) -> dict:
    hit = load_hit(ctx, params["HITId"])
    levels = list(dict.fromkeys(params.get("PolicyLevels") or ["Assignment", "HIT"]))
    kinds = [k for k, wanted in (("result", params.get("RetrieveResults", True)),
                                 ("action", params.get("RetrieveActions", True))) if wanted]
    out: dict = drop_none(
        {
            "HITId": hit.id,
            "AssignmentReviewPolicy": json.loads(hit.assignment_review_policy) if hit.assignment_review_policy else None,
            "HITReviewPolicy": json.loads(hit.hit_review_policy) if hit.hit_review_policy else None,
        }
    )
    reports = {level: {} for level in levels}
    for level in levels:
        if "result" in kinds:
            reports[level]["ReviewResults"] = []
        if "action" in kinds:
            reports[level]["ReviewActions"] = []
    if kinds:
        q = select(review_results).where(
            review_results.c.hit_id == hit.id, review_results.c.level.in_(levels), review_results.c.kind.in_(kinds)
        )
        page = {**params, "MaxResults": params.get("MaxResults") or REVIEW_PAGE_SIZE}
        rows, extra = paginate(ctx, q, review_results.c.seq, page)
        for row in rows:
            member = "ReviewResults" if row.kind == "result" else "ReviewActions"
            reports[row.level][member].append(_public(json.loads(row.body)))
        if "NextToken" in extra:
            out["NextToken"] = extra["NextToken"]
    if "Assignment" in reports:
        out["AssignmentReviewReport"] = reports["Assignment"]
    if "HIT" in reports:
        out["HITReviewReport"] = reports["HIT"]
    return out
