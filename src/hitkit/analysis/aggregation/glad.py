"""GLAD (Generative model of Labels, Abilities, and Difficulties): worker ability times task easiness decides
how likely an answer is right. Vectorized over answers with numpy bincount; the M-step is scipy's conjugate
gradient on the expected log-likelihood, as in crowd-kit, run step for step by `_conjugate_gradient` without
scipy.optimize.minimize's per-call wrappers, on an objective that takes one exp and one log per answer.

Where the time goes (zheng2017-duck, 4,212 answers: ~230 objective calls per fit, 6 EM iterations of 25 CG
steps each): the objective (~75 us a call, a third of it fixed per-call numpy overhead) and scipy's line search
(MINPACK's dcsrch, in Python). numba is not used: its ~0.25 s load per process would exceed the whole fit on every
real dataset."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import line_search, minimize

try:  # the line search scipy's CG uses; without it (a future scipy), scipy.optimize.minimize itself
    from scipy.optimize._linesearch import scalar_search_wolfe1
except ImportError:  # pragma: no cover
    scalar_search_wolfe1 = None

from hitkit.analysis.long_format import AnalysisError, Encoded
from hitkit.analysis.aggregation.majority_vote import _ClassificationAggregator

__all__ = ["GLAD"]

_HALF_LOG_2PI = 0.5 * np.log(2 * np.pi)


def _dot(u: np.ndarray, v: np.ndarray) -> float:
    """u . v without BLAS: numpy hands `np.dot` of long vectors to a multithreaded OpenBLAS, whose threads spin
    against each other on a busy machine (zheng2017-relevance, 21,000 parameters: 5x slower fits at load ~9)."""
    return float(np.einsum("i,i->", u, v))


def _conjugate_gradient(fg, x0: np.ndarray, gtol: float, maxiter: int) -> np.ndarray:
    """`scipy.optimize.minimize(fg, x0, method="CG", jac=True, tol=gtol, options={"maxiter": maxiter}).x`, step for
    step (Polak-Ribiere+ with scipy's MINPACK strong-Wolfe line search, c1=1e-4, c2=0.4, its initial step, its
    descent check and its fallback search), without the wrappers that cost as much as `fg` itself on small fits.
    `fg(x)` returns (value, gradient). Dot products by einsum rather than BLAS (see `_dot`), so the iterates equal
    scipy's up to the order of summation in those products."""
    if scalar_search_wolfe1 is None:  # pragma: no cover
        return minimize(fg, x0, method="CG", jac=True, tol=gtol, options={"disp": False, "maxiter": maxiter}).x
    last: list = [None, None, None]  # point, value, gradient of the latest evaluation

    def evaluate(x: np.ndarray):
        if last[0] is None or not np.array_equal(x, last[0]):
            last[1], last[2] = fg(x)
            last[0] = x
        return last[1], last[2]

    old_fval, gfk = fg(x0)
    xk, k = x0, 0
    old_old_fval = old_fval + np.sqrt(_dot(gfk, gfk)) / 2  # an initial step of about 1, as scipy
    pk = -gfk
    gnorm = np.abs(gfk).max()
    while gnorm > gtol and k < maxiter:
        deltak = _dot(gfk, gfk)

        def pr_step(alpha: float, gfkp1: np.ndarray):
            yk = gfkp1 - gfk
            beta_k = max(0.0, _dot(yk, gfkp1) / deltak)
            return alpha, xk + alpha * pk, -gfkp1 + beta_k * pk, gfkp1, np.abs(gfkp1).max()

        def phi(step: float) -> float:
            last[0] = xk + step * pk
            last[1], last[2] = fg(last[0])
            return last[1]

        def derphi(step: float) -> float:  # MINPACK's search asks for phi(step), then phi'(step)
            return _dot(last[2], pk)

        stp, fval, phi0 = scalar_search_wolfe1(
            phi, derphi, old_fval, old_old_fval, _dot(gfk, pk), c1=1e-4, c2=0.4, amax=1e100, amin=1e-100,
            xtol=1e-14,
        )
        step = None
        if stp is not None:
            step = pr_step(stp, last[2])
            # Polak-Ribiere+ needs a sufficient descent condition that strong Wolfe does not give
            if not (step[4] <= gtol or _dot(step[2], step[3]) <= -0.01 * _dot(step[3], step[3])):
                step = None
        if step is None:  # scipy's fallback: the pure-Python strong-Wolfe search, with the same check
            cached: list = [None]

            def descent(alpha, xkp1, fp1, gfkp1):
                cached[0] = pr_step(alpha, gfkp1)
                return cached[0][4] <= gtol or _dot(cached[0][2], cached[0][3]) <= -0.01 * _dot(
                    cached[0][3], cached[0][3]
                )

            res = line_search(
                lambda x: evaluate(x)[0], lambda x: evaluate(x)[1], xk, pk, gfk, old_fval, old_old_fval,
                c1=1e-4, c2=0.4, amax=1e100, extra_condition=descent,
            )
            if res[0] is None:
                break  # the line search found no better point: scipy stops here too
            fval, phi0 = res[3], res[4]
            step = cached[0] if cached[0] is not None and cached[0][0] == res[0] else pr_step(res[0], res[5])
        old_fval, old_old_fval = fval, phi0
        _, xk, pk, gfk, gnorm = step
        k += 1
    return xk


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

    @staticmethod
    def _terms(enc: Encoded, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per answer x = alpha_worker * exp(beta_task) and softplus(x) = max(x, 0) + log(1 + exp(-|x|)):
        log P(right) = x - softplus(x), log P(a given wrong label) = -softplus(x) - log(K-1). numpy's vectorised
        exp and log (log(1 + s) rather than log1p(s): within 1.2e-16 absolutely, all a sum of these terms needs)."""
        x = a[enc.worker] * np.exp(b)[enc.task]
        sp = np.exp(-np.abs(x))
        sp += 1.0
        np.log(sp, out=sp)
        sp += np.maximum(x, 0.0)
        return x, sp

    def _e_step(self, enc: Encoded, x: np.ndarray, sp: np.ndarray, log_prior: np.ndarray) -> np.ndarray:
        k = enc.n_labels
        # per task and label: the sum of log P(wrong) over the task's answers, plus (log P(right) - log P(wrong))
        # = x + log(K-1) over its answers with that label
        base = np.bincount(enc.task, weights=sp, minlength=enc.n_tasks)
        diff = np.bincount(
            enc.task.astype(np.int64) * k + enc.label, weights=x + np.log(k - 1), minlength=enc.n_tasks * k
        ).reshape(enc.n_tasks, k)
        return self._softmax_rows(diff - base[:, None] + log_prior)

    @staticmethod
    def _q(enc: Encoded, qa: np.ndarray, x, sp, a, b, mu_a, mu_b) -> float:
        """The M-step objective: expected complete-data log-likelihood plus the log-priors on alpha and beta."""
        da, db = a - mu_a, b - mu_b
        q = _dot(qa, x) - float(sp.sum()) - np.log(enc.n_labels - 1) * (len(qa) - float(qa.sum()))
        q -= 0.5 * _dot(da, da) + _HALF_LOG_2PI * len(a)
        q -= 0.5 * _dot(db, db) + _HALF_LOG_2PI * len(b)
        return q

    @staticmethod
    def _objective(enc: Encoded, qa: np.ndarray, mu: np.ndarray):
        """The M-step's function for the conjugate gradient: v = (alpha, beta) -> (-Q, -dQ/dv), Q as `_q` with
        the answers' posteriors `qa` fixed. dQ/dx = qa - sigmoid(x) per answer, x = alpha_worker * exp(beta_task),
        so dQ/dalpha_i sums (qa - sigmoid(x)) exp(beta_task) over worker i's answers and dQ/dbeta_j sums
        (qa - sigmoid(x)) x over task j's answers, each minus its prior term. Few numpy calls: on the small real
        datasets each call's fixed cost is a good part of the time."""
        w, t, worker, task = enc.n_workers, enc.n_tasks, enc.worker, enc.task
        rest = 1.0 - qa
        const = np.log(enc.n_labels - 1) * float(rest.sum()) + _HALF_LOG_2PI * (w + t)

        def f(v: np.ndarray) -> tuple[float, np.ndarray]:
            a = v[:w]
            eb = np.exp(v[w:])[task]
            x = a[worker] * eb
            if a.min() >= 0.0:  # x >= 0: -Q's data part is sum(rest * x) + sum(log(1 + exp(-x)))
                u = np.exp(-x)
                u += 1.0
                g = 1.0 / u  # sigmoid(x)
                value = _dot(rest, x) + float(np.log(u, out=u).sum())
            else:  # any sign: sum(softplus(x)) - sum(qa * x), softplus(x) = max(x, 0) + log(1 + exp(-|x|))
                s = np.exp(-np.abs(x))
                u = s + 1.0
                g = np.where(x >= 0.0, 1.0, s) / u
                value = float(np.maximum(x, 0.0).sum()) - _dot(qa, x)
                value += float(np.log(u, out=u).sum())
            g -= qa  # sigmoid(x) - qa = -dQ/dx
            d = v - mu
            value += 0.5 * _dot(d, d) + const
            d[:w] += np.bincount(worker, weights=g * eb, minlength=w)
            d[w:] += np.bincount(task, weights=g * x, minlength=t)
            return value, d

        return f

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

        x, sp = self._terms(enc, alpha, beta)
        probas = self._e_step(enc, x, sp, log_prior)
        loss = self._q(enc, probas[enc.task, enc.label], x, sp, alpha, beta, mu_a, mu_b)
        self.loss_history_ = []
        for _ in range(self.n_iter):
            last = loss
            probas = self._e_step(enc, x, sp, log_prior)
            qa = probas[enc.task, enc.label]

            f = self._objective(enc, qa, np.concatenate([mu_a, mu_b]))
            xk = _conjugate_gradient(f, np.concatenate([alpha, beta]), self.m_step_tol, self.m_step_max_iter)
            alpha, beta = xk[:w], xk[w:]
            x, sp = self._terms(enc, alpha, beta)  # also the next E-step's terms
            loss = self._q(enc, qa, x, sp, alpha, beta, mu_a, mu_b) / n_rows
            self.loss_history_.append(loss)
            if loss - last < self.tol:
                break
        # like crowd-kit, the reported posteriors are those of the last E-step
        self._set_result(enc, probas)
        self.alphas_ = pd.Series(alpha, index=pd.Index(enc.workers, name="worker"), name="alpha")
        self.betas_ = pd.Series(beta, index=pd.Index(enc.tasks, name="task"), name="beta")
        self.priors_ = pd.Series(prior, index=pd.Index(enc.labels, name="label"), name="prior")
        return self
