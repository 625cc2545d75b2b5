"""Workers: CreateWorkerBlock, DeleteWorkerBlock, ListWorkerBlocks, NotifyWorkers.

A block stops the worker from accepting the requester's HITs (the worker API answers 403 `blocked`); work the
worker had already accepted may still be submitted. NotifyWorkers reaches only workers who have done work for
the requester; it never raises for the others but lists them in NotifyWorkersFailureStatuses (reference §2.1,
§13). Messages are stored in `worker_messages` (hitkit delivers no e-mail).
"""

from __future__ import annotations

from sqlalchemy import delete, insert, select, update

from hitkit.server.api.errors import invalid_value
from hitkit.server.api.operations import Ctx, operation, paginate
from hitkit.server.domain.hit_state import VISIBLE_STATUSES
from hitkit.server.store.tables import assignments, hits, worker_blocks, worker_messages, workers

NOT_WORKED_FOR_YOU = "Cannot send a notification to a worker who has not done any work for you"


@operation("CreateWorkerBlock")
def create_worker_block(ctx: Ctx, params: dict) -> dict:
    worker_id, reason = params["WorkerId"], params["Reason"]
    if not reason.strip():
        raise invalid_value(reason, "Reason", "Give the reason for the block; it is kept for your records.")
    known = ctx.conn.execute(select(workers.c.id).where(workers.c.id == worker_id)).first()
    if known is None:
        raise invalid_value(worker_id, "WorkerId", "No worker with this id exists in this marketplace.")
    key = (worker_blocks.c.requester_id == ctx.requester_id) & (worker_blocks.c.worker_id == worker_id)
    existing = ctx.conn.execute(select(worker_blocks.c.seq).where(key)).first()
    if existing is not None:  # blocking again updates the reason; the block keeps its place in the list
        ctx.conn.execute(update(worker_blocks).where(key).values(reason=reason))
    else:
        ctx.conn.execute(
            insert(worker_blocks).values(
                requester_id=ctx.requester_id, worker_id=worker_id, reason=reason, created_at=ctx.now
            )
        )
    return {}


@operation("DeleteWorkerBlock")
def delete_worker_block(ctx: Ctx, params: dict) -> dict:
    # Unblocking a worker who is not blocked (or unknown) succeeds, as MTurk's did.
    ctx.conn.execute(
        delete(worker_blocks).where(
            worker_blocks.c.requester_id == ctx.requester_id, worker_blocks.c.worker_id == params["WorkerId"]
        )
    )
    return {}


@operation("ListWorkerBlocks", read_only=True)
def list_worker_blocks(ctx: Ctx, params: dict) -> dict:
    q = select(worker_blocks).where(worker_blocks.c.requester_id == ctx.requester_id)
    rows, extra = paginate(ctx, q, worker_blocks.c.seq, params)
    return {**extra, "WorkerBlocks": [{"WorkerId": r.worker_id, "Reason": r.reason} for r in rows]}


def _workers_with_work(ctx: Ctx, worker_ids: list[str]) -> set[str]:
    """Those of `worker_ids` who have a submitted, approved or rejected assignment of one of the caller's HITs."""
    q = (
        select(assignments.c.worker_id)
        .distinct()
        .join(hits, hits.c.id == assignments.c.hit_id)
        .where(
            hits.c.requester_id == ctx.requester_id,
            assignments.c.worker_id.in_(worker_ids),
            assignments.c.status.in_(VISIBLE_STATUSES),
        )
    )
    return set(ctx.conn.execute(q).scalars())


@operation("NotifyWorkers")
def notify_workers(ctx: Ctx, params: dict) -> dict:
    # The validator has enforced <= 100 WorkerIds, Subject <= 200 and MessageText <= 4096 characters.
    worker_ids = list(dict.fromkeys(params["WorkerIds"]))  # each worker is messaged once, in the order given
    reachable = _workers_with_work(ctx, worker_ids)
    failures = []
    for worker_id in worker_ids:
        if worker_id in reachable:
            ctx.conn.execute(
                insert(worker_messages).values(
                    requester_id=ctx.requester_id, worker_id=worker_id, subject=params["Subject"],
                    body=params["MessageText"], created_at=ctx.now,
                )
            )
        else:
            failures.append(
                {
                    "NotifyWorkersFailureCode": "HardFailure",
                    "NotifyWorkersFailureMessage": NOT_WORKED_FOR_YOU,
                    "WorkerId": worker_id,
                }
            )
    return {"NotifyWorkersFailureStatuses": failures}
