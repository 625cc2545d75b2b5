"""MTurk's two review policies, evaluated inside the transaction that triggers them.

- ScoreMyKnownAnswers/2011-09-01 (assignment level) runs when an assignment is submitted (`on_submitted`): the
  worker's answers are scored against the AnswerKey, and the assignment is approved, rejected and/or the HIT
  extended by one assignment according to the thresholds.
- SimplePlurality/2011-09-01 (HIT level) runs when the HIT becomes Reviewable (`on_hit_complete`): the plurality
  answer of each question, the agreement scores, approval/rejection by Worker Agreement Score, and extension when
  the HIT Agreement Score is too low.

Results and actions are stored in `review_results` as ReviewResultDetail / ReviewActionDetail JSON (members
starting with `_` are hitkit's bookkeeping and never leave the server); ListReviewPolicyResultsForHIT reads them.

hitkit's rules where MTurk's documentation is unclear or contradicts itself (docs/compatibility.md):
- scores are whole percentages rounded down (2 of 3 is 66, as in MTurk's worked example);
- Reject...IsLessThan means strictly less than (the parameter names and ranges say so; one sentence says "equal
  to or less than"); when both the approve and the reject threshold match, approval wins and no rejection is tried;
- answers compare after trimming whitespace, as sets of values (a check-box answer matches only the same set);
  a FreeText answer posted from a repeated HTML field ("a|b") is split on "|" when the key has several values;
- a plurality needs a single most frequent answer (a tie means no agreed answer) whose Question Agreement Score
  (share of the considered assignments that gave it) is greater than QuestionAgreementThreshold; empty answers
  and answers longer than 256 characters are no vote but still count in the denominator;
- an assignment already approved or rejected is never changed: an approve action on it reports Succeeded
  ("Already approved") or Failed, a reject action Failed, as MTurk's example shows;
- when the HIT's AutoApprovalDelayInSeconds is 0 the assignment is approved on submission, which the
  assignment-level policy does not override;
- ExtendMaximumAssignments caps the HIT's total MaxAssignments (default 5); a HIT created with fewer than 10
  assignments is never extended to 10 or more; at the cap the extend action succeeds without extending;
- when the HIT-level policy extends the HIT, its approve/reject actions wait for the next evaluation, made when
  the extended HIT is complete again;
- policy parameters are validated at CreateHIT (`validate`); should a stored policy still fail to evaluate, that
  is reported as one Failed `review` action instead of failing the submission.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import Connection, Row, insert, select, update

from hitkit.mturk.ids import new_entity_id
from hitkit.mturk.xml import QuestionXMLError, parse_answers
from hitkit.server.api.errors import ApiError
from hitkit.server.domain.events import emit
from hitkit.server.domain.ledger import reconcile_hit
from hitkit.server.store.queries import get_hit
from hitkit.server.store.tables import assignments, hits, review_results

SCORE_MY_KNOWN_ANSWERS = "ScoreMyKnownAnswers/2011-09-01"
SIMPLE_PLURALITY = "SimplePlurality/2011-09-01"
MAX_PLURALITY_ANSWER = 256
INVALID_STATE = "AWS.MechanicalTurk.InvalidAssignmentState"

_SMKA_INTS = {
    "ApproveIfKnownAnswerScoreIsAtLeast": (0, 101),
    "RejectIfKnownAnswerScoreIsLessThan": (0, 101),
    "ExtendIfKnownAnswerScoreIsLessThan": (0, 101),
    "ExtendMaximumAssignments": (2, 25),
    "ExtendMinimumTimeInSeconds": (60, 31_536_000),
}
_SMKA_TEXTS = {"ApproveReason", "RejectReason"}
_SP_INTS = {
    "QuestionAgreementThreshold": (0, 100),
    "DisregardAssignmentIfKnownAnswerScoreIsLessThan": (0, 101),
    "ExtendIfHITAgreementScoreIsLessThan": (1, 100),
    "ExtendMaximumAssignments": (1, 1_000_000_000),
    "ExtendMinimumTimeInSeconds": (3600, 31_536_000),
    "ApproveIfWorkerAgreementScoreIsAtLeast": (0, 101),
    "RejectIfWorkerAgreementScoreIsLessThan": (0, 101),
}
_SP_TEXTS = {"QuestionIds", "DisregardAssignmentIfRejected", "RejectReason"}
# Spellings seen in MTurk's own SDK samples and popular wrappers.
_ALIASES = {"ApproveIfWorkerAgreementScoreIsNotLessThan": "ApproveIfWorkerAgreementScoreIsAtLeast"}


class PolicyError(ValueError):
    """An invalid review policy parameter; `parameter` names it."""

    def __init__(self, message: str, parameter: str) -> None:
        super().__init__(message)
        self.message = message
        self.parameter = parameter


# ---------------------------------------------------------------- parameters


@dataclass
class Policy:
    name: str
    ints: dict[str, int]
    texts: dict[str, str]
    answer_key: dict[str, list[str]]
    question_ids: list[str]
    disregard_rejected: bool


def _raw_parameters(policy: dict) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for p in policy.get("Parameters") or []:
        key = str(p.get("Key", "")).strip()
        out[_ALIASES.get(key, key)] = p
    return out


def _first(p: dict, key: str) -> str:
    values = p.get("Values") or []
    if not values:
        raise PolicyError(f"The review policy parameter {key} needs a value.", key)
    return str(values[0]).strip()


def _int(p: dict, key: str, lo: int, hi: int) -> int:
    raw = _first(p, key)
    try:
        value = int(raw)
    except ValueError:
        raise PolicyError(f'The value "{raw}" is not valid for the review policy parameter {key}: use a whole number.', key) from None
    if not lo <= value <= hi:
        raise PolicyError(f'The value "{raw}" is not valid for the review policy parameter {key}: use {lo} to {hi}.', key)
    return value


def _bool(raw: str, key: str) -> bool:
    value = raw.strip().lower()
    if value in ("t", "true", "1", "yes"):
        return True
    if value in ("f", "false", "0", "no", ""):
        return False
    raise PolicyError(f'The value "{raw}" is not valid for the review policy parameter {key}: use true or false.', key)


def parse_policy(policy: dict) -> Policy:
    """Check a ReviewPolicy (the botocore input shape) and read its parameters. Raises PolicyError."""
    name = policy.get("PolicyName")
    if name not in (SCORE_MY_KNOWN_ANSWERS, SIMPLE_PLURALITY):
        raise PolicyError(f'"{name}" is not a review policy; use {SCORE_MY_KNOWN_ANSWERS} or {SIMPLE_PLURALITY}.', "PolicyName")
    raw = _raw_parameters(policy)
    smka = name == SCORE_MY_KNOWN_ANSWERS
    int_specs, text_keys = (_SMKA_INTS, _SMKA_TEXTS) if smka else (_SP_INTS, _SP_TEXTS)
    allowed = set(int_specs) | text_keys | ({"AnswerKey"} if smka else set())
    for key in raw:
        if key not in allowed:
            raise PolicyError(f"{key} is not a parameter of the {name} review policy.", key)
    ints = {k: _int(raw[k], k, *int_specs[k]) for k in int_specs if k in raw}
    texts = {k: " ".join(str(v) for v in raw[k].get("Values") or []) for k in text_keys if k in raw}
    answer_key: dict[str, list[str]] = {}
    question_ids: list[str] = []
    disregard_rejected = False
    if smka:
        if "AnswerKey" not in raw or not raw["AnswerKey"].get("MapEntries"):
            raise PolicyError(f"The {name} review policy needs an AnswerKey with at least one entry.", "AnswerKey")
        for entry in raw["AnswerKey"]["MapEntries"]:
            qid = str(entry.get("Key", "")).strip()
            if not qid:
                raise PolicyError("Every AnswerKey entry needs the QuestionId as its Key.", "AnswerKey")
            answer_key[qid] = [str(v) for v in entry.get("Values") or []]
    else:
        for key in ("QuestionIds", "QuestionAgreementThreshold"):
            if key not in raw:
                raise PolicyError(f"The {name} review policy needs the parameter {key}.", key)
        for value in raw["QuestionIds"].get("Values") or []:
            question_ids.extend(q.strip() for q in str(value).split(",") if q.strip())
        question_ids = list(dict.fromkeys(question_ids))
        if not question_ids:
            raise PolicyError("QuestionIds must name at least one question.", "QuestionIds")
        if "DisregardAssignmentIfRejected" in raw:
            disregard_rejected = _bool(_first(raw["DisregardAssignmentIfRejected"], "DisregardAssignmentIfRejected"),
                                       "DisregardAssignmentIfRejected")
    return Policy(name, ints, texts, answer_key, question_ids, disregard_rejected)


def validate(policy: dict, level: str) -> None:
    """For CreateHIT*: raise PolicyError unless `policy` is a valid review policy of `level` (Assignment or HIT)."""
    parsed = parse_policy(policy)
    wanted = SCORE_MY_KNOWN_ANSWERS if level == "Assignment" else SIMPLE_PLURALITY
    if parsed.name != wanted:
        parameter = "AssignmentReviewPolicy" if level == "Assignment" else "HITReviewPolicy"
        raise PolicyError(f"{parsed.name} is not a {level}-level review policy; use {wanted}.", parameter)


# ---------------------------------------------------------------- answers


def _answers(a: Row) -> dict[str, str | list[str]]:
    try:
        return parse_answers(a.answer) if a.answer else {}
    except QuestionXMLError:
        return {}


def _value_set(raw: str | list[str] | None, split: bool) -> frozenset[str]:
    if raw is None:
        return frozenset()
    if isinstance(raw, list):
        parts = raw
    elif split:
        parts = raw.split("|")
    else:
        parts = [raw]
    return frozenset(p.strip() for p in parts if p.strip())


def _known_answer_correct(expected: list[str], given: str | list[str] | None) -> bool:
    want = frozenset(v.strip() for v in expected if v.strip())
    return _value_set(given, split=len(want) > 1) == want


def _vote(given: str | list[str] | None) -> frozenset[str] | None:
    """A worker's answer as a comparable vote, or None when it cannot take part (empty or too long)."""
    values = _value_set(given, split=False)
    if not values or any(len(v) > MAX_PLURALITY_ANSWER for v in values):
        return None
    return values


