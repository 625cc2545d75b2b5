"""QualificationTypeIds of the MTurk system qualification types (Locale, Adult, approval stats, Masters)."""

from __future__ import annotations

__all__ = [
    "ADULT",
    "LOCALE",
    "MASTERS_IDS",
    "MASTERS_PRODUCTION",
    "MASTERS_SANDBOX",
    "NUMBER_HITS_APPROVED",
    "PERCENT_ASSIGNMENTS_APPROVED",
    "SYSTEM_TYPES",
    "SYSTEM_TYPE_IDS",
    "system_type_name",
]

LOCALE = "00000000000000000071"
ADULT = "00000000000000000060"
NUMBER_HITS_APPROVED = "00000000000000000040"
PERCENT_ASSIGNMENTS_APPROVED = "000000000000000000L0"
MASTERS_SANDBOX = "2ARFPLSP75KLA8M8DH1HTEQVJT3SY6"
MASTERS_PRODUCTION = "2F1QJWKUDD8XADTFD2Q0G6UTO95ALH"

MASTERS_IDS: frozenset[str] = frozenset({MASTERS_SANDBOX, MASTERS_PRODUCTION})

SYSTEM_TYPES: dict[str, tuple[str, str]] = {
    LOCALE: (
        "Worker_Locale",
        "The Location of the Worker, as specified in the Worker's mailing address.",
    ),
    ADULT: (
        "Worker_Adult",
        "The Worker has agreed to view adult content (1) or not (0).",
    ),
    NUMBER_HITS_APPROVED: (
        "Worker_NumberHITsApproved",
        "The total number of HITs submitted by the Worker that have been approved.",
    ),
    PERCENT_ASSIGNMENTS_APPROVED: (
        "Worker_PercentAssignmentsApproved",
        "The percentage of assignments the Worker has submitted that were subsequently approved "
        "by the Requester, over all assignments the Worker has submitted (100 until 100 submissions).",
    ),
    MASTERS_SANDBOX: (
        "Masters",
        "Workers who have demonstrated excellence across a wide range of HITs (sandbox).",
    ),
    MASTERS_PRODUCTION: (
        "Masters",
        "Workers who have demonstrated excellence across a wide range of HITs.",
    ),
}

SYSTEM_TYPE_IDS: frozenset[str] = frozenset(SYSTEM_TYPES)


def system_type_name(type_id: str) -> str | None:
    """Return the Name of a system qualification type, or None for other ids."""
    entry = SYSTEM_TYPES.get(type_id)
    return entry[0] if entry is not None else None
