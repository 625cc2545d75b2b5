"""Property and example tests for hitkit.server.domain.eligibility (QualificationRequirements)."""

from __future__ import annotations

import operator
from typing import Any, Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hitkit.mturk import qualification_ids as qids
from hitkit.server.domain.eligibility import (
    ACTIONS,
    ACTIONS_GUARDED,
    COMPARATORS,
    QualValue,
    Requirement,
    RequirementError,
    Verdict,
    check_action,
    describe_requirement,
    parse_requirements,
    requirement_met,
    requirements_to_api,
    uses_masters,
)

FAST = settings(max_examples=200, deadline=None)

CUSTOM_A = "3CUSTOMQUALTYPEAAAAAAAAAAAAAAA"
CUSTOM_B = "3CUSTOMQUALTYPEBBBBBBBBBBBBBBB"
INT_TYPE_IDS = [
    qids.NUMBER_HITS_APPROVED,
    qids.PERCENT_ASSIGNMENTS_APPROVED,
    qids.ADULT,
    qids.MASTERS_SANDBOX,
    qids.MASTERS_PRODUCTION,
    CUSTOM_A,
    CUSTOM_B,
]
ORDERING_OPS: dict[str, Callable[[int, int], bool]] = {
    "LessThan": operator.lt,
    "LessThanOrEqualTo": operator.le,
    "GreaterThan": operator.gt,
    "GreaterThanOrEqualTo": operator.ge,
    "EqualTo": operator.eq,
    "NotEqualTo": operator.ne,
}
INT32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)
small_ints = st.integers(min_value=-3, max_value=103)
countries = st.sampled_from(["US", "CA", "GB", "IN", "DE"]) | st.from_regex(r"[A-Z]{2}", fullmatch=True)
subdivisions = st.none() | st.sampled_from(["NY", "CA", "TX", "WA"]) | st.from_regex(r"[A-Z0-9]{2}", fullmatch=True)
locale_dicts = st.builds(
    lambda c, s: {"Country": c} if s is None else {"Country": c, "Subdivision": s}, countries, subdivisions
)


def one(raw: dict[str, Any]) -> Requirement:
    """Parse a single raw requirement dict."""
    (req,) = parse_requirements([raw])
    return req


def raw_int(type_id: str, comparator: str, *values: int, **extra: Any) -> dict[str, Any]:
    """Build a raw integer requirement dict."""
    d: dict[str, Any] = {"QualificationTypeId": type_id, "Comparator": comparator}
    if values:
        d["IntegerValues"] = list(values)
    d.update(extra)
    return d


def raw_loc(comparator: str, *locales: str, **extra: Any) -> dict[str, Any]:
    """Build a raw Worker_Locale requirement from "US" / "US-NY" strings."""
    d: dict[str, Any] = {"QualificationTypeId": qids.LOCALE, "Comparator": comparator}
    if locales:
        d["LocaleValues"] = [
            {"Country": loc.split("-")[0], "Subdivision": loc.split("-")[1]} if "-" in loc else {"Country": loc}
            for loc in locales
        ]
    d.update(extra)
    return d


def loc_value(text: str) -> QualValue:
    """Build a worker locale value from "US" / "US-NY"."""
    country, _, sub = text.partition("-")
    return QualValue(country=country, subdivision=sub or None)


@st.composite
def raw_requirements(draw: st.DrawFn, type_id: str | None = None) -> dict[str, Any]:
    """Strategy for one valid raw QualificationRequirement dict."""
    if type_id is None:
        type_id = draw(st.sampled_from([qids.LOCALE, *INT_TYPE_IDS]))
    d: dict[str, Any] = {"QualificationTypeId": type_id}
    if type_id == qids.LOCALE:
        comparator = draw(st.sampled_from(["EqualTo", "NotEqualTo", "In", "NotIn", "Exists", "DoesNotExist"]))
        n = {"EqualTo": 1, "NotEqualTo": 1, "Exists": 0, "DoesNotExist": 0}.get(comparator)
        n = draw(st.integers(1, 30)) if n is None else n
        if n:
            d["LocaleValues"] = draw(st.lists(locale_dicts, min_size=n, max_size=n))
    else:
        comparator = draw(st.sampled_from(COMPARATORS))
        n = {"In": None, "NotIn": None, "Exists": 0, "DoesNotExist": 0}.get(comparator, 1)
        n = draw(st.integers(1, 15)) if n is None else n
        if n:
            d["IntegerValues"] = draw(st.lists(small_ints, min_size=n, max_size=n))
    d["Comparator"] = comparator
    guard = draw(st.sampled_from(["omit", "rtp-true", "rtp-false", *ACTIONS_GUARDED]))
    if guard == "rtp-true":
        d["RequiredToPreview"] = True
    elif guard == "rtp-false":
        d["RequiredToPreview"] = False
    elif guard != "omit":
        d["ActionsGuarded"] = guard
    return d


