"""MACE (Multi-Annotator Competence Estimation): each worker either knows the answer or spams from a label
distribution of their own. Vectorized: each EM step is one sparse product of the answer matrix and one bincount."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import digamma

from hitkit.analysis.long_format import Encoded
from hitkit.analysis.aggregation.majority_vote import _ClassificationAggregator

__all__ = ["MACE"]


def _normalize(x: np.ndarray, smoothing: float) -> np.ndarray:
    x = x + smoothing
    return x / x.sum(axis=1, keepdims=True)


def _variational_normalize(x: np.ndarray, hparams: np.ndarray) -> np.ndarray:
    x = x + hparams
    return np.exp(digamma(x) - digamma(x.sum(axis=1, keepdims=True)))


class MACE(_ClassificationAggregator):
    """MACE: worker $j$ knows the answer with probability $\\theta^{know}_j$ (then answers the true label) and
    otherwise spams, answering from their own distribution $\\xi_j$. True labels are uniform a priori.

    EM (`method='em'`, `smoothing` added to the expected counts) or variational Bayes (`method='vb'`, the
    default: Beta(`alpha`, `beta`) prior on spamming/knowing, symmetric Dirichlet(10) on $\\xi_j$), `n_iter`
    iterations per restart, `n_restarts` restarts keeping the best marginal likelihood. The first restart starts
    from a fixed, name-independent point (spamming 1/2, uniform $\\xi$); the others from random points drawn with
    `random_state` (so with `n_restarts=1` the result never depends on what workers or tasks are called).
    Fitted `spamming_` (W x 2: spamming, knowing; as crowd-kit), `skills_` (Series by worker, name `skill`: the
    probability of knowing, i.e. not spamming = `spamming_[:, 1]`), `thetas_` (W x K), `loss_history_` (log marginal likelihood
    per restart). Ties: the label that sorts first.

    Hovy, D., Berg-Kirkpatrick, T., Vaswani, A., Hovy, E. (2013). Learning Whom to Trust with MACE.
    NAACL-HLT 2013, 1120-1130. https://aclanthology.org/N13-1132
    """

    def __init__(
        self,
        n_restarts: int = 10,
        n_iter: int = 50,
        method: str = "vb",
        smoothing: float = 0.1,
        default_noise: float = 0.5,
        alpha: float = 0.5,
        beta: float = 0.5,
        random_state: int | None = 0,
        verbose: int = 0,
    ) -> None:
        self.n_restarts = n_restarts
        self.n_iter = n_iter
        self.method = method
        self.smoothing = smoothing
        self.default_noise = default_noise
        self.alpha = alpha
        self.beta = beta
        self.random_state = random_state
        self.verbose = verbose
        self.loss_history_: list[float] = []
        self.spamming_: np.ndarray | None = None
        self.thetas_: np.ndarray | None = None
        self.skills_: pd.Series | None = None

    def _e_step(self, enc: Encoded, ctx: tuple, spam: np.ndarray, theta: np.ndarray):
        """E-step and expected counts. Every per-answer quantity depends only on the answer's (worker, label)
        pair c, so the E-step is one sparse product of the T x (W*K) answer matrix A with a (W*K) x K matrix of
        log-likelihoods, and the counts need only G[c] = the sum of q[t, label(c)] over the answers in c."""
        k, w = enc.n_labels, enc.n_workers
        a, cols, n_wl, answer_cells, diagonal, log_k = ctx
        st = spam[:, :1] * theta  # W x K: P(spamming and answering l)
        s1 = spam[:, 1:]  # P(knowing)
        log_st = np.log(np.clip(st, 1e-300, None))
        st_s1 = np.clip(st + s1, 1e-300, None)
        m = np.repeat(log_st.reshape(-1, 1), k, axis=1)  # (W*K) x K: log P(answer c | true label k)
        m[diagonal] = np.log(st_s1).ravel()
        log_q = a @ m
        log_q -= log_k
        top = self._row_max(log_q)
        q = np.exp(log_q - top[:, None])
        total = self._row_sum(q)
        q /= total[:, None]
        log_inst = top + np.log(total)  # log of each row's normaliser: log P(task's answers)
        g = np.bincount(cols, weights=q.ravel()[answer_cells], minlength=w * k).reshape(w, k)
        not_r = 1.0 - st / st_s1  # P(knowing | answer c, c is the true label)
        knowing = not_r * g
        strategy_counts = n_wl - knowing
        knowing_counts = np.stack([strategy_counts.sum(axis=1), knowing.sum(axis=1)], axis=1)
        return float(log_inst.sum()), q, strategy_counts, knowing_counts

    def fit(self, data: pd.DataFrame) -> MACE:
        enc = self._intp(self._encode(data))
        self._require_two_workers(enc, type(self).__name__)
        w, k = enc.n_workers, enc.n_labels
        smoothing = 0.01 / k
        theta_priors = np.tile([self.alpha, self.beta], (w, 1)).astype(np.float64)
        strategy_priors = np.full((w, k), 10.0)
        cols = enc.worker.astype(np.int64) * k + enc.label
        a = self._answer_matrix(enc)
        n_wl = np.bincount(cols, minlength=w * k).reshape(w, k).astype(np.float64)
        # what every E-step reuses: q[task, label] as flat indexes, the (c, label(c)) cells of the W*K x K matrix
        ctx = (a, cols, n_wl, enc.task * k + enc.label, (np.arange(w * k), np.tile(np.arange(k), w)), np.log(k))
        rng = np.random.default_rng(self.random_state)
        best = (-np.inf, None, None)
        self.loss_history_ = []
        for restart in range(max(1, self.n_restarts)):
            if restart == 0:
                spam, theta = np.full((w, 2), 0.5), np.full((w, k), 1.0 / k)
            else:
                spam = rng.uniform(1, 1 + self.default_noise, size=(w, 2))
                theta = rng.uniform(1, 1 + self.default_noise, size=(w, k))
                spam /= spam.sum(axis=1, keepdims=True)
                theta /= theta.sum(axis=1, keepdims=True)
            ll, q, sc, kc = self._e_step(enc, ctx, spam, theta)
            for _ in range(self.n_iter):
                if self.method == "vb":
                    spam = _variational_normalize(kc, theta_priors)
                    theta = _variational_normalize(sc, strategy_priors)
                else:
                    spam = _normalize(kc, smoothing)
                    theta = _normalize(sc, smoothing)
                ll, q, sc, kc = self._e_step(enc, ctx, spam, theta)
            self.loss_history_.append(ll)
            if ll > best[0]:
                best = (ll, spam, theta)
        _, spam, theta = best
        _, q, _, _ = self._e_step(enc, ctx, spam, theta)
        self.spamming_, self.thetas_ = spam, theta
        self.skills_ = self._skills_series(enc, spam[:, 1])  # P(knowing), i.e. not spamming
        self._set_result(enc, q)
        return self
