"""Administration under `/admin/` (admins only; see staff.py for sessions and sign-in):

  /admin/                      overview: counts, links
  /admin/requesters            list (balances, login, active) and a form to create one (credentials shown once)
  /admin/requesters/{id}       funds top-up, deactivate / reactivate, set the console login
  /admin/workers               list and search; deactivate / reactivate, reset the web password
  /admin/invitations           make an invitation link (shown once) and see the ones made
  /admin/settings              open sign-up, fee schedule
  /admin/health                database, schema revision, sweeper's last run, version

Every POST needs the CSRF token; refusals (a taken name, a bad amount) come back as a message, never a 500.
"""

from __future__ import annotations

import time

from sqlalchemy import Connection, String, cast, func, or_, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from hitkit import __version__
from hitkit.mturk.fees import FEE_SCHEDULES, CurrencyError, format_cents, parse_currency
from hitkit.server.domain.accounts import AccountError, create_requester
from hitkit.server.domain.leases import lease_holder
from hitkit.server.domain.ledger import balances, deposit
from hitkit.server.domain.staff_accounts import set_requester_active, set_staff_login, set_worker_active
from hitkit.server.domain.web_accounts import (
    OPEN_SIGNUP_KEY, create_invitation, get_setting, hash_password, open_signup, put_setting, set_worker_password,
)
from hitkit.server.runtime import Runtime
from hitkit.server.store.db import current_revision, head_revision
from hitkit.server.store.tables import (
    invitations, participants, requesters, staff_logins, worker_logins, workers,
)
from hitkit.server.web.site import PageError, field_text, read_form, redirect
from hitkit.server.web.staff import StaffVisitor, login_routes, staff_page, staff_render
from hitkit.server.web.task_content import submit_base

FEE_SCHEDULE_KEY = "fee_schedule"
PAGE_SIZE = 50
admin_page = staff_page("admin")


def load_fee_schedule(conn: Connection) -> str | None:
    """The fee schedule the admin chose on the settings page (None: the data directory's server.json decides)."""
    value = get_setting(conn, FEE_SCHEDULE_KEY)
    return value if value in FEE_SCHEDULES else None


def _page_number(request: Request) -> int:
    try:
        return max(1, min(int(request.query_params.get("page", "1")), 100_000))
    except ValueError:
        return 1


def _cents(text: str) -> int:
    try:
        cents = parse_currency(text.strip().lstrip("$"))
    except CurrencyError:
        raise AccountError(f"An amount is dollars with at most two decimals (e.g. 250 or 99.50), not {text!r}.") from None
    if cents > 10_000_000_00:
        raise AccountError("At most $10,000,000.00 at a time.")
    return cents


# ---------------------------------------------------------------- overview


@admin_page
async def overview(runtime: Runtime, request: Request, v: StaffVisitor) -> Response:
    def read(conn: Connection) -> dict:
        return {
            "requesters": conn.execute(select(func.count()).select_from(requesters)).scalar_one(),
            "workers": conn.execute(select(func.count()).select_from(workers)).scalar_one(),
            "open_signup": open_signup(conn),
        }

    facts = await runtime.transaction(read, read_only=True)
    return staff_render(request, v, "admin_overview.html", facts=facts, fee_schedule=runtime.config.fee_schedule)


# ---------------------------------------------------------------- requesters


def _requester_rows(conn: Connection) -> list[dict]:
    rows = conn.execute(
        select(requesters, staff_logins.c.username)
        .select_from(requesters.outerjoin(staff_logins, (staff_logins.c.subject_id == requesters.c.id)
                                          & (staff_logins.c.role == "requester")))
        .order_by(requesters.c.created_at)
    ).all()
    out = []
    for r in rows:
        available, held = balances(conn, r.id)
        out.append({"row": r, "available": available, "held": held})
    return out


@admin_page
async def requesters_page(runtime: Runtime, request: Request, v: StaffVisitor) -> Response:
    rows = await runtime.transaction(_requester_rows, read_only=True)
    return staff_render(request, v, "admin_requesters.html", rows=rows)


@admin_page
async def create_requester_action(runtime: Runtime, request: Request, v: StaffVisitor) -> Response:
    form = await read_form(request, v)
    name = field_text(form, "name", limit=128).strip()
    username = field_text(form, "username", limit=64).strip()
    password = field_text(form, "password", limit=2048)
    funds = field_text(form, "funds", limit=32).strip() or "0"
    try:
        cents = _cents(funds)
        password_hash = await runtime.run(lambda: hash_password(password)) if username else None

        def work(conn: Connection):  # type: ignore[no-untyped-def]
            now = runtime.clock.now()
            rid, creds = create_requester(conn, name, now, 0)
            if cents:
                deposit(conn, rid, cents, now, memo="starting funds (admin)")
            if username and password_hash:
                set_staff_login(conn, "requester", rid, username, password_hash, now)
            return rid, creds

        rid, creds = await runtime.transaction(work)
    except AccountError as e:
        rows = await runtime.transaction(_requester_rows, read_only=True)
        return staff_render(request, v, "admin_requesters.html", status=400, rows=rows, error=str(e),
                            form={"name": name, "username": username, "funds": funds})
    rows = await runtime.transaction(_requester_rows, read_only=True)
    return staff_render(request, v, "admin_requesters.html", rows=rows,
                        created={"id": rid, "name": name, "username": username.lower(), "funds": cents, "creds": creds})


