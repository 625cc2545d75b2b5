"""botocore's MTurk service model, and request validation stricter than botocore's client-side checks.

botocore validates only required members, types and `min` on the client; the real service also enforced
`max`, `pattern` and `enum` and answered `ValidationException` ("1 validation error detected: ...").
`validator_for(op)` compiles one checker per operation from the model, once, so validation is cheap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape

TARGET_PREFIX = "MTurkRequesterServiceV20170117"
SIGNING_NAME = "mturk-requester"


@lru_cache(maxsize=1)
def service_model() -> ServiceModel:
    """The MTurk 2017-01-17 model as bundled with the installed botocore."""
    return botocore.session.get_session().get_service_model("mturk")


def operation_names() -> list[str]:
    return list(service_model().operation_names)


def operation_model(name: str) -> OperationModel:
    return service_model().operation_model(name)


@dataclass
class ValidationFailure(Exception):
    """Requests that break the model's constraints. `errors` are AWS-style sentences."""

    errors: list[str]

    @property
    def message(self) -> str:
        n = len(self.errors)
        noun = "error" if n == 1 else "errors"
        return f"{n} validation {noun} detected: " + "; ".join(self.errors)


def _camel(name: str) -> str:
    # AWS reports member paths in lowerCamelCase: 'BonusAmount' -> 'bonusAmount', 'HITId' -> 'hITId'.
    return name[:1].lower() + name[1:]


