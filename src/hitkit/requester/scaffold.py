"""Making project folders: `hitkit new NAME --template ID` from a built-in template (src/hitkit/templates/<id>/),
and `hitkit import simple-amt PROPERTIES.json TEMPLATE.html NAME` from a simple-amt pair.

simple-amt's HIT properties file holds boto3 CreateHIT parameters plus its own qualification shortcuts; the
import maps each to hitkit.toml's readable keys and says what it did, fixing simple-amt's traps on the way: a
missing LifetimeInSeconds (simple-amt retried create_hit forever) becomes one day, a `Country` string ("US",
which simple-amt iterated letter by letter) becomes ["US"], and its strict `GreaterThan` approval
requirements become the equivalent `>=` ones. Nothing is written until everything checks out.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import tomli_w

from hitkit.requester.inputs import InputError, read_input
from hitkit.mturk.hit_properties import PropertiesError, parse_properties
from hitkit.templates import builtin_folder
from hitkit.templates.task_template import TaskTemplate, TemplateError

PROJECT_FILES = ("hitkit.toml", "template.html", "example.csv")
DEFAULT_LIFETIME = 86400
MAX_FRAME_HEIGHT = 10_000


class ScaffoldError(ValueError):
    """A project folder that cannot be made, with what to do about it."""


def builtin(template_id: str) -> Traversable:
    """The folder of built-in template `template_id`, or ScaffoldError listing the ids."""
    try:
        return builtin_folder(template_id)
    except KeyError as e:
        raise ScaffoldError(e.args[0]) from None


def check_destination(dest: Path, force: bool) -> None:
    """Refuse a non-empty existing folder (or a file) unless forced."""
    if dest.exists() and not dest.is_dir():
        raise ScaffoldError(f"{dest} exists and is not a folder")
    if dest.is_dir() and any(dest.iterdir()) and not force:
        raise ScaffoldError(f"{dest} already exists and is not empty; use --force to write the project files into it "
                            "(other files are kept)")


def new_project(dest: str | Path, template_id: str, *, force: bool = False) -> list[Path]:
    """Write hitkit.toml, template.html and example.csv of a built-in template into `dest`; the files written."""
    source = builtin(template_id)
    dest = Path(dest)
    check_destination(dest, force)
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for name in PROJECT_FILES:
        target = dest / name
        target.write_bytes(source.joinpath(name).read_bytes())
        written.append(target)
    return written


# -- simple-amt ------------------------------------------------------------------------------------------------

# simple-amt's boto 2 era files used lower-case names for the same things.
_OLD_NAMES = {
    "title": "Title", "description": "Description", "keywords": "Keywords", "reward": "Reward",
    "duration": "AssignmentDurationInSeconds", "lifetime": "LifetimeInSeconds", "max_assignments": "MaxAssignments",
    "approval_delay": "AutoApprovalDelayInSeconds", "frame_height": "FrameHeight", "country": "Country",
    "hits_approved": "HitsApproved", "percent_approved": "PercentApproved", "annotation": "RequesterAnnotation",
    "qualification_id": "QualificationId", "qualification_comparator": "QualificationComparator",
    "qualification_integer": "QualificationInteger",
}
_KNOWN = set(_OLD_NAMES.values())
_SIMPLEAMT_COMPARATORS = {">": ">", "=": "=", "<": "<"}  # simple-amt accepted these three only


@dataclass
class SimpleAmtImport:
    """What an import made: the hitkit.toml content, a line per mapped key, warnings, and the files written."""

    config: dict[str, Any]
    mapped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


def readable_duration(seconds: int) -> str | int:
    """`3d`, `2h`, `15m` when exact, else the number of seconds."""
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return seconds


def _whole(value: Any, key: str, problems: list[str]) -> int | None:
    if isinstance(value, bool):
        problems.append(f"{key}: expected a whole number, not {value!r}")
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    problems.append(f"{key}: expected a whole number, not {value!r}")
    return None


def _reward(value: Any, problems: list[str]) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        problems.append(f"Reward: expected dollars such as 0.05, not {value!r}")
        return None
    try:
        amount = Decimal(str(value).strip().lstrip("$"))
    except InvalidOperation:
        problems.append(f"Reward: expected dollars such as 0.05, not {value!r}")
        return None
    if amount == amount.quantize(Decimal("0.01")):
        return str(amount.quantize(Decimal("0.01")))
    return str(amount)  # hitkit.toml's check says what is wrong with it


def simple_amt_config(props: dict[str, Any], *, source: str = "properties") -> SimpleAmtImport:
    """hitkit.toml content for simple-amt HIT properties; ScaffoldError naming the keys when they cannot map."""
    if not isinstance(props, dict):
        raise ScaffoldError(f"{source}: expected a JSON object of HIT properties, not {type(props).__name__}")
    result = SimpleAmtImport(config={})
    problems: list[str] = []
    props = dict(props)
    renamed = sorted(k for k in props if k in _OLD_NAMES and _OLD_NAMES[k] not in props)
    for old in renamed:
        props[_OLD_NAMES[old]] = props.pop(old)
    if renamed:
        result.warnings.append(f"read simple-amt's old (boto 2) key names: {', '.join(renamed)}")
    unknown = sorted(k for k in props if k not in _KNOWN)
    if unknown:
        result.warnings.append(f"not imported (hitkit.toml has no such setting): {', '.join(unknown)}")
    hit: dict[str, Any] = {}
    quals: dict[str, Any] = {}
    origin: dict[str, str] = {}  # hitkit.toml key -> the simple-amt key it came from, for messages

    def put(table: dict[str, Any], section: str, key: str, value: Any, from_key: str, note: str = "") -> None:
        table[key] = value
        origin[f"{section}.{key}"] = from_key
        shown = json.dumps(props.get(from_key)) if from_key in props else "(missing)"
        result.mapped.append(f"{from_key} {shown} -> {section}.{key} = {json.dumps(value)}{note}")

    for key, target in (("Title", "title"), ("Description", "description")):
        if key not in props:
            problems.append(f"{key}: required (simple-amt passed it to CreateHIT)")
        else:
            put(hit, "hit", target, props[key], key)
    if "Keywords" in props:
        kw = props["Keywords"]
        value = [k.strip() for k in kw.split(",") if k.strip()] if isinstance(kw, str) else kw
        put(hit, "hit", "keywords", value, "Keywords")
    if "Reward" not in props:
        problems.append("Reward: required (simple-amt passed it to CreateHIT)")
    else:
        reward = _reward(props["Reward"], problems)
        if reward is not None:
            put(hit, "hit", "reward", reward, "Reward")
    if "MaxAssignments" in props:
        n = _whole(props["MaxAssignments"], "MaxAssignments", problems)
        if n is not None:
            put(hit, "hit", "assignments", n, "MaxAssignments")
    if "LifetimeInSeconds" in props:
        n = _whole(props["LifetimeInSeconds"], "LifetimeInSeconds", problems)
        if n is not None:
            put(hit, "hit", "lifetime", readable_duration(n), "LifetimeInSeconds")
    else:
        put(hit, "hit", "lifetime", readable_duration(DEFAULT_LIFETIME), "LifetimeInSeconds", " (default)")
        result.warnings.append("LifetimeInSeconds is missing (CreateHIT requires it; simple-amt retried the call "
                               "forever): the HITs will stay available for 1 day; change hit.lifetime to suit")
    for key, target in (("AssignmentDurationInSeconds", "duration"), ("AutoApprovalDelayInSeconds", "auto_approval_delay")):
        if key in props:
            n = _whole(props[key], key, problems)
            if n is not None:
                put(hit, "hit", target, readable_duration(n), key)
    if "AutoApprovalDelayInSeconds" not in props:
        put(hit, "hit", "auto_approval_delay", "30d", "AutoApprovalDelayInSeconds", " (MTurk's default, which simple-amt got)")
    if "AssignmentDurationInSeconds" not in props:
        problems.append("AssignmentDurationInSeconds: required (simple-amt passed it to CreateHIT)")
    if "FrameHeight" in props:
        n = _whole(props["FrameHeight"], "FrameHeight", problems)
        if n is not None and n > MAX_FRAME_HEIGHT:
            put(hit, "hit", "frame_height", 0, "FrameHeight", " (fills the window)")
            result.warnings.append(f"FrameHeight {n} is above {MAX_FRAME_HEIGHT}: written as 0, a frame as tall as the "
                                   "worker's window")
        elif n is not None:
            put(hit, "hit", "frame_height", n, "FrameHeight")
    if "RequesterAnnotation" in props:
        put(hit, "hit", "annotation", props["RequesterAnnotation"], "RequesterAnnotation")

    if "Country" in props:
        country = props["Country"]
        if isinstance(country, str):
            countries = [country]
            result.warnings.append(f"Country is the string {country!r}, read as [{country!r}] (simple-amt iterated a "
                                   "string letter by letter); write a list for several countries")
        else:
            countries = country
        put(quals, "qualifications", "countries", countries, "Country")
    for key, target, top in (("HitsApproved", "min_approved_hits", 2**31 - 1), ("PercentApproved", "min_approval_rate", 100)):
        if key in props:
            n = _whole(props[key], key, problems)
            if n is None:
                continue
            if n + 1 > top:
                problems.append(f"{key}: {n} means more than {n} (simple-amt's GreaterThan), which no worker can have")
                continue
            put(quals, "qualifications", target, max(n + 1, 0), key, f" (more than {n}, as simple-amt's GreaterThan)")
    custom_keys = ("QualificationId", "QualificationComparator", "QualificationInteger")
    present = [k for k in custom_keys if k in props]
    if present and len(present) < 3:
        missing = [k for k in custom_keys if k not in props]
        problems.append(f"{', '.join(present)}: needs {' and '.join(missing)} too (simple-amt ignored the requirement "
                        "otherwise)")
    elif present:
        comparator = _SIMPLEAMT_COMPARATORS.get(str(props["QualificationComparator"]).strip())
        value = _whole(props["QualificationInteger"], "QualificationInteger", problems)
        if comparator is None:
            problems.append(f"QualificationComparator: {props['QualificationComparator']!r} is not one of <, =, >")
        elif value is not None:
            entry = {"id": str(props["QualificationId"]), "comparator": comparator, "value": value}
            quals["custom"] = [entry]
            origin["qualifications.custom"] = "QualificationId"
            result.mapped.append(f"QualificationId {json.dumps(props['QualificationId'])}, QualificationComparator "
                                 f"{json.dumps(props['QualificationComparator'])}, QualificationInteger "
                                 f"{json.dumps(props['QualificationInteger'])} -> qualifications.custom = "
                                 f"[{json.dumps(entry)}]")
    if problems:
        raise ScaffoldError(f"{source} cannot be imported:\n  " + "\n  ".join(problems))
    config: dict[str, Any] = {"hit": hit}
    if quals:
        config["qualifications"] = quals
    config["template"] = {"file": "template.html", "kind": "simple-amt"}
    try:
        parse_properties(config, source=source)
    except PropertiesError as e:
        lines = []
        for p in e.problems:
            key = p.split(":", 1)[0]
            base = key.split("[", 1)[0]
            lines.append(f"{origin[base]} (hitkit.toml {key}): {p.split(':', 1)[1].strip()}" if base in origin else p)
        raise ScaffoldError(f"{source} cannot be imported:\n  " + "\n  ".join(lines)) from None
    result.config = config
    return result


def render_config(config: dict[str, Any], header: str) -> str:
    """hitkit.toml text: a comment header, then the tables."""
    comment = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return comment + "\n" + tomli_w.dumps(config)


def import_simple_amt(properties: str | Path, template: str | Path, dest: str | Path, *,
                      input_path: str | Path | None = None, force: bool = False) -> SimpleAmtImport:
    """Make project folder `dest` from a simple-amt properties JSON and template (and input JSONL)."""
    properties, template, dest = Path(properties), Path(template), Path(dest)
    try:
        props = json.loads(properties.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScaffoldError(f"the properties file {properties} does not exist") from None
    except UnicodeDecodeError as e:
        raise ScaffoldError(f"{properties} is not UTF-8 text (byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise ScaffoldError(f"{properties}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})") from None
    result = simple_amt_config(props, source=str(properties))
    try:
        source = template.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScaffoldError(f"the template file {template} does not exist") from None
    except UnicodeDecodeError as e:
        raise ScaffoldError(f"{template} is not UTF-8 text (byte {e.start})") from None
    try:
        task = TaskTemplate("simple-amt", source, template.name)
    except TemplateError as e:
        raise ScaffoldError(str(e)) from None
    rows = None
    if input_path is not None:
        input_path = Path(input_path)
        try:
            data = read_input(input_path, "jsonl")
        except InputError as e:
            raise ScaffoldError(str(e)) from None
        frame_height = parse_properties(result.config).frame_height
        for number, row in enumerate(data.rows, start=1):
            try:
                task.render_question(row, frame_height=frame_height, row_number=number)
            except TemplateError as e:
                raise ScaffoldError(f"{input_path}: {e}") from None
        rows = len(data.rows)
    check_destination(dest, force)
    dest.mkdir(parents=True, exist_ok=True)
    header = (f"hitkit.toml: imported from simple-amt's {properties.name} and {template.name}.\n"
              "docs/projects.md lists every key.")
    (dest / "hitkit.toml").write_text(render_config(result.config, header), encoding="utf-8")
    (dest / "template.html").write_text(source, encoding="utf-8")
    result.files = [dest / "hitkit.toml", dest / "template.html"]
    result.mapped.append(f"{template.name} -> template.html (kind simple-amt: `input` is each line's JSON, "
                         "{% include \"simpleamt.html\" %} is hitkit's copy of the helper)")
    if input_path is not None:
        target = dest / input_path.name
        if target.suffix.lower() not in (".jsonl", ".json", ".ndjson"):
            target = dest / (input_path.stem + ".jsonl")  # read_input knows JSONL by its extension (simple-amt used .txt)
        shutil.copyfile(input_path, target)
        result.files.append(target)
        result.mapped.append(f"{input_path.name} -> {target.name} ({rows} row{'s' if rows != 1 else ''}, one HIT each)")
    return result

