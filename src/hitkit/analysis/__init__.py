"""Label aggregation, agreement and quality control over long-format answers (`task`, `worker`, `label`),
crowd-kit compatible and vectorized (numpy / scipy.sparse). Imported lazily: `from hitkit.analysis import
DawidSkene` loads only what it needs."""

from __future__ import annotations

import importlib
from typing import Any

# name -> module that defines it; filled in as methods land (one module per method).
_EXPORTS: dict[str, str] = {
    "AnalysisError": "hitkit.analysis.long_format",
    "MajorityVote": "hitkit.analysis.aggregation.majority_vote",
    "Wawa": "hitkit.analysis.aggregation.wawa",
    "ZeroBasedSkill": "hitkit.analysis.aggregation.zero_based_skill",
    "DawidSkene": "hitkit.analysis.aggregation.dawid_skene",
    "OneCoinDawidSkene": "hitkit.analysis.aggregation.dawid_skene",
    "HierarchicalDawidSkene": "hitkit.analysis.aggregation.hierarchical_dawid_skene",
    "GLAD": "hitkit.analysis.aggregation.glad",
    "MACE": "hitkit.analysis.aggregation.mace",
    "GoldAccuracy": "hitkit.analysis.agreement",
    "accuracy_on_gold": "hitkit.analysis.agreement",
    "cohen_kappa_matrix": "hitkit.analysis.agreement",
    "fleiss_kappa": "hitkit.analysis.agreement",
    "krippendorff_alpha": "hitkit.analysis.agreement",
    "uncertainty": "hitkit.analysis.agreement",
    "worker_agreement": "hitkit.analysis.agreement",
    "Mean": "hitkit.analysis.aggregation.numeric",
    "Median": "hitkit.analysis.aggregation.numeric",
    "TrimmedMean": "hitkit.analysis.aggregation.numeric",
    "BinaryRelevance": "hitkit.analysis.aggregation.multi_label",
    "BoxAggregator": "hitkit.analysis.aggregation.boxes",
    "SpanAggregator": "hitkit.analysis.aggregation.spans",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hitkit.analysis' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(_EXPORTS)
