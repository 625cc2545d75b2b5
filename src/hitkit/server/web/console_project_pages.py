"""The console's projects, batches and review (requesters only; rules in domain/console_projects.py and
domain/console_review.py):

  /console/projects                        the requester's projects; start one from a built-in template
  /console/projects/{id}                   edit the template and HIT properties, with a live preview of a sample row;
                                           upload a CSV as a new batch
  /console/projects/{id}/preview           (POST) the template rendered with a row, sandboxed, for the preview frame
  /console/batches                         every batch
  /console/batches/{id}                    before publishing: a carousel of rendered rows and the cost; after:
                                           progress, a chart of submissions over time, results and review links
  /console/batches/{id}/rows/{n}           row n rendered as the worker will see it (sandboxed)
  /console/batches/{id}/publish            (POST) create the HITs; resumable: rows with a HIT are skipped
  /console/batches/{id}/expire             (POST) stop the batch: every HIT expires now
  /console/batches/{id}/delete             (POST) delete an unpublished batch
  /console/batches/{id}/results.csv        MTurk's batch results CSV
  /console/batches/{id}/review             answers next to each item, agreement, aggregated label, per-worker
                                           quality; approve / reject / bonus one by one or in bulk (POST)

Every action goes through the MTurk operation a boto3 call would use (CreateHITType, CreateHITWithHITType,
ApproveAssignment, RejectAssignment, SendBonus, UpdateExpirationForHIT) with the API's validation and ownership
rules. Publishing writes each row's HIT id in the same transaction that creates the HIT, and every CreateHIT
carries a token made from the batch and row, so a publish cut off at any point and clicked again creates exactly
the missing HITs. Another requester's project or batch is "not found", like a missing one.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import Connection
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hitkit.mturk.fees import format_cents, parse_currency
from hitkit.server.domain import console_projects as cp
from hitkit.server.domain.console_review import REVIEW_METHODS, results_csv, review
from hitkit.server.domain.ledger import balances
from hitkit.server.runtime import Runtime
from hitkit.server.web.site import SECURITY_HEADERS, PageError, field_text, read_form, redirect
from hitkit.server.web.staff import Refused, StaffVisitor, mturk_op, mturk_op_in, staff_page, staff_render
from hitkit.server.web.task_content import PREVIEW_ID, message_page, question_page
from hitkit.templates import BUILTINS
from hitkit.templates.task_template import KINDS, TaskTemplate, TemplateError

console_page = staff_page("requester")
PUBLISH_CHUNK = 25  # rows per transaction while publishing
REVIEW_PAGE = 25  # items per review page
MAX_UPLOAD_BYTES = cp.MAX_CSV_BYTES + 64 * 1024
MAX_BULK = 500


def _rid(v: StaffVisitor) -> str:
    assert v.staff is not None
    return v.staff.subject_id


def _int(value: str, default: int, lo: int, hi: int) -> int:
    try:
        return max(lo, min(int(value), hi))
    except ValueError:
        return default


async def _project(runtime: Runtime, rid: str, project_id: str):  # type: ignore[no-untyped-def]
    row = await runtime.transaction(lambda conn: cp.get_project(conn, rid, project_id[:32]), read_only=True)
    if row is None:
        raise PageError(404, "Not found", "You have no project with that id.")
    return row


async def _batch(runtime: Runtime, rid: str, batch_id: str):  # type: ignore[no-untyped-def]
    row = await runtime.transaction(lambda conn: cp.get_batch(conn, rid, batch_id[:32]), read_only=True)
    if row is None:
        raise PageError(404, "Not found", "You have no batch with that id.")
    return row


# ---------------------------------------------------------------- projects


@console_page
async def projects_page(runtime: Runtime, request: Request, v: StaffVisitor) -> Response:
    rid = _rid(v)
    problems: list[str] = []
    form: dict[str, str] = {}
    if request.method == "POST":
        posted = await read_form(request, v)
        form = {"name": field_text(posted, "name", limit=200), "start": field_text(posted, "start", limit=64)}
        try:
            start = cp.starter(form["start"]) if form["start"] != "blank" else None
        except KeyError:
            start = None
            problems.append(f"template: choose one of {', '.join(BUILTINS)} or blank")
        if not problems:
            properties = start.properties if start else {"hit": {"title": form["name"].strip() or "Untitled task",
                                                                 "description": "Describe the task for workers.",
                                                                 "reward": "0.10"}, "qualifications": {}}
            template = start.template if start else BLANK_TEMPLATE
            kind = start.kind if start else "jinja"
            try:
                pid = await runtime.transaction(lambda conn: cp.create_project(
                    conn, rid, form["name"], properties, template, kind, runtime.clock.now()))
                return redirect(request, v, f"/console/projects/{pid}", message=f"Created {form['name'].strip()}.")
            except cp.ProjectProblems as e:
                problems = e.problems
    rows = await runtime.transaction(lambda conn: cp.list_projects(conn, rid), read_only=True)
    return staff_render(request, v, "console_projects.html", status=400 if problems else 200, rows=rows,
                        builtins=BUILTINS, problems=problems, form=form)


BLANK_TEMPLATE = """<!-- A Jinja template: {{ row.column }} is the input row's value, HTML-escaped. -->
<p>{{ row.text }}</p>
<label><input type="radio" name="label" value="yes" required> Yes</label>
<label><input type="radio" name="label" value="no"> No</label>
"""


def _sample(project) -> dict[str, str]:  # type: ignore[no-untyped-def]
    try:
        return cp.sample_row(cp.template_of(project), _examples(project))
    except TemplateError:
        return {}


def _examples(project) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    """The example rows of the built-in template the project started from, when its template is still that one."""
    for template_id in BUILTINS:
        start = cp.starter(template_id)
        if start.template == project.template:
            return start.example_rows
    return []


@console_page
async def project_page(runtime: Runtime, request: Request, v: StaffVisitor) -> Response:
    rid = _rid(v)
    project = await _project(runtime, rid, request.path_params["id"])
    problems: list[str] = []
    values = cp.form_from_properties(json.loads(project.properties))
    values.update(name=project.name, template=project.template, kind=project.template_kind)
    if request.method == "POST":
        posted = await read_form(request, v)
        values = {k: field_text(posted, k, limit=cp.MAX_TEMPLATE_CHARS + 1 if k == "template" else 4000)
                  for k in ("name", "template", "kind", "countries", "min_approval_rate", "min_approved_hits",
                            "masters", "adult", *cp.HIT_FORM_FIELDS)}
        properties = cp.properties_from_form(values)
        try:
            await runtime.transaction(lambda conn: cp.update_project(
                conn, rid, project.id, values["name"], properties, values["template"], values["kind"],
                runtime.clock.now()))
            return redirect(request, v, f"/console/projects/{project.id}", message="Saved.")
        except cp.ProjectProblems as e:
            problems = e.problems
    batches = await runtime.transaction(lambda conn: cp.list_batches(conn, rid, project.id), read_only=True)
    return _project_view(request, v, project, values, batches, problems=problems)


def _project_view(request: Request, v: StaffVisitor, project, values: dict[str, str], batches,  # type: ignore[no-untyped-def]
                  *, problems: list[str] | None = None, upload_problems: list[str] | None = None,
                  upload_name: str = "") -> Response:
    status = 400 if problems or upload_problems else 200
    return staff_render(request, v, "console_project.html", status=status, project=project, values=values,
                        kinds=KINDS, batches=batches, problems=problems or [], upload_problems=upload_problems or [],
                        upload_name=upload_name, sample=json.dumps(_sample(project), ensure_ascii=False, indent=1),
                        gold_prefix=cp.GOLD_PREFIX, max_rows=cp.MAX_BATCH_ROWS)


@console_page
async def project_preview(runtime: Runtime, request: Request, v: StaffVisitor) -> Response:
    """The template in the form (not yet saved) rendered with the sample row, for the live preview frame."""
    await _project(runtime, _rid(v), request.path_params["id"])
    posted = await read_form(request, v)
    kind = field_text(posted, "kind", limit=32)
    template = field_text(posted, "template", limit=cp.MAX_TEMPLATE_CHARS + 1)
    try:
        row = json.loads(field_text(posted, "row", limit=64_000) or "{}")
        if not isinstance(row, dict):
            raise ValueError("the sample row must be a JSON object such as {\"text\": \"Hello\"}")
        row = {str(k): val if isinstance(val, str) else json.dumps(val) for k, val in row.items()}
    except ValueError as e:
        return message_page(400, f"Sample row: {e}")
    if kind not in KINDS:
        return message_page(400, f"Template kind: {kind!r} is not one of {', '.join(KINDS)}.")
    height = _int(field_text(posted, "frame_height", limit=8) or "600", 600, 0, 10_000)
    try:
        question = TaskTemplate(kind, template, "template").render_question(row, frame_height=height)
    except TemplateError as e:
        return message_page(400, f"The preview cannot be shown: {e}")
    return question_page(request, question, hit_id="PREVIEW", title="Preview", assignment_id=PREVIEW_ID)


@console_page
async def upload_batch(runtime: Runtime, request: Request, v: StaffVisitor) -> Response:
    rid = _rid(v)
    project = await _project(runtime, rid, request.path_params["id"])
    posted = await read_form(request, v, max_files=1, max_bytes=MAX_UPLOAD_BYTES)
    name = field_text(posted, "name", limit=256)
    upload = posted.get("file")
    problems: list[str] = []
    batch_id = None
    if not isinstance(upload, UploadFile) or not upload.filename:
        problems = ["file: choose a CSV file to upload"]
    else:
        data = await upload.read(cp.MAX_CSV_BYTES + 1)
        try:
            text = cp.decode_upload(data)
            batch_id = await runtime.transaction(lambda conn: cp.create_batch(
                conn, rid, project, name or upload.filename or "batch", text, runtime.clock.now()))
        except cp.ProjectProblems as e:
            problems = [f"{upload.filename}: {p}" for p in e.problems]
    if batch_id is not None:
        return redirect(request, v, f"/console/batches/{batch_id}",
                        message="Every row checks out. Look through the preview, then publish.")
    values = cp.form_from_properties(json.loads(project.properties))
    values.update(name=project.name, template=project.template, kind=project.template_kind)
    batches = await runtime.transaction(lambda conn: cp.list_batches(conn, rid, project.id), read_only=True)
    return _project_view(request, v, project, values, batches, upload_problems=problems, upload_name=name)


# ---------------------------------------------------------------- batches


@console_page
async def batches_page(runtime: Runtime, request: Request, v: StaffVisitor) -> Response:
    rid = _rid(v)

    def read(conn: Connection):  # type: ignore[no-untyped-def]
        names = {p.id: p.name for p, _ in cp.list_projects(conn, rid)}
        return [(b, names.get(b.project_id, ""), cp.published_count(conn, b.id)) for b in cp.list_batches(conn, rid)]

    rows = await runtime.transaction(read, read_only=True)
    return staff_render(request, v, "console_batches.html", rows=rows)


@console_page
async def batch_page(runtime: Runtime, request: Request, v: StaffVisitor) -> Response:
    rid = _rid(v)
    batch = await _batch(runtime, rid, request.path_params["id"])
    number = _int(request.query_params.get("row", "1"), 1, 1, max(1, batch.row_count))
    now = runtime.clock.now()

    def read(conn: Connection):  # type: ignore[no-untyped-def]
        project = cp.get_project(conn, rid, batch.project_id)
        row = cp.batch_row(conn, batch.id, number)
        return project, row, cp.progress(conn, batch, now), balances(conn, rid)

    project, row, prog, (available, held) = await runtime.transaction(read, read_only=True)
    cost = cp.batch_cost(batch, runtime.config.fee_schedule)
    row_values = json.loads(row.row) if row is not None else {}
    return staff_render(request, v, "console_batch.html", batch=batch, project=project, number=number,
                        row_values=row_values, gold_prefix=cp.GOLD_PREFIX, progress=prog, cost=cost,
                        available=available, held=held, props=cp.properties_of(batch), chart=_chart(prog))


def _chart(p: cp.Progress) -> dict[str, Any]:
    """Bars for the server-made SVG chart of submissions over time."""
    if not p.timeline:
        return {"bars": [], "max": 0}
    top = max(c for _, c in p.timeline) or 1
    width = 100 / len(p.timeline)
    bars = [{"x": round(i * width, 3), "w": round(width * 0.85, 3), "h": round(90 * c / top, 3), "count": c,
             "start": start} for i, (start, c) in enumerate(p.timeline)]
    return {"bars": bars, "max": top, "first": p.timeline[0][0], "last": p.timeline[-1][0] + p.bucket_seconds,
            "bucket": p.bucket_seconds}


@console_page
async def batch_row_content(runtime: Runtime, request: Request, v: StaffVisitor) -> Response:
    rid = _rid(v)
    batch = await _batch(runtime, rid, request.path_params["id"])
    number = _int(request.path_params["n"], 0, 0, 10**9)
    row = await runtime.transaction(lambda conn: cp.batch_row(conn, batch.id, number), read_only=True)
    if row is None:
        return message_page(404, "This batch has no such row.")
    props = cp.properties_of(batch)
    try:
        question = cp.template_of(batch).render_question(cp.worker_row(json.loads(row.row)),
                                                          frame_height=props.frame_height, row_number=number)
    except TemplateError as e:
        return message_page(400, str(e))
    return question_page(request, question, hit_id=row.hit_id or "PREVIEW", title=props.title,
                         assignment_id=PREVIEW_ID)


@console_page
async def publish(runtime: Runtime, request: Request, v: StaffVisitor) -> Response:
    rid = _rid(v)
    batch = await _batch(runtime, rid, request.path_params["id"])
    await read_form(request, v)
    here = f"/console/batches/{batch.id}"
    if batch.cancelled_at is not None:
        return redirect(request, v, here, message="Refused: this batch was stopped; upload the CSV again as a new batch.")
    props = cp.properties_of(batch)
    try:
        hit_type_id = batch.hit_type_id
        if hit_type_id is None:
            made = await mturk_op(runtime, rid, "CreateHITType", props.create_hit_type_params())
            hit_type_id = made["HITTypeId"]
            await runtime.transaction(lambda conn: cp.mark_published(conn, batch.id, hit_type_id, runtime.clock.now()))
        created, size = 0, PUBLISH_CHUNK
        while True:
            try:
                done = await runtime.run(lambda: runtime.service.in_transaction(
                    lambda conn: _publish_chunk(conn, runtime, rid, batch, hit_type_id, size)))
            except Refused:
                if size == 1:
                    raise
                size = 1  # a refused row rolls back its chunk: go row by row to publish every row before it
                continue
            created += done
            if done < size:
                break
    except Refused as e:
        total = await runtime.transaction(lambda conn: cp.published_count(conn, batch.id), read_only=True)
        return redirect(request, v, here, message=f"Published {total} of {batch.row_count} rows, then refused: {e} "
                                                  "Fix that (for example add funds) and publish again: rows that "
                                                  "have a HIT are skipped.")
    return redirect(request, v, here, message=f"Published: {created} HITs created." if created else
                    "Every row already has its HIT.")


def _publish_chunk(conn: Connection, runtime: Runtime, rid: str, batch, hit_type_id: str, size: int) -> int:  # type: ignore[no-untyped-def]
    rows = cp.unpublished_rows(conn, batch.id, size)
    for row in rows:
        try:
            params = cp.create_hit_params(batch, row, hit_type_id)
        except TemplateError as e:
            raise Refused(f"row {row.row_index}: {e}") from None
        made = mturk_op_in(conn, runtime, rid, "CreateHITWithHITType", params)
        cp.set_row_hit(conn, batch.id, row.row_index, made["HIT"]["HITId"])
    return len(rows)


@console_page
async def expire(runtime: Runtime, request: Request, v: StaffVisitor) -> Response:
    rid = _rid(v)
    batch = await _batch(runtime, rid, request.path_params["id"])
    await read_form(request, v)
    hit_ids = await runtime.transaction(lambda conn: cp.batch_hit_ids(conn, batch.id), read_only=True)
    try:
        for hit_id in hit_ids:
            await mturk_op(runtime, rid, "UpdateExpirationForHIT", {"HITId": hit_id, "ExpireAt": 0})
    except Refused as e:
        return redirect(request, v, f"/console/batches/{batch.id}", message=f"Refused: {e}")
    await runtime.transaction(lambda conn: cp.mark_cancelled(conn, batch.id, runtime.clock.now()))
    return redirect(request, v, f"/console/batches/{batch.id}",
                    message=f"Stopped: {len(hit_ids)} HITs expired. Work already accepted can still be submitted.")


@console_page
async def delete(runtime: Runtime, request: Request, v: StaffVisitor) -> Response:
    rid = _rid(v)
    batch = await _batch(runtime, rid, request.path_params["id"])
    await read_form(request, v)
    if not await runtime.transaction(lambda conn: cp.delete_unpublished(conn, batch.id)):
        return redirect(request, v, f"/console/batches/{batch.id}",
                        message="Refused: this batch has HITs; stop it instead.")
    return redirect(request, v, f"/console/projects/{batch.project_id}", message=f"Deleted the batch {batch.name}.")


@console_page
async def results_download(runtime: Runtime, request: Request, v: StaffVisitor) -> Response:
    rid = _rid(v)
    batch = await _batch(runtime, rid, request.path_params["id"])
    body = await runtime.transaction(lambda conn: results_csv(conn, batch), read_only=True)
    headers = dict(SECURITY_HEADERS)
    headers["Content-Disposition"] = f'attachment; filename="{batch.id}-results.csv"'
    return Response(body, media_type="text/csv; charset=utf-8", headers=headers)


# ---------------------------------------------------------------- review


@console_page
async def review_page(runtime: Runtime, request: Request, v: StaffVisitor) -> Response:
    rid = _rid(v)
    batch = await _batch(runtime, rid, request.path_params["id"])
    if request.method == "POST":
        return await _review_action(runtime, request, v, batch)
    q = request.query_params
    wanted, method, show = q.get("field", "")[:200], q.get("method", "")[:16], q.get("show", "all")[:16]
    r = await runtime.run(lambda: runtime.service.in_transaction(lambda conn: review(conn, batch, wanted, method),
                                                                 read_only=True))
    items = [it for it in r.items if it.assignments]
    if show == "submitted":
        items = [it for it in items if any(a.status == "Submitted" for a in it.assignments)]
    elif show == "disagreement":
        items = [it for it in items if it.agreement is not None and it.agreement < 1]
    pages = max(1, -(-len(items) // REVIEW_PAGE))
    page = _int(q.get("page", "1"), 1, 1, pages)
    waiting = sum(a.status == "Submitted" for it in r.items for a in it.assignments)
    return staff_render(request, v, "console_review.html", batch=batch, r=r, items=items[(page - 1) * REVIEW_PAGE:
                        page * REVIEW_PAGE], page=page, pages=pages, show=show, methods=REVIEW_METHODS,
                        waiting=waiting, shown=len(items), props=cp.properties_of(batch), field=wanted,
                        image=_looks_like_image)


def _looks_like_image(value: Any) -> bool:
    text = value if isinstance(value, str) else ""
    return text.startswith(("https://", "http://")) and text.lower().split("?")[0].endswith(
        (".jpg", ".jpeg", ".png", ".gif", ".webp", ".svg"))


async def _review_action(runtime: Runtime, request: Request, v: StaffVisitor, batch) -> Response:  # type: ignore[no-untyped-def]
    rid = _rid(v)
    posted = await read_form(request, v)
    back = "/console/batches/" + batch.id + "/review"
    keep = field_text(posted, "back", limit=400)
    if keep.startswith("?"):
        back += "?" + "&".join(p for p in keep[1:].split("#")[0].split("&") if p and not p.startswith("msg="))
        back += "#" + keep.split("#", 1)[1] if "#" in keep else ""
    action = field_text(posted, "action", limit=16)
    ids = list(dict.fromkeys(x for x in posted.getlist("assignment") if isinstance(x, str) and x))[:MAX_BULK]
    if not ids:
        return redirect(request, v, back, message="Select at least one assignment.")
    own = await runtime.transaction(lambda conn: {a.id: a for a in cp.batch_assignments(conn, batch.id)},
                                    read_only=True)
    unknown = [i for i in ids if i not in own]
    if unknown:
        raise PageError(404, "Not found", f"{unknown[0][:64]} is not an assignment of this batch; nothing was changed.")
    feedback = field_text(posted, "feedback", limit=1024).strip()
    done, refused = 0, []
    try:
        if action == "bonus":
            try:
                cents = parse_currency(field_text(posted, "amount", limit=16).strip().lstrip("$"))
            except ValueError:
                raise Refused("The bonus is an amount in dollars, such as 0.25.") from None
            reason = field_text(posted, "reason", limit=4000).strip() or feedback
            if not reason:
                raise Refused("A bonus needs a reason; the worker reads it.")
        elif action == "reject" and not feedback:
            raise Refused("Rejecting needs feedback: tell the worker what was wrong.")
        elif action not in ("approve", "reject"):
            raise Refused("There is no such action.")
    except Refused as e:
        return redirect(request, v, back, message=f"Refused: {e}")
    for aid in ids:
        a = own[aid]
        try:
            if action == "approve":
                params: dict[str, Any] = {"AssignmentId": aid}
                if a.status == "Rejected" and field_text(posted, "override") == "1":
                    params["OverrideRejection"] = True  # only when asked for one assignment, never in bulk
                if feedback:
                    params["RequesterFeedback"] = feedback
                await mturk_op(runtime, rid, "ApproveAssignment", params)
            elif action == "reject":
                await mturk_op(runtime, rid, "RejectAssignment", {"AssignmentId": aid, "RequesterFeedback": feedback})
            else:
                token = hashlib.sha256(f"{aid}|{cents}|{reason}".encode()).hexdigest()[:48]
                await mturk_op(runtime, rid, "SendBonus", {
                    "WorkerId": a.worker_id, "AssignmentId": aid, "BonusAmount": format_cents(cents),
                    "Reason": reason, "UniqueRequestToken": "console-" + token})
            done += 1
        except Refused as e:
            refused.append(f"{aid}: {e}")
    verb = {"approve": "Approved", "reject": "Rejected", "bonus": "Bonus sent to"}[action]
    message = f"{verb} {done} assignment{'s' if done != 1 else ''}."
    if refused:
        message += f" Refused {len(refused)}: {refused[0]}" + (" ..." if len(refused) > 1 else "")
    return redirect(request, v, back, message=message)


routes = [
    Route("/console/projects", projects_page, methods=["GET", "POST"]),
    Route("/console/projects/{id}", project_page, methods=["GET", "POST"]),
    Route("/console/projects/{id}/preview", project_preview, methods=["POST"]),
    Route("/console/projects/{id}/batches", upload_batch, methods=["POST"]),
    Route("/console/batches", batches_page, methods=["GET"]),
    Route("/console/batches/{id}", batch_page, methods=["GET"]),
    Route("/console/batches/{id}/rows/{n}", batch_row_content, methods=["GET"]),
    Route("/console/batches/{id}/publish", publish, methods=["POST"]),
    Route("/console/batches/{id}/expire", expire, methods=["POST"]),
    Route("/console/batches/{id}/delete", delete, methods=["POST"]),
    Route("/console/batches/{id}/results.csv", results_download, methods=["GET"]),
    Route("/console/batches/{id}/review", review_page, methods=["GET", "POST"]),
]
