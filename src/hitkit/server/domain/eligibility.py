"""QualificationRequirement validation and worker eligibility checks (pure: no database, no HTTP)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hitkit.mturk import qualification_ids

__all__ = [
    "ACTIONS",
    "ACTIONS_GUARDED",
    "COMPARATORS",
    "MAX_INTEGER_VALUES",
    "MAX_LOCALE_VALUES",
    "MAX_REQUIREMENTS",
    "QualValue",
    "Requirement",
    "RequirementError",
    "Verdict",
    "check_action",
    "describe_requirement",
    "parse_requirements",
    "requirement_met",
    "requirements_to_api",
    "uses_masters",
]

MAX_REQUIREMENTS = 10
MAX_INTEGER_VALUES = 15
MAX_LOCALE_VALUES = 30
_INT32_MIN = -(2**31)
_INT32_MAX = 2**31 - 1

ORDERING_COMPARATORS = ("LessThan", "LessThanOrEqualTo", "GreaterThan", "GreaterThanOrEqualTo")
EQUALITY_COMPARATORS = ("EqualTo", "NotEqualTo")
SET_COMPARATORS = ("In", "NotIn")
PRESENCE_COMPARATORS = ("Exists", "DoesNotExist")
COMPARATORS = ORDERING_COMPARATORS + EQUALITY_COMPARATORS + SET_COMPARATORS + PRESENCE_COMPARATORS

ACTIONS = ("Discover", "Preview", "Accept")
ACTIONS_GUARDED = ("Accept", "PreviewAndAccept", "DiscoverPreviewAndAccept")
_GUARDS: dict[str, frozenset[str]] = {
    "Accept": frozenset({"Accept"}),
    "PreviewAndAccept": frozenset({"Preview", "Accept"}),
    "DiscoverPreviewAndAccept": frozenset({"Discover", "Preview", "Accept"}),
}

_COUNTRY_RE = re.compile(r"[A-Z]{2}")
_SUBDIVISION_RE = re.compile(r"[A-Z0-9]{2}")

Locale = tuple[str, str | None]


class RequirementError(ValueError):
    """A QualificationRequirements list violates an MTurk rule (maps to ParameterValidationError)."""

    def __init__(self, message: str, parameter: str = "QualificationRequirements") -> None:
        """Store the message and the name of the offending parameter."""
        super().__init__(message)
        self.message = message
        self.parameter = parameter


@dataclass(frozen=True)
class Requirement:
    """Normalized form of one botocore QualificationRequirement dict."""

    type_id: str
    comparator: str
    integer_values: tuple[int, ...] = ()
    locale_values: tuple[Locale, ...] = ()
    actions_guarded: str = "Accept"


@dataclass(frozen=True)
class QualValue:
    """A worker's value for one qualification type: an integer or a locale."""

    integer: int | None = None
    country: str | None = None
    subdivision: str | None = None


@dataclass(frozen=True)
class Verdict:
    """Outcome of an eligibility check; failed/reason name the first unmet requirement."""

    allowed: bool
    failed: Requirement | None = None
    reason: str = ""


def _fmt_locale(loc: Locale) -> str:
    """Render a locale as "US" or "US-NY"."""
    country, subdivision = loc
    return country if subdivision is None else f"{country}-{subdivision}"


def _fmt_raw(value: Any) -> str:
    """Render an arbitrary raw value for an error message."""
    return value if isinstance(value, str) else repr(value)


def _parse_integer_values(raw: Any) -> tuple[int, ...]:
    """Validate and normalize an IntegerValues list."""
    if raw is None:
        return ()
    if not isinstance(raw, Sequence) or isinstance(raw, (str, bytes)):
        raise RequirementError(
            f'The value "{_fmt_raw(raw)}" is not valid for the parameter IntegerValues. '
            "IntegerValues must be a list of integers.",
            "IntegerValue",
        )
    out: list[int] = []
    for v in raw:
        if isinstance(v, bool) or not isinstance(v, int):
            raise RequirementError(
                f'The value "{_fmt_raw(v)}" is not valid for the parameter IntegerValue. '
                "IntegerValue must be an integer.",
                "IntegerValue",
            )
        if not _INT32_MIN <= v <= _INT32_MAX:
            raise RequirementError(
                f'The value "{v}" is not valid for the parameter IntegerValue. '
                f"IntegerValue must be between {_INT32_MIN} and {_INT32_MAX}.",
                "IntegerValue",
            )
        out.append(v)
    return tuple(out)


