"""HIT groups as the worker site shows them: open HITs gathered by HIT type, with what each worker may do.

A HIT is open for a worker when it is not disposed, not expired, has a free slot, and the worker has no live or
submitted assignment on it. The next HIT of a group for a worker is the oldest open one, HITs the worker skipped
coming last (oldest skip first), as in Turkle.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Row, and_, case, delete, exists, func, insert, literal, or_, select

from hitkit.server.domain import hit_state
from hitkit.server.domain.eligibility import check_action, parse_requirements
from hitkit.server.domain.qualification_values import values_for
from hitkit.server.store.queries import requirements_of
from hitkit.server.store.tables import (
    assignments, hit_types, hits, qualification_types, requesters, worker_blocks, worker_skips,
)
from hitkit.mturk import qualification_ids

SORTS = {
    "newest": ("created", True),
    "oldest": ("created", False),
    "reward": ("reward_cents", True),
    "available": ("available", True),
    "title": ("title", False),
    "time": ("assignment_duration", False),
}


@dataclass(frozen=True)
class HitGroup:
    hit_type_id: str
    title: str
    description: str
    keywords: str
    requester: str
    requester_id: str
    reward_cents: int
    assignment_duration: int
    available: int  # HITs with a free slot
    created: float
    can_preview: bool
    can_accept: bool
    reason: str | None  # why the worker cannot accept (or preview), in words


def _taken(now: float):  # type: ignore[no-untyped-def]
    a = assignments.c
    live = or_(and_(a.status == hit_state.IN_FLIGHT, a.deadline > now), a.status.in_(hit_state.VISIBLE_STATUSES))
    return select(a.hit_id, func.count().label("taken")).where(live).group_by(a.hit_id).subquery()


def _mine(worker_id: str, now: float):  # type: ignore[no-untyped-def]
    """SQL: the worker holds a live or submitted assignment on the HIT in the outer query."""
    a = assignments.c
    return exists().where(
        a.hit_id == hits.c.id, a.worker_id == worker_id,
        or_(and_(a.status == hit_state.IN_FLIGHT, a.deadline > now), a.status.in_(hit_state.VISIBLE_STATUSES)),
    )


def _open_hits(now: float):  # type: ignore[no-untyped-def]
    taken = _taken(now)
    return taken, and_(
        hits.c.disposed_at.is_(None), hits.c.expiration > now,
        hits.c.max_assignments - func.coalesce(taken.c.taken, 0) > 0,
    )


def type_names(conn: Connection, type_ids: set[str]) -> dict[str, str]:
    names = {t: qualification_ids.system_type_name(t) or t for t in type_ids}
    custom = [t for t in type_ids if t not in qualification_ids.SYSTEM_TYPE_IDS]
    if custom:
        for tid, name in conn.execute(
            select(qualification_types.c.id, qualification_types.c.name).where(qualification_types.c.id.in_(custom))
        ):
            names[tid] = f"the “{name}” qualification"
    return names


def verdict_reason(verdict_reason: str) -> str:
    return f"You do not meet this HIT's qualification requirements: it {verdict_reason}."


def list_groups(
    conn: Connection, worker: Row | None, now: float, *, search: str = "", sort: str = "newest",
    only_hit_type: str | None = None,
) -> list[HitGroup]:
    """Every group with at least one open HIT that the worker may discover, sorted; `search` matches title,
    description, keywords and requester name (case-insensitive)."""
    taken, is_open = _open_hits(now)
    n_open = func.count().label("available")
    per_type = select(hits.c.hit_type_id, n_open, func.max(hits.c.created_at).label("created"))
    per_type = per_type.select_from(hits.outerjoin(taken, taken.c.hit_id == hits.c.id)).where(is_open)
    if worker is not None:
        per_type = per_type.add_columns(func.sum(case((_mine(worker.id, now), 1), else_=0)).label("mine"))
    else:
        per_type = per_type.add_columns(literal(0).label("mine"))
    if only_hit_type is not None:
        per_type = per_type.where(hits.c.hit_type_id == only_hit_type)
    per_type = per_type.group_by(hits.c.hit_type_id).subquery()
    q = (
        select(hit_types, requesters.c.name.label("requester"), per_type.c.available, per_type.c.created, per_type.c.mine)
        .join(per_type, per_type.c.hit_type_id == hit_types.c.id)
        .join(requesters, requesters.c.id == hit_types.c.requester_id)
    )
    words = [w for w in search.lower().split() if w][:8]
    for w in words:
        pattern = "%" + w.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        q = q.where(or_(*(func.lower(c).like(pattern, escape="\\") for c in (
            hit_types.c.title, hit_types.c.description, func.coalesce(hit_types.c.keywords, ""), requesters.c.name))))
    rows = conn.execute(q).all()

    blocked: set[str] = set()
    values: dict = {}
    reqs = {r.id: parse_requirements(requirements_of(r)) for r in rows}
    all_type_ids = {req.type_id for rs in reqs.values() for req in rs}
    names = type_names(conn, all_type_ids)
    if worker is not None:
        blocked = set(conn.execute(
            select(worker_blocks.c.requester_id).where(worker_blocks.c.worker_id == worker.id)).scalars())
        values = values_for(conn, worker, all_type_ids)
    out = []
    for r in rows:
        can_preview, can_accept, reason = True, worker is not None, None
        if worker is None:
            if not check_action(reqs[r.id], {}, "Discover").allowed:
                continue
            can_preview = check_action(reqs[r.id], {}, "Preview").allowed
            reason = "Sign in to work on these HITs."
        else:
            if not check_action(reqs[r.id], values, "Discover").allowed:
                continue
            preview = check_action(reqs[r.id], values, "Preview", type_names=names)
            accept = check_action(reqs[r.id], values, "Accept", type_names=names)
            if r.requester_id in blocked:
                can_preview = can_accept = False
                reason = "The requester has chosen to prevent you from working on their HITs."
            elif not preview.allowed:
                can_preview = can_accept = False
                reason = verdict_reason(preview.reason)
            elif not accept.allowed:
                can_accept = False
                reason = verdict_reason(accept.reason)
            elif r.mine >= r.available:
                can_accept = False
                reason = "You have already accepted or done every HIT of this group that is still open."
        out.append(HitGroup(
            r.id, r.title, r.description, r.keywords or "", r.requester, r.requester_id, r.reward_cents,
            r.assignment_duration, int(r.available), float(r.created), can_preview, can_accept, reason,
        ))
    key, descending = SORTS.get(sort, SORTS["newest"])
    out.sort(key=lambda g: (getattr(g, key).lower() if key == "title" else getattr(g, key)), reverse=descending)
    return out


def next_hit(
    conn: Connection, worker: Row | None, hit_type_id: str, now: float, *, after_hit: str | None = None
) -> str | None:
    """The id of the next open HIT of the group for the worker: never-skipped HITs oldest first, then skipped
    ones by when they were skipped; `after_hit` (just skipped or just done) is taken only if nothing else is.
    For a signed-out visitor, the oldest open HIT."""
    taken, is_open = _open_hits(now)
    joined = hits.outerjoin(taken, taken.c.hit_id == hits.c.id)
    if worker is None:
        q = select(hits.c.id).select_from(joined).where(is_open, hits.c.hit_type_id == hit_type_id).order_by(hits.c.seq).limit(1)
        return conn.execute(q).scalar()
    skip = worker_skips.c
    q = (
        select(hits.c.id)
        .select_from(joined.outerjoin(worker_skips, and_(skip.hit_id == hits.c.id, skip.worker_id == worker.id)))
        .where(is_open, hits.c.hit_type_id == hit_type_id, ~_mine(worker.id, now))
        .order_by(skip.created_at.is_not(None), skip.created_at, hits.c.seq)
        .limit(2)
    )
    ids = list(conn.execute(q).scalars())
    others = [i for i in ids if i != after_hit]
    return others[0] if others else (ids[0] if ids else None)


def record_skip(conn: Connection, worker_id: str, hit_id: str, now: float) -> None:
    """Remember the skip (a later skip of the same HIT moves it to the back again)."""
    conn.execute(delete(worker_skips).where(worker_skips.c.worker_id == worker_id, worker_skips.c.hit_id == hit_id))
    conn.execute(insert(worker_skips).values(worker_id=worker_id, hit_id=hit_id, created_at=now))


def hit_problem(conn: Connection, worker: Row | None, hit: Row, now: float, action: str) -> str | None:
    """Why the worker cannot `action` (Preview or Accept) this HIT, in words, or None."""
    if hit.disposed_at is not None:
        return "This HIT no longer exists."
    state = hit_state.state_of(conn, hit, now)
    if now >= hit.expiration:
        return "This HIT has expired."
    reqs = parse_requirements(requirements_of(hit))
    if worker is None:
        if not check_action(reqs, {}, action).allowed:
            return "This HIT has qualification requirements: sign in to see whether you meet them."
        return None if action == "Preview" else "Sign in to accept HITs."
    values = values_for(conn, worker, {r.type_id for r in reqs})
    verdict = check_action(reqs, values, action, type_names=type_names(conn, {r.type_id for r in reqs}))
    if not check_action(reqs, values, "Discover").allowed or not verdict.allowed:
        return verdict_reason(verdict.reason or "requires a qualification you do not have")
    if conn.execute(select(worker_blocks.c.seq).where(
            worker_blocks.c.requester_id == hit.requester_id, worker_blocks.c.worker_id == worker.id)).first():
        return "The requester has chosen to prevent you from working on their HITs."
    if action == "Accept":
        if conn.execute(select(literal(1)).where(_mine(worker.id, now)).select_from(hits).where(hits.c.id == hit.id)).first():
            return "You have already accepted or done this HIT; a worker may do each HIT once."
        if state.available <= 0:
            return "Every assignment of this HIT is taken: no slots are left."
    return None
