"""Input rows for a batch: CSV, JSONL, Parquet files or a pandas DataFrame, as a list of dicts.

Rows are numbered from 1 in messages (row 1 is the first data row, after a CSV's header). A JSONL line that is
not an object (simple-amt allowed any JSON value) becomes `{"input": value}`. Values stay as the file gives them:
CSV cells are strings, JSON and Parquet keep their types (missing Parquet values become None).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hitkit.mturk.batch_csv import BatchCSVError, parse_input_csv

FORMATS = ("csv", "jsonl", "parquet")


class InputError(ValueError):
    """An input that cannot be read; `row` and `column` say where when known."""

    def __init__(self, message: str, *, source: str = "", row: int | None = None, column: str | None = None) -> None:
        where = ", ".join(p for p in (source, f"row {row}" if row is not None else "", f"column `{column}`" if column else "") if p)
        super().__init__(f"{where}: {message}" if where else message)
        self.row, self.column, self.detail = row, column, message


@dataclass(frozen=True)
class Input:
    name: str  # the file path, or "DataFrame"
    rows: list[dict[str, Any]]
    sha256: str  # of the rows' canonical JSON: the same rows give the same batch


def _fingerprint(rows: list[dict[str, Any]]) -> str:
    h = hashlib.sha256()
    for row in rows:
        h.update(json.dumps(row, sort_keys=True, default=str, ensure_ascii=False).encode())
        h.update(b"\n")
    return h.hexdigest()


def _clean(value: Any) -> Any:
    """JSON-safe scalar: NaN/NA -> None, numpy scalars -> Python, timestamps -> ISO strings."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    item = getattr(value, "item", None)
    if callable(item) and type(value).__module__.startswith("numpy"):
        return _clean(item())
    if hasattr(value, "isoformat"):
        return value.isoformat()
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return None
    except ImportError:  # pandas is optional for CSV and JSONL
        pass
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    return value


def read_csv(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"not UTF-8 text (byte {e.start})", source=str(path)) from None
    try:
        return parse_input_csv(text)[1]
    except BatchCSVError as e:
        raise InputError(str(e), source=str(path), row=e.row, column=e.column) from None


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as e:
        raise InputError(f"not UTF-8 text (byte {e.start})", source=str(path)) from None
    number = 0
    for line in lines:
        if not line.strip():
            continue
        number += 1
        try:
            value = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"is not valid JSON ({e.msg} at character {e.colno})", source=str(path), row=number) from None
        rows.append(value if isinstance(value, dict) else {"input": value})
    return rows


def read_parquet(path: Path) -> list[dict[str, Any]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError("reading Parquet needs pyarrow: pip install pyarrow", source=str(path)) from None
    try:
        table = pq.read_table(path)
    except Exception as e:  # pyarrow raises several types for a damaged file
        raise InputError(f"is not a readable Parquet file: {e}", source=str(path)) from None
    return [{k: _clean(v) for k, v in row.items()} for row in table.to_pylist()]


def read_input(source: Any, fmt: str | None = None) -> Input:
    """Rows from a file path (format from `fmt` or the extension) or a pandas DataFrame."""
    if hasattr(source, "to_dict") and hasattr(source, "columns"):
        columns = [str(c) for c in source.columns]
        dupes = sorted({c for c in columns if columns.count(c) > 1})
        if dupes:
            raise InputError(f"the DataFrame repeats the column name {dupes[0]!r}", source="DataFrame", column=dupes[0])
        rows = [{str(k): _clean(v) for k, v in r.items()} for r in source.to_dict(orient="records")]
        return Input("DataFrame", rows, _fingerprint(rows))
    path = Path(source)
    if not path.exists():
        raise InputError(f"the input file {path} does not exist")
    kind = (fmt or path.suffix.lstrip(".")).lower()
    kind = {"json": "jsonl", "ndjson": "jsonl", "pq": "parquet"}.get(kind, kind)
    readers = {"csv": read_csv, "jsonl": read_jsonl, "parquet": read_parquet}
    if kind not in readers:
        raise InputError(f"cannot tell the format of {path.name}: use a .csv, .jsonl or .parquet file (or --format)")
    rows = readers[kind](path)
    if not rows:
        raise InputError("has no rows", source=str(path))
    return Input(str(path), rows, _fingerprint(rows))
