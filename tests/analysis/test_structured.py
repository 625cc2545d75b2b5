"""Numeric, multi-label, bounding-box and span aggregation (hitkit.analysis.aggregation.numeric, multi_label, boxes,
spans) on small crafted cases, against scipy/pandas, with invariants and clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import trim_mean

from hitkit.analysis import AnalysisError
from hitkit.analysis.aggregation.boxes import BoxAggregator, iou
from hitkit.analysis.aggregation.multi_label import BinaryRelevance, _LocalMajorityVote, split_labels
from hitkit.analysis.aggregation.numeric import Mean, Median, TrimmedMean
from hitkit.analysis.aggregation.spans import SpanAggregator, span_jaccard

# -- numeric -----------------------------------------------------------------------------------------------------


def numeric_answers(seed: int = 0, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"task": rng.integers(0, 25, n), "worker": rng.integers(0, 40, n), "label": rng.normal(50, 20, n).round(1)}
    )


@pytest.mark.parametrize(
    ("aggregator", "expected"),
    [
        (Mean(), lambda s: s.mean()),
        (Median(), lambda s: s.median()),
        (TrimmedMean(), lambda s: trim_mean(s, 0.1)),
        (TrimmedMean(proportion=0.25), lambda s: trim_mean(s, 0.25)),
        (TrimmedMean(proportion=0.0), lambda s: s.mean()),
    ],
    ids=["mean", "median", "trimmed 0.1", "trimmed 0.25", "trimmed 0"],
)
def test_numeric_against_pandas_and_scipy(aggregator: object, expected: object) -> None:
    df = numeric_answers()
    got = aggregator.fit_predict(df)  # type: ignore[attr-defined]
    want = df.groupby("task")["label"].apply(expected)  # type: ignore[arg-type]
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy())
    assert list(got.index) == list(want.index) and got.name == "agg_label"
    assert aggregator.labels_ is got  # type: ignore[attr-defined]


def test_numeric_trimmed_drops_outliers() -> None:
    df = pd.DataFrame({"task": ["t"] * 10, "worker": range(10), "label": [1, 2, 3, 4, 5, 6, 7, 8, 9, 1000]})
    assert TrimmedMean(0.1).fit_predict(df)["t"] == pytest.approx(5.5)
    assert Median().fit_predict(df)["t"] == pytest.approx(5.5)


def test_numeric_renaming_and_row_order_change_nothing() -> None:
    df = numeric_answers(1)
    shuffled = df.sample(frac=1.0, random_state=3).assign(task=lambda d: "t" + d["task"].astype(str).str.zfill(3))
    for agg in (Mean(), Median(), TrimmedMean()):
        a = agg.fit_predict(df)
        b = agg.fit_predict(shuffled)
        np.testing.assert_allclose(a.to_numpy(), b.to_numpy())


def test_numeric_errors() -> None:
    df = pd.DataFrame({"task": [1, 2], "worker": ["a", "a"], "label": [1.0, "lots"]})
    with pytest.raises(AnalysisError, match=r"finite numbers: task 2 has 'lots'"):
        Mean().fit_predict(df)
    with pytest.raises(AnalysisError, match="proportion"):
        TrimmedMean(proportion=0.5)
    with pytest.raises(AnalysisError, match="no column 'label'"):
        Median().fit_predict(df.drop(columns="label"))
    with pytest.raises(AnalysisError, match="empty"):
        Mean().fit_predict(pd.DataFrame(columns=["task", "worker", "label"]))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=30), st.floats(0.0, 0.49))
def test_trimmed_mean_matches_scipy(values: list[float], proportion: float) -> None:
    df = pd.DataFrame({"task": [0] * len(values), "worker": range(len(values)), "label": values})
    got = TrimmedMean(proportion).fit_predict(df)[0]
    assert got == pytest.approx(trim_mean(values, proportion), rel=1e-9, abs=1e-6)
    assert min(values) - 1e-6 <= Median().fit_predict(df)[0] <= max(values) + 1e-6


# -- multi-label ---------------------------------------------------------------------------------------------------


def multi_answers() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "task": [1, 1, 1, 2, 2, 2, 3, 3],
            "worker": ["a", "b", "c", "a", "b", "c", "a", "b"],
            "label": ["cat|dog", ["cat"], {"dog", "cat"}, "", "bird", ("bird", "cat"), "cat", "dog"],
        }
    )


def test_split_labels() -> None:
    assert split_labels("cat| dog||") == frozenset({"cat", "dog"})
    assert split_labels("") == frozenset()
    assert split_labels(["x", "y"]) == frozenset({"x", "y"})
    with pytest.raises(AnalysisError, match="multi-label"):
        split_labels(3)


@pytest.mark.parametrize("base", [None, _LocalMajorityVote, _LocalMajorityVote()], ids=["default", "class", "instance"])
def test_binary_relevance_majority(base: object) -> None:
    agg = BinaryRelevance(base)
    got = agg.fit_predict(multi_answers())
    # task 3: cat 1 of 2 and dog 1 of 2 are ties, which go to False (sorts first): neither is kept
    assert got.to_dict() == {1: ["cat", "dog"], 2: ["bird"], 3: []}
    assert sorted(agg.aggregators_) == ["bird", "cat", "dog"]


def test_binary_relevance_uses_the_given_aggregator() -> None:
    class AlwaysYes:
        def fit_predict(self, data: pd.DataFrame) -> pd.Series:
            return pd.Series(True, index=pd.Index(sorted(data["task"].unique()), name="task"))

    assert BinaryRelevance(AlwaysYes).fit_predict(multi_answers()).to_dict() == {
        t: ["bird", "cat", "dog"] for t in (1, 2, 3)
    }


def test_binary_relevance_renaming_changes_nothing() -> None:
    df = multi_answers()
    renamed = df.assign(task=df["task"].map({1: "z", 2: "y", 3: "x"}), worker=df["worker"].str.upper()).iloc[::-1]
    got = BinaryRelevance().fit_predict(renamed)
    assert got.to_dict() == {"z": ["cat", "dog"], "y": ["bird"], "x": []}


def test_binary_relevance_errors() -> None:
    with pytest.raises(AnalysisError, match="no column 'worker'"):
        BinaryRelevance().fit_predict(multi_answers().drop(columns="worker"))
    with pytest.raises(AnalysisError, match="empty"):
        BinaryRelevance().fit_predict(pd.DataFrame(columns=["task", "worker", "label"]))


# -- boxes ---------------------------------------------------------------------------------------------------------


def test_iou() -> None:
    got = iou(np.array([[0, 0, 10, 10]]), np.array([[0, 0, 10, 10], [5, 0, 10, 10], [20, 20, 1, 1], [0, 0, 5, 5]]))
    np.testing.assert_allclose(got, [[1.0, 50 / 150, 0.0, 0.25]])


def box_answers() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "task": ["img1"] * 5 + ["img2"] * 2,
            "worker": ["a", "b", "c", "a", "b", "a", "b"],
            "box": [
                (10, 10, 100, 50),
                (12, 8, 98, 54),
                (11, 12, 100, 50),  # the three agree on one car
                (300, 300, 20, 20),
                (400, 10, 20, 20),  # two lone boxes
                (0, 0, 10, 10),
                (30, 30, 10, 10),
            ],
        }
    )


def test_boxes_cluster_by_iou_and_consolidate() -> None:
    got = BoxAggregator(iou_threshold=0.5).fit_predict(box_answers())
    assert list(got.columns) == ["task", "left", "top", "width", "height", "n_workers"]
    first = got.iloc[0]
    assert first["task"] == "img1" and first["n_workers"] == 3
    assert [first[c] for c in ("left", "top", "width", "height")] == pytest.approx([11, 10, 298 / 3, 154 / 3])
    assert got["n_workers"].tolist() == [3, 1, 1, 1, 1]
    median = BoxAggregator(method="median", min_workers=2).fit_predict(box_answers())
    assert len(median) == 1
    assert median.iloc[0][["left", "top", "width", "height"]].tolist() == [11, 10, 100, 50]


def test_boxes_edge_columns_and_labels() -> None:
    df = box_answers()
    edges = pd.DataFrame(df["box"].tolist(), columns=["left", "top", "width", "height"])
    df = pd.concat([df.drop(columns="box"), edges], axis=1)
    df["label"] = ["car", "car", "truck", "car", "car", "car", "car"]
    got = BoxAggregator().fit_predict(df)
    assert list(got.columns) == ["task", "label", "left", "top", "width", "height", "n_workers"]
    car = got[(got["task"] == "img1") & (got["label"] == "car")]
    assert car["n_workers"].max() == 2  # the truck box is not merged with the cars


def test_boxes_threshold_and_renaming() -> None:
    df = box_answers()
    assert len(BoxAggregator(iou_threshold=0.99).fit_predict(df)) == 7
    renamed = df.assign(worker=df["worker"] + "!", task=df["task"].str.upper()).iloc[::-1]
    a = BoxAggregator().fit_predict(df).drop(columns="task")
    b = BoxAggregator().fit_predict(renamed).drop(columns="task")
    pd.testing.assert_frame_equal(a, b)


def test_boxes_count_distinct_workers() -> None:
    df = pd.DataFrame({"task": [1, 1, 1], "worker": ["a", "a", "b"], "box": [(0, 0, 10, 10)] * 3})
    assert BoxAggregator().fit_predict(df)["n_workers"].tolist() == [2]


def test_boxes_errors() -> None:
    with pytest.raises(AnalysisError, match="no column 'left'"):
        BoxAggregator().fit_predict(pd.DataFrame({"task": [1], "worker": ["a"]}))
    with pytest.raises(AnalysisError, match=r"\(left, top, width, height\): task 2"):
        BoxAggregator().fit_predict(pd.DataFrame({"task": [1, 2], "worker": ["a", "a"], "box": [(0, 0, 1, 1), (0, 0)]}))
    with pytest.raises(AnalysisError, match="task 1 has a box with a missing, infinite or negative size"):
        BoxAggregator().fit_predict(pd.DataFrame({"task": [1], "worker": ["a"], "box": [(0, 0, -1, 1)]}))
    with pytest.raises(AnalysisError, match="empty"):
        BoxAggregator().fit_predict(pd.DataFrame(columns=["task", "worker", "box"]))
    with pytest.raises(AnalysisError, match="iou_threshold"):
        BoxAggregator(iou_threshold=0)
    with pytest.raises(AnalysisError, match="method"):
        BoxAggregator(method="mode")


# -- spans ---------------------------------------------------------------------------------------------------------


def span_answers() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "task": ["doc1"] * 6 + ["doc2"] * 2,
            "worker": ["a", "b", "c", "a", "b", "c", "a", "b"],
            "start": [0, 0, 1, 20, 40, 21, 5, 50],
            "end": [10, 9, 10, 30, 45, 30, 9, 60],
            "label": ["PER", "PER", "PER", "ORG", "ORG", "ORG", "LOC", "LOC"],
        }
    )


def test_span_jaccard() -> None:
    np.testing.assert_allclose(span_jaccard([[0, 10]], [[0, 10], [5, 15], [10, 20], [0, 5]]), [[1, 5 / 15, 0, 0.5]])


def test_spans_grouped_and_kept_by_votes() -> None:
    got = SpanAggregator(min_votes=2).fit_predict(span_answers())
    assert list(got.columns) == ["task", "label", "start", "end", "n_workers"]
    assert got.values.tolist() == [["doc1", "ORG", 20, 30, 2], ["doc1", "PER", 0, 10, 3]]
    assert len(SpanAggregator(min_votes=3).fit_predict(span_answers())) == 1
    assert len(SpanAggregator(min_votes=1).fit_predict(span_answers())) == 5


def test_spans_labels_kept_apart_and_threshold() -> None:
    df = span_answers()
    df.loc[2, "label"] = "ORG"
    got = SpanAggregator(min_votes=2).fit_predict(df)
    assert got[got["label"] == "PER"]["n_workers"].tolist() == [2]
    strict = SpanAggregator(min_votes=2, overlap_threshold=1.0).fit_predict(span_answers())
    assert strict.empty


def test_spans_median_boundaries_not_integer() -> None:
    df = pd.DataFrame({"task": [1, 1], "worker": ["a", "b"], "start": [0, 1], "end": [10, 11]})
    got = SpanAggregator(min_votes=2, integer=False).fit_predict(df)
    assert got[["start", "end"]].values.tolist() == [[0.5, 10.5]]
    assert SpanAggregator(min_votes=2).fit_predict(df)[["start", "end"]].values.tolist() == [[0, 11]]


def test_spans_renaming_changes_nothing() -> None:
    df = span_answers()
    renamed = df.assign(worker=df["worker"].str.upper(), task=df["task"] + "x").iloc[::-1]
    a = SpanAggregator().fit_predict(df).drop(columns="task")
    b = SpanAggregator().fit_predict(renamed).drop(columns="task")
    pd.testing.assert_frame_equal(a, b)


def test_spans_errors() -> None:
    with pytest.raises(AnalysisError, match="no column 'end'"):
        SpanAggregator().fit_predict(span_answers().drop(columns="end"))
    bad = span_answers()
    bad.loc[7, "end"] = 50
    with pytest.raises(AnalysisError, match="task 'doc2' has a span with start 50 not before end 50"):
        SpanAggregator().fit_predict(bad)
    with pytest.raises(AnalysisError, match="empty"):
        SpanAggregator().fit_predict(pd.DataFrame(columns=["task", "worker", "start", "end"]))
    with pytest.raises(AnalysisError, match="min_votes"):
        SpanAggregator(min_votes=0)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 50), st.integers(1, 20)), min_size=1, max_size=25))
def test_spans_votes_never_exceed_workers(rows: list[tuple[int, int, int]]) -> None:
    df = pd.DataFrame(
        {"task": 0, "worker": [w for w, _, _ in rows], "start": [s for _, s, _ in rows], "end": [s + n for _, s, n in rows]}
    )
    got = SpanAggregator(min_votes=1).fit_predict(df)
    assert got["n_workers"].sum() >= 1
    assert (got["n_workers"] <= df["worker"].nunique()).all()
    assert (got["start"] < got["end"]).all()


# -- docs/analysis.md examples (the agreement and structured-answer sections) ------------------------------------

_DOC_SECTIONS = (
    "## Agreement",
    "## Numeric answers",
    "## Multi-label answers",
    "## Bounding boxes",
    "## Text spans",
)


def test_docs_examples_run() -> None:
    import doctest
    from pathlib import Path

    import hitkit.analysis as analysis

    text = (Path(__file__).parents[2] / "docs" / "analysis.md").read_text()
    sections = ["## " + s for s in text.split("\n## ")[1:]]
    mine = "\n".join(s for s in sections if s.startswith(_DOC_SECTIONS))
    mine = "\n".join(line for line in mine.splitlines() if not line.startswith("```"))
    assert mine.count(">>>") >= 10
    globs: dict[str, object] = {n: getattr(analysis, n) for n in dir(analysis)}
    globs["pd"] = pd
    globs["df"] = pd.DataFrame(
        {
            "task": [1, 1, 1, 2, 2, 2, 3, 3],
            "worker": ["a", "b", "c", "a", "b", "c", "a", "b"],
            "label": ["x", "x", "y", "y", "y", "y", "x", "y"],
        }
    )
    test = doctest.DocTestParser().get_doctest(mine, globs, "docs/analysis.md", "docs/analysis.md", 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.tries >= 10 and runner.failures == 0
