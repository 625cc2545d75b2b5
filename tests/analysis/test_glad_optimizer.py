"""GLAD's M-step optimizer (hitkit.analysis.aggregation.glad._conjugate_gradient) is scipy's CG without its
wrappers: with the same dot product (scipy's np.dot; hitkit's default avoids BLAS, which only changes the order of
summation) the same iterates as scipy.optimize.minimize(method="CG") on the same function, bit for bit. And the
objective's gradient is the derivative of its value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize, rosen, rosen_der

from hitkit.analysis import GLAD
from hitkit.analysis.aggregation import glad as glad_module
from hitkit.analysis.aggregation.glad import _conjugate_gradient


def _crowd(seed: int, k: int = 3, n_tasks: int = 200, n_workers: int = 10, per_task: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, size=n_tasks)
    skill = rng.uniform(0.05, 0.95, size=n_workers)  # some workers worse than chance: negative alphas
    rows = []
    for t in range(n_tasks):
        for w in rng.choice(n_workers, size=per_task, replace=False):
            label = truth[t] if rng.random() < skill[w] else (truth[t] + 1 + rng.integers(0, k - 1)) % k
            rows.append((f"t{t}", f"w{w}", int(label)))
    return pd.DataFrame(rows, columns=["task", "worker", "label"])


@pytest.fixture
def blas_dot(monkeypatch):
    """hitkit's GLAD with np.dot, the dot product scipy's CG uses."""
    monkeypatch.setattr(glad_module, "_dot", lambda u, v: float(np.dot(u, v)))


def _scipy_cg(fg, x0, gtol, maxiter):
    return minimize(fg, x0, method="CG", jac=True, tol=gtol, options={"disp": False, "maxiter": maxiter}).x


@pytest.mark.parametrize("maxiter", [1, 5, 25, 200])
def test_same_iterates_as_scipy_on_rosenbrock(blas_dot, maxiter):
    def fg(x):
        return float(rosen(x)), rosen_der(x)

    x0 = np.array([-1.2, 1.0, 0.5, -0.3, 2.0])
    ours = _conjugate_gradient(fg, x0.copy(), 1e-5, maxiter)
    np.testing.assert_allclose(ours, _scipy_cg(fg, x0.copy(), 1e-5, maxiter), rtol=0, atol=0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_same_fit_as_with_scipy_minimize(blas_dot, monkeypatch, seed):
    df = _crowd(seed)
    ours = GLAD().fit(df)
    monkeypatch.setattr(glad_module, "_conjugate_gradient", _scipy_cg)
    ref = GLAD().fit(df)
    assert ours.labels_.equals(ref.labels_)
    assert len(ours.loss_history_) == len(ref.loss_history_)
    assert ours.loss_history_ == ref.loss_history_
    np.testing.assert_array_equal(ours.probas_.to_numpy(), ref.probas_.to_numpy())
    np.testing.assert_array_equal(ours.alphas_.to_numpy(), ref.alphas_.to_numpy())
    np.testing.assert_array_equal(ours.betas_.to_numpy(), ref.betas_.to_numpy())


@pytest.mark.parametrize("negative", [False, True])
def test_objective_gradient_matches_finite_differences(negative):
    df = _crowd(3)
    model = GLAD()
    enc = model._intp(model._encode(df))
    rng = np.random.default_rng(4)
    qa = rng.uniform(0.0, 1.0, size=len(enc.task))
    mu = np.ones(enc.n_workers + enc.n_tasks)
    f = GLAD._objective(enc, qa, mu)
    v = rng.normal(0.5, 0.5, size=len(mu))
    v[: enc.n_workers] = np.abs(v[: enc.n_workers])
    if negative:  # the branch for workers with negative ability (x < 0 on some answers)
        v[:3] = -v[:3] - 0.5
    value, grad = f(v)
    # the value is -(expected complete-data log-likelihood + log-priors), from the per-answer log-probabilities
    x, sp = GLAD._terms(enc, v[: enc.n_workers], v[enc.n_workers :])
    ll = qa * (x - sp) + (1 - qa) * (-sp - np.log(enc.n_labels - 1))
    prior = -0.5 * (v - mu) ** 2 - 0.5 * np.log(2 * np.pi)
    assert value == pytest.approx(-(ll.sum() + prior.sum()), rel=1e-12)
    h = 1e-6
    for i in [0, 1, 2, enc.n_workers - 1, enc.n_workers, enc.n_workers + 7, len(v) - 1]:
        e = np.zeros_like(v)
        e[i] = h
        numeric = (f(v + e)[0] - f(v - e)[0]) / (2 * h)
        assert grad[i] == pytest.approx(numeric, rel=1e-5, abs=1e-6)


def test_fallback_line_search_still_descends(monkeypatch):
    """When MINPACK's search fails (or its step is not a descent direction for PR+), scipy's pure-Python
    strong-Wolfe search takes over, as in scipy's CG."""
    monkeypatch.setattr(glad_module, "scalar_search_wolfe1", lambda *a, **kw: (None, None, None))

    def fg(x):
        return float(rosen(x)), rosen_der(x)

    x0 = np.array([-1.2, 1.0, 0.5])
    x = _conjugate_gradient(fg, x0, 1e-6, 500)
    assert rosen(x) < 1e-6 < rosen(x0)