async def _requester(runtime: Runtime, request: Request) -> dict:
    rid = request.path_params["id"][:64]

    def read(conn: Connection) -> dict | None:
        row = conn.execute(select(requesters).where(requesters.c.id == rid)).first()
        if row is None:
            return None
        available, held = balances(conn, rid)
        username = conn.execute(select(staff_logins.c.username).where(
            staff_logins.c.role == "requester", staff_logins.c.subject_id == rid)).scalar()
        return {"row": row, "available": available, "held": held, "username": username}

    found = await runtime.transaction(read, read_only=True)
    if found is None:
        raise PageError(404, "Not found", "No requester has that id.")
    return found


@admin_page
async def requester_page(runtime: Runtime, request: Request, v: StaffVisitor) -> Response:
    return staff_render(request, v, "admin_requester.html", r=await _requester(runtime, request))


@admin_page
async def requester_action(runtime: Runtime, request: Request, v: StaffVisitor) -> Response:
    r = await _requester(runtime, request)
    rid = r["row"].id
    form = await read_form(request, v)
    action = request.path_params["action"]
    here = f"/admin/requesters/{rid}"
    try:
        if action == "funds":
            cents = _cents(field_text(form, "amount", limit=32))
            if cents <= 0:
                raise AccountError("The amount must be more than 0.")
            memo = field_text(form, "memo", limit=200).strip() or "top-up (admin)"
            await runtime.transaction(lambda conn: deposit(conn, rid, cents, runtime.clock.now(), memo=memo))
            return redirect(request, v, here, message=f"Added ${format_cents(cents)} to {r['row'].name}.")
        if action == "active":
            on = field_text(form, "active") == "1"
            await runtime.transaction(lambda conn: set_requester_active(conn, rid, on))
            runtime.service._keys.clear()  # this process stops accepting its keys at once (others within 5 s)
            return redirect(request, v, here, message=f"{r['row'].name} is {'active' if on else 'deactivated'}.")
        if action == "login":
            username = field_text(form, "username", limit=64).strip()
            password = field_text(form, "password", limit=2048)
            password_hash = await runtime.run(lambda: hash_password(password))
            stored = await runtime.transaction(
                lambda conn: set_staff_login(conn, "requester", rid, username, password_hash, runtime.clock.now()))
            return redirect(request, v, here, message=f"{r['row'].name} signs in to the console as {stored}.")
    except AccountError as e:
        return redirect(request, v, here, message=f"Refused: {e}")
    raise PageError(404, "Not found", "There is no such action.")


# ---------------------------------------------------------------- workers


