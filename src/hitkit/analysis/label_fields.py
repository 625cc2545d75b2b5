"""Which answer field holds a label, and an answer's value as a category: shared by `hitkit aggregate` and the
console's review page."""

from __future__ import annotations

import json
from typing import Any

from hitkit.analysis.long_format import AnalysisError

MAX_CATEGORIES = 100  # a field with more distinct answers than this is free text, not a label


def label_value(value: Any, fld: str, where: str) -> str | None:
    """An answer as a category: text as is, a one-element list as its element, numbers and booleans as text."""
    if value is None or value == "":
        return None
    if isinstance(value, list):
        if len(value) == 1:
            return label_value(value[0], fld, where)
        if not value:
            return None
        raise AnalysisError(f"`{fld}` holds several values in one answer ({where}); aggregate it per value with "
                           "hitkit.analysis.BinaryRelevance")
    if isinstance(value, dict):
        raise AnalysisError(f"`{fld}` holds an object ({where}), not a label; boxes and spans have their own "
                           "aggregators in hitkit.analysis (BoxAggregator, SpanAggregator)")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def choose_field(answer_dicts: list[dict[str, Any]], wanted: str | None, how: str = "--field") -> str:
    """The answer field to aggregate: `wanted`, or the one field that looks like a label (short categorical text
    in most answers). `how` names the way to choose a field in the messages (a CLI option, a form field)."""
    seen: dict[str, set[str]] = {}
    present: dict[str, int] = {}
    for a in answer_dicts:
        for k, v in a.items():
            present[k] = present.get(k, 0) + 1
            if isinstance(v, (str, int, bool)) or (isinstance(v, list) and len(v) == 1):
                seen.setdefault(k, set()).add(json.dumps(v, default=str))
    if wanted is not None:
        if wanted not in present:
            known = ", ".join(sorted(present)) or "none yet"
            raise AnalysisError(f"{how}: no answer has a field `{wanted}` (fields in the answers: {known})")
        return wanted
    n = len(answer_dicts)
    scalar = [k for k in seen if present[k] >= 0.5 * n]
    candidates = scalar if len(scalar) == 1 else [
        k for k in scalar if len(seen[k]) <= min(MAX_CATEGORIES, max(2, n // 2))]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise AnalysisError(f"No answer field looks like a label (few distinct values); say which with {how}")
    raise AnalysisError(f"Several answer fields could be labels ({', '.join(sorted(candidates))}); say which with "
                        f"{how}")
