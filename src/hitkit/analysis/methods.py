"""The aggregation methods by the short names the command line uses (`hitkit aggregate --method ds`), the default
one, and each fitted model's per-worker skill as one number (the probability a worker's answer is right, as the
model sees it), so every method's skills can be stored and compared the same way."""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import pandas as pd

from hitkit.analysis.long_format import AnalysisError

# short name -> (class name in hitkit.analysis, one line for --help)
METHODS: dict[str, tuple[str, str]] = {
    "mv": ("MajorityVote", "majority vote (ties: the label that sorts first)"),
    "wawa": ("Wawa", "majority vote weighted by each worker's agreement with it"),
    "zbs": ("ZeroBasedSkill", "skill-weighted vote, skills fitted by gradient steps"),
    "ds": ("DawidSkene", "Dawid-Skene: a confusion matrix per worker, EM from majority vote"),
    "onecoin": ("OneCoinDawidSkene", "Dawid-Skene with one accuracy per worker"),
    "hds": (
        "HierarchicalDawidSkene",
        "Dawid-Skene with each worker shrunk toward the crowd's confusion matrix (variational Bayes); the default",
    ),
    "glad": ("GLAD", "worker ability and task difficulty"),
    "mace": ("MACE", "each worker either knows or spams, with a spamming strategy"),
}
DEFAULT_METHOD = "hds"  # robust where plain DS is not: sparse workers, class-prior collapse (docs/analysis.md)


def method_names() -> list[str]:
    return list(METHODS)


def make_aggregator(name: str, **params: Any) -> Any:
    """A fresh, unfitted aggregator for the short `name` (or the class name)."""
    key = name.lower()
    by_class = {cls.lower(): short for short, (cls, _) in METHODS.items()}
    key = by_class.get(key, key)
    if key not in METHODS:
        raise AnalysisError(f"unknown aggregation method {name!r}: choose one of {', '.join(METHODS)}")
    module = importlib.import_module("hitkit.analysis")
    return getattr(module, METHODS[key][0])(**params)


def worker_skills(model: Any) -> pd.Series:
    """Per worker, the fitted model's probability that the worker answers correctly (name `skill`).

    Methods with `skills_` (MajorityVote, Wawa, ZeroBasedSkill, OneCoinDawidSkene) give them as they are;
    DawidSkene's confusion matrices are averaged over the fitted class prior (sum_k prior_k * pi_kk); GLAD's
    ability alpha is mapped through the logistic function; MACE's `skills_` is P(not spamming)."""
    skills = getattr(model, "skills_", None)
    if isinstance(skills, pd.Series):
        return skills.rename("skill")
    errors = getattr(model, "errors_", None)
    if isinstance(errors, pd.DataFrame):
        labels = list(errors.columns)
        prior = getattr(model, "priors_", None)
        weights = np.asarray(prior.reindex(labels), dtype=float) if prior is not None else np.full(len(labels), 1 / len(labels))
        k = len(labels)
        diag = errors.to_numpy().reshape(-1, k, k)[:, np.arange(k), np.arange(k)]
        workers = errors.index.get_level_values("worker")[::k]
        return pd.Series(diag @ weights, index=pd.Index(workers, name="worker"), name="skill")
    alphas = getattr(model, "alphas_", None)
    if isinstance(alphas, pd.Series):
        return pd.Series(1 / (1 + np.exp(-alphas.to_numpy())), index=alphas.index, name="skill")
    raise AnalysisError(f"{type(model).__name__} has no per-worker skill to report")
