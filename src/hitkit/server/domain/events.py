"""Marketplace events (AssignmentSubmitted, HITExpired, ...): recorded for every change, and queued for delivery
when the HIT type's notification settings ask for that event. Delivery is
`hitkit.server.notification_delivery.deliver_pending`.
"""

from __future__ import annotations

import json

from sqlalchemy import Connection, Row, insert

from hitkit.server.store.tables import events

_INSERT = insert(events)


def emit(conn: Connection, hit: Row, event_type: str, now: float, assignment_id: str | None = None) -> None:
    """Record one event of `hit` (a row read with `queries.get_hit`, which carries its type's notification
    settings), with the destination it must be delivered to if the type subscribes to this event."""
    destination = None
    if hit.notify_destination is not None and hit.notify_active and event_type in json.loads(hit.notify_event_types):
        destination = json.dumps({"Destination": hit.notify_destination, "Transport": hit.notify_transport})
    conn.execute(
        _INSERT,
        dict(requester_id=hit.requester_id, hit_type_id=hit.hit_type_id, hit_id=hit.id, assignment_id=assignment_id,
             event_type=event_type, event_time=now, destination=destination, attempts=0),
    )
