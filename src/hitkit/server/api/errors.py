"""The errors the MTurk API answers with, shaped as the real service gave them (reference §5).

Every error body is `{"__type", "Message", ...}`; RequestError and ServiceFault also carry `TurkErrorCode`.
Messages end in ` (epoch-millis)` as MTurk's did.
"""

from __future__ import annotations

import time


class ApiError(Exception):
    """An error answer. `body()` gives the JSON object, `status` the HTTP status."""

    status = 400
    type_name = "RequestError"

    def __init__(self, message: str, turk_error_code: str | None = None, **extra: str) -> None:
        super().__init__(message)
        self.message = message
        self.turk_error_code = turk_error_code
        self.extra = extra

    def body(self, now: float | None = None) -> dict:
        ms = int((now if now is not None else time.time()) * 1000)
        out: dict = {"__type": self.type_name, "Message": f"{self.message} ({ms})"}
        if self.turk_error_code:
            out["TurkErrorCode"] = self.turk_error_code
        out.update(self.extra)
        return out


class RequestError(ApiError):
    """MTurk's client-fault error, with a TurkErrorCode."""


class ServiceFault(ApiError):
    status = 500
    type_name = "ServiceFault"


class ServiceUnavailable(ApiError):
    """The database cannot be reached or written just now (restarting, disk full): nothing was stored, and the
    call may be retried (boto3 retries a 503 by itself)."""

    status = 503
    type_name = "ServiceUnavailable"


def database_unavailable(error: Exception) -> ServiceUnavailable | None:
    """The answer for a database error that is the database's state, not the request's (None for others)."""
    text = str(getattr(error, "orig", error)).lower()
    if "database or disk is full" in text or "no space left" in text or "disk full" in text:
        return ServiceUnavailable("The server's disk is full: nothing was stored. An administrator must free space; "
                                  "then retry.")
    if getattr(error, "connection_invalidated", False) or any(s in text for s in (
            "connection refused", "server closed the connection", "terminating connection", "connection is closed",
            "the database system is starting up", "the database system is shutting down", "could not connect",
            "consuming input failed", "connection timeout", "unable to open database file", "too many clients",
            "remaining connection slots", "queuepool limit")):
        return ServiceUnavailable("The server's database is not reachable just now (restarting?): nothing was "
                                  "stored. Retry in a few seconds.")
    return None


class ParameterValidationError(ApiError):
    """A semantically invalid parameter (MTurk's undeclared `ParameterValidationError`)."""

    type_name = "ParameterValidationError"

    def __init__(self, message: str, parameter: str) -> None:
        super().__init__(message, "AWS.MechanicalTurk.InvalidParameterValue", Parameter=parameter)


class ValidationException(ApiError):
    """A model constraint (length, pattern, range, enum) broken; the message is the AWS sentence as is."""

    type_name = "ValidationException"

    def body(self, now: float | None = None) -> dict:
        return {"__type": self.type_name, "Message": self.message}


class AuthError(ApiError):
    """Authentication failures, answered as AWS's front door does (no TurkErrorCode, no timestamp)."""

    status = 400

    def __init__(self, type_name: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.type_name = type_name
        self.status = status

    def body(self, now: float | None = None) -> dict:
        return {"__type": self.type_name, "Message": self.message}


def invalid_value(value: object, parameter: str, detail: str = "") -> ParameterValidationError:
    """MTurk's `The value "v" is not valid for the parameter P.` with an optional explanation."""
    text = f'The value "{value}" is not valid for the parameter {parameter}.'
    return ParameterValidationError(f"{text} {detail}".strip(), parameter)


def hit_not_found(hit_id: str) -> RequestError:
    return RequestError(f"Hit {hit_id} does not exist.", "AWS.MechanicalTurk.HITDoesNotExist")


def assignment_not_found(assignment_id: str) -> RequestError:
    return RequestError(f"Assignment {assignment_id} does not exist.", "AWS.MechanicalTurk.AssignmentDoesNotExist")


def insufficient_funds() -> RequestError:
    return RequestError(
        "This Requester has insufficient funds in their account to complete this transaction. "
        "Please visit https://requester.mturk.com/prepayments/new to purchase Prepaid HITs.",
        "AWS.MechanicalTurk.InsufficientFunds",
    )


def qualification_type_not_found(type_id: str) -> RequestError:
    return RequestError(
        f"You requested a Qualification that does not exist. (QualificationTypeId {type_id})",
        "AWS.MechanicalTurk.QualificationDoesNotExist",
    )
