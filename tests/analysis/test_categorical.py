"""Invariants every categorical aggregation method must meet: unanimous input gives that label, renaming workers
or tasks changes nothing, row order changes nothing, probabilities sum to 1, ties follow the one rule, and bad
input is an AnalysisError that says what is wrong."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hitkit.analysis import (
    GLAD,
    MACE,
    AnalysisError,
    DawidSkene,
    MajorityVote,
    OneCoinDawidSkene,
    Wawa,
    ZeroBasedSkill,
)

METHODS = {
    "MajorityVote": lambda: MajorityVote(),
    "Wawa": lambda: Wawa(),
    "ZeroBasedSkill": lambda: ZeroBasedSkill(),
    "DawidSkene": lambda: DawidSkene(),
    "DawidSkene(alpha=1)": lambda: DawidSkene(alpha=1.0),
    "OneCoinDawidSkene": lambda: OneCoinDawidSkene(),
    "GLAD": lambda: GLAD(n_iter=20),
    "MACE": lambda: MACE(n_restarts=1, n_iter=20),
}
# methods that model "right vs. wrong among K labels" need K >= 2
NEEDS_TWO_LABELS = {"GLAD"}


@st.composite
def crowds(draw, min_labels: int = 2):
    """Small random crowds: 1-8 tasks, 2-5 workers, 2-3 labels, each worker answers a random subset."""
    n_tasks = draw(st.integers(1, 8))
    n_workers = draw(st.integers(2, 5))
    labels = ["a", "b", "c"][: draw(st.integers(min_labels, 3))]
    rows = []
    for t in range(n_tasks):
        answered = draw(st.lists(st.integers(0, n_workers - 1), min_size=1, max_size=n_workers, unique=True))
        for w in answered:
            rows.append((f"t{t}", f"w{w}", draw(st.sampled_from(labels))))
    if len({w for _, w, _ in rows}) < 2:  # the reliability models need two workers (tested separately)
        rows.append((rows[0][0], "w_other", rows[0][2]))
    df = pd.DataFrame(rows, columns=["task", "worker", "label"])
    if df.label.nunique() < min_labels:  # make sure the label set really has min_labels labels
        extra = [(f"t{n_tasks}", "w0", lab) for lab in labels]
        df = pd.concat([df, pd.DataFrame(extra, columns=df.columns)], ignore_index=True)
    return df


FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _fit(name: str, df: pd.DataFrame):
    m = METHODS[name]()
    return m, m.fit_predict_proba(df)


@pytest.mark.parametrize("name", METHODS)
class TestInvariants:
    def test_unanimous_input_gives_that_label(self, name):
        # every worker agrees on every task; a second label exists on another task for the methods needing K >= 2
        df = pd.DataFrame(
            {"task": ["t1"] * 3 + ["t2"] * 3, "worker": ["w1", "w2", "w3"] * 2, "label": ["x"] * 3 + ["y"] * 3}
        )
        labels = METHODS[name]().fit_predict(df)
        assert labels.to_dict() == {"t1": "x", "t2": "y"}
        assert labels.name == "agg_label"

    @FAST
    @given(df=crowds())
    def test_probabilities_are_a_distribution_and_labels_their_argmax(self, name, df):
        m, probas = _fit(name, df)
        assert list(probas.index) == sorted(df.task.unique())
        assert list(probas.columns) == sorted(df.label.unique())
        np.testing.assert_allclose(probas.sum(axis=1).to_numpy(), 1.0, atol=1e-9)
        assert (probas.to_numpy() >= 0).all()
        # labels_ follow the tie rule: the first label (in sort order) with the highest probability
        expected = probas.columns[np.argmax(probas.to_numpy(), axis=1)]
        assert list(m.labels_) == list(expected)

    @FAST
    @given(df=crowds(), seed=st.integers(0, 2**32 - 1))
    def test_renaming_workers_and_tasks_changes_nothing(self, name, df, seed):
        rng = np.random.default_rng(seed)
        workers = sorted(df.worker.unique())
        tasks = sorted(df.task.unique())
        wmap = dict(zip(workers, [f"renamed{i}" for i in rng.permutation(len(workers))]))
        tmap = dict(zip(tasks, [f"T{i}" for i in rng.permutation(len(tasks))]))
        renamed = df.assign(worker=df.worker.map(wmap), task=df.task.map(tmap))
        _, p1 = _fit(name, df)
        _, p2 = _fit(name, renamed)
        p2 = p2.rename(index={v: k for k, v in tmap.items()}).loc[p1.index]
        np.testing.assert_allclose(p1.to_numpy(), p2.to_numpy(), atol=1e-6)

    @FAST
    @given(df=crowds(), seed=st.integers(0, 2**32 - 1))
    def test_shuffling_rows_changes_nothing(self, name, df, seed):
        shuffled = df.sample(frac=1.0, random_state=seed % 2**31).reset_index(drop=True)
        _, p1 = _fit(name, df)
        _, p2 = _fit(name, shuffled)
        pd.testing.assert_frame_equal(p1, p2, atol=1e-9, rtol=0)

    def test_missing_column_is_named(self, name):
        df = pd.DataFrame({"task": [1], "worker": ["a"]})
        with pytest.raises(AnalysisError, match="'label'"):
            METHODS[name]().fit(df)

    def test_empty_input_is_an_error(self, name):
        df = pd.DataFrame({"task": [], "worker": [], "label": []})
        with pytest.raises(AnalysisError, match="empty"):
            METHODS[name]().fit(df)


def test_majority_vote_ties_go_to_the_label_that_sorts_first():
    df = pd.DataFrame({"task": [1, 1, 2, 2], "worker": ["a", "b", "a", "b"], "label": ["y", "x", "x", "y"]})
    assert MajorityVote().fit_predict(df).tolist() == ["x", "x"]
    assert Wawa().fit_predict(df).tolist() == ["x", "x"]
    np.testing.assert_allclose(MajorityVote().fit_predict_proba(df).to_numpy(), 0.5)


def test_weighted_majority_vote_and_missing_skill():
    df = pd.DataFrame({"task": [1, 1, 1], "worker": ["a", "b", "c"], "label": ["x", "y", "y"]})
    assert MajorityVote().fit_predict(df, skills=pd.Series({"a": 5.0, "b": 1.0, "c": 1.0})).tolist() == ["x"]
    with pytest.raises(AnalysisError, match="'c'"):
        MajorityVote().fit(df, skills=pd.Series({"a": 5.0, "b": 1.0}))
    mv = MajorityVote(default_skill=1.0, on_missing_skill="value")
    assert mv.fit_predict(df, skills=pd.Series({"a": 0.5})).tolist() == ["y"]
    assert mv.skills_.to_dict() == {"a": 0.0, "b": 1.0, "c": 1.0}


@pytest.mark.parametrize("name", ["DawidSkene", "OneCoinDawidSkene", "GLAD", "MACE"])
def test_a_single_worker_is_an_error_for_the_reliability_models(name):
    df = pd.DataFrame({"task": [1, 2], "worker": ["solo", "solo"], "label": ["x", "y"]})
    with pytest.raises(AnalysisError, match="single worker.*'solo'"):
        METHODS[name]().fit(df)
    # the heuristics still answer: with one worker, their labels are that worker's
    for other in ("MajorityVote", "Wawa", "ZeroBasedSkill"):
        assert METHODS[other]().fit_predict(df).to_dict() == {1: "x", 2: "y"}


def test_glad_with_a_single_label_says_so():
    df = pd.DataFrame({"task": [1, 2], "worker": ["a", "b"], "label": ["x", "x"]})
    with pytest.raises(AnalysisError, match="two distinct labels"):
        GLAD().fit(df)


def test_dawid_skene_gold_labels_are_clamped():
    df = pd.DataFrame(
        {"task": [1, 1, 1, 2, 2, 2], "worker": list("abcabc"), "label": ["x", "x", "y", "y", "y", "x"]}
    )
    ds = DawidSkene().fit(df, true_labels=pd.Series({1: "y"}))
    assert ds.labels_[1] == "y"
    assert ds.probas_.loc[1].tolist() == [0.0, 1.0]
    with pytest.raises(AnalysisError, match="task 2"):
        DawidSkene().fit(df, true_labels=pd.Series({2: "z"}))


def test_dawid_skene_fitted_shapes():
    df = pd.DataFrame({"task": [1, 1, 2, 2], "worker": ["a", "b", "a", "b"], "label": ["x", "x", "y", "x"]})
    ds = DawidSkene().fit(df)
    assert ds.errors_.index.names == ["worker", "label"]
    assert list(ds.errors_.columns) == ["x", "y"]
    np.testing.assert_allclose(ds.errors_.groupby(level="worker").sum().to_numpy(), 1.0)
    assert ds.loss_history_ and np.all(np.diff(ds.loss_history_) >= -1e-9)  # EM never lowers the bound
    np.testing.assert_allclose(ds.priors_.sum(), 1.0)


def test_dawid_skene_initial_error_prior():
    df = pd.DataFrame({"task": [1, 1, 2, 2], "worker": ["a", "b", "a", "b"], "label": ["x", "y", "y", "x"]})
    idx = pd.MultiIndex.from_product([["a", "b"], ["x", "y"]], names=["worker", "label"])
    # history: worker a is reliable, b always says the opposite
    prior = pd.DataFrame([[50, 0], [0, 50], [0, 50], [50, 0]], index=idx, columns=["x", "y"])
    labels = DawidSkene(initial_error_strategy="addition").fit_predict(df, initial_error=prior)
    assert labels.to_dict() == {1: "x", 2: "y"}
    with pytest.raises(AnalysisError, match="worker, label"):
        DawidSkene(initial_error_strategy="assign").fit(df, initial_error=prior.reset_index(drop=True))


def test_one_coin_skills_in_unit_interval():
    df = pd.DataFrame({"task": [1, 1, 1, 2, 2, 2], "worker": list("abcabc"), "label": list("xxyyyx")})
    m = OneCoinDawidSkene().fit(df)
    assert set(m.skills_.index) == {"a", "b", "c"}
    assert ((m.skills_ >= 0) & (m.skills_ <= 1)).all()


def test_mace_skills_are_the_probability_of_not_spamming():
    from hitkit.analysis.methods import worker_skills

    rng = np.random.default_rng(7)
    truth = rng.integers(0, 3, size=120)
    rows = []
    for t in range(120):
        for w in ["good1", "good2", "good3", "spammer"]:
            label = truth[t] if w != "spammer" else 0  # the spammer always answers the same label
            rows.append((t, w, ["a", "b", "c"][label]))
    m = MACE(n_restarts=1).fit(pd.DataFrame(rows, columns=["task", "worker", "label"]))
    assert isinstance(m.skills_, pd.Series)
    assert m.skills_.index.name == "worker" and m.skills_.name == "skill"
    assert list(m.skills_.index) == ["good1", "good2", "good3", "spammer"]
    np.testing.assert_allclose(m.skills_.to_numpy(), m.spamming_[:, 1])  # crowd-kit's columns: spamming, knowing
    assert ((m.skills_ >= 0) & (m.skills_ <= 1)).all()
    assert m.skills_["spammer"] < 0.5 < m.skills_[["good1", "good2", "good3"]].min()
    pd.testing.assert_series_equal(worker_skills(m), m.skills_)


@pytest.mark.parametrize(
    "values",
    [
        [3, 1, 2, 3], [True, False, True], [True, True], [7, 7], [-5, 2**40, 3], ["b", "a", "c", "a"],
        [1.5, 0.5, 1.5], ["x", 1, "x", 2.5],
    ],
)
def test_encoding_codes_follow_sorted_order(values):
    from hitkit.analysis.long_format import _codes

    arr = np.array(values, dtype=object) if any(isinstance(v, str) for v in values) else np.array(values)
    try:
        expected_uniques, expected_codes = np.unique(arr, return_inverse=True)
    except TypeError:  # mixed types sort as strings
        expected_uniques, expected_codes = np.unique(arr.astype(str), return_inverse=True)
    uniques, codes = _codes(pd.Series(values))
    assert list(uniques) == list(expected_uniques)
    assert codes.tolist() == expected_codes.ravel().tolist()
