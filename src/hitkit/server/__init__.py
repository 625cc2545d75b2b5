"""The hitkit server: the MTurk Requester API, the worker API, and (later) the worker and console web pages.

It never imports `hitkit.requester`; the two meet only over HTTP.
"""