def _parse_locale(raw: Any) -> Locale:
    """Validate and normalize one Locale dict."""
    if not isinstance(raw, Mapping):
        raise RequirementError(
            f'The value "{_fmt_raw(raw)}" is not valid for the parameter LocaleValue. '
            "LocaleValue must be a structure with a Country.",
            "LocaleValue",
        )
    country = raw.get("Country")
    if not isinstance(country, str) or _COUNTRY_RE.fullmatch(country) is None:
        raise RequirementError(
            f'The value "{_fmt_raw(country)}" is not valid for the parameter Country. '
            "Country must be an ISO 3166 two-letter uppercase country code such as US.",
            "LocaleValue",
        )
    subdivision = raw.get("Subdivision")
    if subdivision is not None and (
        not isinstance(subdivision, str) or _SUBDIVISION_RE.fullmatch(subdivision) is None
    ):
        raise RequirementError(
            f'The value "{_fmt_raw(subdivision)}" is not valid for the parameter Subdivision. '
            "Subdivision must be an ISO 3166-2 two-character uppercase subdivision code such as NY.",
            "LocaleValue",
        )
    return (country, subdivision)


def _parse_locale_values(raw: Any) -> tuple[Locale, ...]:
    """Validate and normalize a LocaleValues list."""
    if raw is None:
        return ()
    if not isinstance(raw, Sequence) or isinstance(raw, (str, bytes)):
        raise RequirementError(
            f'The value "{_fmt_raw(raw)}" is not valid for the parameter LocaleValues. '
            "LocaleValues must be a list of Locale structures.",
            "LocaleValue",
        )
    return tuple(_parse_locale(item) for item in raw)


def _check_value_counts(
    comparator: str, ints: tuple[int, ...], locales: tuple[Locale, ...], where: str
) -> None:
    """Enforce the per-comparator rules on how many IntegerValues/LocaleValues are given."""
    n_int, n_loc = len(ints), len(locales)
    int_text = ",".join(str(v) for v in ints)
    loc_text = ",".join(_fmt_locale(loc) for loc in locales)
    if comparator in ORDERING_COMPARATORS:
        if n_loc:
            raise RequirementError(
                f'The value "{loc_text}" is not valid for the parameter LocaleValue. '
                f"LocaleValue must be null when used with the {comparator} comparator",
                "LocaleValue",
            )
        if n_int != 1:
            raise RequirementError(
                f"The {comparator} comparator{where} requires exactly one IntegerValue, "
                f"but {n_int} were provided.",
                "IntegerValue",
            )
    elif comparator in EQUALITY_COMPARATORS:
        if n_int and n_loc:
            raise RequirementError(
                f"The {comparator} comparator{where} accepts an IntegerValue or a LocaleValue, not both.",
                "QualificationRequirements",
            )
        if n_loc > 1:
            raise RequirementError(
                f'The value "{loc_text}" is not valid for the parameter LocaleValue. '
                f"LocaleValue must be null when used with the {comparator} comparator",
                "LocaleValue",
            )
        if n_int > 1:
            raise RequirementError(
                f'The value "{int_text}" is not valid for the parameter IntegerValue. '
                f"IntegerValue must be null when used with the {comparator} comparator",
                "IntegerValue",
            )
        if n_int + n_loc == 0:
            raise RequirementError(
                f"The {comparator} comparator{where} requires exactly one IntegerValue or one LocaleValue.",
                "QualificationRequirements",
            )
    elif comparator in SET_COMPARATORS:
        if n_int and n_loc:
            raise RequirementError(
                f"The {comparator} comparator{where} accepts IntegerValues or LocaleValues, not both.",
                "QualificationRequirements",
            )
        if n_int + n_loc == 0:
            raise RequirementError(
                f"The {comparator} comparator{where} requires at least one IntegerValue or LocaleValue.",
                "QualificationRequirements",
            )
        if n_int > MAX_INTEGER_VALUES:
            raise RequirementError(
                f"The {comparator} comparator{where} accepts at most {MAX_INTEGER_VALUES} IntegerValues, "
                f"but {n_int} were provided.",
                "IntegerValue",
            )
        if n_loc > MAX_LOCALE_VALUES:
            raise RequirementError(
                f"The {comparator} comparator{where} accepts at most {MAX_LOCALE_VALUES} LocaleValues, "
                f"but {n_loc} were provided.",
                "LocaleValue",
            )
    else:  # Exists / DoesNotExist
        if n_int:
            raise RequirementError(
                f'The value "{int_text}" is not valid for the parameter IntegerValue. '
                f"IntegerValue must be null when used with the {comparator} comparator",
                "IntegerValue",
            )
        if n_loc:
            raise RequirementError(
                f'The value "{loc_text}" is not valid for the parameter LocaleValue. '
                f"LocaleValue must be null when used with the {comparator} comparator",
                "LocaleValue",
            )


