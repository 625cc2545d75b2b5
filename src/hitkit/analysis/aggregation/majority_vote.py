"""MajorityVote: each task gets the label with the most (optionally skill-weighted) votes.

Also holds the small shared machinery every classification method here uses (`_ClassificationAggregator`:
encoding, the answers as a sparse task x (worker, label) matrix, and turning score arrays into crowd-kit shaped
`labels_` / `probas_`).

Tie rule (the same for every method in hitkit.analysis): equal scores go to the label that sorts first.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from hitkit.analysis.long_format import AnalysisError, Encoded, argmax_first, encode

__all__ = ["MajorityVote"]


class _ClassificationAggregator:
    """Base of the classification aggregators: `fit(data)`, `fit_predict(data)`, `fit_predict_proba(data)`;
    fitted `labels_` (Series by task, name `agg_label`) and `probas_` (DataFrame tasks x labels, rows sum to 1)."""

    labels_: pd.Series | None = None
    probas_: pd.DataFrame | None = None

    def fit(self, data: pd.DataFrame, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def fit_predict(self, data: pd.DataFrame, *args: Any, **kwargs: Any) -> pd.Series:
        self.fit(data, *args, **kwargs)
        assert self.labels_ is not None
        return self.labels_

    def fit_predict_proba(self, data: pd.DataFrame, *args: Any, **kwargs: Any) -> pd.DataFrame:
        self.fit(data, *args, **kwargs)
        assert self.probas_ is not None
        return self.probas_

    # -- shared helpers -------------------------------------------------------------------------------------
    @staticmethod
    def _encode(data: pd.DataFrame) -> Encoded:
        return encode(data)

    @staticmethod
    def _require_two_workers(enc: Encoded, method: str) -> None:
        """Methods that learn each worker's reliability from agreement between workers need two or more."""
        if enc.n_workers < 2:
            raise AnalysisError(
                f"{method} estimates worker reliability from agreement between workers, but every answer is from "
                f"a single worker ({enc.workers[0]!r}); use MajorityVote, or collect answers from more workers"
            )

    @staticmethod
    def _votes(enc: Encoded, weights: np.ndarray | None = None) -> np.ndarray:
        """T x K array of (weighted) vote counts."""
        k = enc.n_labels
        w = None if weights is None else weights[enc.worker]
        flat = np.bincount(enc.task.astype(np.int64) * k + enc.label, weights=w, minlength=enc.n_tasks * k)
        return flat.reshape(enc.n_tasks, k).astype(np.float64)

    @staticmethod
    def _answer_matrix(enc: Encoded) -> sp.csr_matrix:
        """T x (W*K) matrix counting each answer at (task, worker*K + label)."""
        k = enc.n_labels
        cols = enc.worker.astype(np.int64) * k + enc.label
        data = np.ones(len(enc.task), dtype=np.float64)
        return sp.csr_matrix((data, (enc.task, cols)), shape=(enc.n_tasks, enc.n_workers * k))

    @staticmethod
    def _normalize_rows(scores: np.ndarray) -> np.ndarray:
        total = scores.sum(axis=1, keepdims=True)
        k = scores.shape[1]
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(total > 0, scores / np.where(total > 0, total, 1.0), 1.0 / k)
        return out

    @staticmethod
    def _row_max(x: np.ndarray) -> np.ndarray:
        """Row maxima; a loop over the (few) label columns beats numpy's axis=1 reduction on narrow arrays."""
        m = x[:, 0].copy()
        for j in range(1, x.shape[1]):
            np.maximum(m, x[:, j], out=m)
        return m

    @staticmethod
    def _row_sum(x: np.ndarray) -> np.ndarray:
        s = x[:, 0].copy()
        for j in range(1, x.shape[1]):
            s += x[:, j]
        return s

    @classmethod
    def _log_softmax_rows(cls, log_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row-wise softmax, log of it), computed stably."""
        shifted = log_scores - cls._row_max(log_scores)[:, None]
        e = np.exp(shifted)
        total = cls._row_sum(e)
        e /= total[:, None]
        shifted -= np.log(total)[:, None]
        return e, shifted

    @classmethod
    def _softmax_rows(cls, log_scores: np.ndarray) -> np.ndarray:
        return cls._log_softmax_rows(log_scores)[0]

    def _set_result(self, enc: Encoded, probas: np.ndarray) -> None:
        tasks = pd.Index(enc.tasks, name="task")
        self.probas_ = pd.DataFrame(probas, index=tasks, columns=pd.Index(enc.labels, name="label"))
        self.labels_ = pd.Series(enc.labels[argmax_first(probas)], index=tasks, name="agg_label")

    @staticmethod
    def _agreement(enc: Encoded, labels: np.ndarray) -> np.ndarray:
        """Per worker, the share of their answers equal to `labels` (one code per task)."""
        hit = (labels[enc.task] == enc.label).astype(np.float64)
        n = np.bincount(enc.worker, minlength=enc.n_workers)
        return np.bincount(enc.worker, weights=hit, minlength=enc.n_workers) / np.maximum(n, 1)

    def _skills_series(self, enc: Encoded, skills: np.ndarray) -> pd.Series:
        return pd.Series(skills, index=pd.Index(enc.workers, name="worker"), name="skill")


class MajorityVote(_ClassificationAggregator):
    """Majority vote, optionally weighted by worker skill.

    $$\\hat z_j = \\arg\\max_k \\sum_{i} s_i [y_{ij} = k]$$ with $s_i = 1$ unless `skills` are given.
    `probas_` are the normalised (weighted) vote shares; `skills_` each worker's agreement with the result.
    Ties go to the label that sorts first.

    Args:
        default_skill: the weight of a worker missing from `skills` (with `on_missing_skill='value'`).
        on_missing_skill: 'error' (AnalysisError naming the worker), 'value' (use `default_skill`).

    Examples:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"task": [1, 1, 1], "worker": ["a", "b", "c"], "label": ["x", "y", "x"]})
        >>> MajorityVote().fit_predict(df).tolist()
        ['x']
    """

    def __init__(self, default_skill: float | None = None, on_missing_skill: str = "error") -> None:
        self.default_skill = default_skill
        self.on_missing_skill = on_missing_skill
        self.skills_: pd.Series | None = None

    def _weights(self, enc: Encoded, skills: pd.Series | None) -> np.ndarray | None:
        if skills is None:
            return None
        w = np.array(pd.Series(skills).reindex(pd.Index(enc.workers)), dtype=np.float64)
        missing = np.isnan(w)
        if missing.any():
            if self.on_missing_skill == "value" and self.default_skill is not None:
                w[missing] = self.default_skill
            elif self.default_skill is not None and self.on_missing_skill != "error":
                w[missing] = self.default_skill
            else:
                raise AnalysisError(
                    f"worker {enc.workers[np.flatnonzero(missing)[0]]!r} has no skill in `skills` "
                    "(pass default_skill=... with on_missing_skill='value')"
                )
        return w

    def fit(self, data: pd.DataFrame, skills: pd.Series | None = None) -> MajorityVote:
        enc = self._encode(data)
        votes = self._votes(enc, self._weights(enc, skills))
        probas = self._normalize_rows(votes)
        self._set_result(enc, probas)
        self.skills_ = self._skills_series(enc, self._agreement(enc, argmax_first(probas)))
        return self
