"""The worker's own pages: `/me/assignments` (with status tabs), `/me/earnings`, `/me/messages` (NotifyWorkers),
`/me/qualifications` (held, requested, requestable), and a qualification's test at `/qualifications/{id}/test`,
answered by `POST /qualifications/{id}/request`.

Signed-in workers only; study participants see just their assignments page. Every list shows only the visitor's
own rows. Requester text (titles, feedback, messages, qualification names) is autoescaped by the templates.
Requesting a qualification goes through `qualification_flow.request_qualification`, the same rule the worker API
uses; its refusals become a message on the next page (or an error page), never a 500.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from sqlalchemy import Connection, and_, func, or_, select
from sqlalchemy.exc import DataError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hitkit.mturk import qualification_ids as sq
from hitkit.mturk.xml import QuestionXMLError, parse_question_cached
from hitkit.server.domain.answers import group_fields
from hitkit.server.domain.assignment_flow import FlowError
from hitkit.server.domain.qualification_flow import _check_retry, request_qualification
from hitkit.server.domain.qualification_values import PERCENT_APPROVED_FLOOR, approval_record, is_blocked
from hitkit.server.runtime import Runtime
from hitkit.server.store.tables import (
    assignments, bonuses, hit_types, hits, qualification_requests, qualification_types, qualifications, requesters,
    worker_messages,
)
from hitkit.server.web.question_form import overview_paragraphs
from hitkit.server.web.site import PageError, Visitor, page_route, read_form, redirect, render, visitor

PAGE_SIZE = 50
STATUSES = ("Accepted", "Submitted", "Approved", "Rejected", "Returned", "Abandoned")
EARNINGS_DAYS = 30
BONUS_ROWS = 200
_TYPE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

_a, _h, _t, _r = assignments.c, hits.c, hit_types.c, requesters.c
_q, _qt, _qr = qualifications.c, qualification_types.c, qualification_requests.c


def _signed_in(v: Visitor, *, participants: bool = False) -> None:
    if v.session is None:
        raise PageError(401, "Sign in first", "Sign in (or open your invitation or study link) to see your pages.")
    if v.session.kind == "participant" and not participants:
        raise PageError(403, "Not for study participants",
                        "As a study participant you can see the HITs of your study and your assignments only.")


def _page_number(request: Request) -> int:
    try:
        return max(1, min(int(request.query_params.get("page", "1")), 100_000))
    except ValueError:
        return 1


async def _read(runtime: Runtime, request: Request, fn, *, participants: bool = False):  # type: ignore[no-untyped-def]
    """(visitor, fn(conn, visitor, now)) in one read-only transaction, for a signed-in worker."""

    def work(conn: Connection):  # type: ignore[no-untyped-def]
        now = runtime.clock.now()
        v = request.state.visitor = visitor(conn, request, now)
        _signed_in(v, participants=participants)
        return v, fn(conn, v, now)

    return await runtime.transaction(work, read_only=True)


# ---------------------------------------------------------------- assignments


def _status_filter(status: str, now: float):  # type: ignore[no-untyped-def]
    """The WHERE clause of one status tab; a live Accepted assignment is one whose deadline has not passed."""
    if status == "Accepted":
        return and_(_a.status == "Accepted", _a.deadline > now)
    if status == "Abandoned":
        return or_(_a.status == "Abandoned", and_(_a.status == "Accepted", _a.deadline <= now))
    return _a.status == status


def _assignment_counts(conn: Connection, worker_id: str, now: float) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    for status, n in conn.execute(
        select(_a.status, func.count()).where(_a.worker_id == worker_id).group_by(_a.status)
    ):
        counts[status] = counts.get(status, 0) + int(n)
    overdue = conn.execute(
        select(func.count()).where(_a.worker_id == worker_id, _a.status == "Accepted", _a.deadline <= now)
    ).scalar_one()
    counts["Accepted"] -= int(overdue)
    counts["Abandoned"] += int(overdue)
    return counts


@page_route
async def assignments_page(runtime: Runtime, request: Request) -> Response:
    status = request.query_params.get("status", "")
    status = status if status in STATUSES else ""
    page = _page_number(request)

    def fn(conn: Connection, v: Visitor, now: float):  # type: ignore[no-untyped-def]
        counts = _assignment_counts(conn, v.worker.id, now)
        q = (
            select(_a.id, _a.hit_id, _a.status, _a.accept_time, _a.deadline, _a.submit_time, _a.auto_approval_time,
                   _a.approval_time, _a.rejection_time, _a.ended_time, _a.requester_feedback, _t.title,
                   _t.reward_cents, _r.name.label("requester"))
            .select_from(assignments.join(hits, _h.id == _a.hit_id).join(hit_types, _t.id == _h.hit_type_id)
                         .join(requesters, _r.id == _h.requester_id))
            .where(_a.worker_id == v.worker.id)
            .order_by(_a.accept_time.desc(), _a.seq.desc())
            .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
        )
        if status:
            q = q.where(_status_filter(status, now))
        rows = []
        for row in conn.execute(q):
            shown = row.status
            if shown == "Accepted" and row.deadline <= now:
                shown = "Abandoned"
            rows.append({"row": row, "status": shown, "seconds_left": max(0, int(row.deadline - now))})
        return counts, rows

    v, (counts, rows) = await _read(runtime, request, fn, participants=True)
    total = counts[status] if status else sum(counts.values())
    pages = max(1, -(-total // PAGE_SIZE))
    return render(request, v, "me_assignments.html", counts=counts, total_all=sum(counts.values()), rows=rows,
                  current=status, statuses=STATUSES, page=min(page, pages), pages=pages, total=total)


# ---------------------------------------------------------------- earnings


def _day(ts: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


@page_route
async def earnings_page(runtime: Runtime, request: Request) -> Response:
    def fn(conn: Connection, v: Visitor, now: float) -> dict:
        wid = v.worker.id
        paid = assignments.join(hits, _h.id == _a.hit_id).join(hit_types, _t.id == _h.hit_type_id)

        def reward_total(status: str) -> tuple[int, int]:
            row = conn.execute(
                select(func.coalesce(func.sum(_t.reward_cents), 0), func.count()).select_from(paid)
                .where(_a.worker_id == wid, _a.status == status)
            ).one()
            return int(row[0]), int(row[1])

        approved, approved_n = reward_total("Approved")
        pending, pending_n = reward_total("Submitted")
        b = bonuses.c
        bonus_total, bonus_n = conn.execute(
            select(func.coalesce(func.sum(b.amount_cents), 0), func.count()).where(b.worker_id == wid)
        ).one()
        bonus_rows = conn.execute(
            select(b.amount_cents, b.reason, b.grant_time, b.hit_id, b.assignment_id, _t.title,
                   _r.name.label("requester"))
            .select_from(bonuses.outerjoin(hits, _h.id == b.hit_id).outerjoin(hit_types, _t.id == _h.hit_type_id)
                         .outerjoin(requesters, _r.id == b.requester_id))
            .where(b.worker_id == wid).order_by(b.grant_time.desc(), b.seq.desc()).limit(BONUS_ROWS)
        ).all()

        since = now - EARNINGS_DAYS * 86400
        days: dict[str, dict[str, int]] = {}
        for ts, cents in conn.execute(
            select(_a.approval_time, _t.reward_cents).select_from(paid)
            .where(_a.worker_id == wid, _a.status == "Approved", _a.approval_time >= since)
        ):
            d = days.setdefault(_day(ts), {"rewards": 0, "bonuses": 0, "approved": 0})
            d["rewards"] += int(cents)
            d["approved"] += 1
        for ts, cents in conn.execute(select(b.grant_time, b.amount_cents).where(b.worker_id == wid, b.grant_time >= since)):
            d = days.setdefault(_day(ts), {"rewards": 0, "bonuses": 0, "approved": 0})
            d["bonuses"] += int(cents)
        per_day = [{"day": k, **d, "total": d["rewards"] + d["bonuses"]} for k, d in sorted(days.items(), reverse=True)]
        return {
            "approved": approved, "approved_n": approved_n, "pending": pending, "pending_n": pending_n,
            "bonus_total": int(bonus_total), "bonus_n": int(bonus_n), "bonus_rows": bonus_rows, "per_day": per_day,
            "last_30": sum(d["total"] for d in per_day), "days": EARNINGS_DAYS, "bonus_limit": BONUS_ROWS,
        }

    v, ctx = await _read(runtime, request, fn)
    return render(request, v, "me_earnings.html", **ctx)


# ---------------------------------------------------------------- messages


@page_route
async def messages_page(runtime: Runtime, request: Request) -> Response:
    page = _page_number(request)
    m = worker_messages.c

    def fn(conn: Connection, v: Visitor, now: float):  # type: ignore[no-untyped-def]
        total = conn.execute(select(func.count()).where(m.worker_id == v.worker.id)).scalar_one()
        rows = conn.execute(
            select(m.subject, m.body, m.created_at, _r.name.label("requester"))
            .select_from(worker_messages.outerjoin(requesters, _r.id == m.requester_id))
            .where(m.worker_id == v.worker.id).order_by(m.created_at.desc(), m.seq.desc())
            .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
        ).all()
        return int(total), rows

    v, (total, rows) = await _read(runtime, request, fn)
    pages = max(1, -(-total // PAGE_SIZE))
    return render(request, v, "me_messages.html", rows=rows, total=total, page=min(page, pages), pages=pages)


# ---------------------------------------------------------------- qualifications


@dataclass
class SystemQual:
    name: str
    value: str
    note: str = ""


def _system_quals(conn: Connection, worker) -> list[SystemQual]:  # type: ignore[no-untyped-def]
    approved, rejected = approval_record(conn, worker.id)
    decided = approved + rejected
    percent = 100 if decided < PERCENT_APPROVED_FLOOR else (approved * 100) // decided
    locale = "-".join(x for x in (worker.country, worker.subdivision) if x) or "not set"
    return [
        SystemQual(sq.system_type_name(sq.LOCALE) or "Locale", locale, "Your country (and subdivision)."),
        SystemQual(sq.system_type_name(sq.ADULT) or "Adult", "1 (yes)" if worker.adult else "0 (no)",
                   "Whether you agreed to see adult content."),
        SystemQual("Masters", "yes" if worker.masters else "no"),
        SystemQual(sq.system_type_name(sq.NUMBER_HITS_APPROVED) or "HITs approved", str(approved),
                   "Assignments of yours that requesters approved."),
        SystemQual(sq.system_type_name(sq.PERCENT_ASSIGNMENTS_APPROVED) or "Percent approved", f"{percent}%",
                   f"{approved} approved, {rejected} rejected; reads 100% until {PERCENT_APPROVED_FLOOR} are decided."),
    ]


@page_route
async def qualifications_page(runtime: Runtime, request: Request) -> Response:
    search = request.query_params.get("q", "")[:200].strip()
    page = _page_number(request)

    def fn(conn: Connection, v: Visitor, now: float) -> dict:
        wid = v.worker.id
        held = conn.execute(
            select(_q.type_id, _q.integer_value, _q.country, _q.subdivision, _q.status, _q.grant_time, _q.revoke_reason,
                   _qt.name, _qt.deleted_at, _r.name.label("requester"))
            .select_from(qualifications.outerjoin(qualification_types, _qt.id == _q.type_id)
                         .outerjoin(requesters, _r.id == _qt.requester_id))
            .where(_q.worker_id == wid).order_by(_q.grant_time.desc())
        ).all()
        held_by_type = {h.type_id: h for h in held}
        reqs = []
        for r in conn.execute(
            select(_qr.id, _qr.type_id, _qr.status, _qr.submit_time, _qr.resolved_time, _qr.reason,
                   _qr.test.isnot(None).label("with_test"), _qt.name, _qt.answer_key.isnot(None).label("keyed"))
            .select_from(qualification_requests.outerjoin(qualification_types, _qt.id == _qr.type_id))
            .where(_qr.worker_id == wid).order_by(_qr.submit_time.desc(), _qr.seq.desc()).limit(200)
        ):
            h = held_by_type.get(r.type_id)
            # The grant a request made carries its resolved time; a later grant replaces the value.
            value = h.integer_value if (h is not None and r.status in ("Granted", "Approved")
                                        and r.resolved_time is not None and h.grant_time == r.resolved_time) else None
            reqs.append({"row": r, "value": value, "scored": bool(r.with_test and r.keyed and r.status == "Granted")})
        pending = {r["row"].type_id for r in reqs if r["row"].status == "Pending"}
        requested = {r["row"].type_id for r in reqs}

        where = [_qt.status == "Active", _qt.deleted_at.is_(None)]
        if search:
            s = search.lower()
            where.append(or_(func.lower(_qt.name).contains(s, autoescape=True),
                             func.lower(_qt.description).contains(s, autoescape=True),
                             func.lower(func.coalesce(_qt.keywords, "")).contains(s, autoescape=True)))
        total = conn.execute(select(func.count()).select_from(qualification_types).where(*where)).scalar_one()
        types = conn.execute(
            select(_qt.id, _qt.name, _qt.description, _qt.keywords, _qt.test.isnot(None).label("has_test"),
                   _qt.test_duration, _qt.auto_granted, _qt.retry_delay, _r.name.label("requester"))
            .select_from(qualification_types.join(requesters, _r.id == _qt.requester_id))
            .where(*where).order_by(_qt.seq.desc()).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
        ).all()
        return {
            "held": held, "system": _system_quals(conn, v.worker), "requests": reqs, "types": types,
            "types_total": int(total), "held_by_type": held_by_type, "pending": pending, "requested": requested,
        }

    v, ctx = await _read(runtime, request, fn)
    pages = max(1, -(-ctx["types_total"] // PAGE_SIZE))
    return render(request, v, "me_qualifications.html", search=search, page=min(page, pages), pages=pages, **ctx)


def _type_id(request: Request) -> str:
    type_id = request.path_params["type_id"]
    if not _TYPE_ID.match(type_id):
        raise PageError(404, "No such qualification", "There is no qualification type with that id.")
    return type_id


def _requestable_type(conn: Connection, type_id: str):  # type: ignore[no-untyped-def]
    if type_id in sq.SYSTEM_TYPE_IDS:
        raise PageError(409, "Not requestable",
                        f"{sq.system_type_name(type_id)} is a system qualification computed from your record.")
    qt = conn.execute(
        select(qualification_types, _r.name.label("requester"))
        .join(requesters, _r.id == _qt.requester_id).where(_qt.id == type_id)
    ).first()
    if qt is None or qt.deleted_at is not None:
        raise PageError(404, "No such qualification", f"Qualification type {type_id} does not exist.")
    return qt


@page_route
async def test_page(runtime: Runtime, request: Request) -> Response:
    type_id = _type_id(request)

    def fn(conn: Connection, v: Visitor, now: float):  # type: ignore[no-untyped-def]
        qt = _requestable_type(conn, type_id)
        problem = None
        if qt.status != "Active":
            problem = "Its requester is not accepting requests for this qualification now."
        elif is_blocked(conn, qt.requester_id, v.worker.id):
            problem = "The requester of this qualification has chosen to prevent you from working on their HITs."
        else:
            try:
                _check_retry(conn, qt, v.worker.id, now)
            except FlowError as e:
                problem = e.message
        return qt, problem

    v, (qt, problem) = await _read(runtime, request, fn)
    if qt.test is None:
        return redirect(request, v, "/me/qualifications", message=f"“{qt.name}” has no test: request it with its Request button.")
    return _render_test(request, v, qt, problem)


def _render_test(request: Request, v: Visitor, qt, problem: str | None, error: str | None = None,  # type: ignore[no-untyped-def]
                 status: int = 200) -> Response:
    try:
        doc = parse_question_cached(qt.test)
    except QuestionXMLError as e:  # validated on create; stored data went bad
        raise PageError(409, "Test unavailable", f"This qualification's test cannot be shown: {e.message}") from None
    return render(request, v, "qualification_test.html", status=status, qt=qt, questions=doc.questions,
                  overview=overview_paragraphs(doc), overview_images=doc.overview_images, problem=problem, error=error,
                  action=f"/qualifications/{qt.id}/request")


@page_route
async def request_page(runtime: Runtime, request: Request) -> Response:
    type_id = _type_id(request)
    v = request.state.visitor = await runtime.transaction(
        lambda conn: visitor(conn, request, runtime.clock.now()), read_only=True)
    form = await read_form(request, v)
    _signed_in(v)
    answers = group_fields([(k, val) for k, val in form.multi_items() if k != "csrf_token" and isinstance(val, str)])

    def work(conn: Connection):  # type: ignore[no-untyped-def]
        qt = _requestable_type(conn, type_id)
        return qt, request_qualification(conn, v.worker, type_id, answers, runtime.clock.now())

    try:
        qt, out = await runtime.transaction(work)
    except FlowError as e:
        if e.status == 404:
            raise PageError(404, "No such qualification", e.message) from None
        if e.code == "invalid_answer":
            qt = await runtime.transaction(lambda conn: _requestable_type(conn, type_id), read_only=True)
            if qt.test is not None:
                return _render_test(request, v, qt, None, error=e.message, status=400)
        return redirect(request, v, "/me/qualifications", message=f"Not requested: {e.message}")
    except DataError:  # e.g. a NUL character, which PostgreSQL text cannot hold
        raise PageError(400, "Bad form", "The answers have characters that cannot be stored; nothing was changed.") from None
    if out["Status"] == "Granted":
        if qt.test is not None and qt.answer_key is not None:
            message = f"Granted: “{qt.name}”, with a score of {out['IntegerValue']}."
        else:
            message = f"Granted: “{qt.name}”, with the value {out['IntegerValue']}."
    else:
        message = f"Requested: “{qt.name}” is pending the requester's review."
    return redirect(request, v, "/me/qualifications", message=message)


routes = [
    Route("/me/assignments", assignments_page, methods=["GET"]),
    Route("/me/earnings", earnings_page, methods=["GET"]),
    Route("/me/messages", messages_page, methods=["GET"]),
    Route("/me/qualifications", qualifications_page, methods=["GET"]),
    Route("/qualifications/{type_id}/test", test_page, methods=["GET"]),
    Route("/qualifications/{type_id}/request", request_page, methods=["POST"]),
]