requirement_lists = st.lists(
    raw_requirements(), max_size=10, unique_by=lambda d: d["QualificationTypeId"]
).map(parse_requirements)


@st.composite
def worker_values(draw: st.DrawFn) -> dict[str, QualValue]:
    """Strategy for a worker's qualification values over the known type ids (some missing)."""
    values: dict[str, QualValue] = {}
    if draw(st.booleans()):
        values[qids.LOCALE] = QualValue(country=draw(countries), subdivision=draw(subdivisions))
    for type_id in INT_TYPE_IDS:
        if draw(st.booleans()):
            values[type_id] = QualValue(integer=draw(small_ints))
    return values


any_value = st.none() | st.builds(QualValue, integer=st.none() | small_ints, country=st.none() | countries,
                                  subdivision=subdivisions)


# --- comparators on integers -----------------------------------------------------------------


@FAST
@given(st.sampled_from(sorted(ORDERING_OPS)), INT32, INT32)
def test_single_value_integer_comparators(comparator: str, want: int, got: int) -> None:
    """Ordering and equality comparators behave like the Python operators they name."""
    req = one(raw_int(CUSTOM_A, comparator, want))
    assert requirement_met(req, QualValue(integer=got)) is ORDERING_OPS[comparator](got, want)


@FAST
@given(st.sampled_from(sorted(ORDERING_OPS)), small_ints)
def test_single_value_comparators_at_boundary(comparator: str, want: int) -> None:
    """Boundary values want-1, want, want+1 agree with the operators."""
    req = one(raw_int(qids.PERCENT_ASSIGNMENTS_APPROVED, comparator, want))
    for got in (want - 1, want, want + 1):
        assert requirement_met(req, QualValue(integer=got)) is ORDERING_OPS[comparator](got, want)


@FAST
@given(st.lists(small_ints, min_size=1, max_size=15), small_ints)
def test_in_and_not_in_integers(values: list[int], got: int) -> None:
    """In is set membership and NotIn its complement (for a worker who has the qualification)."""
    worker = QualValue(integer=got)
    assert requirement_met(one(raw_int(CUSTOM_A, "In", *values)), worker) is (got in values)
    assert requirement_met(one(raw_int(CUSTOM_A, "NotIn", *values)), worker) is (got not in values)


@FAST
@given(st.sampled_from(INT_TYPE_IDS), any_value.filter(lambda v: v is not None))
def test_exists_passes_whatever_the_value(type_id: str, value: QualValue) -> None:
    """Exists passes for any held value and DoesNotExist fails for any held value."""
    assert requirement_met(one(raw_int(type_id, "Exists")), value)
    assert not requirement_met(one(raw_int(type_id, "DoesNotExist")), value)


@FAST
@given(raw_requirements())
def test_missing_qualification_only_passes_does_not_exist(raw: dict[str, Any]) -> None:
    """A worker lacking the qualification fails every comparator except DoesNotExist."""
    req = one(raw)
    assert requirement_met(req, None) is (req.comparator == "DoesNotExist")


