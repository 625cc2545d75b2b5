"""ZeroBasedSkill: weighted majority vote whose worker skills are re-estimated by gradient steps towards each
worker's agreement with the current aggregate."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hitkit.analysis.long_format import argmax_first
from hitkit.analysis.aggregation.majority_vote import _ClassificationAggregator

__all__ = ["ZeroBasedSkill"]


class ZeroBasedSkill(_ClassificationAggregator):
    """ZeroBasedSkill: skills start at $1/K + \\epsilon$; each iteration takes a weighted majority vote and moves
    every skill towards the worker's agreement with it, $s_i \\leftarrow s_i + \\eta (a_i - s_i)$. The learning
    rate $\\eta$ starts at `lr_init` and is multiplied by `lr_reduce_factor` every `lr_steps_to_reduce`
    iterations; it stops after `n_iter` iterations or when no skill moves by more than `eps`. Ties: the label that
    sorts first.

    Examples:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"task": [1, 1, 1, 2, 2, 2], "worker": list("abcabc"), "label": list("xxyyyy")})
        >>> ZeroBasedSkill().fit_predict(df).tolist()
        ['x', 'y']
    """

    def __init__(
        self,
        n_iter: int = 100,
        lr_init: float = 1.0,
        lr_steps_to_reduce: int = 20,
        lr_reduce_factor: float = 0.5,
        eps: float = 1e-5,
    ) -> None:
        self.n_iter = n_iter
        self.lr_init = lr_init
        self.lr_steps_to_reduce = lr_steps_to_reduce
        self.lr_reduce_factor = lr_reduce_factor
        self.eps = eps
        self.skills_: pd.Series | None = None

    def fit(self, data: pd.DataFrame) -> ZeroBasedSkill:
        enc = self._encode(data)
        skills = np.full(enc.n_workers, 1.0 / enc.n_labels + self.eps)
        lr = self.lr_init
        for iteration in range(1, self.n_iter + 1):
            if iteration % self.lr_steps_to_reduce == 0:
                lr *= self.lr_reduce_factor
            labels = argmax_first(self._votes(enc, skills))
            new = skills + lr * (self._agreement(enc, labels) - skills)
            done = np.abs(new - skills).max() < self.eps
            skills = new
            if done:
                break
        self._set_result(enc, self._normalize_rows(self._votes(enc, skills)))
        self.skills_ = self._skills_series(enc, skills)
        return self
