"""Console projects and CSV batches (rules over the store; the pages are in web/console_project_pages.py).

A project is a task template plus its HIT properties, kept as hitkit.toml's `[hit]` and `[qualifications]` tables
(JSON), so the console checks them with the same code as `hitkit launch` (hitkit.mturk.hit_properties,
hitkit.templates.task_template). A batch is one CSV upload against a project: it copies the project's template and
properties, checks every row (a missing column, a control character, a question over 65,535 bytes is an error
naming the row and column; nothing is stored unless every row renders) and keeps the rows. Publishing creates one
HIT per row (web/console_project_pages.py), each row's HIT id written in the same transaction as the HIT.

Gold answers may ride along in the CSV: a column named `gold.<field>` holds the known answer for `<field>`. Gold
columns are never shown to workers (the template cannot read them) and give per-worker accuracy on the review page.
"""

from __future__ import annotations

import json
import secrets
import tomllib
from functools import lru_cache
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from hitkit.mturk.batch_csv import BatchCSVError, parse_input_csv
from hitkit.mturk.fees import assignment_fee_cents
from hitkit.mturk.hit_properties import HitProperties, PropertiesError, parse_properties
from hitkit.templates import BUILTINS, builtin_folder
from hitkit.templates.task_template import KINDS, TaskTemplate, TemplateError, guess_kind
from hitkit.server.store.tables import assignments, console_batch_rows, console_batches, console_projects

GOLD_PREFIX = "gold."
MAX_BATCH_ROWS = 20_000
MAX_CSV_BYTES = 20 * 1024 * 1024
MAX_TEMPLATE_CHARS = 200_000
MAX_PROBLEMS = 20  # errors listed per upload; the count says how many more
MASTERS = "masters"


class ProjectProblems(ValueError):
    """What is wrong with a project or a batch upload, each problem saying where."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def _new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(10).upper()


# ---------------------------------------------------------------- properties <-> the form


HIT_FORM_FIELDS = ("title", "description", "keywords", "reward", "assignments", "lifetime", "duration",
                   "auto_approval_delay", "frame_height")


def properties_from_form(values: dict[str, str]) -> dict[str, Any]:
    """hitkit.toml's tables from the project form's fields (empty optional fields are left out)."""
    hit: dict[str, Any] = {}
    for key in HIT_FORM_FIELDS:
        text = values.get(key, "").strip()
        if not text:
            continue
        if key in ("assignments", "frame_height"):
            hit[key] = int(text) if text.isdigit() else text
        else:
            hit[key] = text
    quals: dict[str, Any] = {}
    countries = [c.strip() for c in values.get("countries", "").replace(";", ",").split(",") if c.strip()]
    if countries:
        quals["countries"] = countries
    for key in ("min_approval_rate", "min_approved_hits"):
        text = values.get(key, "").strip()
        if text:
            quals[key] = int(text) if text.isdigit() else text
    for flag in ("masters", "adult"):
        if values.get(flag) == "1":
            quals[flag] = True
    return {"hit": hit, "qualifications": quals}


def form_from_properties(properties: dict[str, Any]) -> dict[str, str]:
    """The project form's field values for stored properties."""
    hit, quals = properties.get("hit", {}), properties.get("qualifications", {})
    out = {k: ("" if hit.get(k) is None else str(hit[k])) for k in HIT_FORM_FIELDS}
    if isinstance(hit.get("keywords"), list):
        out["keywords"] = ", ".join(hit["keywords"])
    out["countries"] = ", ".join(quals.get("countries", []))
    for key in ("min_approval_rate", "min_approved_hits"):
        out[key] = "" if quals.get(key) is None else str(quals[key])
    for flag in ("masters", "adult"):
        out[flag] = "1" if quals.get(flag) else ""
    return out


