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
        if data[c].dtype.kind in "iub":  # plain integer / bool columns cannot hold a missing value
            continue
        nulls = data[c].isna().to_numpy()
        if nulls.any():
            row = int(np.flatnonzero(nulls)[0])
            raise AnalysisError(f"column {c!r} has a missing value (row {row + 1} of the answers)")
    return data


def _dense_int_codes(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Codes of integers (or bools) whose range is not much larger than their count, by counting instead of
    sorting: O(n + range). None when the range is too wide."""
    lo, hi = int(arr.min()), int(arr.max())
    span = hi - lo + 1
    if span > max(4 * len(arr), 1 << 16):
        return None
    if arr.dtype.kind == "b":
        off = arr.view(np.uint8).astype(np.intp) - lo
    elif lo == 0 and arr.dtype.itemsize <= np.dtype(np.intp).itemsize:
        off = arr  # already the offsets
    else:
        off = (arr - arr.dtype.type(lo)).astype(np.intp, copy=False)
    present = np.zeros(span, dtype=bool)
    present[off] = True
    where = np.flatnonzero(present)
    lut = np.empty(span, dtype=np.int32)
    lut[where] = np.arange(len(where), dtype=np.int32)
    uniques = (where + lo).astype(arr.dtype)
    return uniques, lut[off]


def _codes(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes in sorted order of the values; mixed types sort as strings.

    Same result as `np.unique(values, return_inverse=True)` without sorting all n values: integers are counted
    (O(n + range)); anything else is hashed (pandas.factorize) and only the distinct values are sorted."""
    import pandas as pd  # here, so that importing AnalysisError stays cheap

    series = values if isinstance(values, pd.Series) else None
    arr = values.to_numpy() if series is not None else np.asarray(values)
    if arr.ndim != 1:
        arr = arr.ravel()
        series = None
    if arr.dtype.kind in "iub" and len(arr):
        dense = _dense_int_codes(arr)
        if dense is not None:
            return dense
    try:
        codes, uniques = pd.factorize(series if series is not None else arr, sort=False)
        uniques = np.asarray(uniques, dtype=arr.dtype if arr.dtype.kind != "O" else object)
        order = np.argsort(uniques, kind="stable")
    except TypeError:  # mixed types that numpy cannot order: as strings, as before
        uniques, codes = np.unique(arr.astype(str), return_inverse=True)
        return uniques, codes.astype(np.int32).ravel()
    rank = np.empty(len(order), dtype=np.int32)
    rank[order] = np.arange(len(order), dtype=np.int32)
    return uniques[order], rank[codes]


def encode(data: Any, columns: tuple[str, str, str] = ("task", "worker", "label")) -> Encoded:
    """Check and encode a long-format answers frame."""
    check_columns(data, columns)
    tasks, t = _codes(data[columns[0]])
    workers, w = _codes(data[columns[1]])
    labels, lab = _codes(data[columns[2]])
    return Encoded(t, w, lab, tasks, workers, labels)


def argmax_first(scores: np.ndarray) -> np.ndarray:
    """Per row, the index of the highest score; equal scores go to the lowest index (the first label in sort
    order): hitkit's one tie rule.

    A loop over the (few) label columns: np.argmax(axis=1) is several times slower on narrow arrays."""
    scores = np.asarray(scores)
    if scores.ndim != 2 or scores.shape[1] > 16 or scores.dtype.kind != "f":
        return np.argmax(scores, axis=1)
    best = scores[:, 0].copy()
    idx = np.zeros(len(scores), dtype=np.intp)
    for j in range(1, scores.shape[1]):
        col = scores[:, j]
        better = col > best  # strictly: equal scores keep the earlier label
        idx[better] = j
        np.maximum(best, col, out=best)
    if np.isnan(best).any():  # NaN propagates into best: np.argmax's rule (the first NaN) for those rows
        return np.argmax(scores, axis=1)
    return idx
