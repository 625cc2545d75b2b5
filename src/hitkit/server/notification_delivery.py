"""Delivers queued notification events by HTTP POST: hitkit's stand-in for MTurk's SQS/SNS/Email transports.

A destination that is an http(s) URL receives a JSON body shaped like MTurk's SQS notification message
(`{"EventDocId", "SourceAccount", "CustomerId", "EventDocVersion", "Events": [...]}`). Other destinations (real
queue URLs, topic ARNs, e-mail addresses) are recorded as undeliverable: the event stays in the events table.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timezone

import httpx
from sqlalchemy import Connection, select, update

from hitkit.server.store.tables import events

log = logging.getLogger("hitkit.notifications")
MAX_ATTEMPTS = 5
BATCH = 100


def event_document(requester_id: str, items: list[dict]) -> dict:
    """The message body MTurk put on an SQS queue (EventDocVersion 2014-08-15)."""
    return {
        "EventDocId": str(uuid.uuid4()),
        "SourceAccount": requester_id,
        "CustomerId": requester_id,
        "EventDocVersion": "2014-08-15",
        "Events": items,
    }


def event_item(event_type: str, when: float, hit_type_id: str | None, hit_id: str | None, assignment_id: str | None) -> dict:
    item = {
        "EventType": event_type,
        "EventTimestamp": datetime.fromtimestamp(when, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "HITTypeId": hit_type_id,
        "HITId": hit_id,
        "AssignmentId": assignment_id,
    }
    return {k: v for k, v in item.items() if v is not None}


def pending(conn: Connection) -> list:
    return conn.execute(
        select(events)
        .where(events.c.destination.is_not(None), events.c.delivered_at.is_(None), events.c.attempts < MAX_ATTEMPTS)
        .order_by(events.c.seq)
        .limit(BATCH)
    ).all()


async def post(client: httpx.AsyncClient, destination: str, document: dict) -> str | None:
    """POST one document; returns an error text or None on success."""
    if not destination.startswith(("http://", "https://")):
        return f"not an http(s) destination: {destination[:100]}"
    try:
        r = await client.post(destination, json=document, timeout=5.0)
        return None if r.status_code < 300 else f"HTTP {r.status_code}"
    except httpx.HTTPError as e:
        return f"{type(e).__name__}: {e}"


async def deliver_pending(runtime, client: httpx.AsyncClient) -> int:  # type: ignore[no-untyped-def]
    """Deliver what is queued; returns how many were delivered."""
    rows = await runtime.transaction(pending, read_only=True)
    delivered = 0
    for row in rows:
        target = json.loads(row.destination)
        doc = event_document(row.requester_id, [event_item(row.event_type, row.event_time, row.hit_type_id, row.hit_id, row.assignment_id)])
        error = await post(client, target["Destination"], doc)
        now = runtime.clock.now()
        values = {"attempts": row.attempts + 1, "last_error": error}
        if error is None:
            values["delivered_at"] = now
            delivered += 1
        elif not target["Destination"].startswith(("http://", "https://")):
            values["attempts"] = MAX_ATTEMPTS  # never deliverable: do not retry
        await runtime.transaction(lambda conn, v=values, s=row.seq: conn.execute(update(events).where(events.c.seq == s).values(**v)))
    return delivered