def check_project(properties: dict[str, Any], template: str, kind: str) -> tuple[HitProperties, TaskTemplate]:
    """The parsed properties and template, or ProjectProblems listing everything wrong with them."""
    problems: list[str] = []
    props = task = None
    if "custom" in properties.get("qualifications", {}):
        problems.append("qualifications.custom: requirements on your own qualification types are set with "
                        "hitkit.toml and `hitkit launch`; the console offers countries, approval rate, approved "
                        "HITs, masters and adult")
    try:
        props = parse_properties(properties, source="the project")
    except PropertiesError as e:
        problems.extend(e.problems)
    if len(template) > MAX_TEMPLATE_CHARS:
        problems.append(f"template: at most {MAX_TEMPLATE_CHARS:,} characters ({len(template):,} given)")
    elif not template.strip():
        problems.append("template: empty; start from a built-in template or paste your HTML")
    elif kind not in KINDS:
        problems.append(f"template kind: {kind!r} is not one of {', '.join(KINDS)}")
    else:
        try:
            task = TaskTemplate(kind, template, "template")
        except TemplateError as e:
            problems.append(f"template: {e}")
    if problems:
        raise ProjectProblems(problems)
    assert props is not None and task is not None
    return props, task


def template_of(row: Row) -> TaskTemplate:
    """The task template of a stored project or batch (checked when it was saved)."""
    return TaskTemplate(row.template_kind, row.template, "template")


def properties_of(row: Row) -> HitProperties:
    return parse_properties(json.loads(row.properties), source="the project")


# ---------------------------------------------------------------- built-in starting points


@dataclass(frozen=True)
class Starter:
    template_id: str
    description: str
    properties: dict[str, Any]
    template: str
    kind: str
    example_rows: list[dict[str, str]] = field(default_factory=list)


@lru_cache(maxsize=None)
def starter(template_id: str) -> Starter:
    """A built-in template as a project's starting point (KeyError naming the ids when there is none)."""
    folder = builtin_folder(template_id)
    toml = tomllib.loads(folder.joinpath("hitkit.toml").read_text(encoding="utf-8"))
    source = folder.joinpath("template.html").read_text(encoding="utf-8")
    kind = toml.get("template", {}).get("kind") or guess_kind(source)
    try:
        _, rows = parse_input_csv(folder.joinpath("example.csv").read_text(encoding="utf-8"))
    except (FileNotFoundError, BatchCSVError):
        rows = []
    properties = {"hit": toml.get("hit", {}), "qualifications": toml.get("qualifications", {})}
    return Starter(template_id, BUILTINS[template_id], properties, source, kind, rows)


def sample_row(task: TaskTemplate, examples: list[dict[str, str]] | None = None) -> dict[str, str]:
    """A row to preview with: the first example row when there is one, else `[column]` for each column read."""
    if examples:
        return dict(examples[0])
    return {c: f"[{c}]" for c in sorted(task.columns)}


# ---------------------------------------------------------------- projects


def create_project(conn: Connection, requester_id: str, name: str, properties: dict[str, Any], template: str,
                   kind: str, now: float) -> str:
    name = _checked(conn, requester_id, None, name, properties, template, kind)
    project_id = _new_id("P")
    conn.execute(insert(console_projects).values(
        id=project_id, requester_id=requester_id, name=name, properties=json.dumps(properties), template=template,
        template_kind=kind, created_at=now, updated_at=now))
    return project_id


def update_project(conn: Connection, requester_id: str, project_id: str, name: str, properties: dict[str, Any],
                   template: str, kind: str, now: float) -> None:
    name = _checked(conn, requester_id, project_id, name, properties, template, kind)
    conn.execute(update(console_projects).where(
        console_projects.c.id == project_id, console_projects.c.requester_id == requester_id).values(
        name=name, properties=json.dumps(properties), template=template, template_kind=kind, updated_at=now))


def _checked(conn: Connection, requester_id: str, project_id: str | None, name: str, properties: dict[str, Any],
             template: str, kind: str) -> str:
    """The stripped name, once name, properties and template all check out; else every problem at once."""
    name = name.strip()
    problems = _name_problems(conn, requester_id, name, project_id)
    try:
        check_project(properties, template, kind)
    except ProjectProblems as e:
        problems.extend(e.problems)
    if problems:
        raise ProjectProblems(problems)
    return name


