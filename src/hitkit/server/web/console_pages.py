"""The requester console under `/console/` (requesters only; see staff.py for sessions and sign-in):

  /console/                          overview: balance, keys, links
  /console/keys                      API credentials: create, rotate, revoke (a new secret is shown once)
  /console/funds                     balance and the ledger of charges
  /console/funds/earnings.csv        what each worker earned in a date range (?from=YYYY-MM-DD&to=YYYY-MM-DD)
  /console/workers                   per-worker stats (assignments, approval rate, median work time, hourly wage)
  /console/workers/{id}              one worker: block / unblock, grant / revoke qualifications, send a message
  /console/qualifications            the requester's qualification types; create one
  /console/qualifications/{id}       edit one (description, status, auto-grant), grant it to a WorkerId

Every page reads only the signed-in requester's rows, and every action goes through the MTurk operation a boto3
call would use (CreateWorkerBlock, AssociateQualificationWithWorker, NotifyWorkers, ...), with the API's own
validation and ownership rules. A worker who has not worked for the requester, is not blocked by it and holds
none of its qualifications is "not found" here.
"""

from __future__ import annotations

import time

from sqlalchemy import Connection, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from hitkit.server.domain.accounts import AccountError
from hitkit.server.domain.console_reports import (
    earnings, earnings_csv, knows_worker, ledger_kinds, ledger_page, own_qualification_types, recent_work,
    worker_qualifications, worker_stats,
)
from hitkit.server.domain.ledger import balances
from hitkit.server.domain.staff_accounts import create_key, list_keys, rotate_key, revoke_key, utc_day_start
from hitkit.server.runtime import Runtime
from hitkit.server.store.tables import qualification_types
from hitkit.server.web.site import SECURITY_HEADERS, PageError, field_text, read_form, redirect
from hitkit.server.web.staff import Refused, StaffVisitor, login_routes, mturk_op, staff_page, staff_render

console_page = staff_page("requester")
LEDGER_PAGE = 100
SORTS = {
    "assignments": lambda s: -s.assignments,
    "approval": lambda s: (s.approval_rate is None, s.approval_rate or 0),
    "time": lambda s: (s.median_seconds is None, s.median_seconds or 0),
    "wage": lambda s: (s.hourly_cents is None, -(s.hourly_cents or 0)),
    "recent": lambda s: -(s.last_submit or 0),
    "agreement": lambda s: (s.agreement is None, s.agreement or 0),
}


def _rid(v: StaffVisitor) -> str:
    assert v.staff is not None
    return v.staff.subject_id


def _page_number(request: Request) -> int:
    try:
        return max(1, min(int(request.query_params.get("page", "1")), 100_000))
    except ValueError:
        return 1


# ---------------------------------------------------------------- overview


@console_page
async def overview(runtime: Runtime, request: Request, v: StaffVisitor) -> Response:
    rid = _rid(v)

    def read(conn: Connection) -> dict:
        available, held = balances(conn, rid)
        keys = [k for k in list_keys(conn, rid) if k.active]
        return {"available": available, "held": held, "keys": len(keys), "workers": len(worker_stats(conn, rid))}

    facts = await runtime.transaction(read, read_only=True)
    return staff_render(request, v, "console_overview.html", facts=facts)


# ---------------------------------------------------------------- API credentials


@console_page
async def keys_page(runtime: Runtime, request: Request, v: StaffVisitor) -> Response:
    rid = _rid(v)
    new = None
    if request.method == "POST":
        await read_form(request, v)
        try:
            new = await runtime.transaction(lambda conn: create_key(conn, rid, runtime.clock.now()))
        except AccountError as e:
            return redirect(request, v, "/console/keys", message=f"Refused: {e}")
    keys = await runtime.transaction(lambda conn: list_keys(conn, rid), read_only=True)
    return staff_render(request, v, "console_keys.html", keys=keys, new=new, endpoint=str(request.base_url).rstrip("/"))


