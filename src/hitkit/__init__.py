"""hitkit: a self-hosted marketplace that speaks the MTurk Requester API, and a toolkit for human data collection."""
__version__ = "0.1.0"