def _name_problems(conn: Connection, requester_id: str, name: str, project_id: str | None) -> list[str]:
    if not name:
        return ["name: required"]
    if len(name) > 128:
        return [f"name: at most 128 characters ({len(name)} given)"]
    q = select(console_projects.c.id).where(console_projects.c.requester_id == requester_id,
                                            console_projects.c.name == name)
    other = conn.execute(q).scalar()
    if other is not None and other != project_id:
        return [f"name: you already have a project called {name!r}"]
    return []


def get_project(conn: Connection, requester_id: str, project_id: str) -> Row | None:
    """The requester's project, or None (another requester's project is not found, like a missing one)."""
    return conn.execute(select(console_projects).where(
        console_projects.c.id == project_id, console_projects.c.requester_id == requester_id)).first()


def list_projects(conn: Connection, requester_id: str) -> list[tuple[Row, int]]:
    """(project, number of batches), newest change first."""
    counts = dict(conn.execute(select(console_batches.c.project_id, func.count()).where(
        console_batches.c.requester_id == requester_id).group_by(console_batches.c.project_id)).all())
    rows = conn.execute(select(console_projects).where(console_projects.c.requester_id == requester_id)
                        .order_by(console_projects.c.updated_at.desc())).all()
    return [(r, int(counts.get(r.id, 0))) for r in rows]


# ---------------------------------------------------------------- batches


def decode_upload(data: bytes) -> str:
    """The uploaded CSV as text, or ProjectProblems saying why not."""
    if len(data) > MAX_CSV_BYTES:
        raise ProjectProblems([f"the file is {len(data):,} bytes; at most {MAX_CSV_BYTES:,} per batch"])
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ProjectProblems([f"the file is not UTF-8 text (byte {e.start}); save it as CSV UTF-8"]) from None


def worker_row(row: dict[str, str]) -> dict[str, str]:
    """The row as the template sees it: without the gold columns."""
    return {k: v for k, v in row.items() if not k.startswith(GOLD_PREFIX)}


def check_rows(task: TaskTemplate, props: HitProperties, columns: list[str], rows: list[dict[str, str]]) -> None:
    """Every row must render to a valid question; ProjectProblems lists the first MAX_PROBLEMS that do not."""
    problems: list[str] = []
    if not rows:
        raise ProjectProblems(["the file has a header but no data rows"])
    if len(rows) > MAX_BATCH_ROWS:
        raise ProjectProblems([f"the file has {len(rows):,} rows; a batch holds at most {MAX_BATCH_ROWS:,}"])
    visible = [c for c in columns if not c.startswith(GOLD_PREFIX)]
    missing = sorted(task.columns - set(visible))
    if missing:
        raise ProjectProblems([f"column `{missing[0]}`: the template uses it but the file has no such column "
                               f"(the file's columns: {', '.join(visible) or 'none'})"])
    bad = 0
    for number, row in enumerate(rows, start=1):
        try:
            task.render_question(worker_row(row), frame_height=props.frame_height, row_number=number)
        except TemplateError as e:
            bad += 1
            if len(problems) < MAX_PROBLEMS:
                where = f"row {number}" + (f", column `{e.column}`" if e.column else "")
                problems.append(f"{where}: {e.args[0].split(': ', 1)[-1] if e.row else e}")
    if bad > len(problems):
        problems.append(f"... and {bad - len(problems)} more rows with problems")
    if problems:
        raise ProjectProblems(problems)


