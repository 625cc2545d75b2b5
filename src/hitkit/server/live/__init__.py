"""Live multi-party tasks (chat, model evaluation, interactive worlds): the server's half.

The requester's process runs the worlds and connects out to the server by websocket (SigV4-signed handshake,
the MTurk API's own check); workers' browsers connect from the live page an ExternalQuestion HIT points at. The
server relays between them, stores every message and event as it happens, keeps heartbeats and grace periods,
and tells workers when the requester's process is gone.

  protocol.py  frame parsing and limits, the error frames bad input gets
  store.py     live_runs / live_agents / live_events reads, and the group-commit writer
  relay.py     where a frame for a requester process or a worker's browser goes (in-process now; Redis later)
  hub.py       the live sessions: joins, reconnects within the grace period, heartbeats, requester gone/back
  tokens.py    the live page's signed token that lets the worker's browser open its websocket
  routes.py    the websocket endpoints and the live page
"""
