"""Numeric answers (ratings, counts, measurements): `Mean`, `Median` and `TrimmedMean` per task.

Input: long format (`task`, `worker`, `label`) with numeric labels. `fit(data)` sets `labels_`, a float Series
indexed by task (name `agg_label`); `fit_predict(data)` returns it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hitkit.analysis.long_format import AnalysisError, check_columns

__all__ = ["Mean", "Median", "TrimmedMean"]


def _show(value: Any) -> str:
    """repr of a value for an error message, numpy scalars as plain Python values."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _numeric(data: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(task values, task code per answer, numeric label per answer); a non-number is an AnalysisError naming
    the task."""
    check_columns(data)
    labels = pd.to_numeric(data["label"], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(labels)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise AnalysisError(
            f"column 'label' must hold finite numbers: task {_show(data['task'].iloc[i])} has {_show(data['label'].iloc[i])} "
            f"(row {i + 1})"
        )
    codes, tasks = pd.factorize(data["task"], sort=True)
    return np.asarray(tasks), codes.astype(np.int64), labels


def _series(tasks: np.ndarray, values: np.ndarray) -> pd.Series:
    return pd.Series(values, index=pd.Index(tasks, name="task"), name="agg_label")


@dataclass
class _NumericAggregator:
    labels_: pd.Series | None = field(default=None, init=False, repr=False)

    def fit(self, data: pd.DataFrame) -> Any:
        tasks, codes, labels = _numeric(data)
        self.labels_ = _series(tasks, self._aggregate(codes, labels, len(tasks)))
        return self

    def fit_predict(self, data: pd.DataFrame) -> pd.Series:
        self.fit(data)
        assert self.labels_ is not None
        return self.labels_

    def _aggregate(self, codes: np.ndarray, labels: np.ndarray, n_tasks: int) -> np.ndarray:
        raise NotImplementedError  # pragma: no cover


def _sorted_groups(codes: np.ndarray, labels: np.ndarray, n_tasks: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels sorted by (task, value), each answer's rank within its task, and each task's answer count."""
    order = np.lexsort((labels, codes))
    sorted_codes, sorted_labels = codes[order], labels[order]
    sizes = np.bincount(codes, minlength=n_tasks)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rank = np.arange(len(codes)) - starts[sorted_codes]
    return sorted_labels, rank, sizes


@dataclass
class Mean(_NumericAggregator):
    """The mean answer per task."""

    def _aggregate(self, codes: np.ndarray, labels: np.ndarray, n_tasks: int) -> np.ndarray:
        return np.bincount(codes, weights=labels, minlength=n_tasks) / np.bincount(codes, minlength=n_tasks)


@dataclass
class Median(_NumericAggregator):
    """The median answer per task (the mean of the two middle answers when a task has an even number)."""

    def _aggregate(self, codes: np.ndarray, labels: np.ndarray, n_tasks: int) -> np.ndarray:
        values, rank, sizes = _sorted_groups(codes, labels, n_tasks)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        lo = values[starts + (sizes - 1) // 2]
        hi = values[starts + sizes // 2]
        return (lo + hi) / 2.0


@dataclass
class TrimmedMean(_NumericAggregator):
    """The mean per task after dropping `int(proportion * n)` answers from each end (as scipy.stats.trim_mean)."""

    proportion: float = 0.1

    def __post_init__(self) -> None:
        if not 0.0 <= self.proportion < 0.5:
            raise AnalysisError(f"proportion must be in [0, 0.5), not {self.proportion!r}")

    def _aggregate(self, codes: np.ndarray, labels: np.ndarray, n_tasks: int) -> np.ndarray:
        values, rank, sizes = _sorted_groups(codes, labels, n_tasks)
        sorted_codes = np.repeat(np.arange(n_tasks), sizes)
        cut = (self.proportion * sizes).astype(np.int64)
        keep = (rank >= cut[sorted_codes]) & (rank < (sizes - cut)[sorted_codes])
        total = np.bincount(sorted_codes[keep], weights=values[keep], minlength=n_tasks)
        return total / np.bincount(sorted_codes[keep], minlength=n_tasks)