@pytest.mark.parametrize(
    "raw",
    [
        raw_int(CUSTOM_A, "NotEqualTo", 5),
        raw_int(CUSTOM_A, "NotIn", 1, 2),
        raw_loc("NotEqualTo", "US"),
        raw_loc("NotIn", "US", "CA"),
        raw_int(CUSTOM_A, "LessThan", 5),
        raw_int(CUSTOM_A, "Exists"),
    ],
)
def test_negative_comparators_fail_without_qualification(raw: dict[str, Any]) -> None:
    """hitkit's rule: NotEqualTo/NotIn also fail when the worker has no such qualification."""
    assert not requirement_met(one(raw), None)
    absent = {**raw, "Comparator": "DoesNotExist", "IntegerValues": None, "LocaleValues": None}
    assert requirement_met(one(absent), None)


@pytest.mark.parametrize("comparator", ["LessThan", "GreaterThan", "EqualTo", "NotEqualTo"])
def test_integer_requirement_against_locale_only_value_fails(comparator: str) -> None:
    """An integer requirement is never met by a value that has no integer."""
    assert not requirement_met(one(raw_int(CUSTOM_A, comparator, 1)), QualValue(country="US"))
    assert not requirement_met(one(raw_int(CUSTOM_A, "NotIn", 1)), QualValue(country="US"))


# --- locale matching ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("want", "worker", "met"),
    [
        ("US", "US", True),
        ("US", "US-NY", True),
        ("US", "CA", False),
        ("US-NY", "US-NY", True),
        ("US-NY", "US-CA", False),
        ("US-NY", "US", False),
        ("US-NY", "CA-NY", False),
        ("CA", "CA-ON", True),
    ],
)
def test_locale_equal_to_examples(want: str, worker: str, met: bool) -> None:
    """Country-only matches any subdivision; a Subdivision requires both to match."""
    assert requirement_met(one(raw_loc("EqualTo", want)), loc_value(worker)) is met
    assert requirement_met(one(raw_loc("NotEqualTo", want)), loc_value(worker)) is (not met)


def _locale_match(want: dict[str, str], worker: QualValue) -> bool:
    """Independent statement of the locale-matching rule."""
    if want["Country"] != worker.country:
        return False
    return "Subdivision" not in want or want["Subdivision"] == worker.subdivision


@FAST
@given(st.lists(locale_dicts, min_size=1, max_size=30), countries, subdivisions)
def test_locale_in_and_not_in(wants: list[dict[str, str]], country: str, subdivision: str | None) -> None:
    """In passes iff some requirement locale matches; NotIn iff none does."""
    worker = QualValue(country=country, subdivision=subdivision)
    expected = any(_locale_match(w, worker) for w in wants)
    base = {"QualificationTypeId": qids.LOCALE, "LocaleValues": wants}
    assert requirement_met(one({**base, "Comparator": "In"}), worker) is expected
    assert requirement_met(one({**base, "Comparator": "NotIn"}), worker) is (not expected)


@FAST
@given(locale_dicts, countries, subdivisions)
def test_locale_equal_and_not_equal(want: dict[str, str], country: str, subdivision: str | None) -> None:
    """EqualTo passes iff the single locale matches; NotEqualTo is its complement."""
    worker = QualValue(country=country, subdivision=subdivision)
    base = {"QualificationTypeId": qids.LOCALE, "LocaleValues": [want]}
    assert requirement_met(one({**base, "Comparator": "EqualTo"}), worker) is _locale_match(want, worker)
    assert requirement_met(one({**base, "Comparator": "NotEqualTo"}), worker) is not _locale_match(want, worker)


@FAST
@given(countries, subdivisions)
def test_subdivision_requirement_implies_country_requirement(country: str, subdivision: str | None) -> None:
    """Meeting Country+Subdivision always implies meeting the Country alone."""
    worker = loc_value("US-NY")
    with_sub = {"Country": country} if subdivision is None else {"Country": country, "Subdivision": subdivision}
    if requirement_met(one(raw_loc("EqualTo") | {"LocaleValues": [with_sub]}), worker):
        assert requirement_met(one(raw_loc("EqualTo", country)), worker)


@pytest.mark.parametrize("comparator", ["EqualTo", "NotEqualTo", "In", "NotIn"])
def test_locale_requirement_against_integer_value_fails(comparator: str) -> None:
    """A locale requirement is never met by a value with no country."""
    assert not requirement_met(one(raw_loc(comparator, "US")), QualValue(integer=1))


