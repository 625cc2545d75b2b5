"""The MTurk side of a live run, through boto3 like any other requester code: ExternalQuestion HITs pointing at
the server's live page (idempotent UniqueRequestTokens, so a restarted run creates no HIT twice), the
qualifications used for onboarding, soft blocks, unique workers and the daily time cap, and approving, rejecting
and bonusing assignments by the run's payment policy. All calls are blocking (run them in a thread).
"""

from __future__ import annotations

import hashlib
import math
import html
import re
import time
from typing import Any

from botocore.exceptions import ClientError

EXTERNAL_QUESTION = (
    '<ExternalQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/'
    'ExternalQuestion.xsd"><ExternalURL>{url}</ExternalURL><FrameHeight>{height}</FrameHeight></ExternalQuestion>'
)
DAY = 86400
DAY_FACTOR = 100_000  # daily-cap qualification value: (utc_day % 1000) * DAY_FACTOR + seconds used that day (< 2**31)


def live_page_url(endpoint_url: str, run_id: str) -> str:
    return f"{endpoint_url.rstrip('/')}/live/{run_id}"


def external_question(url: str, frame_height: int) -> str:
    return EXTERNAL_QUESTION.format(url=html.escape(url), height=frame_height)


def request_token(run_id: str, key: str) -> str:
    """A UniqueRequestToken (<= 64 characters) that is the same every time the run asks for `key`."""
    return "hk-live-" + hashlib.sha256(f"{run_id}|{key}".encode()).hexdigest()[:48]


def error_code(e: ClientError) -> str:
    return e.response.get("Error", {}).get("Code", "")


def create_hit(client: Any, *, run_id: str, key: str, url: str, title: str, description: str, reward: str,
               keywords: str, duration: int, lifetime: int, frame_height: int, requirements: list[dict]) -> str:
    """Create (or find again, after a restart) the HIT the run calls `key`; its HITId."""
    try:
        answer = client.create_hit(
            Title=title, Description=description, Reward=reward, MaxAssignments=1, Keywords=keywords,
            AssignmentDurationInSeconds=duration, LifetimeInSeconds=lifetime, AutoApprovalDelayInSeconds=3 * DAY,
            Question=external_question(url, frame_height), QualificationRequirements=requirements,
            UniqueRequestToken=request_token(run_id, key), RequesterAnnotation=f"hitkit-live:{run_id}"[:255],
        )
        return answer["HIT"]["HITId"]
    except ClientError as e:
        message = e.response.get("Error", {}).get("Message", "")
        found = re.search(r"HITId (\S+?)\.?(\s|$)", message)
        if found and ("already" in message.lower() or "UniqueRequestToken" in message):
            return found.group(1)
        raise


def ensure_qualification(client: Any, name: str, description: str) -> str:
    """The id of the caller's qualification type named `name`, created if missing."""
    token = None
    while True:
        kw = {"MustBeRequestable": False, "MustBeOwnedByCaller": True, "Query": name, "MaxResults": 100}
        if token:
            kw["NextToken"] = token
        page = client.list_qualification_types(**kw)
        for q in page.get("QualificationTypes", []):
            if q["Name"] == name:
                return q["QualificationTypeId"]
        token = page.get("NextToken")
        if not token:
            break
    try:
        return client.create_qualification_type(Name=name, Description=description,
                                                 QualificationTypeStatus="Active")["QualificationType"]["QualificationTypeId"]
    except ClientError:  # created meanwhile by another process
        for q in client.list_qualification_types(MustBeRequestable=False, MustBeOwnedByCaller=True, Query=name,
                                                 MaxResults=100).get("QualificationTypes", []):
            if q["Name"] == name:
                return q["QualificationTypeId"]
        raise


def grant(client: Any, qualification_id: str, worker_id: str, value: int = 1) -> None:
    client.associate_qualification_with_worker(QualificationTypeId=qualification_id, WorkerId=worker_id,
                                               IntegerValue=value, SendNotification=False)


def score(client: Any, qualification_id: str, worker_id: str) -> int | None:
    """The worker's value of the qualification, None if they do not have it."""
    try:
        q = client.get_qualification_score(QualificationTypeId=qualification_id, WorkerId=worker_id)["Qualification"]
    except ClientError as e:
        if error_code(e) in ("RequestError", "ResourceNotFoundException", "ServiceFault") or "not" in str(e).lower():
            return None
        raise
    if q.get("Status") not in (None, "Granted"):
        return None
    return int(q.get("IntegerValue", 1))


def seconds_today(value: int | None, now: float | None = None) -> float:
    """Seconds used today from a daily-cap qualification value (0 when the value is from another day)."""
    if value is None:
        return 0.0
    day = int((now or time.time()) // DAY) % 1000
    return float(value % DAY_FACTOR) if value // DAY_FACTOR == day else 0.0


def daily_value(seconds: float, now: float | None = None) -> int:
    return (int((now or time.time()) // DAY) % 1000) * DAY_FACTOR + min(math.ceil(seconds), DAY_FACTOR - 1)  # whole seconds, rounded up


def settle(client: Any, assignment_id: str, pays: bool, *, reason: str, bonus: str | None = None,
           worker_id: str | None = None) -> str | None:
    """Approve (and bonus) or reject a submitted assignment; its status afterwards, or None if not submitted yet."""
    try:
        status = client.get_assignment(AssignmentId=assignment_id)["Assignment"]["AssignmentStatus"]
    except ClientError as e:
        if "does not exist" in str(e).lower() or error_code(e) == "RequestError":
            return None  # not submitted yet (a requester only sees submitted assignments)
        raise
    if status == "Submitted":
        try:
            if pays:
                client.approve_assignment(AssignmentId=assignment_id, RequesterFeedback=reason[:1024])
                status = "Approved"
            else:
                client.reject_assignment(AssignmentId=assignment_id, RequesterFeedback=reason[:1024])
                status = "Rejected"
        except ClientError:  # decided meanwhile (another process, auto-approval): read what it is now
            status = client.get_assignment(AssignmentId=assignment_id)["Assignment"]["AssignmentStatus"]
    if status == "Approved" and pays and bonus and worker_id:
        try:
            client.send_bonus(WorkerId=worker_id, BonusAmount=bonus, AssignmentId=assignment_id, Reason=reason[:1024],
                              UniqueRequestToken=request_token(assignment_id, "bonus"))
        except ClientError as e:
            if "already" not in str(e).lower():
                raise
    return status


def expire(client: Any, hit_id: str) -> None:
    try:
        client.update_expiration_for_hit(HITId=hit_id, ExpireAt=0)
    except ClientError:
        pass
