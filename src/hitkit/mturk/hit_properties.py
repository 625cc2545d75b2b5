"""HIT properties as a project's `hitkit.toml` writes them, in readable form, turned into CreateHIT parameters.

    [hit]
    title = "Classify an image"
    description = "Pick the animal in the picture."
    keywords = ["image", "classification"]      # or "image, classification"
    reward = "0.05"                              # dollars: a string or a number
    assignments = 3
    lifetime = "3d"                              # seconds, or 30s / 10m / 2h / 3d / 1w
    duration = "10m"                             # time allotted per assignment
    auto_approval_delay = "3d"
    frame_height = 600                           # for HTML templates (0: fill the window)

    [qualifications]
    countries = ["US", "CA", "US-NY"]            # Worker_Locale In ...
    min_approval_rate = 95                       # PercentAssignmentsApproved >= 95
    min_approved_hits = 1000                     # NumberHITsApproved >= 1000
    masters = true
    adult = true
    custom = [{name = "Bird expert", comparator = ">=", value = 80}, {id = "3ABC...", comparator = "exists"}]

Every problem is reported with the key it is about (`hit.reward: ...`), all at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from hitkit.mturk import qualification_ids as sq

DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)?\s*$", re.IGNORECASE)
_UNIT = {None: 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
COMPARATORS = {
    "<": "LessThan", "<=": "LessThanOrEqualTo", ">": "GreaterThan", ">=": "GreaterThanOrEqualTo",
    "=": "EqualTo", "==": "EqualTo", "!=": "NotEqualTo", "exists": "Exists", "not exists": "DoesNotExist",
    "doesnotexist": "DoesNotExist", "in": "In", "not in": "NotIn",
}
_API_COMPARATORS = {v.lower(): v for v in COMPARATORS.values()}
HIT_KEYS = {"title", "description", "keywords", "reward", "assignments", "lifetime", "duration",
            "auto_approval_delay", "frame_height", "annotation"}
QUAL_KEYS = {"countries", "min_approval_rate", "min_approved_hits", "masters", "adult", "custom"}


class PropertiesError(ValueError):
    """hitkit.toml has problems; `problems` lists each as 'key: what is wrong'."""

    def __init__(self, problems: list[str], source: str = "hitkit.toml") -> None:
        self.problems = problems
        super().__init__(f"{source} has {len(problems)} problem{'s' if len(problems) != 1 else ''}:\n  " + "\n  ".join(problems))


@dataclass(frozen=True)
class CustomQualification:
    """A requirement on one of the requester's qualification types, by name (resolved at launch) or id."""

    comparator: str  # MTurk's comparator name
    name: str | None = None
    type_id: str | None = None
    values: tuple[int, ...] = ()
    actions_guarded: str = "Accept"


@dataclass(frozen=True)
class HitProperties:
    title: str
    description: str
    reward_cents: int
    keywords: str = ""
    assignments: int = 1
    lifetime: int = 3 * 86400
    duration: int = 3600
    auto_approval_delay: int = 3 * 86400
    frame_height: int = 600
    annotation: str | None = None
    countries: tuple[str, ...] = ()
    min_approval_rate: int | None = None
    min_approved_hits: int | None = None
    masters: bool = False
    adult: bool = False
    custom: tuple[CustomQualification, ...] = field(default=())

    @property
    def reward(self) -> str:
        return f"{self.reward_cents // 100}.{self.reward_cents % 100:02d}"

    def requirements(self, custom_ids: dict[str, str] | None = None, *, masters_id: str = sq.MASTERS_SANDBOX) -> list[dict]:
        """QualificationRequirements for CreateHIT; `custom_ids` maps custom qualification names to their ids."""
        reqs: list[dict] = []
        if self.countries:
            locales = []
            for c in self.countries:
                country, _, sub = c.partition("-")
                locales.append({"Country": country, **({"Subdivision": sub} if sub else {})})
            reqs.append({"QualificationTypeId": sq.LOCALE, "Comparator": "In", "LocaleValues": locales,
                         "ActionsGuarded": "DiscoverPreviewAndAccept"})
        if self.min_approval_rate is not None:
            reqs.append({"QualificationTypeId": sq.PERCENT_ASSIGNMENTS_APPROVED, "Comparator": "GreaterThanOrEqualTo",
                         "IntegerValues": [self.min_approval_rate], "ActionsGuarded": "Accept"})
        if self.min_approved_hits is not None:
            reqs.append({"QualificationTypeId": sq.NUMBER_HITS_APPROVED, "Comparator": "GreaterThanOrEqualTo",
                         "IntegerValues": [self.min_approved_hits], "ActionsGuarded": "Accept"})
        if self.masters:
            reqs.append({"QualificationTypeId": masters_id, "Comparator": "Exists", "ActionsGuarded": "Accept"})
        if self.adult:
            reqs.append({"QualificationTypeId": sq.ADULT, "Comparator": "EqualTo", "IntegerValues": [1],
                         "ActionsGuarded": "PreviewAndAccept"})
        for q in self.custom:
            type_id = q.type_id or (custom_ids or {}).get(q.name or "")
            if type_id is None:
                raise PropertiesError([f"qualifications.custom: no qualification type named {q.name!r} is yours"])
            req: dict[str, Any] = {"QualificationTypeId": type_id, "Comparator": q.comparator, "ActionsGuarded": q.actions_guarded}
            if q.values:
                req["IntegerValues"] = list(q.values)
            reqs.append(req)
        return reqs

    def create_hit_type_params(self, custom_ids: dict[str, str] | None = None, **kw: Any) -> dict:
        """The CreateHITType (and CreateHITWithHITType) parameters these properties stand for."""
        params: dict[str, Any] = {
            "Title": self.title, "Description": self.description, "Reward": self.reward,
            "AssignmentDurationInSeconds": self.duration, "AutoApprovalDelayInSeconds": self.auto_approval_delay,
        }
        if self.keywords:
            params["Keywords"] = self.keywords
        reqs = self.requirements(custom_ids, **kw)
        if reqs:
            params["QualificationRequirements"] = reqs
        return params