@admin_page
async def workers_page(runtime: Runtime, request: Request, v: StaffVisitor) -> Response:
    q = request.query_params.get("q", "").strip()[:100]
    page = _page_number(request)

    def read(conn: Connection):  # type: ignore[no-untyped-def]
        base = (
            select(workers, worker_logins.c.username, participants.c.link_code)
            .select_from(workers.outerjoin(worker_logins, worker_logins.c.worker_id == workers.c.id)
                         .outerjoin(participants, participants.c.worker_id == workers.c.id))
        )
        if q:
            like = "%" + q.lower().replace("\\", "").replace("%", "").replace("_", "") + "%"
            base = base.where(or_(func.lower(workers.c.id).like(like), func.lower(workers.c.name).like(like),
                                  func.lower(cast(worker_logins.c.username, String)).like(like)))
        total = conn.execute(select(func.count()).select_from(base.subquery())).scalar_one()
        rows = conn.execute(base.order_by(workers.c.created_at.desc()).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
        return total, rows

    total, rows = await runtime.transaction(read, read_only=True)
    pages = max(1, -(-total // PAGE_SIZE))
    return staff_render(request, v, "admin_workers.html", rows=rows, q=q, page=min(page, pages), pages=pages, total=total)


@admin_page
async def worker_action(runtime: Runtime, request: Request, v: StaffVisitor) -> Response:
    wid = request.path_params["id"][:64]
    form = await read_form(request, v)
    action = request.path_params["action"]
    back_to = "/admin/workers?" + (f"q={wid}" if wid.isalnum() else "")
    exists = await runtime.transaction(
        lambda conn: conn.execute(select(workers.c.id).where(workers.c.id == wid)).first() is not None, read_only=True)
    if not exists:
        raise PageError(404, "Not found", "No worker has that id.")
    try:
        if action == "active":
            on = field_text(form, "active") == "1"
            await runtime.transaction(lambda conn: set_worker_active(conn, wid, on))
            return redirect(request, v, back_to, message=f"Worker {wid} is {'active' if on else 'deactivated'}.")
        if action == "password":
            username = field_text(form, "username", limit=64).strip()
            password = field_text(form, "password", limit=2048)
            if not username:
                username = await runtime.transaction(lambda conn: conn.execute(
                    select(worker_logins.c.username).where(worker_logins.c.worker_id == wid)).scalar() or "", read_only=True)
            password_hash = await runtime.run(lambda: hash_password(password))
            await runtime.transaction(
                lambda conn: set_worker_password(conn, wid, username, password_hash, runtime.clock.now()))
            return redirect(request, v, back_to,
                            message=f"Worker {wid} now signs in as {username.lower()} with the new password; their other sessions ended.")
    except AccountError as e:
        return redirect(request, v, back_to, message=f"Refused: {e}")
    raise PageError(404, "Not found", "There is no such action.")


# ---------------------------------------------------------------- invitations


async def _invitation_rows(runtime: Runtime) -> list:
    return await runtime.transaction(lambda conn: conn.execute(
        select(invitations).order_by(invitations.c.created_at.desc()).limit(100)).all(), read_only=True)


@admin_page
async def invitations_page(runtime: Runtime, request: Request, v: StaffVisitor) -> Response:
    if request.method == "GET":
        return staff_render(request, v, "admin_invitations.html", rows=await _invitation_rows(runtime),
                            now=runtime.clock.now())
    form = await read_form(request, v)
    try:
        uses = int(field_text(form, "uses", limit=12) or "1")
        days = float(field_text(form, "expires_days", limit=12) or "7")
        if not 0 <= days <= 3650 or days != days:
            raise ValueError
    except ValueError:
        return redirect(request, v, "/admin/invitations", message="Refused: uses is a whole number and days a number from 0 to 3650.")
    note = field_text(form, "note", limit=500).strip() or None
    try:
        code = await runtime.transaction(lambda conn: create_invitation(
            conn, v.staff.subject_id, runtime.clock.now(), max_uses=uses, expires_in=days * 86400 if days > 0 else None,
            note=note))
    except AccountError as e:
        return redirect(request, v, "/admin/invitations", message=f"Refused: {e}")
    return staff_render(request, v, "admin_invitations.html", rows=await _invitation_rows(runtime),
                        now=runtime.clock.now(), link=f"{submit_base(request)}/join/{code}", uses=uses)


# ---------------------------------------------------------------- settings and health


@admin_page
async def settings_page(runtime: Runtime, request: Request, v: StaffVisitor) -> Response:
    if request.method == "POST":
        form = await read_form(request, v)
        signup = field_text(form, "open_signup") == "1"
        schedule = field_text(form, "fee_schedule", limit=16)
        if schedule not in FEE_SCHEDULES:
            return redirect(request, v, "/admin/settings", message=f"Refused: the fee schedule is one of {', '.join(FEE_SCHEDULES)}.")

        def work(conn: Connection) -> None:
            put_setting(conn, OPEN_SIGNUP_KEY, "true" if signup else "false")
            put_setting(conn, FEE_SCHEDULE_KEY, schedule)

        await runtime.transaction(work)
        runtime.config.fee_schedule = schedule  # this process at once; the others at their next sweep
        return redirect(request, v, "/admin/settings", message="Settings saved.")
    signup = await runtime.transaction(open_signup, read_only=True)
    return staff_render(request, v, "admin_settings.html", open_signup=signup, fee_schedule=runtime.config.fee_schedule,
                        schedules=FEE_SCHEDULES)


@admin_page
async def health_page(runtime: Runtime, request: Request, v: StaffVisitor) -> Response:
    try:
        revision = await runtime.run(lambda: current_revision(runtime.engine))
        database = "reachable"
    except Exception as e:  # report it on the page; the health page must not fail with the database
        revision, database = None, f"unreachable ({type(e).__name__})"
    sweeper = dict(request.app.state.sweeper_status)
    last = sweeper.get("last_run")
    try:
        holder = await runtime.transaction(lambda conn: lease_holder(conn, "background", time.time()), read_only=True)
    except Exception:  # the database line above already says it is unreachable
        holder = None
    return staff_render(
        request, v, "admin_health.html", database=database, dialect=runtime.engine.dialect.name, revision=revision,
        head=head_revision(), version=__version__, sweeper=sweeper,
        sweeper_age=None if last is None else max(0.0, runtime.clock.now() - last), wall=time.time(),
        interval=runtime.config.sweep_interval, holder=holder,
    )


routes = [
    *login_routes("admin"),
    Route("/admin", lambda request: RedirectResponse("/admin/", status_code=307), methods=["GET"]),
    Route("/admin/", overview, methods=["GET"]),
    Route("/admin/requesters", requesters_page, methods=["GET"]),
    Route("/admin/requesters", create_requester_action, methods=["POST"]),
    Route("/admin/requesters/{id}", requester_page, methods=["GET"]),
    Route("/admin/requesters/{id}/{action}", requester_action, methods=["POST"]),
    Route("/admin/workers", workers_page, methods=["GET"]),
    Route("/admin/workers/{id}/{action}", worker_action, methods=["POST"]),
    Route("/admin/invitations", invitations_page, methods=["GET", "POST"]),
    Route("/admin/settings", settings_page, methods=["GET", "POST"]),
    Route("/admin/health", health_page, methods=["GET"]),
]