def test_locale_exists() -> None:
    """Exists on Worker_Locale passes for any held locale."""
    assert requirement_met(one(raw_loc("Exists")), loc_value("ZZ"))


# --- ActionsGuarded ---------------------------------------------------------------------------


@FAST
@given(requirement_lists, worker_values())
def test_action_order_discover_preview_accept(reqs: tuple[Requirement, ...], values: dict[str, QualValue]) -> None:
    """If a worker may Accept they may Preview, and if they may Preview they may Discover."""
    accept = check_action(reqs, values, "Accept").allowed
    preview = check_action(reqs, values, "Preview").allowed
    discover = check_action(reqs, values, "Discover").allowed
    assert (not accept or preview) and (not preview or discover)


_GUARDED_BY = {
    "Accept": {"Accept"},
    "PreviewAndAccept": {"Preview", "Accept"},
    "DiscoverPreviewAndAccept": {"Discover", "Preview", "Accept"},
}


@FAST
@given(requirement_lists, worker_values(), st.sampled_from(ACTIONS))
def test_check_action_is_conjunction_of_guarding_requirements(
    reqs: tuple[Requirement, ...], values: dict[str, QualValue], action: str
) -> None:
    """Allowed iff every requirement guarding the action is met; failed names the first unmet one."""
    verdict = check_action(reqs, values, action)
    guarding = [r for r in reqs if action in _GUARDED_BY[r.actions_guarded]]
    unmet = [r for r in guarding if not requirement_met(r, values.get(r.type_id))]
    assert verdict.allowed is (not unmet)
    if unmet:
        assert verdict.failed == unmet[0]
        assert verdict.reason == describe_requirement(unmet[0])
        assert verdict.reason.startswith("requires ")
    else:
        assert verdict == Verdict(True, None, "")


@pytest.mark.parametrize(
    ("guard", "blocked"),
    [
        ("Accept", {"Accept"}),
        ("PreviewAndAccept", {"Preview", "Accept"}),
        ("DiscoverPreviewAndAccept", {"Discover", "Preview", "Accept"}),
    ],
)
def test_guard_blocks_exactly_its_actions(guard: str, blocked: set[str]) -> None:
    """An unmet requirement blocks exactly the actions its ActionsGuarded names."""
    reqs = parse_requirements([raw_int(qids.NUMBER_HITS_APPROVED, "GreaterThan", 100, ActionsGuarded=guard)])
    values = {qids.NUMBER_HITS_APPROVED: QualValue(integer=5)}
    for action in ACTIONS:
        assert check_action(reqs, values, action).allowed is (action not in blocked)
    met = {qids.NUMBER_HITS_APPROVED: QualValue(integer=500)}
    assert all(check_action(reqs, met, action).allowed for action in ACTIONS)


def test_no_requirements_allows_everything() -> None:
    """With no requirements every action is allowed."""
    for action in ACTIONS:
        assert check_action((), {}, action) == Verdict(True)


def test_verdict_reason_example() -> None:
    """The reason is a human sentence naming the failed requirement."""
    reqs = parse_requirements([raw_loc("In", "US", "CA")])
    verdict = check_action(reqs, {qids.LOCALE: loc_value("GB")}, "Accept")
    assert not verdict.allowed
    assert verdict.failed == reqs[0]
    assert verdict.reason == "requires Worker_Locale In [US, CA]"


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (raw_int(qids.PERCENT_ASSIGNMENTS_APPROVED, "GreaterThanOrEqualTo", 95),
         "requires Worker_PercentAssignmentsApproved GreaterThanOrEqualTo 95"),
        (raw_int(qids.MASTERS_PRODUCTION, "Exists"), "requires Masters Exists"),
        (raw_loc("EqualTo", "US-NY"), "requires Worker_Locale EqualTo US-NY"),
        (raw_int(CUSTOM_A, "NotIn", 1, 2), f"requires {CUSTOM_A} NotIn [1, 2]"),
    ],
)
def test_describe_requirement(raw: dict[str, Any], text: str) -> None:
    """Descriptions use system type names, falling back to the type id."""
    assert describe_requirement(one(raw)) == text