def parse_duration(value: Any, key: str, problems: list[str]) -> int | None:
    """Seconds from 600, "600", "10m", "2h", "3d" or "1w"; a problem naming `key` otherwise."""
    if isinstance(value, bool):
        problems.append(f"{key}: expected a duration such as 3600, \"10m\", \"2h\" or \"3d\", not {value!r}")
        return None
    if isinstance(value, (int, float)):
        return int(value)
    m = DURATION_RE.match(str(value))
    if not m:
        problems.append(f"{key}: expected a duration such as 3600, \"10m\", \"2h\" or \"3d\", not {value!r}")
        return None
    return int(float(m.group(1)) * _UNIT[(m.group(2) or "").lower() or None])


def parse_reward(value: Any, key: str, problems: list[str]) -> int | None:
    """Cents from "0.05", 0.05 or 1; at most two decimals, at least $0.01."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        problems.append(f"{key}: expected dollars such as \"0.50\", not {value!r}")
        return None
    try:
        amount = Decimal(str(value).strip().lstrip("$"))
    except InvalidOperation:
        problems.append(f"{key}: expected dollars such as \"0.50\", not {value!r}")
        return None
    if amount != amount.quantize(Decimal("0.01")):
        problems.append(f"{key}: {value!r} has more than two decimals (MTurk pays whole cents)")
        return None
    cents = int(amount * 100)
    if cents < 1:
        problems.append(f"{key}: must be at least 0.01, not {value!r}")
        return None
    return cents


def _bounded_int(value: Any, key: str, lo: int, hi: int, problems: list[str]) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append(f"{key}: expected a whole number from {lo} to {hi}, not {value!r}")
        return None
    if not lo <= value <= hi:
        problems.append(f"{key}: must be from {lo} to {hi}, not {value}")
        return None
    return value


def _custom(raw: Any, problems: list[str]) -> tuple[CustomQualification, ...]:
    if not isinstance(raw, list):
        problems.append("qualifications.custom: expected a list of tables such as [{name = \"Expert\", comparator = \">=\", value = 80}]")
        return ()
    out = []
    for i, item in enumerate(raw):
        key = f"qualifications.custom[{i}]"
        if not isinstance(item, dict):
            problems.append(f"{key}: expected a table with name (or id), comparator and value")
            continue
        unknown = set(item) - {"name", "id", "comparator", "value", "values", "actions_guarded"}
        if unknown:
            problems.append(f"{key}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(sorted(unknown))}")
        name, type_id = item.get("name"), item.get("id")
        if (name is None) == (type_id is None):
            problems.append(f"{key}: give exactly one of name or id")
            continue
        raw_cmp = str(item.get("comparator", "exists")).strip()
        comparator = COMPARATORS.get(raw_cmp.lower()) or _API_COMPARATORS.get(raw_cmp.lower())
        if comparator is None:
            problems.append(f"{key}.comparator: {raw_cmp!r} is not one of {', '.join(COMPARATORS)}")
            continue
        values = item.get("values", [item["value"]] if "value" in item else [])
        if not isinstance(values, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            problems.append(f"{key}.value: expected whole numbers")
            continue
        if comparator in ("Exists", "DoesNotExist") and values:
            problems.append(f"{key}: comparator {raw_cmp!r} takes no value")
            continue
        if comparator not in ("Exists", "DoesNotExist") and not values:
            problems.append(f"{key}: comparator {raw_cmp!r} needs a value")
            continue
        guarded = item.get("actions_guarded", "Accept")
        if guarded not in ("Accept", "PreviewAndAccept", "DiscoverPreviewAndAccept"):
            problems.append(f"{key}.actions_guarded: must be Accept, PreviewAndAccept or DiscoverPreviewAndAccept")
            continue
        out.append(CustomQualification(comparator, name, type_id, tuple(values), guarded))
    return tuple(out)


def parse_properties(data: dict, source: str = "hitkit.toml") -> HitProperties:
    """HitProperties from the parsed TOML (`[hit]` and `[qualifications]` tables), or PropertiesError."""
    problems: list[str] = []
    hit = data.get("hit")
    if not isinstance(hit, dict):
        raise PropertiesError(["hit: the [hit] table is missing (title, description, reward, ...)"], source)
    quals = data.get("qualifications", {})
    if not isinstance(quals, dict):
        problems.append("qualifications: expected a table")
        quals = {}
    for key in sorted(set(hit) - HIT_KEYS):
        problems.append(f"hit.{key}: unknown key (known: {', '.join(sorted(HIT_KEYS))})")
    for key in sorted(set(quals) - QUAL_KEYS):
        problems.append(f"qualifications.{key}: unknown key (known: {', '.join(sorted(QUAL_KEYS))})")
    kw: dict[str, Any] = {}
    for key, limit in (("title", 128), ("description", 2000)):
        value = hit.get(key)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"hit.{key}: required, a non-empty string")
        elif len(value) > limit:
            problems.append(f"hit.{key}: at most {limit} characters ({len(value)} given)")
        else:
            kw[key] = value.strip()
    keywords = hit.get("keywords", "")
    if isinstance(keywords, list) and all(isinstance(k, str) for k in keywords):
        keywords = ", ".join(k.strip() for k in keywords if k.strip())
    if not isinstance(keywords, str):
        problems.append("hit.keywords: expected a string or a list of strings")
    elif len(keywords) > 1000:
        problems.append(f"hit.keywords: at most 1000 characters ({len(keywords)} given)")
    else:
        kw["keywords"] = keywords
    if "reward" not in hit:
        problems.append("hit.reward: required, dollars such as \"0.50\"")
    else:
        kw["reward_cents"] = parse_reward(hit["reward"], "hit.reward", problems)
    if "assignments" in hit:
        kw["assignments"] = _bounded_int(hit["assignments"], "hit.assignments", 1, 1_000_000_000, problems)
    for key, lo, hi in (("lifetime", 30, 365 * 86400), ("duration", 30, 365 * 86400), ("auto_approval_delay", 0, 30 * 86400)):
        if key in hit:
            seconds = parse_duration(hit[key], f"hit.{key}", problems)
            if seconds is not None and not lo <= seconds <= hi:
                problems.append(f"hit.{key}: must be from {lo} s to {hi // 86400} days, not {seconds} s")
            else:
                kw[key] = seconds
    if "frame_height" in hit:
        kw["frame_height"] = _bounded_int(hit["frame_height"], "hit.frame_height", 0, 10000, problems)
    if "annotation" in hit:
        if not isinstance(hit["annotation"], str) or len(hit["annotation"]) > 255:
            problems.append("hit.annotation: expected a string of at most 255 characters")
        else:
            kw["annotation"] = hit["annotation"]
    countries = quals.get("countries", [])
    if isinstance(countries, str):
        problems.append(f"qualifications.countries: expected a list such as [\"US\", \"CA\"], not the string {countries!r}")
    elif not isinstance(countries, list) or not all(
            isinstance(c, str) and re.fullmatch(r"[A-Za-z]{2}(-[A-Za-z0-9]{1,3})?", c) for c in countries):
        problems.append("qualifications.countries: expected ISO 3166 codes such as [\"US\", \"CA\", \"US-NY\"]")
    else:
        kw["countries"] = tuple(c.upper() for c in countries)
    if "min_approval_rate" in quals:
        kw["min_approval_rate"] = _bounded_int(quals["min_approval_rate"], "qualifications.min_approval_rate", 0, 100, problems)
    if "min_approved_hits" in quals:
        kw["min_approved_hits"] = _bounded_int(quals["min_approved_hits"], "qualifications.min_approved_hits", 0, 2**31 - 1, problems)
    for flag in ("masters", "adult"):
        if flag in quals:
            if not isinstance(quals[flag], bool):
                problems.append(f"qualifications.{flag}: expected true or false")
            else:
                kw[flag] = quals[flag]
    if "custom" in quals:
        kw["custom"] = _custom(quals["custom"], problems)
    if problems:
        raise PropertiesError(problems, source)
    return HitProperties(**{k: v for k, v in kw.items() if v is not None})
