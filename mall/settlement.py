"""Points back to reductions (Art. 20 of the measures): settlement batches.

1. The merchant applies: one batch takes every fulfilled order of the merchant that no
   batch holds yet (one set-based UPDATE of `orders.settlement_id`; the column is the
   database's guarantee that an order is in at most one batch). `pending`.
2. Staff approve it (`approved`, a conditional UPDATE: approving twice moves nothing)
   and the job `post_settlement` is asked for after the commit.
3. The job posts flow 4 in one journal entry keyed `settlement:{id}`: merchant points
   -> points mint, and points backing -> the merchant's reductions account, at the
   platform rate. `settled`. It locks the batch row first, so two runs at once post
   once; a run killed mid-way rolls back whole and the sweep runs it again.
4. A posting the books refuse (points or backing short, no rate) leaves the batch
   `failed` with the reason in `error`; staff retry it (`failed` -> `approved`).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select, update

from backend.audit import log as audit
from backend.db import db, utcnow
from backend.errors import CURRENT_STATUS, Conflict, NotFound
from backend.ledger import (
    AccountFrozen,
    AccountKind,
    InsufficientBalance,
    Leg,
    account_for,
    post,
)
from backend.reductions import blocks
from backend.registry.rate import NoRate, current_rate
from backend.runtime import setting
from jobs import job
from jobs.outbox import enqueue_after_commit
from mall.models import Order, SettlementBatch

log = logging.getLogger("mall.settlement")
SHANGHAI = ZoneInfo("Asia/Shanghai")


class NothingToSettle(Conflict):
    code, title = "nothing_to_settle", "No fulfilled, unsettled orders"


class AlreadyApproved(Conflict):
    code, title = "already_approved", "The batch was approved already"
    extras = CURRENT_STATUS


class NotFailed(Conflict):
    code, title = "not_failed", "Only a failed batch can be retried"
    extras = CURRENT_STATUS


class SettlementCancelled(Conflict):
    code, title = "settlement_cancelled", "The batch was cancelled"


class SettlementNotFound(NotFound):
    code, title = "settlement_not_found", "No such settlement"


def apply(merchant_id: int, *, actor: str) -> SettlementBatch:
    """A batch of every fulfilled order of the merchant not yet in a batch."""
    batch = SettlementBatch(
        merchant_id=merchant_id, status="pending", orders=0, points=0, requested_by=actor
    )
    db.session.add(batch)
    db.session.flush()
    taken = db.session.execute(
        update(Order)
        .where(
            Order.merchant_id == merchant_id,
            Order.status == "fulfilled",
            Order.settlement_id.is_(None),
        )
        .values(settlement_id=batch.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not taken:
        raise NothingToSettle("There are no fulfilled orders to settle.")
    count, points = db.session.execute(
        select(func.count(), func.coalesce(func.sum(Order.points), 0)).where(
            Order.settlement_id == batch.id
        )
    ).one()
    batch.orders, batch.points = int(count), int(points)
    db.session.flush()
    audit.record(
        "settlement.apply",
        "settlement_batch",
        batch.id,
        after={"status": "pending", "orders": batch.orders, "merchant_id": merchant_id},
    )
    return batch


def approve(batch_id: int, *, actor: str) -> SettlementBatch:
    """pending -> approved; the posting job runs after the commit."""
    now = utcnow()
    changed = db.session.execute(
        update(SettlementBatch)
        .where(SettlementBatch.id == batch_id, SettlementBatch.status == "pending")
        .values(status="approved", approved_at=now, approved_by=actor)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not changed:
        batch = db.session.get(SettlementBatch, batch_id)
        if batch is None:
            raise SettlementNotFound("No such settlement.")
        if batch.status == "cancelled":
            raise SettlementCancelled("The batch was cancelled; nothing moved.")
        raise AlreadyApproved(
            f"The batch was approved already (it is {batch.status}); nothing moved.",
            extra={"current_status": batch.status},
        )
    audit.record(
        "settlement.approve",
        "settlement_batch",
        batch_id,
        before={"status": "pending"},
        after={"status": "approved"},
    )
    enqueue_after_commit(post_settlement, settlement_id=batch_id)
    return get(batch_id)


def retry(batch_id: int, *, actor: str) -> SettlementBatch:
    """failed -> approved; the posting job runs again after the commit."""
    now = utcnow()
    changed = db.session.execute(
        update(SettlementBatch)
        .where(SettlementBatch.id == batch_id, SettlementBatch.status == "failed")
        .values(status="approved", approved_at=now, approved_by=actor, error=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not changed:
        batch = db.session.get(SettlementBatch, batch_id)
        if batch is None:
            raise SettlementNotFound("No such settlement.")
        raise NotFailed(f"The batch is {batch.status}.", extra={"current_status": batch.status})
    audit.record(
        "settlement.retry",
        "settlement_batch",
        batch_id,
        before={"status": "failed"},
        after={"status": "approved"},
    )
    enqueue_after_commit(post_settlement, settlement_id=batch_id)
    return get(batch_id)


def _fail(batch: SettlementBatch, reason: str) -> str:
    batch.status = "failed"
    batch.error = reason[:2000]
    db.session.flush()
    audit.record(
        "settlement.fail",
        "settlement_batch",
        batch.id,
        before={"status": "approved"},
        after={"status": "failed", "error": batch.error},
    )
    return "failed"


def post_batch(batch_id: int, now: datetime | None = None) -> str:
    """Post an approved batch (flow 4); returns the batch's status afterwards. Safe to
    run twice, at once or after a crash: the batch row is locked first and a settled
    batch is left as it is; the ledger key `settlement:{id}` posts at most once."""
    now = now or utcnow()
    batch = db.session.execute(
        select(SettlementBatch)
        .where(SettlementBatch.id == batch_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if batch is None:
        return "missing"
    if batch.status != "approved":
        return batch.status  # settled: done; pending: not approved; failed: await retry
    batch.attempts += 1
    batch.last_attempt_at = now
    count, points = db.session.execute(
        select(func.count(), func.coalesce(func.sum(Order.points), 0)).where(
            Order.settlement_id == batch.id, Order.status == "fulfilled"
        )
    ).one()
    if (int(count), int(points)) != (batch.orders, batch.points):
        return _fail(
            batch,
            f"the batch's orders changed: {count} orders / {points} points found, "
            f"{batch.orders} / {batch.points} recorded",
        )
    try:
        rate = current_rate()
    except NoRate:
        return _fail(batch, "no reductions-to-points conversion rule is loaded")
    taken, grams = rate.points_to_grams(batch.points)
    if taken == 0:
        return _fail(batch, f"{batch.points} points buy no whole gram at the current rate")
    try:
        entry, _ = post(
            kind="settlement",
            idempotency_key=f"settlement:{batch.id}",
            legs=[
                Leg(account_for(AccountKind.MERCHANT_POINTS, batch.merchant_id), -taken),
                Leg(account_for(AccountKind.POINTS_MINT), taken),
                Leg(account_for(AccountKind.POINTS_BACKING), -grams),
                Leg(account_for(AccountKind.ORG_REDUCTIONS, batch.merchant_id), grams),
            ],
            ref_type="settlement",
            ref_id=batch.id,
            actor="system:settlement",
            memo=f"{taken} pt -> {grams} g at {rate.points_per_kg} pt/kg",
        )
    except InsufficientBalance as exc:
        return _fail(
            batch,
            f"{exc.account_kind} account {exc.account_id} lacks {exc.needed}: "
            "the books refuse the posting",
        )
    except AccountFrozen as exc:
        return _fail(batch, f"{exc.account_kind} account {exc.account_id} is frozen")
    # the grams leave the points world: they carry serials of the pool of personal
    # reductions (S0), of the settlement's year
    blocks.mint(
        "S",
        0,
        now.astimezone(SHANGHAI).year,
        grams,
        account_for(AccountKind.ORG_REDUCTIONS, batch.merchant_id),
        origin=("settlement", batch.id),
    )
    batch.status = "settled"
    batch.error = None
    batch.entry_id = entry.id
    batch.points_converted = taken
    batch.reductions_g = grams
    batch.rate_version = rate.version
    batch.settled_at = now
    db.session.flush()
    audit.record(
        "settlement.settle",
        "settlement_batch",
        batch.id,
        before={"status": "approved"},
        after={"status": "settled", "entry_id": entry.id},
    )
    return "settled"


OPEN = ("pending", "approved", "failed")  # not settled yet


def cancel_open(merchant_id: int, *, reason: str, now: datetime | None = None) -> list[int]:
    """Cancel every batch of the merchant not yet settled and release its orders (to be
    settled in a later batch). A batch being posted right now is locked by its job:
    this waits for it and leaves it settled."""
    now = now or utcnow()
    ids = sorted(
        db.session.execute(
            update(SettlementBatch)
            .where(SettlementBatch.merchant_id == merchant_id, SettlementBatch.status.in_(OPEN))
            .values(status="cancelled", cancelled_at=now, error=reason[:2000])
            .returning(SettlementBatch.id)
            .execution_options(synchronize_session=False)
        ).scalars()
    )
    if ids:
        db.session.execute(
            update(Order)
            .where(Order.settlement_id.in_(ids))
            .values(settlement_id=None)
            .execution_options(synchronize_session=False)
        )
    for batch_id in ids:
        audit.record(
            "settlement.cancel",
            "settlement_batch",
            batch_id,
            after={"status": "cancelled", "reason": reason},
        )
    return ids


def sweep(older_than: timedelta, now: datetime | None = None, limit: int = 100) -> list[int]:
    """Ask again for the posting of approved batches that are still not settled after
    `older_than` (their job was lost, or its worker was killed: RQ does not retry
    those). Each is marked as attempted now, so the next sweep waits again."""
    now = now or utcnow()
    cutoff = now - older_than
    stmt = (
        select(SettlementBatch.id)
        .where(
            SettlementBatch.status == "approved",
            func.coalesce(SettlementBatch.last_attempt_at, SettlementBatch.approved_at) < cutoff,
        )
        .order_by(SettlementBatch.id)
        .limit(limit)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)  # a batch being posted is locked
    ids = list(db.session.execute(stmt).scalars())
    if ids:
        db.session.execute(
            update(SettlementBatch)
            .where(SettlementBatch.id.in_(ids))
            .values(last_attempt_at=now)
            .execution_options(synchronize_session=False)
        )
    for batch_id in ids:
        enqueue_after_commit(post_settlement, settlement_id=batch_id)
    return ids


def get(batch_id: int) -> SettlementBatch:
    batch = db.session.execute(
        select(SettlementBatch)
        .where(SettlementBatch.id == batch_id)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if batch is None:
        raise SettlementNotFound("No such settlement.")
    return batch


def get_own(merchant_id: int, batch_id: int) -> SettlementBatch:
    batch = get(batch_id)
    if batch.merchant_id != merchant_id:
        raise SettlementNotFound("No such settlement.")
    return batch


def query(merchant_id: int | None = None, status: str | None = None) -> Select:
    stmt = select(SettlementBatch)
    if merchant_id is not None:
        stmt = stmt.where(SettlementBatch.merchant_id == merchant_id)
    if status:
        stmt = stmt.where(SettlementBatch.status == status)
    return stmt


@job(queue="mall", timeout=600)
def post_settlement(settlement_id: int) -> str:
    """Post an approved settlement batch; a settled one is left as it is."""
    status = post_batch(int(settlement_id))
    if status == "failed":
        log.warning("settlement %s failed", settlement_id)
    return status


@job(queue="mall", timeout=120)
def sweep_settlements(older_than_seconds: int | None = None) -> list[int]:
    """Ask again for approved batches still unsettled after `SETTLEMENT_SWEEP_SECONDS`
    (their job was lost or its worker killed; RQ does not retry those)."""
    if older_than_seconds is None:
        older_than_seconds = setting("SETTLEMENT_SWEEP_SECONDS")
    return sweep(timedelta(seconds=older_than_seconds))
