"""Text spans (named entities, highlighted phrases): spans from different workers are grouped per task by overlap
and a group is kept when enough workers marked it.

Input: columns `task`, `worker`, `start`, `end` (character offsets, `end` exclusive, `start < end`) and an optional
`label`; spans of different labels are never grouped.

Grouping: within a task (and label), two spans are linked when their Jaccard overlap (length of the intersection
over length of the union) is at least `overlap_threshold`; groups are the connected components. A group is kept when
at least `min_votes` distinct workers have a span in it, and becomes one span whose `start` and `end` are the medians
of its spans' starts and ends (rounded down / up to whole offsets when `integer=True`).

`fit(data)` sets `spans_`, a DataFrame with columns `task`, [`label`,] `start`, `end`, `n_workers`, sorted by task,
label and start; `fit_predict` returns it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from hitkit.analysis.long_format import AnalysisError, check_columns

__all__ = ["SpanAggregator", "span_jaccard"]


def _show(value: Any) -> str:
    """repr of a value for an error message, numpy scalars as plain Python values."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def span_jaccard(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Jaccard overlap of spans `a` (n x 2) and `b` (m x 2), as (start, end) with `end` exclusive: n x m."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 2)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 2)
    inter = np.clip(np.minimum(a[:, 1][:, None], b[:, 1][None, :]) - np.maximum(a[:, 0][:, None], b[:, 0][None, :]), 0, None)
    union = (a[:, 1] - a[:, 0])[:, None] + (b[:, 1] - b[:, 0])[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


@dataclass
class SpanAggregator:
    """Overlap grouping and median consolidation of text spans (see the module docstring)."""

    min_votes: int = 2
    overlap_threshold: float = 0.5
    integer: bool = True
    spans_: pd.DataFrame | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0.0 < self.overlap_threshold <= 1.0:
            raise AnalysisError(f"overlap_threshold must be in (0, 1], not {self.overlap_threshold!r}")
        if self.min_votes < 1:
            raise AnalysisError(f"min_votes must be at least 1, not {self.min_votes!r}")

    def fit(self, data: pd.DataFrame) -> SpanAggregator:
        check_columns(data, ("task", "worker", "start", "end"))
        try:
            spans = data[["start", "end"]].to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            raise AnalysisError("columns 'start' and 'end' must be numbers (character offsets)") from None
        bad = ~(spans[:, 0] < spans[:, 1])
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise AnalysisError(
                f"task {_show(data['task'].iloc[i])} has a span with start {_show(data['start'].iloc[i])} not before end "
                f"{_show(data['end'].iloc[i])} (row {i + 1})"
            )
        has_label = "label" in data.columns
        if has_label:
            group = pd.MultiIndex.from_arrays([data["task"], data["label"]]).factorize()[0]
        else:
            group = pd.factorize(data["task"])[0]
        n = len(spans)
        order = np.argsort(group, kind="stable")
        rows: list[np.ndarray] = []
        cols: list[np.ndarray] = []
        for idx in np.split(order, np.flatnonzero(np.diff(group[order])) + 1):
            if len(idx) < 2:
                continue
            i, j = np.nonzero(np.triu(span_jaccard(spans[idx], spans[idx]) >= self.overlap_threshold, 1))
            rows.append(idx[i])
            cols.append(idx[j])
        r = np.concatenate(rows) if rows else np.empty(0, dtype=np.int64)
        c = np.concatenate(cols) if cols else np.empty(0, dtype=np.int64)
        _, cluster = connected_components(sparse.coo_matrix((np.ones(len(r)), (r, c)), shape=(n, n)), directed=False)
        keys = ["task", "label"] if has_label else ["task"]
        frame = pd.DataFrame({"start": spans[:, 0], "end": spans[:, 1], "cluster": cluster})
        for k in keys:
            frame[k] = data[k].to_numpy()
        frame["worker"] = data["worker"].to_numpy()
        by = frame.groupby("cluster", sort=False)
        out = by[keys].first()
        out["start"] = by["start"].median()
        out["end"] = by["end"].median()
        if self.integer:
            out["start"] = np.floor(out["start"]).astype(np.int64)
            out["end"] = np.ceil(out["end"]).astype(np.int64)
        out["n_workers"] = by["worker"].nunique()
        out = out[out["n_workers"] >= self.min_votes]
        try:
            out = out.sort_values([*keys, "start"])
        except TypeError:
            pass
        self.spans_ = out.reset_index(drop=True)
        return self

    def fit_predict(self, data: pd.DataFrame) -> pd.DataFrame:
        self.fit(data)
        assert self.spans_ is not None
        return self.spans_