def create_batch(conn: Connection, requester_id: str, project: Row, name: str, csv_text: str, now: float) -> str:
    """Check every row of the CSV against the project and store the batch (unpublished); its id."""
    try:
        columns, rows = parse_input_csv(csv_text)
    except BatchCSVError as e:
        where = ", ".join(p for p in (f"row {e.row}" if e.row else "", f"column `{e.column}`" if e.column else "") if p)
        raise ProjectProblems([f"{where}: {e}" if where else str(e)]) from None
    props, task = properties_of(project), template_of(project)
    check_rows(task, props, columns, rows)
    batch_id = _new_id("B")
    conn.execute(insert(console_batches).values(
        id=batch_id, requester_id=requester_id, project_id=project.id, name=(name.strip() or "batch")[:256],
        properties=project.properties, template=project.template, template_kind=project.template_kind,
        columns=json.dumps(columns), row_count=len(rows), created_at=now))
    conn.execute(insert(console_batch_rows), [
        {"batch_id": batch_id, "row_index": i, "row": json.dumps(r, ensure_ascii=False)}
        for i, r in enumerate(rows, start=1)])
    return batch_id


def get_batch(conn: Connection, requester_id: str, batch_id: str) -> Row | None:
    """The requester's batch, or None (another requester's batch is not found, like a missing one)."""
    return conn.execute(select(console_batches).where(
        console_batches.c.id == batch_id, console_batches.c.requester_id == requester_id)).first()


def list_batches(conn: Connection, requester_id: str, project_id: str | None = None) -> list[Row]:
    q = select(console_batches).where(console_batches.c.requester_id == requester_id)
    if project_id is not None:
        q = q.where(console_batches.c.project_id == project_id)
    return conn.execute(q.order_by(console_batches.c.created_at.desc())).all()


def batch_row(conn: Connection, batch_id: str, row_index: int) -> Row | None:
    return conn.execute(select(console_batch_rows).where(
        console_batch_rows.c.batch_id == batch_id, console_batch_rows.c.row_index == row_index)).first()


def unpublished_rows(conn: Connection, batch_id: str, limit: int) -> list[Row]:
    return conn.execute(select(console_batch_rows).where(
        console_batch_rows.c.batch_id == batch_id, console_batch_rows.c.hit_id.is_(None))
        .order_by(console_batch_rows.c.row_index).limit(limit)).all()


def set_row_hit(conn: Connection, batch_id: str, row_index: int, hit_id: str) -> None:
    conn.execute(update(console_batch_rows).where(
        console_batch_rows.c.batch_id == batch_id, console_batch_rows.c.row_index == row_index).values(hit_id=hit_id))


def mark_published(conn: Connection, batch_id: str, hit_type_id: str, now: float) -> None:
    conn.execute(update(console_batches).where(console_batches.c.id == batch_id,
                                               console_batches.c.published_at.is_(None))
                 .values(hit_type_id=hit_type_id, published_at=now))


def mark_cancelled(conn: Connection, batch_id: str, now: float) -> None:
    conn.execute(update(console_batches).where(console_batches.c.id == batch_id).values(cancelled_at=now))


def delete_unpublished(conn: Connection, batch_id: str) -> bool:
    """Delete a batch none of whose rows has a HIT; False (nothing deleted) when one has."""
    if published_count(conn, batch_id):
        return False
    conn.execute(delete(console_batch_rows).where(console_batch_rows.c.batch_id == batch_id))
    conn.execute(delete(console_batches).where(console_batches.c.id == batch_id))
    return True


def published_count(conn: Connection, batch_id: str) -> int:
    return int(conn.execute(select(func.count()).select_from(console_batch_rows).where(
        console_batch_rows.c.batch_id == batch_id, console_batch_rows.c.hit_id.is_not(None))).scalar_one())


def batch_hit_ids(conn: Connection, batch_id: str) -> list[str]:
    return [r[0] for r in conn.execute(select(console_batch_rows.c.hit_id).where(
        console_batch_rows.c.batch_id == batch_id, console_batch_rows.c.hit_id.is_not(None)))]


