"""Long-format answers (one row per answer: `task`, `worker`, `label`) checked and encoded as integer codes, the
shared input of every method in hitkit.analysis.

Rules every method follows (docs/analysis.md):
- Missing columns, an empty frame, or missing values are an AnalysisError naming the column (and row), never a
  bare KeyError.
- Tasks, workers and labels are encoded in sorted order of their values (as strings when types are mixed), so
  results never depend on row order or on what the workers or tasks are called.
- Ties: when labels have equal score for a task, the label that sorts first wins (the same rule everywhere).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


class AnalysisError(ValueError):
    """Input an analysis cannot use, said in words (which column, which task)."""


@dataclass(frozen=True)
class Encoded:
    """Answers as parallel integer arrays plus the values each code stands for."""

    task: np.ndarray  # int32 code per answer
    worker: np.ndarray
    label: np.ndarray
    tasks: np.ndarray  # value of each task code (sorted)
    workers: np.ndarray
    labels: np.ndarray

    @property
    def n_tasks(self) -> int:
        return len(self.tasks)

    @property
    def n_workers(self) -> int:
        return len(self.workers)

    @property
    def n_labels(self) -> int:
        return len(self.labels)


def check_columns(data: Any, columns: tuple[str, ...] = ("task", "worker", "label")) -> Any:
    """The frame, if it has the columns and at least one row without missing values; else AnalysisError."""
    if not hasattr(data, "columns"):
        raise AnalysisError(f"expected a pandas DataFrame with columns {', '.join(columns)}, not {type(data).__name__}")
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise AnalysisError(
            f"the answers have no column {missing[0]!r} (expected columns {', '.join(columns)}; "
            f"got {', '.join(map(str, data.columns)) or 'none'})"
        )
    if len(data) == 0:
        raise AnalysisError("the answers are empty: there is nothing to aggregate")
    for c in columns:
        nulls = data[c].isna().to_numpy()
        if nulls.any():
            row = int(np.flatnonzero(nulls)[0])
            raise AnalysisError(f"column {c!r} has a missing value (row {row + 1} of the answers)")
    return data


def _codes(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes in sorted order of the values; mixed types sort as strings."""
    arr = np.asarray(values)
    try:
        uniques, codes = np.unique(arr, return_inverse=True)
    except TypeError:  # mixed types that numpy cannot order
        uniques, codes = np.unique(arr.astype(str), return_inverse=True)
    return uniques, codes.astype(np.int32).ravel()


def encode(data: Any, columns: tuple[str, str, str] = ("task", "worker", "label")) -> Encoded:
    """Check and encode a long-format answers frame."""
    check_columns(data, columns)
    tasks, t = _codes(data[columns[0]].to_numpy())
    workers, w = _codes(data[columns[1]].to_numpy())
    labels, lab = _codes(data[columns[2]].to_numpy())
    return Encoded(t, w, lab, tasks, workers, labels)


def argmax_first(scores: np.ndarray) -> np.ndarray:
    """Per row, the index of the highest score; equal scores go to the lowest index (the first label in sort
    order): hitkit's one tie rule."""
    return np.argmax(scores, axis=1)
