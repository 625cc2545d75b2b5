"""The shared datasets (answers.csv, truth.csv per folder in shared/datasets) and crowd-kit as the tests run it,
for the test modules that compare hitkit.analysis with crowd-kit."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

DATASETS_DIR = Path(__file__).resolve().parents[3] / "shared" / "datasets"
if not DATASETS_DIR.exists():  # a checkout elsewhere: look next to the repository
    DATASETS_DIR = Path("/work/shared/datasets")


def classification_datasets() -> list[str]:
    """Every dataset with at most 20 distinct labels (zheng2017-emotion is numeric, not classification)."""
    names = []
    for folder in sorted(DATASETS_DIR.glob("*/")):
        if not (folder / "answers.csv").exists():
            continue
        if pd.read_csv(folder / "answers.csv", usecols=["label"]).label.nunique() <= 20:
            names.append(folder.name)
    return names


@functools.lru_cache(maxsize=None)
def load(name: str) -> tuple[pd.DataFrame, pd.Series]:
    answers = pd.read_csv(DATASETS_DIR / name / "answers.csv")
    truth = pd.read_csv(DATASETS_DIR / name / "truth.csv").set_index("task")["label"]
    return answers, truth


def accuracy(labels: pd.Series, truth: pd.Series) -> float:
    """Percent of the tasks with truth that `labels` gets right."""
    common = truth.index.intersection(labels.index)
    return 100.0 * float((labels.loc[common].to_numpy() == truth.loc[common].to_numpy()).mean())


def crowdkit() -> Any:
    """crowdkit.aggregation (the test is skipped without it), patched for scikit-learn >= 1.8: crowd-kit 1.4.2
    calls sklearn's check_is_fitted on attrs classes, which it now rejects (shared/reference/aggregation.md)."""
    ck = pytest.importorskip("crowdkit.aggregation")
    import crowdkit.aggregation.classification.wawa as ck_wawa
    import crowdkit.aggregation.classification.zero_based_skill as ck_zbs

    def check_is_fitted(estimator, attributes=None, *args, **kwargs):  # type: ignore[no-untyped-def]
        names = [attributes] if isinstance(attributes, str) else list(attributes or [])
        if any(getattr(estimator, a, None) is None for a in names):
            raise RuntimeError(f"{type(estimator).__name__} is not fitted")

    ck_wawa.check_is_fitted = check_is_fitted
    ck_zbs.check_is_fitted = check_is_fitted
    return ck