def _show(vote: frozenset[str]) -> str:
    return "|".join(sorted(vote))


# ---------------------------------------------------------------- recording


class _Recorder:
    def __init__(self, conn: Connection, hit_id: str, level: str, policy_name: str, now: float) -> None:
        self.conn, self.hit_id, self.level, self.policy_name, self.now = conn, hit_id, level, policy_name, now

    def _row(self, kind: str, body: dict) -> None:
        self.conn.execute(
            insert(review_results).values(
                hit_id=self.hit_id, level=self.level, policy_name=self.policy_name, kind=kind,
                body=json.dumps({k: v for k, v in body.items() if v is not None}),
            )
        )

    def action(self, name: str, target_id: str, target_type: str, status: str, result: str,
               error_code: str | None = None, **private: object) -> str:
        action_id = new_entity_id()
        self._row("action", {
            "ActionId": action_id, "ActionName": name, "TargetId": target_id, "TargetType": target_type,
            "Status": status, "CompleteTime": self.now, "Result": result, "ErrorCode": error_code,
            **{f"_{k}": v for k, v in private.items()},
        })
        return action_id

    def result(self, action_id: str, subject_id: str, subject_type: str, key: str, value: object,
               question_id: str | None = None) -> None:
        self._row("result", {
            "ActionId": action_id, "SubjectId": subject_id, "SubjectType": subject_type,
            "QuestionId": question_id, "Key": key, "Value": str(value),
        })