def test_check_action_uses_custom_type_names() -> None:
    """type_names lets callers name custom qualification types in the reason."""
    reqs = parse_requirements([raw_int(CUSTOM_A, "Exists")])
    verdict = check_action(reqs, {}, "Accept", type_names={CUSTOM_A: "Good transcriber"})
    assert verdict.reason == "requires Good transcriber Exists"


def test_check_action_rejects_unknown_action() -> None:
    """Only Discover, Preview and Accept are actions."""
    with pytest.raises(ValueError):
        check_action((), {}, "Submit")


# --- parsing, normalization, round trip --------------------------------------------------------


@FAST
@given(requirement_lists)
def test_api_round_trip(reqs: tuple[Requirement, ...]) -> None:
    """parse_requirements(requirements_to_api(reqs)) reproduces the normalized requirements."""
    assert parse_requirements(requirements_to_api(reqs)) == reqs


@FAST
@given(raw_requirements())
def test_api_shape(raw: dict[str, Any]) -> None:
    """Output omits empty lists and RequiredToPreview and always carries ActionsGuarded."""
    (out,) = requirements_to_api(parse_requirements([raw]))
    assert "RequiredToPreview" not in out
    assert out["ActionsGuarded"] in ACTIONS_GUARDED
    assert out["QualificationTypeId"] == raw["QualificationTypeId"]
    assert out["Comparator"] == raw["Comparator"]
    assert out.get("IntegerValues") == raw.get("IntegerValues")
    assert out.get("LocaleValues") == raw.get("LocaleValues")
    for key in ("IntegerValues", "LocaleValues"):
        assert out.get(key, [None]) != []


def test_requirements_to_api_example() -> None:
    """A concrete rendering matches botocore's output shape."""
    reqs = parse_requirements([raw_loc("In", "US-NY", "CA", RequiredToPreview=True), raw_int(CUSTOM_A, "Exists")])
    assert requirements_to_api(reqs) == [
        {
            "QualificationTypeId": qids.LOCALE,
            "Comparator": "In",
            "LocaleValues": [{"Country": "US", "Subdivision": "NY"}, {"Country": "CA"}],
            "ActionsGuarded": "PreviewAndAccept",
        },
        {"QualificationTypeId": CUSTOM_A, "Comparator": "Exists", "ActionsGuarded": "Accept"},
    ]


@pytest.mark.parametrize(
    ("extra", "guard"),
    [
        ({}, "Accept"),
        ({"RequiredToPreview": True}, "PreviewAndAccept"),
        ({"RequiredToPreview": False}, "Accept"),
        ({"ActionsGuarded": "Accept"}, "Accept"),
        ({"ActionsGuarded": "PreviewAndAccept"}, "PreviewAndAccept"),
        ({"ActionsGuarded": "DiscoverPreviewAndAccept"}, "DiscoverPreviewAndAccept"),
    ],
)
def test_actions_guarded_normalization(extra: dict[str, Any], guard: str) -> None:
    """RequiredToPreview maps onto ActionsGuarded; the default is Accept."""
    assert one(raw_int(CUSTOM_A, "Exists", **extra)).actions_guarded == guard


def test_parse_empty_and_none() -> None:
    """No requirements parse to an empty tuple."""
    assert parse_requirements([]) == ()
    assert parse_requirements(None) == ()


def test_parse_normalizes_to_tuples() -> None:
    """Values become tuples; locales become (Country, Subdivision|None) pairs."""
    req = one(raw_loc("In", "US-NY", "CA"))
    assert req == Requirement(qids.LOCALE, "In", (), (("US", "NY"), ("CA", None)), "Accept")
    assert one(raw_int(CUSTOM_A, "In", 3, 1)).integer_values == (3, 1)


def test_identical_duplicates_are_fine() -> None:
    """The same requirement twice (even spelled differently) is accepted and kept."""
    reqs = parse_requirements(
        [
            raw_int(CUSTOM_A, "GreaterThan", 5, RequiredToPreview=True),
            raw_int(CUSTOM_A, "GreaterThan", 5, ActionsGuarded="PreviewAndAccept"),
        ]
    )
    assert len(reqs) == 2 and reqs[0] == reqs[1]


