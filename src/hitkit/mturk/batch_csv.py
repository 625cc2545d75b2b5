"""MTurk's batch CSV files, shared by the toolkit (`hitkit launch`, `hitkit export`) and the console's batches.

Input: UTF-8 (a BOM is fine), a header row of unique, non-empty column names, then one row per HIT; blank lines
are skipped; a row with more or fewer cells than the header is an error naming the row (1 = first data row).

Results columns, in this order: HITId, HITTypeId, Title, Reward, AssignmentId, WorkerId, AssignmentStatus, AcceptTime,
SubmitTime, AutoApprovalTime, ApprovalTime, RejectionTime, RequesterFeedback, WorkTimeInSeconds, Input.<column>...
(in the input's column order), Answer.<field>..., and MTurk's two empty review columns Approve and Reject.
Times look like `Mon Nov 23 07:33:47 UTC 2026` (UTC, whole seconds), Reward `$0.50`, several selected values are
joined with `|`, other non-text values are JSON, nothing is an empty cell.
"""

from __future__ import annotations

import csv
import io
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


class BatchCSVError(ValueError):
    """An input CSV that cannot be read; `row` (1 = first data row) and `column` say where when known."""

    def __init__(self, message: str, *, row: int | None = None, column: str | None = None) -> None:
        super().__init__(message)
        self.row, self.column = row, column


def parse_input_csv(text: str) -> tuple[list[str], list[dict[str, str]]]:
    """The header's column names and the data rows of an input CSV (`text` already decoded)."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise BatchCSVError("the file is empty (expected a header row)") from None
    except csv.Error as e:
        raise BatchCSVError(f"the header row is not valid CSV: {e}") from None
    names = [h.strip() for h in header]
    if any(not n for n in names):
        raise BatchCSVError(f"header column {names.index('') + 1} has no name")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise BatchCSVError(f"the header repeats the column name {dupes[0]!r}", column=dupes[0])
    rows = []
    try:
        for number, cells in enumerate(reader, start=1):
            if not any(c.strip() for c in cells):
                continue  # blank lines at the end of hand-edited files
            if len(cells) != len(names):
                raise BatchCSVError(f"has {len(cells)} cells but the header has {len(names)} columns", row=number)
            rows.append(dict(zip(names, cells)))
    except csv.Error as e:
        raise BatchCSVError(f"is not valid CSV: {e}", row=reader.line_num) from None
    return names, rows


def spreadsheet_safe(cell: str) -> str:
    """The cell with a leading apostrophe when a spreadsheet would run it as a formula (=, +, -, @, tab or CR
    first, and not a number): answers and names come from workers, and requesters open these files in Excel."""
    if cell[:1] not in ("=", "+", "-", "@", "\t", "\r"):
        return cell
    try:
        float(cell)
        return cell
    except ValueError:
        return "'" + cell