def _decide(rec: _Recorder, conn: Connection, hit: Row, assignment_id: str, verdict: str, now: float,
            schedule: str, feedback: str | None) -> None:
    """Approve or reject one assignment, recording the action; a decided assignment is left as it is."""
    from hitkit.server.domain import assignment_flow  # assignment_flow imports this module

    status = conn.execute(select(assignments.c.status).where(assignments.c.id == assignment_id)).scalar_one()
    if status != "Submitted":
        if verdict == "approve" and status == "Approved":
            rec.action("approve", assignment_id, "Assignment", "Succeeded", "Already approved")
        else:
            rec.action(verdict, assignment_id, "Assignment", "Failed",
                       f"Assignment was in an invalid state for this operation: it is {status}.", INVALID_STATE)
        return
    try:
        with conn.begin_nested():
            if verdict == "approve":
                assignment_flow.approve(conn, hit, assignment_id, now, schedule, feedback=feedback)
            else:
                assignment_flow.reject(conn, hit, assignment_id, now, schedule, feedback=feedback)  # type: ignore[arg-type]
    except assignment_flow.FlowError as e:
        rec.action(verdict, assignment_id, "Assignment", "Failed", e.message, INVALID_STATE)
    except ApiError as e:
        rec.action(verdict, assignment_id, "Assignment", "Failed", e.message, e.turk_error_code)
    else:
        rec.action(verdict, assignment_id, "Assignment", "Succeeded", "Approved" if verdict == "approve" else "Rejected")


