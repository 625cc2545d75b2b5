"""Marketplace events (AssignmentSubmitted, HITExpired, ...): recorded for every change, and queued for delivery
when the HIT type's notification settings ask for that event. Delivery is `hitkit.server.notification_delivery.deliver_pending`.
"""

from __future__ import annotations

import json

from sqlalchemy import Connection, bindparam, insert, select

from hitkit.server.store.tables import events, notification_settings


_SPEC = select(notification_settings).where(notification_settings.c.hit_type_id == bindparam("hit_type_id"))
_INSERT = insert(events)


def emit(
    conn: Connection, *, requester_id: str, hit_type_id: str | None, event_type: str, now: float,
    hit_id: str | None = None, assignment_id: str | None = None,
) -> None:
    """Record one event, with the destination it must be delivered to if its HIT type subscribes to it."""
    destination = None
    if hit_type_id is not None:
        spec = conn.execute(_SPEC, {"hit_type_id": hit_type_id}).first()
        if spec is not None and spec.active and event_type in json.loads(spec.event_types):
            destination = json.dumps({"Destination": spec.destination, "Transport": spec.transport})
    conn.execute(
        _INSERT,
        dict(requester_id=requester_id, hit_type_id=hit_type_id, hit_id=hit_id, assignment_id=assignment_id,
             event_type=event_type, event_time=now, destination=destination, attempts=0),
    )