def test_ten_requirements_allowed() -> None:
    """Exactly ten requirements is within the limit."""
    raws = [raw_int(f"3CUSTOM{i:023d}", "Exists") for i in range(10)]
    assert len(parse_requirements(raws)) == 10


def test_in_value_count_limits_allowed() -> None:
    """In accepts 15 IntegerValues and 30 LocaleValues."""
    assert len(one(raw_int(CUSTOM_A, "In", *range(15))).integer_values) == 15
    assert len(one(raw_loc("NotIn", *[f"A{chr(65 + i % 26)}" for i in range(30)])).locale_values) == 30


# --- validation failures ---------------------------------------------------------------------

US_CA_MESSAGE = (
    'The value "US,CA" is not valid for the parameter LocaleValue. '
    "LocaleValue must be null when used with the EqualTo comparator"
)


def test_equal_to_with_two_locales_message() -> None:
    """The documented MTurk wire message for EqualTo with several countries."""
    with pytest.raises(RequirementError) as info:
        parse_requirements([raw_loc("EqualTo", "US", "CA")])
    assert info.value.message == US_CA_MESSAGE
    assert str(info.value) == US_CA_MESSAGE
    assert info.value.parameter == "LocaleValue"
    assert isinstance(info.value, ValueError)


BAD_CASES: list[tuple[str, list[Any], str, str]] = [
    ("too-many", [raw_int(f"3CUSTOM{i:023d}", "Exists") for i in range(11)], "QualificationRequirements",
     "maximum of 10"),
    ("not-a-list", {"QualificationTypeId": CUSTOM_A}, "QualificationRequirements",  # type: ignore[list-item]
     "must be a list"),
    ("item-not-dict", ["abc"], "QualificationRequirements", "must be a structure"),
    ("missing-type", [{"Comparator": "Exists"}], "QualificationTypeId", "QualificationTypeId"),
    ("empty-type", [raw_int("", "Exists")], "QualificationTypeId", "QualificationTypeId"),
    ("missing-comparator", [{"QualificationTypeId": CUSTOM_A}], "Comparator", "Comparator"),
    ("bad-comparator", [raw_int(CUSTOM_A, "Equals", 1)], "Comparator", '"Equals"'),
    ("lt-no-value", [raw_int(CUSTOM_A, "LessThan")], "IntegerValue", "exactly one IntegerValue"),
    ("lt-two-values", [raw_int(CUSTOM_A, "GreaterThan", 1, 2)], "IntegerValue", "exactly one IntegerValue"),
    ("gte-locale-type", [raw_loc("GreaterThanOrEqualTo")], "Comparator", "cannot be used with the Worker_Locale"),
    ("lte-with-locale", [raw_loc("LessThanOrEqualTo", "US")], "Comparator", "cannot be used with the Worker_Locale"),
    ("eq-two-ints", [raw_int(CUSTOM_A, "EqualTo", 1, 2)], "IntegerValue", 'The value "1,2" is not valid'),
    ("ne-two-locales", [raw_loc("NotEqualTo", "US", "CA-ON")], "LocaleValue", 'The value "US,CA-ON" is not valid'),
    ("eq-no-value", [raw_int(CUSTOM_A, "EqualTo")], "QualificationRequirements", "exactly one IntegerValue or one"),
    ("eq-empty-lists", [raw_int(CUSTOM_A, "EqualTo", IntegerValues=[], LocaleValues=[])], "QualificationRequirements",
     "exactly one IntegerValue or one"),
    ("in-no-value", [raw_int(CUSTOM_A, "In")], "QualificationRequirements", "at least one"),
    ("in-16-ints", [raw_int(CUSTOM_A, "In", *range(16))], "IntegerValue", "at most 15"),
    ("notin-31-locales", [raw_loc("NotIn", *[f"A{chr(65 + i % 26)}" for i in range(31)])], "LocaleValue",
     "at most 30"),
    ("exists-with-int", [raw_int(CUSTOM_A, "Exists", 1)], "IntegerValue", "must be null when used with the Exists"),
    ("dne-with-locale", [raw_loc("DoesNotExist", "US")], "LocaleValue", "must be null when used with the DoesNotExist"),
    ("locale-on-int-type", [raw_int(CUSTOM_A, "EqualTo", LocaleValues=[{"Country": "US"}])], "LocaleValue",
     "only be used with the Worker_Locale"),
    ("int-on-locale-type", [raw_int(qids.LOCALE, "EqualTo", 1)], "IntegerValue",
     "cannot be used with the Worker_Locale"),
    ("country-lowercase", [raw_loc("EqualTo", "us")], "LocaleValue", "Country"),
    ("country-three-letters", [raw_loc("EqualTo", "USA")], "LocaleValue", "Country"),
    ("country-digits", [raw_loc("EqualTo", "U1")], "LocaleValue", "Country"),
    ("country-missing", [raw_loc("EqualTo") | {"LocaleValues": [{"Subdivision": "NY"}]}], "LocaleValue", "Country"),
    ("subdivision-lowercase", [raw_loc("EqualTo", "US-ny")], "LocaleValue", "Subdivision"),
    ("subdivision-long", [raw_loc("EqualTo", "US-NYC")], "LocaleValue", "Subdivision"),
    ("subdivision-iso-prefix", [raw_loc("EqualTo") | {"LocaleValues": [{"Country": "US", "Subdivision": "US-NY"}]}],
     "LocaleValue", "Subdivision"),
    ("locale-not-dict", [raw_loc("EqualTo") | {"LocaleValues": ["US"]}], "LocaleValue", "LocaleValue"),
    ("locales-not-list", [raw_loc("EqualTo") | {"LocaleValues": {"Country": "US"}}], "LocaleValue", "LocaleValues"),
    ("int-is-bool", [raw_int(CUSTOM_A, "EqualTo", True)], "IntegerValue", "must be an integer"),
    ("int-is-float", [raw_int(CUSTOM_A, "EqualTo", 1.0)], "IntegerValue", "must be an integer"),
    ("int-is-str", [raw_int(CUSTOM_A, "EqualTo", IntegerValues=["1"])], "IntegerValue", "must be an integer"),
    ("int-too-big", [raw_int(CUSTOM_A, "EqualTo", 2**31)], "IntegerValue", "between"),
    ("ints-not-list", [raw_int(CUSTOM_A, "EqualTo", IntegerValues=5)], "IntegerValue", "IntegerValues"),
    ("rtp-and-guard", [raw_int(CUSTOM_A, "Exists", RequiredToPreview=True, ActionsGuarded="Accept")],
     "RequiredToPreview", "cannot be combined with ActionsGuarded"),
    ("rtp-false-and-guard", [raw_int(CUSTOM_A, "Exists", RequiredToPreview=False, ActionsGuarded="Accept")],
     "RequiredToPreview", "cannot be combined with ActionsGuarded"),
    ("rtp-not-bool", [raw_int(CUSTOM_A, "Exists", RequiredToPreview="true")], "RequiredToPreview", "boolean"),
    ("bad-guard", [raw_int(CUSTOM_A, "Exists", ActionsGuarded="Preview")], "ActionsGuarded", '"Preview"'),
]


