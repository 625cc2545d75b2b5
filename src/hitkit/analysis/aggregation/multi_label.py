"""Multi-label answers by binary relevance: one yes/no aggregation per label.

Input: long format (`task`, `worker`, `label`) where each label is a list, tuple, set or frozenset of labels, or a
string of labels joined by `|` (as MTurk posts a group of checkboxes; `""` is no label). For every label `L` seen,
each answer becomes `L in answer` (True / False) and a categorical aggregator decides it per task; a task's result is
the sorted list of labels decided True.

The aggregator is any class (or instance, cloned per label) with `fit_predict(data) -> Series by task`; the default
is hitkit's `MajorityVote`, or a local majority vote with the same tie rule when that class is not importable.
Ties (as many True as False votes) go to the label that sorts first: False, so the label is left out.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hitkit.analysis.long_format import AnalysisError, argmax_first, check_columns, encode

__all__ = ["BinaryRelevance", "split_labels"]


def split_labels(value: Any, sep: str = "|") -> frozenset[Any]:
    """One multi-label answer as a frozenset: a string is split on `sep` (blank parts dropped), a list/tuple/set
    is taken as it is."""
    if isinstance(value, str):
        return frozenset(part.strip() for part in value.split(sep) if part.strip())
    if isinstance(value, (list, tuple, set, frozenset, np.ndarray)):
        return frozenset(value.tolist() if isinstance(value, np.ndarray) else value)
    raise AnalysisError(f"a multi-label answer must be a list, set or '{sep}'-joined string, not {value!r}")


class _LocalMajorityVote:
    """Majority vote with hitkit's tie rule, used when hitkit.analysis.aggregation.majority_vote is missing."""

    labels_: pd.Series | None = None

    def fit_predict(self, data: pd.DataFrame) -> pd.Series:
        enc = encode(data)
        votes = np.zeros((enc.n_tasks, enc.n_labels))
        np.add.at(votes, (enc.task, enc.label), 1.0)
        self.labels_ = pd.Series(
            enc.labels[argmax_first(votes)], index=pd.Index(enc.tasks, name="task"), name="agg_label"
        )
        return self.labels_


def _default_aggregator() -> Any:
    try:
        from hitkit.analysis.aggregation.majority_vote import MajorityVote
    except ImportError:
        return _LocalMajorityVote()
    return MajorityVote()


@dataclass
class BinaryRelevance:
    """Binary relevance over multi-label answers (see the module docstring).

    `fit(data)` sets `labels_` (Series by task, each a sorted list of labels) and `aggregators_` (label -> the fitted
    per-label aggregator); `fit_predict(data)` returns `labels_`.
    """

    base_aggregator: Any = None
    sep: str = "|"
    labels_: pd.Series | None = field(default=None, init=False, repr=False)
    aggregators_: dict[Any, Any] = field(default_factory=dict, init=False, repr=False)

    def _make(self) -> Any:
        base = self.base_aggregator
        if base is None:
            return _default_aggregator()
        if isinstance(base, type):
            return base()
        return copy.deepcopy(base)

    def fit(self, data: pd.DataFrame) -> BinaryRelevance:
        check_columns(data)
        answers = [split_labels(v, self.sep) for v in data["label"]]
        universe: set[Any] = set().union(*answers)
        tasks = pd.Index(pd.unique(data["task"]), name="task")
        try:
            tasks = tasks.sort_values()
        except TypeError:
            pass
        chosen: dict[Any, list[Any]] = {t: [] for t in tasks}
        self.aggregators_ = {}
        for label in _sorted(universe):
            binary = pd.DataFrame(
                {
                    "task": data["task"].to_numpy(),
                    "worker": data["worker"].to_numpy(),
                    "label": np.fromiter((label in a for a in answers), dtype=bool, count=len(answers)),
                }
            )
            agg = self._make()
            decided = agg.fit_predict(binary)
            self.aggregators_[label] = agg
            for task in decided.index[decided.astype(bool).to_numpy()]:
                chosen[task].append(label)
        self.labels_ = pd.Series([chosen[t] for t in tasks], index=tasks, name="agg_label", dtype=object)
        return self

    def fit_predict(self, data: pd.DataFrame) -> pd.Series:
        self.fit(data)
        assert self.labels_ is not None
        return self.labels_


def _sorted(values: Iterable[Any]) -> list[Any]:
    items = list(values)
    try:
        return sorted(items)
    except TypeError:
        return sorted(items, key=str)
