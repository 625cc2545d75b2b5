"""hitkit.analysis.agreement against published values (Krippendorff 2011, Wikipedia's Fleiss example), hand
computations, invariants and property tests."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hitkit.analysis import AnalysisError
from hitkit.analysis.agreement import (
    accuracy_on_gold,
    cohen_kappa_matrix,
    fleiss_kappa,
    krippendorff_alpha,
    uncertainty,
    worker_agreement,
)

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers x 12 units, missing data.
_K = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
}


def krippendorff_example() -> pd.DataFrame:
    rows = [
        (u + 1, worker, value)
        for worker, values in _K.items()
        for u, value in enumerate(values)
        if value is not None
    ]
    return pd.DataFrame(rows, columns=["task", "worker", "label"])


# Wikipedia, "Fleiss' kappa", worked example: 10 subjects, 14 raters, 5 categories -> kappa 0.210.
_FLEISS = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def fleiss_example() -> pd.DataFrame:
    rows = []
    for i, counts in enumerate(_FLEISS):
        r = 0
        for category, c in enumerate(counts):
            for _ in range(c):
                rows.append((f"s{i}", f"r{r}", category + 1))
                r += 1
    return pd.DataFrame(rows, columns=["task", "worker", "label"])


def renamed(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out["task"] = "t-" + out["task"].astype(str) + "-x"
    out["worker"] = out["worker"].astype(str).map(lambda w: f"zz{w[::-1]}")
    return out.iloc[::-1].reset_index(drop=True)


@pytest.mark.parametrize(("level", "expected"), [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)])
def test_krippendorff_textbook_values(level: str, expected: float) -> None:
    assert krippendorff_alpha(krippendorff_example(), level) == pytest.approx(expected, abs=5e-4)  # type: ignore[arg-type]


def test_krippendorff_nominal_exact_value() -> None:
    # The paper's nominal computation: n = 40 pairable values, n_c = (9, 13, 10, 5, 3), off-diagonal coincidences 8:
    # alpha = 1 - (n - 1) * 8 / (n^2 - sum n_c^2) = 1 - 39 * 8 / 1216.
    assert krippendorff_alpha(krippendorff_example()) == pytest.approx(1 - 39 * 8 / 1216)


def test_krippendorff_renaming_changes_nothing() -> None:
    df = krippendorff_example()
    for level in ("nominal", "ordinal", "interval"):
        assert krippendorff_alpha(renamed(df), level) == pytest.approx(krippendorff_alpha(df, level))  # type: ignore[arg-type]


def test_krippendorff_perfect_agreement_is_one() -> None:
    df = pd.DataFrame({"task": [1, 1, 2, 2, 3], "worker": ["a", "b", "a", "b", "a"], "label": [1, 1, 2, 2, 5]})
    assert krippendorff_alpha(df) == pytest.approx(1.0)


def test_krippendorff_errors() -> None:
    with pytest.raises(AnalysisError, match="level"):
        krippendorff_alpha(krippendorff_example(), "ratio")  # type: ignore[arg-type]
    one_each = pd.DataFrame({"task": [1, 2], "worker": ["a", "a"], "label": [1, 2]})
    with pytest.raises(AnalysisError, match="two or more answers"):
        krippendorff_alpha(one_each)
    same = pd.DataFrame({"task": [1, 1], "worker": ["a", "b"], "label": [1, 1]})
    with pytest.raises(AnalysisError, match="undefined"):
        krippendorff_alpha(same)
    text = pd.DataFrame({"task": [1, 1], "worker": ["a", "b"], "label": ["x", "y"]})
    with pytest.raises(AnalysisError, match="numeric"):
        krippendorff_alpha(text, "interval")


def test_fleiss_wikipedia_example() -> None:
    assert fleiss_kappa(fleiss_example()) == pytest.approx(0.2099, abs=1e-4)
    assert fleiss_kappa(renamed(fleiss_example())) == pytest.approx(fleiss_kappa(fleiss_example()))


def test_fleiss_uneven_raters_is_a_clear_error() -> None:
    df = fleiss_example()
    df = df[~((df["task"] == "s3") & (df["worker"] == "r0"))]
    with pytest.raises(AnalysisError, match=r"same number of answers.*task 's3' has 13"):
        fleiss_kappa(df)


def _cohen_by_hand(a: list[str], b: list[str]) -> float:
    labels = sorted(set(a) | set(b))
    n = len(a)
    p_o = sum(x == y for x, y in zip(a, b)) / n
    p_e = sum((a.count(c) / n) * (b.count(c) / n) for c in labels)
    return (p_o - p_e) / (1 - p_e)


def test_cohen_matrix_against_hand_computation() -> None:
    a = ["x", "x", "y", "y", "z", "x", "y", "x"]
    b = ["x", "y", "y", "y", "z", "x", "x", "x"]
    c = ["y", "y", "x", "y"]  # answers tasks 4..7 only
    rows = [(i, "a", v) for i, v in enumerate(a)] + [(i, "b", v) for i, v in enumerate(b)]
    rows += [(i + 4, "c", v) for i, v in enumerate(c)]
    rows += [(0, "d", "x")]  # shares one task with a and b
    df = pd.DataFrame(rows, columns=["task", "worker", "label"])
    m = cohen_kappa_matrix(df, min_shared=2)
    assert m.loc["a", "b"] == pytest.approx(_cohen_by_hand(a, b))
    assert m.loc["b", "a"] == pytest.approx(m.loc["a", "b"])
    assert m.loc["a", "c"] == pytest.approx(_cohen_by_hand(a[4:], c))
    assert m.loc["b", "c"] == pytest.approx(_cohen_by_hand(b[4:], c))
    assert math.isnan(m.loc["a", "d"]) and math.isnan(m.loc["c", "d"])
    assert m.loc["a", "a"] == pytest.approx(1.0)
    try:
        from sklearn.metrics import cohen_kappa_score  # type: ignore[import-not-found]
    except ImportError:
        return
    assert m.loc["a", "b"] == pytest.approx(cohen_kappa_score(a, b))


def test_cohen_matrix_min_shared() -> None:
    df = pd.DataFrame({"task": [1, 2, 1, 2], "worker": ["a", "a", "b", "b"], "label": [0, 1, 0, 1]})
    assert cohen_kappa_matrix(df, min_shared=2).loc["a", "b"] == pytest.approx(1.0)
    assert math.isnan(cohen_kappa_matrix(df, min_shared=3).loc["a", "b"])


def test_cohen_sklearn_if_installed() -> None:
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    a = rng.integers(0, 3, 50)
    b = np.where(rng.random(50) < 0.6, a, rng.integers(0, 3, 50))
    df = pd.DataFrame({"task": np.r_[np.arange(50), np.arange(50)], "worker": ["a"] * 50 + ["b"] * 50, "label": np.r_[a, b]})
    assert cohen_kappa_matrix(df).loc["a", "b"] == pytest.approx(sk.cohen_kappa_score(a, b))


def test_worker_agreement_with_majority_and_given_consensus() -> None:
    df = pd.DataFrame(
        {
            "task": [1, 1, 1, 2, 2, 2, 3, 3],
            "worker": ["a", "b", "c", "a", "b", "c", "a", "b"],
            "label": ["x", "x", "y", "y", "y", "y", "x", "y"],
        }
    )
    got = worker_agreement(df)
    # task 3 is a tie x/y: the label that sorts first (x) wins
    assert got.loc["a", "agreement"] == pytest.approx(1.0)
    assert got.loc["b", "agreement"] == pytest.approx(2 / 3)
    assert got.loc["c", "agreement"] == pytest.approx(1 / 2)
    assert list(got["n"]) == [3, 3, 2]
    given_ = worker_agreement(df, consensus=pd.Series({1: "y", 2: "z"}))
    assert given_.loc["c", "agreement"] == pytest.approx(1 / 2)  # task 3 has no consensus; z is no one's answer
    assert given_.loc["a", "agreement"] == pytest.approx(0.0)
    assert list(given_["n"]) == [2, 2, 2]
    assert worker_agreement(renamed(df)).sort_values("agreement")["agreement"].tolist() == sorted(got["agreement"])


def test_accuracy_on_gold() -> None:
    df = pd.DataFrame(
        {"task": [1, 1, 2, 2, 3], "worker": ["a", "b", "a", "b", "b"], "label": ["x", "y", "y", "y", "x"]}
    )
    res = accuracy_on_gold(df, pd.Series({1: "x", 2: "y", 9: "x"}))
    assert res.per_worker.loc["a", "accuracy"] == pytest.approx(1.0)
    assert res.per_worker.loc["b", "accuracy"] == pytest.approx(0.5)
    assert res.per_worker["n"].tolist() == [2, 2]
    assert res.overall == pytest.approx(3 / 4)
    with pytest.raises(AnalysisError, match="gold"):
        accuracy_on_gold(df, pd.Series({7: "x"}))
    with pytest.raises(AnalysisError, match="Series"):
        accuracy_on_gold(df, {1: "x"})  # type: ignore[arg-type]


def test_uncertainty() -> None:
    df = pd.DataFrame({"task": [1, 1, 2, 2, 2, 2], "worker": list("ababcd"), "label": ["x", "x", "x", "y", "y", "z"]})
    u = uncertainty(df)
    assert u.loc[1, "entropy"] == 0.0 and u.loc[1, "margin"] == 1.0
    p = np.array([0.25, 0.5, 0.25])
    assert u.loc[2, "entropy"] == pytest.approx(float(-(p * np.log(p)).sum()))
    assert u.loc[2, "margin"] == pytest.approx(0.25)
    assert u["n"].tolist() == [2, 4]


@pytest.mark.parametrize(
    "fn",
    [krippendorff_alpha, fleiss_kappa, cohen_kappa_matrix, worker_agreement, uncertainty],
    ids=lambda f: f.__name__,
)
@pytest.mark.parametrize("column", ["task", "worker", "label"])
def test_missing_column_is_named(fn: object, column: str) -> None:
    df = krippendorff_example().drop(columns=[column])
    with pytest.raises(AnalysisError, match=f"no column '{column}'"):
        fn(df)  # type: ignore[operator]


@pytest.mark.parametrize(
    "fn",
    [krippendorff_alpha, fleiss_kappa, cohen_kappa_matrix, worker_agreement, uncertainty],
    ids=lambda f: f.__name__,
)
def test_empty_input_is_a_clear_error(fn: object) -> None:
    with pytest.raises(AnalysisError, match="empty"):
        fn(pd.DataFrame(columns=["task", "worker", "label"]))  # type: ignore[operator]
    with pytest.raises(AnalysisError, match="empty"):
        accuracy_on_gold(pd.DataFrame(columns=["task", "worker", "label"]), pd.Series({1: "x"}))


answers = st.lists(
    st.tuples(st.integers(0, 5), st.integers(0, 4), st.integers(0, 3)), min_size=2, max_size=60
).map(lambda rows: pd.DataFrame(rows, columns=["task", "worker", "label"]))


@settings(max_examples=60, deadline=None)
@given(answers)
def test_alpha_properties(df: pd.DataFrame) -> None:
    for level in ("nominal", "ordinal", "interval"):
        try:
            a = krippendorff_alpha(df, level)  # type: ignore[arg-type]
        except AnalysisError:
            return
        assert a <= 1.0 + 1e-9
        assert krippendorff_alpha(renamed(df).assign(label=df["label"].iloc[::-1].to_numpy()), level) == pytest.approx(a)  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(answers)
def test_cohen_symmetric_and_bounded(df: pd.DataFrame) -> None:
    m = cohen_kappa_matrix(df).to_numpy()
    finite = np.isfinite(m)
    assert (finite == finite.T).all()
    assert np.allclose(m[finite], m.T[finite])
    assert (m[finite] <= 1.0 + 1e-9).all() and (m[finite] >= -1.0 - 1e-9).all()


@settings(max_examples=60, deadline=None)
@given(answers)
def test_uncertainty_bounds(df: pd.DataFrame) -> None:
    u = uncertainty(df)
    assert ((u["entropy"] >= 0) & (u["entropy"] <= np.log(4) + 1e-9)).all()
    assert ((u["margin"] >= 0) & (u["margin"] <= 1)).all()
    assert u["n"].sum() == len(df)