def _parse_one(raw: Any, index: int) -> Requirement:
    """Validate and normalize one raw QualificationRequirement dict (index is 1-based)."""
    where = f" (QualificationRequirement {index})"
    if not isinstance(raw, Mapping):
        raise RequirementError(
            f"QualificationRequirement {index} must be a structure, got {type(raw).__name__}.",
            "QualificationRequirements",
        )
    type_id = raw.get("QualificationTypeId")
    if not isinstance(type_id, str) or not type_id:
        raise RequirementError(
            f"The parameter QualificationTypeId{where} is required and must be a non-empty string.",
            "QualificationTypeId",
        )
    comparator = raw.get("Comparator")
    if comparator not in COMPARATORS:
        raise RequirementError(
            f'The value "{_fmt_raw(comparator)}" is not valid for the parameter Comparator. '
            f"Valid values are: {', '.join(COMPARATORS)}.",
            "Comparator",
        )
    ints = _parse_integer_values(raw.get("IntegerValues"))
    locales = _parse_locale_values(raw.get("LocaleValues"))

    is_locale_type = type_id == qualification_ids.LOCALE
    if locales and not is_locale_type:
        raise RequirementError(
            f"LocaleValues{where} can only be used with the Worker_Locale qualification type "
            f"({qualification_ids.LOCALE}), not with {type_id}.",
            "LocaleValue",
        )
    if ints and is_locale_type:
        raise RequirementError(
            f"IntegerValues{where} cannot be used with the Worker_Locale qualification type "
            f"({qualification_ids.LOCALE}); use LocaleValues.",
            "IntegerValue",
        )
    if is_locale_type and comparator in ORDERING_COMPARATORS:
        raise RequirementError(
            f"The {comparator} comparator{where} cannot be used with the Worker_Locale qualification type "
            f"({qualification_ids.LOCALE}); use EqualTo, NotEqualTo, In, NotIn, Exists or DoesNotExist.",
            "Comparator",
        )
    _check_value_counts(comparator, ints, locales, where)

    required_to_preview = raw.get("RequiredToPreview")
    actions_guarded = raw.get("ActionsGuarded")
    if required_to_preview is not None and not isinstance(required_to_preview, bool):
        raise RequirementError(
            f'The value "{_fmt_raw(required_to_preview)}" is not valid for the parameter '
            "RequiredToPreview. RequiredToPreview must be a boolean.",
            "RequiredToPreview",
        )
    if required_to_preview is not None and actions_guarded is not None:
        raise RequirementError(
            f"RequiredToPreview{where} is deprecated and cannot be combined with ActionsGuarded; "
            "use ActionsGuarded only.",
            "RequiredToPreview",
        )
    if actions_guarded is None:
        actions_guarded = "PreviewAndAccept" if required_to_preview else "Accept"
    elif actions_guarded not in ACTIONS_GUARDED:
        raise RequirementError(
            f'The value "{_fmt_raw(actions_guarded)}" is not valid for the parameter ActionsGuarded. '
            f"Valid values are: {', '.join(ACTIONS_GUARDED)}.",
            "ActionsGuarded",
        )
    return Requirement(type_id, comparator, ints, locales, actions_guarded)


