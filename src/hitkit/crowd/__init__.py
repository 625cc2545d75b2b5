"""Simulated crowds: workers that find, accept and do HITs through the worker HTTP API, with worker models
(accuracy, confusion, spammers, adversaries, returns and abandons) and answers from a truth field or a callable.
It talks to a server only over HTTP, as a real worker's browser would."""
