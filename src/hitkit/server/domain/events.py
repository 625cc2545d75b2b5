"""Marketplace events (AssignmentSubmitted, HITExpired, ...): recorded for every change, and queued for delivery
when the HIT type's notification settings ask for that event. Delivery is
`hitkit.server.notification_delivery.deliver_pending`.
"""

from __future__ import annotations

import json

from sqlalchemy import Connection, Row, bindparam, insert

from hitkit.server.store.queries import Prepared
from hitkit.server.store.tables import events

_FIELDS = ("requester_id", "hit_type_id", "hit_id", "assignment_id", "event_type", "event_time", "destination")
# Every change records an event, so this insert runs straight on the driver (queries.Prepared).
_INSERT = Prepared(insert(events).values({**{k: bindparam("v_" + k) for k in _FIELDS}, "attempts": 0}))


def emit(conn: Connection, hit: Row, event_type: str, now: float, assignment_id: str | None = None) -> None:
    """Record one event of `hit` (a row read with `queries.get_hit`, which carries its type's notification
    settings), with the destination it must be delivered to if the type subscribes to this event."""
    destination = None
    if hit.notify_destination is not None and hit.notify_active and event_type in json.loads(hit.notify_event_types):
        destination = json.dumps({"Destination": hit.notify_destination, "Transport": hit.notify_transport})
    _INSERT.run(conn, {
        "v_requester_id": hit.requester_id, "v_hit_type_id": hit.hit_type_id, "v_hit_id": hit.id,
        "v_assignment_id": assignment_id, "v_event_type": event_type, "v_event_time": now, "v_destination": destination,
    })