def test_range_on_one_type_is_two_requirements() -> None:
    """`>= 5` and `< 50` on one qualification both apply (a range), rather than being refused."""
    reqs = parse_requirements([raw_int(CUSTOM_A, "GreaterThanOrEqualTo", 5), raw_int(CUSTOM_A, "LessThan", 50)])
    assert len(reqs) == 2
    assert check_action(reqs, {CUSTOM_A: QualValue(integer=10)}, "Accept").allowed
    assert not check_action(reqs, {CUSTOM_A: QualValue(integer=50)}, "Accept").allowed
    assert not check_action(reqs, {CUSTOM_A: QualValue(integer=4)}, "Accept").allowed


@pytest.mark.parametrize(("raw", "parameter", "fragment"), [c[1:] for c in BAD_CASES], ids=[c[0] for c in BAD_CASES])
def test_validation_failures(raw: list[Any], parameter: str, fragment: str) -> None:
    """Each MTurk rule violation raises RequirementError naming the parameter."""
    with pytest.raises(RequirementError) as info:
        parse_requirements(raw)
    assert info.value.parameter == parameter
    assert fragment in info.value.message
    assert str(info.value) == info.value.message


@FAST
@given(raw_requirements(type_id=qids.LOCALE), st.lists(small_ints, min_size=1, max_size=3))
def test_any_integer_values_on_locale_rejected(raw: dict[str, Any], ints: list[int]) -> None:
    """IntegerValues are never allowed with Worker_Locale, whatever the comparator."""
    with pytest.raises(RequirementError):
        parse_requirements([{**raw, "IntegerValues": ints}])