def parse_requirements(raw: Sequence[Mapping[str, Any]] | None) -> tuple[Requirement, ...]:
    """Validate a botocore QualificationRequirements list and return its normalized form."""
    if raw is None:
        return ()
    if not isinstance(raw, Sequence) or isinstance(raw, (str, bytes)):
        raise RequirementError(
            "QualificationRequirements must be a list of QualificationRequirement structures.",
            "QualificationRequirements",
        )
    if len(raw) > MAX_REQUIREMENTS:
        raise RequirementError(
            f"The number of QualificationRequirements ({len(raw)}) exceeds the maximum of "
            f"{MAX_REQUIREMENTS} allowed per HIT.",
            "QualificationRequirements",
        )
    # Several requirements on one type are allowed (a range: >= 100 and <= 1000); all must hold.
    return tuple(_parse_one(item, i) for i, item in enumerate(raw, start=1))


def requirements_to_api(reqs: Iterable[Requirement]) -> list[dict[str, Any]]:
    """Render requirements in the botocore QualificationRequirement output shape."""
    out: list[dict[str, Any]] = []
    for req in reqs:
        item: dict[str, Any] = {"QualificationTypeId": req.type_id, "Comparator": req.comparator}
        if req.integer_values:
            item["IntegerValues"] = list(req.integer_values)
        if req.locale_values:
            item["LocaleValues"] = [
                {"Country": c} if s is None else {"Country": c, "Subdivision": s}
                for c, s in req.locale_values
            ]
        item["ActionsGuarded"] = req.actions_guarded
        out.append(item)
    return out


def _locale_matches(want: Locale, value: QualValue) -> bool:
    """True if a worker locale satisfies one requirement locale (Country-only matches any subdivision)."""
    country, subdivision = want
    if value.country != country:
        return False
    return subdivision is None or value.subdivision == subdivision


def requirement_met(req: Requirement, value: QualValue | None) -> bool:
    """True if a worker holding `value` (None = no such qualification) satisfies `req`."""
    comparator = req.comparator
    if value is None:
        return comparator == "DoesNotExist"
    if comparator == "DoesNotExist":
        return False
    if comparator == "Exists":
        return True
    if req.locale_values:
        if value.country is None:
            return False
        hits = [_locale_matches(loc, value) for loc in req.locale_values]
        if comparator == "EqualTo":
            return hits[0]
        if comparator == "NotEqualTo":
            return not hits[0]
        if comparator == "In":
            return any(hits)
        if comparator == "NotIn":
            return not any(hits)
        return False
    if not req.integer_values or value.integer is None:
        return False
    got, want = value.integer, req.integer_values[0]
    if comparator == "LessThan":
        return got < want
    if comparator == "LessThanOrEqualTo":
        return got <= want
    if comparator == "GreaterThan":
        return got > want
    if comparator == "GreaterThanOrEqualTo":
        return got >= want
    if comparator == "EqualTo":
        return got == want
    if comparator == "NotEqualTo":
        return got != want
    if comparator == "In":
        return got in req.integer_values
    if comparator == "NotIn":
        return got not in req.integer_values
    return False


def describe_requirement(req: Requirement, type_name: str | None = None) -> str:
    """Render a requirement as a sentence fragment, e.g. "requires Worker_Locale In [US, CA]"."""
    name = type_name or qualification_ids.system_type_name(req.type_id) or req.type_id
    if req.comparator in PRESENCE_COMPARATORS:
        return f"requires {name} {req.comparator}"
    values = [str(v) for v in req.integer_values] + [_fmt_locale(loc) for loc in req.locale_values]
    if req.comparator in SET_COMPARATORS:
        return f"requires {name} {req.comparator} [{', '.join(values)}]"
    return f"requires {name} {req.comparator} {', '.join(values)}"


def check_action(
    reqs: Iterable[Requirement],
    values: Mapping[str, QualValue],
    action: str,
    *,
    type_names: Mapping[str, str] | None = None,
) -> Verdict:
    """Decide whether a worker with qualification `values` may Discover/Preview/Accept under `reqs`."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; expected one of {ACTIONS}")
    for req in reqs:
        if action not in _GUARDS[req.actions_guarded]:
            continue
        if not requirement_met(req, values.get(req.type_id)):
            name = type_names.get(req.type_id) if type_names else None
            return Verdict(False, req, describe_requirement(req, name))
    return Verdict(True)


def uses_masters(reqs: Iterable[Requirement]) -> bool:
    """True if any requirement is on a Masters qualification type id."""
    return any(req.type_id in qualification_ids.MASTERS_IDS for req in reqs)