def _shown(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


Checker = Callable[[Any, str, list], None]

MIN_TIMESTAMP = -62_135_596_800  # 0001-01-01T00:00:00Z
MAX_TIMESTAMP = 253_402_300_799  # 9999-12-31T23:59:59Z: a later time (say, ExpireAt 1e13) would be stored and then
# answered in GetHIT/ListHITs as a time botocore cannot parse ("year 318857 is out of range")


# Limits the real service enforced that botocore's model does not carry (legacy CreateHIT/NotifyWorkers docs,
# reference §2.1 and §11), applied to top-level request members of these names.
EXTRA_CONSTRAINTS: dict[str, dict[str, int]] = {
    "Title": {"min": 1, "max": 128},
    "Description": {"min": 1, "max": 2000},
    "Keywords": {"max": 1000},
    "RequesterAnnotation": {"max": 255},
    "LifetimeInSeconds": {"min": 30, "max": 31_536_000},
    "AssignmentDurationInSeconds": {"min": 30, "max": 31_536_000},
    "AutoApprovalDelayInSeconds": {"min": 0, "max": 2_592_000},
    "MaxAssignments": {"min": 1, "max": 1_000_000_000},
    "NumberOfAdditionalAssignments": {"min": 1, "max": 1_000_000_000},
    "QualificationRequirements": {"max": 10},
    "Subject": {"min": 1, "max": 200},
    "MessageText": {"min": 1, "max": 4096},
    "WorkerIds": {"min": 1, "max": 100},
    "RequesterFeedback": {"max": 1024},
    "Reason": {"max": 1024},
    "Name": {"min": 1, "max": 256},
    "TestDurationInSeconds": {"min": 1, "max": 31_536_000},
    "RetryDelayInSeconds": {"min": 0, "max": 31_536_000},
}


def _compile(shape: Shape, depth: int = 0, extra: dict | None = None) -> Checker:
    meta = {**shape.metadata, **(extra or {})}
    t = shape.type_name
    if t == "structure":
        members = {
            name: _compile(s, depth + 1, EXTRA_CONSTRAINTS.get(name) if depth == 0 else None)
            for name, s in shape.members.items()
        }
        required = tuple(meta.get("required", ()))

        def check_struct(v: Any, path: str, errs: list) -> None:
            if not isinstance(v, dict):
                errs.append(f"Value at '{path or 'request'}' failed to satisfy constraint: Member must be a structure")
                return
            for r in required:
                if v.get(r) is None:
                    errs.append(f"Value null at '{_join(path, r)}' failed to satisfy constraint: Member must not be null")
            for k, item in v.items():
                sub = members.get(k)
                if sub is None:
                    errs.append(f"Unknown member '{k}' at '{path or 'request'}'")
                elif item is not None:
                    sub(item, _join(path, k), errs)

        return check_struct
    if t == "list":
        member = _compile(shape.member, depth + 1)
        lo, hi = meta.get("min"), meta.get("max")

        def check_list(v: Any, path: str, errs: list) -> None:
            if not isinstance(v, list):
                errs.append(f"Value at '{path}' failed to satisfy constraint: Member must be a list")
                return
            if lo is not None and len(v) < lo:
                errs.append(f"Value at '{path}' failed to satisfy constraint: Member must have length greater than or equal to {lo}")
            if hi is not None and len(v) > hi:
                errs.append(f"Value at '{path}' failed to satisfy constraint: Member must have length less than or equal to {hi}")
            for i, item in enumerate(v):
                member(item, f"{path}.{i + 1}.member", errs)

        return check_list
    if t == "string":
        lo, hi = meta.get("min"), meta.get("max")
        pattern = re.compile(meta["pattern"]) if "pattern" in meta else None
        enum = frozenset(shape.enum) if shape.enum else None

        def check_string(v: Any, path: str, errs: list) -> None:
            if not isinstance(v, str):
                errs.append(f"Value '{_shown(v)}' at '{path}' failed to satisfy constraint: Member must be a string")
                return
            if lo is not None and len(v) < lo:
                errs.append(f"Value '{v}' at '{path}' failed to satisfy constraint: Member must have length greater than or equal to {lo}")
            if hi is not None and len(v) > hi:
                errs.append(f"Value '{v[:100]}' at '{path}' failed to satisfy constraint: Member must have length less than or equal to {hi}")
            if pattern is not None and not pattern.search(v):
                errs.append(f"Value '{v[:100]}' at '{path}' failed to satisfy constraint: Member must satisfy regular expression pattern: {pattern.pattern}")
            if "\x00" in v:
                errs.append(f"Value at '{path}' failed to satisfy constraint: Member must not contain NUL (U+0000) characters")
            if enum is not None and v not in enum:
                errs.append(f"Value '{v[:100]}' at '{path}' failed to satisfy constraint: Member must satisfy enum value set: [{', '.join(sorted(enum))}]")

        return check_string
    if t in ("integer", "long"):
        lo, hi = meta.get("min"), meta.get("max")
        bound = 2**31 - 1 if t == "integer" else 2**63 - 1

        def check_int(v: Any, path: str, errs: list) -> None:
            if isinstance(v, bool) or not isinstance(v, int):
                errs.append(f"Value '{_shown(v)}' at '{path}' failed to satisfy constraint: Member must be an integer")
                return
            if not -bound - 1 <= v <= bound:
                errs.append(f"Value '{v}' at '{path}' failed to satisfy constraint: Member must fit in a {t}")
            if lo is not None and v < lo:
                errs.append(f"Value '{v}' at '{path}' failed to satisfy constraint: Member must have value greater than or equal to {lo}")
            if hi is not None and v > hi:
                errs.append(f"Value '{v}' at '{path}' failed to satisfy constraint: Member must have value less than or equal to {hi}")

        return check_int
    if t == "boolean":

        def check_bool(v: Any, path: str, errs: list) -> None:
            if not isinstance(v, bool):
                errs.append(f"Value '{v}' at '{path}' failed to satisfy constraint: Member must be a boolean")

        return check_bool
    if t == "timestamp":

        def check_ts(v: Any, path: str, errs: list) -> None:
            # Within what clients can read back: botocore turns epoch seconds into a datetime (years 1-9999).
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or not MIN_TIMESTAMP <= v <= MAX_TIMESTAMP:
                errs.append(f"Value '{_shown(v)}' at '{path}' failed to satisfy constraint: Member must be a timestamp in epoch seconds")

        return check_ts

    def check_any(v: Any, path: str, errs: list) -> None:
        return None

    return check_any


def _join(path: str, name: str) -> str:
    return f"{path}.{_camel(name)}" if path else _camel(name)


@lru_cache(maxsize=None)
def validator_for(operation: str) -> Callable[[Any], None]:
    """A function that raises ValidationFailure when a request body breaks the operation's input shape."""
    shape = operation_model(operation).input_shape
    if shape is None:

        def no_input(body: Any) -> None:
            if not isinstance(body, dict):
                raise ValidationFailure(["Request body must be a JSON object"])

        return no_input
    checker = _compile(shape)

    def validate(body: Any) -> None:
        errs: list[str] = []
        checker(body, "", errs)
        if errs:
            raise ValidationFailure(errs[:10])

    return validate
