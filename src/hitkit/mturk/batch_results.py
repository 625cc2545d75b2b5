"""MTurk's batch results CSV: its columns and how it writes cells, shared by `hitkit export` and the console's
results download.

Columns, in this order: HITId, HITTypeId, Title, Reward, AssignmentId, WorkerId, AssignmentStatus, AcceptTime,
SubmitTime, AutoApprovalTime, ApprovalTime, RejectionTime, RequesterFeedback, WorkTimeInSeconds, Input.<column>...
(in the input's column order), Answer.<field>..., and MTurk's two empty review columns Approve and Reject.
Times look like `Mon Nov 23 07:33:47 UTC 2026` (UTC, whole seconds), Reward `$0.50`, several selected values are
joined with `|`, other non-text values are JSON, nothing is an empty cell.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

META = ["HITId", "HITTypeId", "Title", "Reward", "AssignmentId", "WorkerId", "AssignmentStatus", "AcceptTime",
        "SubmitTime", "AutoApprovalTime", "ApprovalTime", "RejectionTime", "RequesterFeedback", "WorkTimeInSeconds"]
TIMES = ("AcceptTime", "SubmitTime", "AutoApprovalTime", "ApprovalTime", "RejectionTime")
REVIEW_COLUMNS = ["Approve", "Reject"]
MTURK_TIME = "%a %b %d %H:%M:%S UTC %Y"


def mturk_time(t: float | None) -> str:
    """`Mon Nov 23 07:33:47 UTC 2026`, as MTurk's batch results CSV wrote times (here always in UTC)."""
    if t is None:
        return ""
    return datetime.fromtimestamp(t, timezone.utc).strftime(MTURK_TIME)


def cell(value: Any) -> str:
    """A value as a CSV cell: text as is, a list of texts joined with `|`, anything else as JSON, None empty."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "|".join(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def csv_row(record: dict[str, Any], columns: list[str]) -> list[str]:
    out = []
    for c in columns:
        v = record.get(c)
        if c in TIMES:
            out.append(mturk_time(v))
        elif c == "Reward":
            out.append("" if v is None else f"${v:.2f}")
        elif c in REVIEW_COLUMNS:
            out.append("")
        else:
            out.append(cell(v))
    return out
