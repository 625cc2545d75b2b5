"""DawidSkene and OneCoinDawidSkene: EM over per-worker confusion matrices (full, or one skill per worker).

Vectorized: with A the T x (W*K) answer count matrix, the M-step needs `A.T @ q`, the E-step `A @ log(errors)`.
With numba (aggregation._kernels) each EM iteration is one fused pass over the answers grouped by task; without,
two scipy.sparse products. No Python loop over answers or tasks.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from hitkit.analysis.long_format import AnalysisError, Encoded
from hitkit.analysis.aggregation.majority_vote import _ClassificationAggregator

__all__ = ["DawidSkene", "OneCoinDawidSkene"]

_EPS = 1e-10


def _gold_mask(enc: Encoded, true_labels: pd.Series | None) -> tuple[np.ndarray, np.ndarray] | None:
    """(task codes, label codes) of the gold tasks present in the answers."""
    if true_labels is None:
        return None
    gold = pd.Series(true_labels).dropna()
    t_index = pd.Index(enc.tasks)
    l_index = pd.Index(enc.labels)
    t = t_index.get_indexer(gold.index)
    lab = l_index.get_indexer(gold.to_numpy())
    unknown = (t >= 0) & (lab < 0)
    if unknown.any():
        i = int(np.flatnonzero(unknown)[0])
        raise AnalysisError(
            f"true label {gold.iloc[i]!r} of task {gold.index[i]} is not a label any worker gave"
        )
    keep = t >= 0
    return t[keep], lab[keep]


def _vdot(a: np.ndarray, b: np.ndarray) -> float:
    """sum(a * b) over all elements, without BLAS: numpy hands np.vdot / `@` of long arrays to a multithreaded
    OpenBLAS, whose threads spin after each call and, on a shared machine, take the core the fit needs (at 1M
    answers under load: 2-3x the CPU time of the whole fit)."""
    return float(np.einsum("ij,ij->", a, b))


def _column_sums(q: np.ndarray) -> np.ndarray:
    """q.sum(axis=0) for a tall, narrow T x K array: a loop over the K columns (numpy's axis-0 reduction on a
    C-ordered narrow array is slow, and the BLAS product ones @ q is multithreaded; see `_vdot`)."""
    return np.array([q[:, j].sum() for j in range(q.shape[1])])


def _clamp(q: np.ndarray, gold: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    if gold is not None and len(gold[0]):
        q[gold[0]] = 0.0
        q[gold[0], gold[1]] = 1.0
    return q


class _EMBase(_ClassificationAggregator):
    def __init__(self, n_iter: int = 100, tol: float = 1e-5) -> None:
        self.n_iter = n_iter
        self.tol = tol
        self.loss_history_: list[float] = []
        self.priors_: pd.Series | None = None
        self.errors_: pd.DataFrame | None = None

    def _priors(self, q: np.ndarray) -> np.ndarray:
        return _column_sums(q) / len(q)

    def _priors_from_sum(self, q_sum: np.ndarray, n_tasks: int) -> np.ndarray:
        """The priors from the column sums of q (what the fused kernel accumulates)."""
        return q_sum / n_tasks

    def _em(self, enc: Encoded, q: np.ndarray, m_step, gold, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """EM from posteriors q: returns (q, priors, errors).

        `m_step(counts, first)` turns the expected counts (W*K x K: row worker * K + observed label, column true
        label; A.T @ q for the T x (W*K) answer matrix A) into the W x K x K error array. Each iteration is one
        pass over the answers: with numba a fused kernel (E-step, then the next M-step's counts, task by task);
        without, one product with A and one with A.T. The bound's E_q[log p(answers | z)] term, vdot(q, A @ log
        err), is computed as vdot(A.T @ q, log err) on the small counts array."""
        t, k = q.shape
        n_cols = enc.n_workers * k
        kern = self._kernels(len(enc.task) * max(self.n_iter, 1))
        gold_codes = np.full(t, -1, dtype=np.int32)
        if gold is not None and len(gold[0]):
            gold_codes[gold[0]] = gold[1]
        if kern is not None:
            indptr, cols = kern.csr_by_task(enc.task, enc.worker, enc.label, t, k)
            counts = kern.ds_counts(indptr, cols, q, n_cols)
            q, d = q.copy(), np.empty_like(q)  # the kernels write q in place
        else:
            a = self._answer_matrix(enc)
            at = a.T.tocsc()  # A.T @ q as a CSC product: A's CSR arrays reused, no transpose per iteration
            counts = np.asarray(at @ q)
        priors = self._priors(q)
        err = m_step(counts, True)
        log_err = np.log(err).reshape(-1, k)
        q_sum = np.empty(k)
        loss = -np.inf
        self.loss_history_ = []
        for _ in range(self.n_iter):
            log_prior = np.log(np.clip(priors, _EPS, None))
            if kern is not None:
                kern.ds_shifted_scores(indptr, cols, log_err, log_prior, d)
                np.exp(d, out=q)
                neg_entropy = kern.ds_normalize_and_count(indptr, cols, d, gold_codes, q, counts, q_sum)
            else:
                q, log_q = self._log_softmax_rows(a @ log_err + log_prior)
                if gold is not None and len(gold[0]):
                    q = _clamp(q, gold)
                    log_q[gold[0]] = np.log(np.clip(q[gold[0]], _EPS, None))
                counts = np.asarray(at @ q)
                q_sum = _column_sums(q)
                neg_entropy = _vdot(q, log_q)
            priors = self._priors_from_sum(q_sum, t)
            err = m_step(counts, False)
            log_err = np.log(err).reshape(-1, k)
            # evidence lower bound per answer: E_q[log p(answers, z)] + H(q)
            log_prior = np.log(np.clip(priors, _EPS, None))
            new_loss = (_vdot(counts, log_err) + float(priors @ log_prior) * t - neg_entropy) / n
            self.loss_history_.append(new_loss)
            if new_loss - loss < self.tol:
                break
            loss = new_loss
        return q, priors, err

    def _errors_frame(self, enc: Encoded, err: np.ndarray) -> pd.DataFrame:
        k = enc.n_labels
        idx = pd.MultiIndex.from_arrays(
            [np.repeat(enc.workers, k), np.tile(enc.labels, enc.n_workers)], names=["worker", "label"]
        )
        return pd.DataFrame(err.reshape(enc.n_workers * k, k), index=idx, columns=pd.Index(enc.labels, name="label"))


class DawidSkene(_EMBase):
    """Dawid-Skene: each worker $i$ has a confusion matrix $\\pi^{(i)}_{k\\ell} = P(y = \\ell \\mid z = k)$.

    EM: start from majority-vote posteriors; M-step $\\pi^{(i)} \\propto \\sum_j q_{jk}[y_{ij}=\\ell] + \\alpha$,
    priors $p_k = \\text{mean}_j q_{jk}$; E-step $q_{jk} \\propto p_k \\prod_i \\pi^{(i)}_{k y_{ij}}$. Stops after
    `n_iter` iterations or when the evidence lower bound (per answer, `loss_history_`) improves by less than `tol`.
    Gold labels (`fit(data, true_labels=...)`) clamp those tasks' posteriors to one-hot at every step.
    `initial_error` (DataFrame indexed (worker, label), one column per true label, counts) is a prior on the
    confusion matrices, applied at the first M-step as crowd-kit 1.4 does ('addition' adds the counts, 'assign'
    replaces the estimated rows). `alpha` adds Dirichlet pseudo-counts to every cell at every M-step (0 = plain
    DS, as crowd-kit). Ties: the label that sorts first.

    Dawid, A. P., Skene, A. M. (1979). Maximum likelihood estimation of observer error-rates using the EM
    algorithm. Applied Statistics 28(1), 20-28. doi:10.2307/2346806

    Examples:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"task": [1, 1, 1, 2, 2, 2], "worker": list("abcabc"), "label": list("xxyyyy")})
        >>> DawidSkene().fit_predict(df).tolist()
        ['x', 'y']
    """

    def __init__(
        self,
        n_iter: int = 100,
        tol: float = 1e-5,
        initial_error_strategy: Literal["assign", "addition"] | None = None,
        alpha: float = 0.0,
    ) -> None:
        super().__init__(n_iter, tol)
        self.initial_error_strategy = initial_error_strategy
        self.alpha = alpha

    def _m_step(self, counts: np.ndarray, w: int, k: int, prior: np.ndarray | None) -> np.ndarray:
        counts = counts.reshape(w, k, k)  # worker, observed, true
        if self.alpha:
            counts = counts + self.alpha
        if prior is not None:
            if self.initial_error_strategy == "assign":
                has = ~np.isnan(prior)
                counts = np.where(has, prior, counts)
            else:
                counts = counts + np.nan_to_num(prior)
        counts = np.clip(counts, _EPS, None)
        return counts / counts.sum(axis=1, keepdims=True)

    def _prior_array(self, enc: Encoded, initial_error: pd.DataFrame | None) -> np.ndarray | None:
        if initial_error is None or self.initial_error_strategy is None:
            return None
        if list(initial_error.index.names) != ["worker", "label"]:
            raise AnalysisError(
                f"initial_error must be indexed by (worker, label), got {list(initial_error.index.names)}"
            )
        idx = pd.MultiIndex.from_arrays(
            [np.repeat(enc.workers, enc.n_labels), np.tile(enc.labels, enc.n_workers)], names=["worker", "label"]
        )
        arr = initial_error.reindex(index=idx, columns=pd.Index(enc.labels)).to_numpy(dtype=np.float64)
        return arr.reshape(enc.n_workers, enc.n_labels, enc.n_labels)

    def fit(
        self,
        data: pd.DataFrame,
        true_labels: pd.Series | None = None,
        initial_error: pd.DataFrame | None = None,
    ) -> DawidSkene:
        enc = self._encode(data)
        self._require_two_workers(enc, type(self).__name__)
        w, k, n = enc.n_workers, enc.n_labels, len(enc.task)
        gold = _gold_mask(enc, true_labels)
        q = _clamp(self._normalize_rows(self._votes(enc)), gold)
        prior = self._prior_array(enc, initial_error)

        def m_step(counts: np.ndarray, first: bool) -> np.ndarray:
            return self._m_step(counts, w, k, prior if first else None)

        q, priors, err = self._em(enc, q, m_step, gold, n)
        self._set_result(enc, q)
        self.priors_ = pd.Series(priors, index=pd.Index(enc.labels, name="label"), name="prior")
        self.errors_ = self._errors_frame(enc, err)
        return self

    def fit_predict(self, data, true_labels=None, initial_error=None):  # type: ignore[override]
        return super().fit_predict(data, true_labels, initial_error)

    def fit_predict_proba(self, data, true_labels=None, initial_error=None):  # type: ignore[override]
        return super().fit_predict_proba(data, true_labels, initial_error)


class OneCoinDawidSkene(_EMBase):
    """One-coin Dawid-Skene: worker $i$ is right with probability $s_i$ and otherwise picks any other label
    uniformly: $\\pi^{(i)}_{kk} = s_i$, $\\pi^{(i)}_{k\\ell} = (1 - s_i)/(K-1)$.

    EM as DawidSkene (start from majority vote); the M-step sets $s_i$ to the mean posterior of the worker's
    answers. `skills_` holds $s_i$. `prior='fixed'` keeps the class prior uniform (the maximum-likelihood prior,
    crowd-kit's and the default 'ml', can collapse onto one class, as on TREC relevance). Ties: the label that
    sorts first.
    """

    def __init__(self, n_iter: int = 100, tol: float = 1e-5, prior: Literal["ml", "fixed"] = "ml") -> None:
        super().__init__(n_iter, tol)
        self.prior = prior
        self.skills_: pd.Series | None = None

    def _skills(self, enc: Encoded, q: np.ndarray) -> np.ndarray:
        hit = q[enc.task, enc.label]
        n = np.bincount(enc.worker, minlength=enc.n_workers)
        return np.bincount(enc.worker, weights=hit, minlength=enc.n_workers) / np.maximum(n, 1)

    @staticmethod
    def _errors(skills: np.ndarray, k: int) -> np.ndarray:
        off = (1.0 - skills) / max(k - 1, 1)
        err = np.repeat(off[:, None, None], k, axis=1).repeat(k, axis=2)
        idx = np.arange(k)
        err[:, idx, idx] = skills[:, None]
        return np.clip(err, _EPS, 1 - _EPS)

    def _priors(self, q: np.ndarray) -> np.ndarray:
        if self.prior == "fixed":
            return np.full(q.shape[1], 1.0 / q.shape[1])
        return q.mean(axis=0)

    def _priors_from_sum(self, q_sum: np.ndarray, n_tasks: int) -> np.ndarray:
        if self.prior == "fixed":
            return np.full(len(q_sum), 1.0 / len(q_sum))
        return q_sum / n_tasks

    def fit(self, data: pd.DataFrame) -> OneCoinDawidSkene:
        enc = self._encode(data)
        self._require_two_workers(enc, type(self).__name__)
        w, k, n = enc.n_workers, enc.n_labels, len(enc.task)
        q = self._normalize_rows(self._votes(enc))
        n_answers = np.maximum(np.bincount(enc.worker, minlength=w), 1)

        def m_step(counts: np.ndarray, first: bool) -> np.ndarray:
            # a worker's skill: the mean posterior of the labels they gave = the trace of their counts block
            hits = np.trace(counts.reshape(w, k, k), axis1=1, axis2=2)
            return self._errors(hits / n_answers, k)

        q, _, err = self._em(enc, q, m_step, None, n)
        skills = self._skills(enc, q)
        priors = self._priors(q)
        self._set_result(enc, q)
        self.priors_ = pd.Series(priors, index=pd.Index(enc.labels, name="label"), name="prior")
        self.errors_ = self._errors_frame(enc, err)
        self.skills_ = self._skills_series(enc, skills)
        return self