def _extend(rec: _Recorder, conn: Connection, hit_id: str, now: float, schedule: str, *, cap: int,
            extra_time: int) -> bool:
    """Add one assignment to the HIT (up to `cap` in all), recording the action. Returns whether it grew."""
    hit = get_hit(conn, hit_id)
    limit = min(cap, 9) if hit.max_assignments < 10 else cap
    if hit.max_assignments >= limit:
        why = f"ExtendMaximumAssignments is {cap}" if limit == cap else "a HIT created with fewer than 10 assignments cannot reach 10"
        rec.action("extend", hit_id, "HIT", "Succeeded",
                   f"Not extended: the HIT already has {hit.max_assignments} assignments and {why}.")
        return False
    new_max = hit.max_assignments + 1
    new_expiration = max(hit.expiration, now + extra_time) if extra_time > 0 else hit.expiration
    try:
        with conn.begin_nested():
            conn.execute(
                update(hits).where(hits.c.id == hit_id).values(
                    max_assignments=new_max, expiration=new_expiration, reviewing=False
                )
            )
            reconcile_hit(conn, hit_id, now, schedule)
    except ApiError as e:
        rec.action("extend", hit_id, "HIT", "Failed", e.message, e.turk_error_code)
        return False
    emit(conn, hit, "HITExtended", now)
    rec.action("extend", hit_id, "HIT", "Succeeded", f"Extended to {new_max} assignments.")
    return True


def _pct(part: int, whole: int) -> int:
    return (100 * part) // whole if whole else 0


def _load_policy(rec: _Recorder, raw: str, target_id: str, target_type: str) -> Policy | None:
    try:
        return parse_policy(json.loads(raw))
    except (PolicyError, ValueError, TypeError, AttributeError) as e:
        message = e.message if isinstance(e, PolicyError) else "The review policy could not be read."
        rec.action("review", target_id, target_type, "Failed", message, "AWS.MechanicalTurk.InvalidParameterValue")
        return None


def _stored(conn: Connection, hit_id: str, level: str) -> list[dict]:
    rows = conn.execute(
        select(review_results.c.kind, review_results.c.body)
        .where(review_results.c.hit_id == hit_id, review_results.c.level == level)
        .order_by(review_results.c.seq)
    ).all()
    return [{"_kind": kind, **json.loads(body)} for kind, body in rows]


# ---------------------------------------------------------------- ScoreMyKnownAnswers