def create_hit_params(batch: Row, row: Row, hit_type_id: str) -> dict[str, Any]:
    """CreateHITWithHITType's parameters for one row; the token makes publishing the row again a no-op."""
    props = properties_of(batch)
    task = template_of(batch)
    question = task.render_question(worker_row(json.loads(row.row)), frame_height=props.frame_height,
                                    row_number=row.row_index)
    params: dict[str, Any] = {
        "HITTypeId": hit_type_id, "MaxAssignments": props.assignments, "LifetimeInSeconds": props.lifetime,
        "Question": question, "RequesterAnnotation": f"console batch {batch.id} row {row.row_index}",
        "UniqueRequestToken": f"console-{batch.id}-{row.row_index}",
    }
    return params


@dataclass(frozen=True)
class Cost:
    rows: int
    assignments: int  # per row
    reward_cents: int
    fee_cents: int  # per assignment

    @property
    def total_cents(self) -> int:
        return self.rows * self.assignments * (self.reward_cents + self.fee_cents)


def batch_cost(batch: Row, schedule: str) -> Cost:
    """What publishing the batch holds from the balance: every assignment's reward and fee."""
    props = properties_of(batch)
    fee = assignment_fee_cents(props.reward_cents, max_assignments=props.assignments, masters=props.masters,
                               schedule=schedule)
    return Cost(batch.row_count, props.assignments, props.reward_cents, fee)


# ---------------------------------------------------------------- progress and results


@dataclass
class Progress:
    published: int
    expected: int  # assignments asked for (published rows x assignments)
    submitted: int = 0
    approved: int = 0
    rejected: int = 0
    in_progress: int = 0
    timeline: list[tuple[float, int]] = field(default_factory=list)  # (bucket start, submissions in the bucket)
    bucket_seconds: int = 3600

    @property
    def done(self) -> int:
        return self.submitted + self.approved + self.rejected


def _batch_assignments(batch_id: str):  # type: ignore[no-untyped-def]
    return (select(assignments, console_batch_rows.c.row_index)
            .select_from(assignments.join(console_batch_rows, console_batch_rows.c.hit_id == assignments.c.hit_id))
            .where(console_batch_rows.c.batch_id == batch_id))


def progress(conn: Connection, batch: Row, now: float, buckets: int = 48) -> Progress:
    """Assignment counts and submissions over time (at most `buckets` bars from the first submission to now)."""
    props = properties_of(batch)
    published = published_count(conn, batch.id)
    p = Progress(published, published * props.assignments)
    times: list[float] = []
    for a in conn.execute(_batch_assignments(batch.id)):
        if a.status == "Submitted":
            p.submitted += 1
        elif a.status == "Approved":
            p.approved += 1
        elif a.status == "Rejected":
            p.rejected += 1
        elif a.status == "Accepted" and a.deadline > now:
            p.in_progress += 1
        if a.submit_time is not None and a.status in ("Submitted", "Approved", "Rejected"):
            times.append(a.submit_time)
    if times:
        start = min(times)
        span = max(now, max(times)) - start
        step = next((s for s in (1, 5, 15, 60, 300, 900, 3600, 3 * 3600, 6 * 3600, 86400, 7 * 86400)
                     if span / s <= buckets), 30 * 86400)
        first = start - start % step
        counts = [0] * (int((max(now, max(times)) - first) // step) + 1)
        for t in times:
            counts[int((t - first) // step)] += 1
        p.timeline = [(first + i * step, c) for i, c in enumerate(counts)]
        p.bucket_seconds = step
    return p


def batch_assignments(conn: Connection, batch_id: str) -> list[Row]:
    """The batch's submitted, approved and rejected assignments (with `row_index`), by row then submit time."""
    q = (_batch_assignments(batch_id)
         .where(assignments.c.status.in_(("Submitted", "Approved", "Rejected")))
         .order_by(console_batch_rows.c.row_index, assignments.c.submit_time, assignments.c.id))
    return conn.execute(q).all()


def rows_by_index(conn: Connection, batch_id: str) -> dict[int, dict[str, str]]:
    return {r.row_index: json.loads(r.row) for r in conn.execute(
        select(console_batch_rows.c.row_index, console_batch_rows.c.row).where(
            console_batch_rows.c.batch_id == batch_id))}
