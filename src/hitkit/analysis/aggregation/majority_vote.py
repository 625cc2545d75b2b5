"""MajorityVote: each task gets the label with the most (optionally skill-weighted) votes.

Also holds the small shared machinery every classification method here uses (`_ClassificationAggregator`:
encoding, the answers as a sparse task x (worker, label) matrix, and turning score arrays into crowd-kit shaped
`labels_` / `probas_`).

Tie rule (the same for every method in hitkit.analysis): equal scores go to the label that sorts first.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from hitkit.analysis.long_format import AnalysisError, Encoded, argmax_first, encode

__all__ = ["MajorityVote"]

_KERNELS: list = []  # [module or None], filled by the first kernels() call that loads them
# Loading the compiled kernels costs ~0.3-0.5 s once per process (numba's import and its on-disk cache); below
# this much work (answers x iterations) a fit in a process that has not loaded them yet runs its numpy code.
KERNEL_MIN_WORK = 5_000_000


def kernels(work: float | None = None) -> Any:
    """The compiled loops (hitkit.analysis.aggregation._kernels), or None: without numba, with
    HITKIT_NO_NUMBA=1, or when they are not loaded yet and `work` (answers x iterations) is below
    KERNEL_MIN_WORK. Imported on first use, never with hitkit.analysis."""
    if os.environ.get("HITKIT_NO_NUMBA", "") not in ("", "0"):
        return None
    if not _KERNELS:
        if work is not None and work < KERNEL_MIN_WORK:
            return None
        try:
            from hitkit.analysis.aggregation import _kernels as module

            module.warm_up()
        except Exception:  # numba missing, or broken on this platform: the numpy code does the same work
            module = None
        _KERNELS.append(module)
    return _KERNELS[0]


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
    _kernels = staticmethod(kernels)

    @staticmethod
    def _encode(data: pd.DataFrame) -> Encoded:
        return encode(data)

    @staticmethod
    def _intp(enc: Encoded) -> Encoded:
        """The same encoding with intp codes: numpy converts int32 index arrays to intp on every gather and
        bincount, so loops that index many times (GLAD, MACE) convert once."""
        return dataclasses.replace(
            enc, task=enc.task.astype(np.intp), worker=enc.worker.astype(np.intp), label=enc.label.astype(np.intp)
        )

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
        return flat.reshape(enc.n_tasks, k).astype(np.float64, copy=False)

    @staticmethod
    def _answer_matrix(enc: Encoded) -> sp.csr_matrix:
        """T x (W*K) matrix counting each answer at (task, worker*K + label)."""
        k = enc.n_labels
        cols = enc.worker.astype(np.int64) * k + enc.label
        data = np.ones(len(enc.task), dtype=np.float64)
        return sp.csr_matrix((data, (enc.task, cols)), shape=(enc.n_tasks, enc.n_workers * k))

    @classmethod
    def _normalize_rows(cls, scores: np.ndarray) -> np.ndarray:
        """Rows scaled to sum to 1 (a row summing to 0 becomes uniform); a new array."""
        total = cls._row_sum(scores)
        k = scores.shape[1]
        positive = total > 0
        if positive.all():
            return scores / total[:, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(positive[:, None], scores / np.where(positive, total, 1.0)[:, None], 1.0 / k)
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

    def _set_result(self, enc: Encoded, probas: np.ndarray, codes: np.ndarray | None = None) -> np.ndarray:
        """Sets `probas_` and `labels_`; returns the label code per task (`codes`, if the caller has them)."""
        if codes is None:
            codes = argmax_first(probas)
        tasks = pd.Index(enc.tasks, name="task")
        self.probas_ = pd.DataFrame(probas, index=tasks, columns=pd.Index(enc.labels, name="label"), copy=False)
        self.labels_ = pd.Series(enc.labels[codes], index=tasks, name="agg_label")
        return codes

    @staticmethod
    def _agreement(enc: Encoded, labels: np.ndarray) -> np.ndarray:
        """Per worker, the share of their answers equal to `labels` (one code per task)."""
        hit = labels[enc.task] == enc.label
        n = np.bincount(enc.worker, minlength=enc.n_workers)
        agree = np.bincount(enc.worker[hit], minlength=enc.n_workers)
        return agree / np.maximum(n, 1)

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
        codes = self._set_result(enc, probas, argmax_first(votes))  # votes and their shares rank alike
        self.skills_ = self._skills_series(enc, self._agreement(enc, codes))
        return self
