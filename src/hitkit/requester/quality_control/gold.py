"""Gold (honeypot) items: rows whose right answers are known, mixed into every batch a project launches.

    [gold]
    file = "gold.csv"             # CSV, JSON Lines or Parquet, in the project folder
    rate = 0.1                    # gold HITs per input row: ceil(0.1 x 200 rows) = 20 gold HITs in a batch of 200
    feedback_column = "feedback"  # default; the text a worker who answers the item wrongly is sent

The gold file has the template's input columns, one `expected.<field>` column per answer field that is checked
(`expected.label`), and optionally the feedback column. Which gold items go into a batch, and where among the batch's
rows their HITs are created, is drawn from a generator seeded with the input's, the gold file's and the rate's
content: the same launch always mixes the same gold the same way (and so finds the same batch when it resumes).
Gold rows are numbered after the batch's own rows (a batch of 200 rows has gold rows 201, 202, ...).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hitkit.requester.inputs import InputError, read_input

EXPECTED_PREFIX = "expected."
GOLD_KEYS = ("file", "rate", "feedback_column")
DEFAULT_FEEDBACK_COLUMN = "feedback"


@dataclass(frozen=True)
class GoldItem:
    number: int  # its row in the gold file, from 1
    data: dict[str, Any]  # the input columns, as the template sees them
    expected: dict[str, str]  # answer field -> the right value
    feedback: str | None = None


@dataclass(frozen=True)
class Gold:
    path: Path
    rate: float
    items: tuple[GoldItem, ...]
    sha256: str  # of the items
    feedback_column: str = DEFAULT_FEEDBACK_COLUMN

    @property
    def fields(self) -> tuple[str, ...]:
        """The answer fields the gold items check, in order of appearance."""
        seen: dict[str, None] = {}
        for item in self.items:
            for k in item.expected:
                seen.setdefault(k)
        return tuple(seen)

    def count_for(self, rows: int) -> int:
        """How many gold HITs a batch of `rows` input rows gets."""
        return math.ceil(self.rate * rows - 1e-9) if rows and self.rate > 0 else 0

    def identity(self) -> dict[str, Any]:
        """What the batch id depends on."""
        return {"sha256": self.sha256, "rate": self.rate}

    def mix(self, rows: int, input_sha256: str) -> tuple[list[GoldItem], list[int]]:
        """(the gold items of a batch, numbered rows+1, rows+2, ...; every row number in the order the HITs are
        created, gold spread evenly among the batch's rows). Deterministic in the input, the gold and the rate."""
        count = self.count_for(rows)
        if count == 0 or not self.items:
            return [], list(range(1, rows + 1))
        seed = hashlib.sha256(f"{input_sha256}:{self.sha256}:{self.rate!r}".encode()).hexdigest()
        rng = random.Random(seed)
        chosen: list[GoldItem] = []
        while len(chosen) < count:  # every item once before any is used again
            chosen += rng.sample(self.items, len(self.items))
        chosen = chosen[:count]
        slots: dict[int, list[int]] = {}
        for j in range(count):  # gold j goes before real row slot+1, slot in [j*rows/count, (j+1)*rows/count)
            slot = min(rows - 1, int((j + rng.random()) * rows / count))
            slots.setdefault(slot, []).append(rows + 1 + j)
        order: list[int] = []
        for i in range(rows):
            order += slots.get(i, [])
            order.append(i + 1)
        return chosen, order


def parse_gold(config: dict[str, Any], root: Path, problems: list[str]) -> Gold | None:
    """The project's `[gold]` table (None without one); problems are added as 'gold.key: ...'."""
    raw = config.get("gold")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        problems.append("gold: expected a table with file and rate")
        return None
    before = len(problems)
    for key in sorted(set(raw) - set(GOLD_KEYS)):
        problems.append(f"gold.{key}: unknown key (known: {', '.join(GOLD_KEYS)})")
    rate = raw.get("rate")
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate <= 1:
        problems.append(f"gold.rate: expected a share of the batch's rows from 0 to 1, such as 0.1, not {rate!r}")
    column = raw.get("feedback_column", DEFAULT_FEEDBACK_COLUMN)
    if not isinstance(column, str) or not column.strip():
        problems.append("gold.feedback_column: expected a column name")
    file = raw.get("file")
    if not isinstance(file, str) or not file.strip():
        problems.append("gold.file: required, the gold file's name in the project folder (\"gold.csv\")")
        return None
    if len(problems) > before:
        return None
    path = (root / file).resolve()
    if not path.exists():
        problems.append(f"gold.file: {file} does not exist in {root}")
        return None
    try:
        data = read_input(path)
    except InputError as e:
        problems.append(f"gold.file: {e}")
        return None
    items: list[GoldItem] = []
    for n, row in enumerate(data.rows, start=1):
        expected = {k[len(EXPECTED_PREFIX):]: v for k, v in row.items() if k.startswith(EXPECTED_PREFIX)}
        if not expected:
            problems.append(f"gold.file: {file} has no {EXPECTED_PREFIX}<field> column (such as expected.label) "
                            "with the right answers")
            return None
        empty = [k for k, v in expected.items() if v is None or str(v).strip() == ""]
        expected = {k: str(v).strip() for k, v in expected.items() if k not in empty}
        if not expected:
            problems.append(f"gold.file: row {n} of {file} has no expected value")
            continue
        if not all(k.strip() for k in expected):
            problems.append(f"gold.file: {file} has a column `{EXPECTED_PREFIX}` without a field name")
            return None
        fb = row.get(column)
        feedback = str(fb).strip() if fb is not None and str(fb).strip() else None
        if feedback and len(feedback) > 1024:
            problems.append(f"gold.file: row {n} of {file}: the feedback is longer than 1024 characters")
            continue
        inputs = {k: v for k, v in row.items() if not k.startswith(EXPECTED_PREFIX) and k != column}
        items.append(GoldItem(n, inputs, expected, feedback))
    if not data.rows:
        problems.append(f"gold.file: {file} has no rows")
    if len(problems) > before:
        return None
    digest = hashlib.sha256(json.dumps([[i.data, i.expected, i.feedback] for i in items], sort_keys=True,
                                       default=str, ensure_ascii=False).encode()).hexdigest()
    return Gold(path, float(rate), tuple(items), digest, column)  # type: ignore[arg-type]


def is_correct(answers: dict[str, Any], expected: dict[str, Any], fields: tuple[str, ...] | None = None) -> bool:
    """Whether the answers give the expected value for every checked field (text compared after trimming spaces;
    several values, as a checkbox group sends them, joined with `|`)."""
    for k in fields or tuple(expected):
        if k not in expected:
            continue
        if _text(answers.get(k)) != _text(expected[k]):
            return False
    return True


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "|".join(_text(v) for v in value)
    return str(value).strip()
