"""GLAD (Generative model of Labels, Abilities, and Difficulties): worker ability times task easiness decides
how likely an answer is right. Vectorized over answers with numpy bincount; the M-step is scipy's conjugate
gradient on the expected log-likelihood, as in crowd-kit."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit, log_expit

from hitkit.analysis.long_format import AnalysisError, Encoded
from hitkit.analysis.aggregation.majority_vote import _ClassificationAggregator

__all__ = ["GLAD"]

_HALF_LOG_2PI = 0.5 * np.log(2 * np.pi)


class GLAD(_ClassificationAggregator):
    """GLAD: answer $y_{ij}$ of worker $i$ on task $j$ is right with probability
    $\\sigma(\\alpha_i e^{\\beta_j})$ and otherwise uniform over the other $K-1$ labels.

    EM as crowd-kit: $\\alpha = \\beta = 1$, uniform label prior (or `labels_priors`); E-step
    $q_{jk} \\propto p_k \\prod_i P(y_{ij} \\mid z_j = k)$; M-step maximises the expected log-likelihood plus
    standard-normal log-priors on $\\alpha - \\bar\\alpha$ and $\\beta - \\bar\\beta$ by conjugate gradient
    (`m_step_max_iter`, `m_step_tol`). Stops after `n_iter` iterations or when the loss (per answer and label,
    `loss_history_`) improves by less than `tol`. Fitted `alphas_` (by worker), `betas_` (by task). Ties: the
    label that sorts first. Needs at least two labels.

    Whitehill, J., Wu, T., Bergsma, J., Movellan, J. R., Ruvolo, P. L. (2009). Whose vote should count more:
    optimal integration of labels from labelers of unknown expertise. NIPS 22, 2035-2043.
    """

    def __init__(
        self,
        n_iter: int = 100,
        tol: float = 1e-5,
        silent: bool = True,
        labels_priors: pd.Series | None = None,
        alphas_priors_mean: pd.Series | None = None,
        betas_priors_mean: pd.Series | None = None,
        m_step_max_iter: int = 25,
        m_step_tol: float = 1e-2,
    ) -> None:
        self.n_iter = n_iter
        self.tol = tol
        self.silent = silent
        self.labels_priors = labels_priors
        self.alphas_priors_mean = alphas_priors_mean
        self.betas_priors_mean = betas_priors_mean
        self.m_step_max_iter = m_step_max_iter
        self.m_step_tol = m_step_tol
        self.loss_history_: list[float] = []
        self.alphas_: pd.Series | None = None
        self.betas_: pd.Series | None = None
        self.priors_: pd.Series | None = None

    @staticmethod
    def _series_or(values: pd.Series | None, index: np.ndarray, default: float) -> np.ndarray:
        if values is None:
            return np.full(len(index), default)
        return pd.Series(values).reindex(pd.Index(index)).fillna(default).to_numpy(dtype=np.float64)

    def _log_terms(self, enc: Encoded, alpha: np.ndarray, beta: np.ndarray, with_grad: bool = False):
        """Per answer log P(right) = log sigmoid(ab) and log P(a given wrong label) = log sigmoid(-ab) - log(K-1),
        ab = alpha_worker * exp(beta_task). With `with_grad`, also exp(beta_task), ab and sigmoid(ab), from the
        same ab (the objective and its gradient share one pass). scipy's log_expit / expit on purpose: the M-step's
        conjugate gradient (tol 1e-2) amplifies last-bit differences of other formulas into different results."""
        eb = np.exp(beta[enc.task])
        ab = alpha[enc.worker] * eb
        # log_expit(x) is -log1p(exp(-x)) for x >= 0 and x - log1p(exp(x)) below: both log_expit(ab) and
        # log_expit(-ab) are p = log_expit(|ab|) plus min(ab, 0) or minus max(ab, 0), bit for bit; one call
        p = log_expit(np.abs(ab))
        right = p + np.minimum(ab, 0.0)
        wrong = (p - np.maximum(ab, 0.0)) - np.log(enc.n_labels - 1)
        if not with_grad:
            return right, wrong
        return right, wrong, eb, ab, expit(ab)

    def _e_step(self, enc: Encoded, alpha: np.ndarray, beta: np.ndarray, log_prior: np.ndarray) -> np.ndarray:
        k = enc.n_labels
        right, wrong = self._log_terms(enc, alpha, beta)
        base = np.bincount(enc.task, weights=wrong, minlength=enc.n_tasks)
        diff = np.bincount(
            enc.task.astype(np.int64) * k + enc.label, weights=right - wrong, minlength=enc.n_tasks * k
        ).reshape(enc.n_tasks, k)
        return self._softmax_rows(base[:, None] + diff + log_prior)

    def _q(self, enc: Encoded, qa: np.ndarray, alpha, beta, mu_a, mu_b, terms=None, rest=None) -> float:
        right, wrong = terms if terms is not None else self._log_terms(enc, alpha, beta)
        q = float(np.sum(qa * right + ((1.0 - qa) if rest is None else rest) * wrong))
        q += float(np.sum(-0.5 * (alpha - mu_a) ** 2 - _HALF_LOG_2PI))
        q += float(np.sum(-0.5 * (beta - mu_b) ** 2 - _HALF_LOG_2PI))
        return q

    def fit(self, data: pd.DataFrame) -> GLAD:
        enc = self._intp(self._encode(data))
        self._require_two_workers(enc, type(self).__name__)
        if enc.n_labels < 2:
            raise AnalysisError(
                f"GLAD needs at least two distinct labels; every answer is {enc.labels[0]!r} "
                "(use MajorityVote, or pass the other labels)"
            )
        w, t, k = enc.n_workers, enc.n_tasks, enc.n_labels
        if self.labels_priors is None:
            prior = np.full(k, 1.0 / k)
        else:
            prior = pd.Series(self.labels_priors).reindex(pd.Index(enc.labels)).fillna(0.0).to_numpy(float)
        log_prior = np.log(np.clip(prior, 1e-300, None))
        mu_a = self._series_or(self.alphas_priors_mean, enc.workers, 1.0)
        mu_b = self._series_or(self.betas_priors_mean, enc.tasks, 1.0)
        alpha, beta = np.ones(w), np.ones(t)
        n_rows = len(enc.task) * k  # crowd-kit normalises by its melted (answer, label) rows

        probas = self._e_step(enc, alpha, beta, log_prior)
        loss = self._q(enc, probas[enc.task, enc.label], alpha, beta, mu_a, mu_b)
        self.loss_history_ = []
        for _ in range(self.n_iter):
            last = loss
            probas = self._e_step(enc, alpha, beta, log_prior)
            qa = probas[enc.task, enc.label]
            rest = 1.0 - qa

            def f(x: np.ndarray) -> tuple[float, np.ndarray]:
                a, b = x[:w], x[w:]
                right, wrong, eb, ab, sig = self._log_terms(enc, a, b, with_grad=True)
                g = qa - sig
                d_alpha = np.bincount(enc.worker, weights=g * eb, minlength=w) - (a - mu_a)
                d_beta = np.bincount(enc.task, weights=g * ab, minlength=t) - (b - mu_b)
                value = self._q(enc, qa, a, b, mu_a, mu_b, (right, wrong), rest)
                return -value, -np.concatenate([d_alpha, d_beta])

            res = minimize(
                f, np.concatenate([alpha, beta]), method="CG", jac=True, tol=self.m_step_tol,
                options={"disp": False, "maxiter": self.m_step_max_iter},
            )
            alpha, beta = res.x[:w], res.x[w:]
            loss = self._q(enc, qa, alpha, beta, mu_a, mu_b) / n_rows
            self.loss_history_.append(loss)
            if loss - last < self.tol:
                break
        # like crowd-kit, the reported posteriors are those of the last E-step
        self._set_result(enc, probas)
        self.alphas_ = pd.Series(alpha, index=pd.Index(enc.workers, name="worker"), name="alpha")
        self.betas_ = pd.Series(beta, index=pd.Index(enc.tasks, name="task"), name="beta")
        self.priors_ = pd.Series(prior, index=pd.Index(enc.labels, name="label"), name="prior")
        return self