@FAST
@given(raw_requirements(type_id=CUSTOM_A), st.lists(locale_dicts, min_size=1, max_size=3))
def test_any_locale_values_on_non_locale_type_rejected(raw: dict[str, Any], locales: list[dict[str, str]]) -> None:
    """LocaleValues are only allowed with Worker_Locale, whatever the comparator."""
    with pytest.raises(RequirementError) as info:
        parse_requirements([{**raw, "LocaleValues": locales}])
    assert info.value.parameter == "LocaleValue"


@FAST
@given(st.text(max_size=3), st.one_of(st.none(), st.text(max_size=3)))
def test_locale_format_property(country: str, subdivision: str | None) -> None:
    """A locale parses iff Country is [A-Z]{2} and Subdivision is absent or [A-Z0-9]{2}."""
    loc: dict[str, Any] = {"Country": country}
    if subdivision is not None:
        loc["Subdivision"] = subdivision
    upper_alnum = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    ok = (
        len(country) == 2
        and all("A" <= ch <= "Z" for ch in country)
        and (subdivision is None or (len(subdivision) == 2 and set(subdivision) <= upper_alnum))
    )
    raw = {"QualificationTypeId": qids.LOCALE, "Comparator": "EqualTo", "LocaleValues": [loc]}
    if ok:
        assert one(raw).locale_values == ((country, subdivision),)
    else:
        with pytest.raises(RequirementError):
            parse_requirements([raw])


# --- Masters and system ids ---------------------------------------------------------------------


def test_uses_masters() -> None:
    """uses_masters detects either Masters id and nothing else."""
    assert uses_masters(parse_requirements([raw_int(qids.MASTERS_SANDBOX, "Exists")]))
    assert uses_masters(parse_requirements([raw_loc("EqualTo", "US"), raw_int(qids.MASTERS_PRODUCTION, "Exists")]))
    assert not uses_masters(parse_requirements([raw_loc("EqualTo", "US"), raw_int(CUSTOM_A, "Exists")]))
    assert not uses_masters(())


def test_system_qualification_ids() -> None:
    """System ids are the documented constants and all have names."""
    assert qids.LOCALE == "00000000000000000071"
    assert qids.ADULT == "00000000000000000060"
    assert qids.NUMBER_HITS_APPROVED == "00000000000000000040"
    assert qids.PERCENT_ASSIGNMENTS_APPROVED == "000000000000000000L0"
    assert qids.MASTERS_IDS == {"2ARFPLSP75KLA8M8DH1HTEQVJT3SY6", "2F1QJWKUDD8XADTFD2Q0G6UTO95ALH"}
    assert qids.SYSTEM_TYPE_IDS == {
        qids.LOCALE, qids.ADULT, qids.NUMBER_HITS_APPROVED, qids.PERCENT_ASSIGNMENTS_APPROVED, *qids.MASTERS_IDS
    }
    assert set(qids.SYSTEM_TYPES) == qids.SYSTEM_TYPE_IDS
    assert qids.SYSTEM_TYPES[qids.LOCALE][0] == "Worker_Locale"
    assert all(qids.SYSTEM_TYPES[i][0] == "Masters" for i in qids.MASTERS_IDS)
    assert all(name and desc for name, desc in qids.SYSTEM_TYPES.values())
    assert qids.system_type_name(CUSTOM_A) is None