@console_page
async def key_action(runtime: Runtime, request: Request, v: StaffVisitor) -> Response:
    rid = _rid(v)
    key_id = request.path_params["key"][:64]
    await read_form(request, v)
    action = request.path_params["action"]
    try:
        if action == "revoke":
            await runtime.transaction(lambda conn: revoke_key(conn, rid, key_id))
            runtime.service._keys.pop(key_id, None)  # this process refuses it at once (others within 5 s)
            return redirect(request, v, "/console/keys", message=f"Key {key_id} is revoked.")
        if action == "rotate":
            new = await runtime.transaction(lambda conn: rotate_key(conn, rid, key_id, runtime.clock.now()))
            runtime.service._keys.pop(key_id, None)
            keys = await runtime.transaction(lambda conn: list_keys(conn, rid), read_only=True)
            return staff_render(request, v, "console_keys.html", keys=keys, new=new, rotated=key_id,
                                endpoint=str(request.base_url).rstrip("/"))
    except AccountError as e:
        return redirect(request, v, "/console/keys", message=f"Refused: {e}")
    raise PageError(404, "Not found", "There is no such action.")


# ---------------------------------------------------------------- funds


def _day(ts: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


@console_page
async def funds_page(runtime: Runtime, request: Request, v: StaffVisitor) -> Response:
    rid = _rid(v)
    page = _page_number(request)
    kind = request.query_params.get("kind", "")[:24]

    def read(conn: Connection):  # type: ignore[no-untyped-def]
        kinds = ledger_kinds(conn, rid)
        chosen = kind if kind in kinds else ""
        total, rows = ledger_page(conn, rid, page, LEDGER_PAGE, chosen or None)
        return balances(conn, rid), kinds, chosen, total, rows

    (available, held), kinds, chosen, total, rows = await runtime.transaction(read, read_only=True)
    pages = max(1, -(-total // LEDGER_PAGE))
    now = runtime.clock.now()
    return staff_render(request, v, "console_funds.html", available=available, held=held, kinds=kinds, kind=chosen,
                        rows=rows, page=min(page, pages), pages=pages, total=total,
                        default_from=_day(now - 30 * 86400), default_to=_day(now))


@console_page
async def earnings_download(runtime: Runtime, request: Request, v: StaffVisitor) -> Response:
    rid = _rid(v)
    now = runtime.clock.now()
    start_day = request.query_params.get("from", "")[:10] or _day(now - 30 * 86400)
    end_day = request.query_params.get("to", "")[:10] or _day(now)
    try:
        start, end = utc_day_start(start_day), utc_day_start(end_day) + 86400
    except ValueError:
        raise PageError(400, "Bad dates", "Give the dates as YYYY-MM-DD, e.g. ?from=2026-11-01&to=2026-11-30.") from None
    if end <= start:
        raise PageError(400, "Bad dates", "The end date comes before the start date.")
    rows = await runtime.transaction(lambda conn: earnings(conn, rid, start, end), read_only=True)
    body = earnings_csv(rows, start_day, end_day)
    headers = dict(SECURITY_HEADERS)
    headers["Content-Disposition"] = f'attachment; filename="earnings-{start_day}-to-{end_day}.csv"'
    return Response(body, media_type="text/csv; charset=utf-8", headers=headers)


# ---------------------------------------------------------------- workers


@console_page
async def workers_page(runtime: Runtime, request: Request, v: StaffVisitor) -> Response:
    rid = _rid(v)
    sort = request.query_params.get("sort", "recent")
    sort = sort if sort in SORTS else "recent"
    stats = await runtime.transaction(lambda conn: worker_stats(conn, rid), read_only=True)
    rows = sorted(stats.values(), key=lambda s: (SORTS[sort](s), s.worker_id))
    return staff_render(request, v, "console_workers.html", rows=rows, sort=sort, sorts=list(SORTS))


async def _known_worker(runtime: Runtime, rid: str, wid: str) -> None:
    if not await runtime.transaction(lambda conn: knows_worker(conn, rid, wid), read_only=True):
        raise PageError(404, "Not found", "None of your workers has that WorkerId.")


@console_page
async def worker_page(runtime: Runtime, request: Request, v: StaffVisitor) -> Response:
    rid, wid = _rid(v), request.path_params["id"][:64]
    await _known_worker(runtime, rid, wid)

    def read(conn: Connection):  # type: ignore[no-untyped-def]
        stats = worker_stats(conn, rid, wid).get(wid)
        return stats, worker_qualifications(conn, rid, wid), recent_work(conn, rid, wid)

    stats, quals, work = await runtime.transaction(read, read_only=True)
    return staff_render(request, v, "console_worker.html", wid=wid, s=stats, quals=quals, work=work)


@console_page
async def worker_action(runtime: Runtime, request: Request, v: StaffVisitor) -> Response:
    rid, wid = _rid(v), request.path_params["id"][:64]
    form = await read_form(request, v)
    await _known_worker(runtime, rid, wid)
    action = request.path_params["action"]
    here = f"/console/workers/{wid}"
    try:
        if action == "block":
            reason = field_text(form, "reason", limit=2000).strip()
            await mturk_op(runtime, rid, "CreateWorkerBlock", {"WorkerId": wid, "Reason": reason})
            return redirect(request, v, here, message=f"{wid} is blocked from your HITs.")
        if action == "unblock":
            await mturk_op(runtime, rid, "DeleteWorkerBlock", {"WorkerId": wid, "Reason": "unblocked in the console"})
            return redirect(request, v, here, message=f"{wid} is unblocked.")
        if action == "grant":
            try:
                value = int(field_text(form, "value", limit=12) or "1")
            except ValueError:
                raise Refused("The value is a whole number.") from None
            await mturk_op(runtime, rid, "AssociateQualificationWithWorker", {
                "QualificationTypeId": field_text(form, "type_id", limit=64), "WorkerId": wid, "IntegerValue": value,
                "SendNotification": False})
            return redirect(request, v, here, message=f"Qualification granted to {wid} (value {value}).")
        if action == "revoke":
            params = {"QualificationTypeId": field_text(form, "type_id", limit=64), "WorkerId": wid}
            reason = field_text(form, "reason", limit=2000).strip()
            if reason:
                params["Reason"] = reason
            await mturk_op(runtime, rid, "DisassociateQualificationFromWorker", params)
            return redirect(request, v, here, message=f"Qualification revoked from {wid}.")
        if action == "message":
            answer = await mturk_op(runtime, rid, "NotifyWorkers", {
                "Subject": field_text(form, "subject", limit=400).strip(),
                "MessageText": field_text(form, "body", limit=8192).strip(), "WorkerIds": [wid]})
            failures = answer.get("NotifyWorkersFailureStatuses") or []
            if failures:
                raise Refused(failures[0]["NotifyWorkersFailureMessage"])
            return redirect(request, v, here, message=f"Message sent to {wid}.")
    except Refused as e:
        return redirect(request, v, here, message=f"Refused: {e}")
    raise PageError(404, "Not found", "There is no such action.")


# ---------------------------------------------------------------- qualifications


@console_page
async def qualifications_page(runtime: Runtime, request: Request, v: StaffVisitor) -> Response:
    rid = _rid(v)
    error, form_values = None, {}
    if request.method == "POST":
        form = await read_form(request, v)
        form_values = {k: field_text(form, k, limit=4000) for k in ("name", "description", "keywords", "auto_value")}
        params: dict = {"Name": form_values["name"].strip(), "Description": form_values["description"].strip(),
                        "QualificationTypeStatus": "Active" if field_text(form, "active") == "1" else "Inactive",
                        "AutoGranted": field_text(form, "auto_granted") == "1"}
        if form_values["keywords"].strip():
            params["Keywords"] = form_values["keywords"].strip()
        try:
            if params["AutoGranted"] and form_values["auto_value"].strip():
                try:
                    params["AutoGrantedValue"] = int(form_values["auto_value"])
                except ValueError:
                    raise Refused("The auto-granted value is a whole number.") from None
            made = await mturk_op(runtime, rid, "CreateQualificationType", params)
            type_id = made["QualificationType"]["QualificationTypeId"]
            return redirect(request, v, f"/console/qualifications/{type_id}", message=f"Created {params['Name']}.")
        except Refused as e:
            error = str(e)
    rows = await runtime.transaction(lambda conn: own_qualification_types(conn, rid), read_only=True)
    return staff_render(request, v, "console_qualifications.html", status=400 if error else 200, rows=rows,
                        error=error, form=form_values)


async def _own_type(runtime: Runtime, rid: str, type_id: str):  # type: ignore[no-untyped-def]
    row = await runtime.transaction(lambda conn: conn.execute(select(qualification_types).where(
        qualification_types.c.id == type_id, qualification_types.c.requester_id == rid,
        qualification_types.c.deleted_at.is_(None))).first(), read_only=True)
    if row is None:
        raise PageError(404, "Not found", "You have no qualification type with that id.")
    return row


@console_page
async def qualification_page(runtime: Runtime, request: Request, v: StaffVisitor) -> Response:
    rid, type_id = _rid(v), request.path_params["id"][:64]
    qt = await _own_type(runtime, rid, type_id)
    here = f"/console/qualifications/{type_id}"
    if request.method == "POST":
        form = await read_form(request, v)
        try:
            if field_text(form, "action") == "grant":
                wid = field_text(form, "worker_id", limit=64).strip()
                try:
                    value = int(field_text(form, "value", limit=12) or "1")
                except ValueError:
                    raise Refused("The value is a whole number.") from None
                await mturk_op(runtime, rid, "AssociateQualificationWithWorker", {
                    "QualificationTypeId": type_id, "WorkerId": wid, "IntegerValue": value, "SendNotification": False})
                return redirect(request, v, here, message=f"Granted to {wid} (value {value}).")
            params: dict = {"QualificationTypeId": type_id,
                            "QualificationTypeStatus": "Active" if field_text(form, "active") == "1" else "Inactive",
                            "AutoGranted": field_text(form, "auto_granted") == "1"}
            description = field_text(form, "description", limit=4000).strip()
            if description:
                params["Description"] = description
            auto_value = field_text(form, "auto_value", limit=12).strip()
            if params["AutoGranted"] and auto_value:
                try:
                    params["AutoGrantedValue"] = int(auto_value)
                except ValueError:
                    raise Refused("The auto-granted value is a whole number.") from None
            await mturk_op(runtime, rid, "UpdateQualificationType", params)
            return redirect(request, v, here, message="Saved.")
        except Refused as e:
            return redirect(request, v, here, message=f"Refused: {e}")
    return staff_render(request, v, "console_qualification.html", qt=qt)


routes = [
    *login_routes("requester"),
    Route("/console", lambda request: RedirectResponse("/console/", status_code=307), methods=["GET"]),
    Route("/console/", overview, methods=["GET"]),
    Route("/console/keys", keys_page, methods=["GET", "POST"]),
    Route("/console/keys/{key}/{action}", key_action, methods=["POST"]),
    Route("/console/funds", funds_page, methods=["GET"]),
    Route("/console/funds/earnings.csv", earnings_download, methods=["GET"]),
    Route("/console/workers", workers_page, methods=["GET"]),
    Route("/console/workers/{id}", worker_page, methods=["GET"]),
    Route("/console/workers/{id}/{action}", worker_action, methods=["POST"]),
    Route("/console/qualifications", qualifications_page, methods=["GET", "POST"]),
    Route("/console/qualifications/{id}", qualification_page, methods=["GET", "POST"]),
]
