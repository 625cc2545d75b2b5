"""Wawa (worker agreement with aggregate): majority vote weighted by each worker's agreement with the plain
majority vote."""

from __future__ import annotations

import pandas as pd

from hitkit.analysis.long_format import argmax_first
from hitkit.analysis.aggregation.majority_vote import _ClassificationAggregator

__all__ = ["Wawa"]


class Wawa(_ClassificationAggregator):
    """Wawa: $s_i$ = the share of worker $i$'s answers that equal the majority vote; then a majority vote
    weighted by $s_i$. `skills_` holds $s_i$; `probas_` the normalised weighted votes. Ties: the label that sorts
    first (in both votes).

    Examples:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"task": [1, 1, 1, 2, 2, 2], "worker": list("abcabc"), "label": list("xxyyyy")})
        >>> Wawa().fit_predict(df).tolist()
        ['x', 'y']
    """

    def __init__(self) -> None:
        self.skills_: pd.Series | None = None

    def fit(self, data: pd.DataFrame) -> Wawa:
        enc = self._encode(data)
        mv = argmax_first(self._votes(enc))
        skills = self._agreement(enc, mv)
        probas = self._normalize_rows(self._votes(enc, skills))
        self._set_result(enc, probas)
        self.skills_ = self._skills_series(enc, skills)
        return self