def on_submitted(conn: Connection, hit_row: Row, assignment_id: str, now: float, schedule: str) -> None:
    """Apply the HIT's assignment-level policy to a just-submitted assignment (once per assignment)."""
    if not hit_row.assignment_review_policy:
        return
    a = conn.execute(select(assignments).where(assignments.c.id == assignment_id)).first()
    if a is None or a.status != "Submitted":
        return  # already decided: left alone
    reviewed = conn.execute(
        select(review_results.c.seq).where(
            review_results.c.hit_id == hit_row.id, review_results.c.level == "Assignment",
            review_results.c.kind == "action", review_results.c.body.contains(f'"TargetId": "{assignment_id}"'),
        ).limit(1)
    ).first()
    if reviewed is not None:
        return  # reviewed before: an assignment-level policy runs once per assignment
    rec = _Recorder(conn, hit_row.id, "Assignment", SCORE_MY_KNOWN_ANSWERS, now)
    policy = _load_policy(rec, hit_row.assignment_review_policy, assignment_id, "Assignment")
    if policy is None or policy.name != SCORE_MY_KNOWN_ANSWERS:
        return
    given = _answers(a)
    correct = {qid: _known_answer_correct(expected, given.get(qid)) for qid, expected in policy.answer_key.items()}
    n_right, n_all = sum(correct.values()), len(correct)
    score = _pct(n_right, n_all)
    known = "one known answer" if n_all == 1 else f"{n_all} known answers"
    review_id = rec.action("review", assignment_id, "Assignment", "Succeeded",
                           f"Reviewed {known}; {n_right}/{n_all} correct")
    for qid, ok in correct.items():
        rec.result(review_id, assignment_id, "Assignment", "KnownAnswerCorrect", int(ok), question_id=qid)
    rec.result(review_id, assignment_id, "Assignment", "KnownAnswerScore", score)

    ints = policy.ints
    approve_at, reject_below = ints.get("ApproveIfKnownAnswerScoreIsAtLeast"), ints.get("RejectIfKnownAnswerScoreIsLessThan")
    verdict = None
    if approve_at is not None and score >= approve_at:
        verdict = "approve"
    elif reject_below is not None and score < reject_below:
        verdict = "reject"
    if verdict is not None:
        if hit_row.auto_approval_delay == 0:
            # The assignment is approved on submission (AutoApprovalDelayInSeconds 0); the policy does not override it.
            if verdict == "approve":
                rec.action("approve", assignment_id, "Assignment", "Succeeded", "Approved")
            else:
                rec.action("reject", assignment_id, "Assignment", "Failed",
                           "The HIT's AutoApprovalDelayInSeconds is 0: the assignment is approved on submission.",
                           INVALID_STATE)
        else:
            feedback = policy.texts.get("ApproveReason" if verdict == "approve" else "RejectReason") or None
            _decide(rec, conn, hit_row, assignment_id, verdict, now, schedule, feedback)
    extend_below = ints.get("ExtendIfKnownAnswerScoreIsLessThan")
    if extend_below is not None and score < extend_below:
        _extend(rec, conn, hit_row.id, now, schedule, cap=ints.get("ExtendMaximumAssignments", 5),
                extra_time=ints.get("ExtendMinimumTimeInSeconds", 0))


# ---------------------------------------------------------------- SimplePlurality


def _known_answer_scores(conn: Connection, hit_id: str) -> dict[str, int]:
    scores: dict[str, int] = {}
    for r in _stored(conn, hit_id, "Assignment"):
        if r["_kind"] == "result" and r.get("Key") == "KnownAnswerScore" and "QuestionId" not in r:
            scores[r["SubjectId"]] = int(r["Value"])
    return scores


