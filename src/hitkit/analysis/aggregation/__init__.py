"""Aggregation methods, one module each (majority_vote.py, dawid_skene.py, ...); import them from hitkit.analysis."""
