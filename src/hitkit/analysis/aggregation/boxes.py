"""Bounding boxes: boxes from different workers are clustered per task by IoU and each cluster is consolidated into
one box, as SageMaker Ground Truth consolidates bounding-box labels.

Input: columns `task`, `worker` and either `box` (a 4-sequence `(left, top, width, height)`) or the four columns
`left`, `top`, `width`, `height`; an optional `label` column keeps boxes of different labels apart.

Clustering: within a task (and label), two boxes are linked when their intersection over union is at least
`iou_threshold`; clusters are the connected components of that graph. Each cluster becomes the `method` ("mean" or
"median") of its boxes' edges, with `n_workers`, the number of distinct workers with a box in it. Clusters with
fewer than `min_workers` workers are dropped.

`fit(data)` sets `boxes_`, a DataFrame with columns `task`, [`label`,] `left`, `top`, `width`, `height`,
`n_workers`, one row per consolidated box, sorted by task, label, then left/top; `fit_predict` returns it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from hitkit.analysis.long_format import AnalysisError, check_columns

__all__ = ["BoxAggregator", "iou"]


def _show(value: Any) -> str:
    """repr of a value for an error message, numpy scalars as plain Python values."""
    return repr(value.item() if isinstance(value, np.generic) else value)

_EDGES = ("left", "top", "width", "height")


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of boxes `a` (n x 4) and `b` (m x 4), as (left, top, width, height): an n x m array."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ax2, ay2 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx2, by2 = b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    w = np.clip(np.minimum(ax2[:, None], bx2[None, :]) - np.maximum(a[:, 0][:, None], b[:, 0][None, :]), 0, None)
    h = np.clip(np.minimum(ay2[:, None], by2[None, :]) - np.maximum(a[:, 1][:, None], b[:, 1][None, :]), 0, None)
    inter = w * h
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def _boxes(data: Any) -> np.ndarray:
    if hasattr(data, "columns") and "box" in data.columns:
        check_columns(data, ("task", "worker", "box"))
        try:
            arr = np.array([tuple(b) for b in data["box"]], dtype=np.float64)
        except (TypeError, ValueError):
            arr = np.empty((0,))
        if arr.ndim != 2 or arr.shape[1] != 4:
            bad = next((i for i, b in enumerate(data["box"]) if not _is_box(b)), 0)
            raise AnalysisError(
                f"column 'box' must hold (left, top, width, height): task {_show(data['task'].iloc[bad])} has "
                f"{data['box'].iloc[bad]!r}"
            )
    else:
        check_columns(data, ("task", "worker", *_EDGES))
        try:
            arr = data[list(_EDGES)].to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            raise AnalysisError("columns left, top, width, height must be numbers") from None
    bad_rows = ~np.isfinite(arr).all(axis=1) | (arr[:, 2] < 0) | (arr[:, 3] < 0)
    if bad_rows.any():
        i = int(np.flatnonzero(bad_rows)[0])
        raise AnalysisError(
            f"task {_show(data['task'].iloc[i])} has a box with a missing, infinite or negative size: {arr[i].tolist()}"
        )
    return arr


def _is_box(value: Any) -> bool:
    try:
        return len(value) == 4 and all(np.isfinite(float(v)) for v in value)
    except (TypeError, ValueError):
        return False


@dataclass
class BoxAggregator:
    """IoU clustering and consolidation of bounding boxes (see the module docstring)."""

    iou_threshold: float = 0.5
    method: str = "mean"
    min_workers: int = 1
    boxes_: pd.DataFrame | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0.0 < self.iou_threshold <= 1.0:
            raise AnalysisError(f"iou_threshold must be in (0, 1], not {self.iou_threshold!r}")
        if self.method not in ("mean", "median"):
            raise AnalysisError(f"method must be 'mean' or 'median', not {self.method!r}")

    def fit(self, data: pd.DataFrame) -> BoxAggregator:
        boxes = _boxes(data)
        has_label = "label" in data.columns
        keys = [data["task"]] + ([data["label"]] if has_label else [])
        group = pd.MultiIndex.from_arrays(keys).factorize()[0] if has_label else pd.factorize(data["task"])[0]
        n = len(boxes)
        rows: list[np.ndarray] = []
        cols: list[np.ndarray] = []
        order = np.argsort(group, kind="stable")
        bounds = np.flatnonzero(np.diff(group[order])) + 1
        for idx in np.split(order, bounds):
            if len(idx) < 2:
                continue
            linked = iou(boxes[idx], boxes[idx]) >= self.iou_threshold
            i, j = np.nonzero(np.triu(linked, 1))
            rows.append(idx[i])
            cols.append(idx[j])
        r = np.concatenate(rows) if rows else np.empty(0, dtype=np.int64)
        c = np.concatenate(cols) if cols else np.empty(0, dtype=np.int64)
        graph = sparse.coo_matrix((np.ones(len(r)), (r, c)), shape=(n, n))
        _, cluster = connected_components(graph, directed=False)
        frame = pd.DataFrame(boxes, columns=list(_EDGES))
        frame["task"] = data["task"].to_numpy()
        if has_label:
            frame["label"] = data["label"].to_numpy()
        frame["worker"] = data["worker"].to_numpy()
        frame["cluster"] = cluster
        by = frame.groupby("cluster", sort=False)
        out = by[list(_EDGES)].agg(self.method)
        firsts = by[["task", "label"] if has_label else ["task"]].first()
        out = firsts.join(out)
        out["n_workers"] = by["worker"].nunique()
        out = out[out["n_workers"] >= self.min_workers]
        sort_by = ["task", "label", "left", "top"] if has_label else ["task", "left", "top"]
        try:
            out = out.sort_values(sort_by)
        except TypeError:
            pass
        self.boxes_ = out.reset_index(drop=True)
        return self

    def fit_predict(self, data: pd.DataFrame) -> pd.DataFrame:
        self.fit(data)
        assert self.boxes_ is not None
        return self.boxes_
