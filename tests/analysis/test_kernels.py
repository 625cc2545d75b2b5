"""The compiled kernels (hitkit.analysis.aggregation._kernels, numba) against the numpy code they replace: same
labels, same number of iterations, probabilities and parameters equal up to rounding. HITKIT_NO_NUMBA=1 selects
the numpy code."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hitkit.analysis import GLAD, MACE, DawidSkene, OneCoinDawidSkene
from hitkit.analysis.aggregation.majority_vote import kernels

pytestmark = pytest.mark.skipif(kernels() is None, reason="numba is not available: only the numpy code runs")


def _crowd(seed: int, k: int, n_tasks: int = 300, n_workers: int = 12, per_task: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, size=n_tasks)
    skill = rng.uniform(0.3, 0.95, size=n_workers)
    rows = []
    for t in range(n_tasks):
        for w in rng.choice(n_workers, size=per_task, replace=False):
            label = truth[t] if rng.random() < skill[w] else rng.integers(0, k)
            rows.append((f"t{t}", f"w{w}", f"l{label}"))
    # a duplicate answer (the same worker twice on one task) counts twice on both paths
    rows.append(rows[0])
    return pd.DataFrame(rows, columns=["task", "worker", "label"])


def _both(monkeypatch, make, fit):
    monkeypatch.delenv("HITKIT_NO_NUMBA", raising=False)
    fast = fit(make())
    monkeypatch.setenv("HITKIT_NO_NUMBA", "1")
    slow = fit(make())
    return fast, slow


def _same(fast, slow, attrs: tuple[str, ...] = ()) -> None:
    assert fast.labels_.equals(slow.labels_)
    np.testing.assert_allclose(fast.probas_.to_numpy(), slow.probas_.to_numpy(), atol=1e-9)
    assert len(fast.loss_history_) == len(slow.loss_history_)
    np.testing.assert_allclose(fast.loss_history_, slow.loss_history_, rtol=1e-9, atol=1e-12)
    for name in attrs:
        np.testing.assert_allclose(np.asarray(getattr(fast, name), float), np.asarray(getattr(slow, name), float),
                                   atol=1e-9)


@pytest.mark.parametrize("k", [2, 3, 4, 5, 7, 9])
def test_dawid_skene_kernels_match_numpy(monkeypatch, k):
    df = _crowd(k, k)
    fast, slow = _both(monkeypatch, lambda: DawidSkene(n_iter=30, tol=-np.inf), lambda m: m.fit(df))
    _same(fast, slow, ("errors_", "priors_"))


def test_dawid_skene_kernels_with_gold_and_prior(monkeypatch):
    df = _crowd(11, 3)
    gold = pd.Series({"t0": "l1", "t5": "l2", "t9": "l0"})
    prior = DawidSkene(n_iter=3).fit(df).errors_ * 5

    def fit(m):
        return m.fit(df, true_labels=gold, initial_error=prior)

    fast, slow = _both(monkeypatch, lambda: DawidSkene(initial_error_strategy="addition", alpha=0.5), fit)
    _same(fast, slow, ("errors_", "priors_"))
    assert fast.labels_["t5"] == "l2"


@pytest.mark.parametrize("prior", ["ml", "fixed"])
def test_one_coin_kernels_match_numpy(monkeypatch, prior):
    df = _crowd(3, 4)
    fast, slow = _both(monkeypatch, lambda: OneCoinDawidSkene(prior=prior), lambda m: m.fit(df))
    _same(fast, slow, ("skills_", "errors_"))