def on_hit_complete(conn: Connection, hit_row: Row, now: float, schedule: str) -> None:
    """Apply the HIT's HIT-level policy now that it has no pending or available assignments. Evaluated again only
    when the set of submitted assignments has changed (after an extension)."""
    if not hit_row.hit_review_policy:
        return
    hit = get_hit(conn, hit_row.id)
    done = conn.execute(
        select(assignments)
        .where(assignments.c.hit_id == hit.id, assignments.c.status.in_(("Submitted", "Approved", "Rejected")))
        .order_by(assignments.c.seq)
    ).all()
    basis = sorted(a.id for a in done)
    previous = [r for r in _stored(conn, hit.id, "HIT") if r["_kind"] == "action" and r.get("ActionName") == "review"]
    if previous and previous[-1].get("_basis") == basis:
        return  # nothing new since the last evaluation
    rec = _Recorder(conn, hit.id, "HIT", SIMPLE_PLURALITY, now)
    policy = _load_policy(rec, hit.hit_review_policy, hit.id, "HIT")
    if policy is None or policy.name != SIMPLE_PLURALITY:
        return
    ints = policy.ints
    kas_floor = ints.get("DisregardAssignmentIfKnownAnswerScoreIsLessThan")
    kas = _known_answer_scores(conn, hit.id) if kas_floor is not None else {}
    considered = [
        a for a in done
        if not (policy.disregard_rejected and a.status == "Rejected")
        and not (kas_floor is not None and a.id in kas and kas[a.id] < kas_floor)
    ]
    votes = {a.id: {q: _vote(ans.get(q)) for q in policy.question_ids} for a in considered for ans in [_answers(a)]}

    agreed: dict[str, frozenset[str]] = {}
    scores: dict[str, int] = {}
    for q in policy.question_ids:
        counts = Counter(v[q] for v in votes.values() if v[q] is not None)
        top = counts.most_common(2)
        if not top or (len(top) == 2 and top[0][1] == top[1][1]):
            continue
        score = _pct(top[0][1], len(considered))
        if score > ints["QuestionAgreementThreshold"]:
            agreed[q], scores[q] = top[0][0], score
    hit_score = _pct(len(agreed), len(policy.question_ids))

    review_id = rec.action(
        "review", hit.id, "HIT", "Succeeded",
        f"Reviewed {len(considered)} of {len(done)} assignments on {len(policy.question_ids)} questions; "
        f"{len(agreed)} with an agreed answer",
        basis=basis,
    )
    for q in policy.question_ids:
        rec.result(review_id, hit.id, "HIT", "AgreedAnswerFound", "true" if q in agreed else "false", question_id=q)
        if q in agreed:
            rec.result(review_id, hit.id, "HIT", "AgreedAnswer", _show(agreed[q]), question_id=q)
            rec.result(review_id, hit.id, "HIT", "AnswerAgreementScore", scores[q], question_id=q)
    rec.result(review_id, hit.id, "HIT", "HitAgreementScore", hit_score)

    worker_scores: dict[str, int] = {}
    if agreed:
        for a in considered:
            right = sum(1 for q in agreed if votes[a.id][q] == agreed[q])
            worker_scores[a.id] = _pct(right, len(agreed))
            rec.result(review_id, a.id, "Assignment", "WorkerAgreementScore", worker_scores[a.id])
            rec.result(review_id, a.id, "Assignment", "PluralityAnswersCorrect", right)
            rec.result(review_id, a.id, "Assignment", "PluralityAnswersIncorrect", len(agreed) - right)

    extend_below = ints.get("ExtendIfHITAgreementScoreIsLessThan")
    if extend_below is not None and hit_score < extend_below:
        extended = _extend(rec, conn, hit.id, now, schedule, cap=ints.get("ExtendMaximumAssignments", 5),
                           extra_time=ints.get("ExtendMinimumTimeInSeconds", 3600))
        if extended:
            return  # approve/reject wait for the evaluation of the extended HIT
    approve_at, reject_below = ints.get("ApproveIfWorkerAgreementScoreIsAtLeast"), ints.get("RejectIfWorkerAgreementScoreIsLessThan")
    for a in considered:
        if a.id not in worker_scores:
            continue  # no question has an agreed answer: nothing to judge the worker by
        score = worker_scores[a.id]
        if approve_at is not None and score >= approve_at:
            _decide(rec, conn, hit, a.id, "approve", now, schedule, None)
        elif reject_below is not None and score < reject_below:
            _decide(rec, conn, hit, a.id, "reject", now, schedule, policy.texts.get("RejectReason") or None)
