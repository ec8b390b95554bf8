"""Orders: placing (points into escrow, one unit of stock, a redemption code, all in one
transaction), cancelling and expiring (points back, stock back).

The points move through the merchant's escrow (`mall.escrow`).

Lock order, the same in every transaction of the mall, so none deadlocks: order rows,
then item rows, then ledger accounts (system accounts, then owned, each by id; see
`backend.ledger.posting`). State changes are conditional UPDATEs (`... WHERE status =
'pending'`): of two racing changes exactly one matches."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, bindparam, func, insert, select, update
from sqlalchemy.orm import selectinload

from backend.audit import log as audit
from backend.db import db, utcnow
from backend.errors import Conflict, Invalid, NotFound, integer
from backend.ledger import Account, AccountKind, InsufficientBalance, account_for
from backend.ledger.posting import lock_rows
from backend.registry.models import Organization
from backend.residents import notifications
from backend.runtime import setting
from jobs import job
from jobs.outbox import enqueue_after_commit
from mall import escrow
from mall import items as items_service
from mall.models import Item, Order
from mall.qr import new_code

LIVE = ("pending", "fulfilled")  # orders that count against a per-resident limit


class InsufficientPoints(Conflict):
    code, title = "insufficient_points", "Not enough points"
    extras = {"points_price": integer("The item's price in points.", 300)}


class OutOfStock(Conflict):
    code, title = "out_of_stock", "Out of stock"


class LimitReached(Conflict):
    code, title = "limit_reached", "Per-resident limit reached"
    extras = {"per_resident_limit": integer("How many of the item one resident may hold.", 2)}


class ItemInactive(Conflict):
    code, title = "item_inactive", "The item is not on sale"


class NotOnSale(Conflict):
    code, title = "item_not_on_sale", "The item is outside its valid window"


class MerchantFrozen(Conflict):
    code, title = "merchant_frozen", "The merchant is frozen"


class OrderNotFound(NotFound):
    code, title = "order_not_found", "No such order"


class AlreadyRedeemed(Conflict):
    code, title = "already_redeemed", "The order was redeemed already"


class OrderCancelled(Conflict):
    code, title = "order_cancelled", "The order was cancelled"


class OrderExpired(Conflict):
    code, title = "order_expired", "The order has expired"


class NotPending(Conflict):
    code, title = "not_pending", "The order is not pending"


def state_conflict(status: str) -> Conflict:
    """The error for acting on an order that is no longer pending."""
    return {
        "fulfilled": AlreadyRedeemed("The order was redeemed already."),
        "cancelled": OrderCancelled("The order was cancelled."),
        "expired": OrderExpired("The order has expired."),
    }.get(status, NotPending(f"The order is {status}."))


@dataclass(frozen=True)
class PlacedItem:
    id: int
    title: str


@dataclass(frozen=True)
class Placed:
    """A new order as `place` wrote it (what the answer shows; no reload)."""

    id: int
    user_id: int
    item_id: int
    item: PlacedItem
    merchant_id: int
    points: int
    status: str
    redemption_code: str
    expires_at: datetime
    created_at: datetime
    fulfilled_at: None = None
    closed_at: None = None


def _check_on_sale(item, now: datetime) -> None:
    if not item.active:
        raise ItemInactive("The item is not on sale.")
    if not items_service.window_holds(item, now):
        raise NotOnSale("The item is not on sale at this time.")


_ORDER_VALUES = (
    "user_id",
    "item_id",
    "merchant_id",
    "points",
    "status",
    "redemption_code",
    "expires_at",
    "created_at",
)


@functools.cache
def _insert_statement(limited: bool, postgresql: bool):
    """INSERT ... SELECT the order's values [WHERE the resident is under the limit]
    RETURNING id [, whether the merchant is frozen], built once per shape."""
    orders = Order.__table__
    source = select(*(bindparam(k, type_=orders.c[k].type) for k in _ORDER_VALUES))
    if limited:
        taken = (
            select(func.count())
            .select_from(orders)
            .where(
                orders.c.item_id == bindparam("item_id"),
                orders.c.user_id == bindparam("user_id"),
                orders.c.status.in_(LIVE),
            )
            .scalar_subquery()
        )
        source = source.where(taken < bindparam("per_resident_limit"))
    stmt = insert(orders).from_select(list(_ORDER_VALUES), source).returning(orders.c.id)
    if postgresql:
        stmt = stmt.returning(_frozen_statement().scalar_subquery().label("frozen"))
    return stmt


@functools.cache
def _frozen_statement():
    organizations = Organization.__table__
    return select(organizations.c.status == "frozen").where(
        organizations.c.id == bindparam("merchant_id")
    )


def _insert(item, values: dict):
    """INSERT the order, guarded by the per-resident limit, and read the merchant's
    status, in ONE statement. It runs after the item's and the accounts' locks, so its
    snapshot sees every order of the resident that committed before (they hold the same
    item lock) and a freeze that committed before (it holds the merchant's escrow lock
    until it commits). Returns (order id or None when the limit is reached, frozen)."""
    conn = db.session.connection()
    postgresql = conn.dialect.name == "postgresql"
    limited = item.per_resident_limit is not None
    params = {**values, "per_resident_limit": item.per_resident_limit} if limited else values
    row = conn.execute(_insert_statement(limited, postgresql), params).one_or_none()
    if row is None:
        return None, None
    if postgresql:
        return row.id, row.frozen
    frozen = conn.execute(_frozen_statement(), {"merchant_id": values["merchant_id"]})
    return row.id, frozen.scalar_one()


def place(user_id: int, item_id: int, *, actor: str, now: datetime | None = None) -> Placed:
    """Order one unit of `item_id` for the resident: check it is on sale and in stock
    (one read, no lock: a sold-out item costs nothing more), take a unit (the item row
    locked), lock the resident's points and the merchant's escrow, insert the order under
    the resident's limit, and hold the price in escrow. Core statements, no ORM objects:
    about six round trips."""
    now = now or utcnow()
    seen = items_service.read_for_order(item_id, user_id)
    if seen is None:
        raise items_service.ItemNotFound("No such item.")
    _check_on_sale(seen, now)
    if seen.stock is not None and seen.stock <= 0:
        raise OutOfStock("The item is sold out.")
    item = items_service.take_unit(item_id, limited=seen.stock is not None)
    if item is None:
        raise OutOfStock("The item is sold out.")
    _check_on_sale(item, now)  # again, on the locked row (an edit may have committed)
    resident = seen.resident_account
    if resident is None:
        resident = account_for(AccountKind.RESIDENT_POINTS, user_id).id
    escrow_id = seen.escrow_account
    if escrow_id is None or item.merchant_id != seen.merchant_id:
        escrow_id = escrow.escrow(item.merchant_id).id
    locked = lock_rows([escrow_id, resident])
    values = {
        "user_id": user_id,
        "item_id": item.id,
        "merchant_id": item.merchant_id,
        "points": item.points_price,
        "status": "pending",
        "redemption_code": new_code(),
        "expires_at": now + timedelta(seconds=setting("ORDER_EXPIRY_SECONDS")),
        "created_at": now,
    }
    order_id, frozen = _insert(item, values)
    if order_id is None:
        raise LimitReached(
            f"At most {item.per_resident_limit} of this item per resident.",
            extra={"per_resident_limit": item.per_resident_limit},
        )
    order = Placed(id=order_id, item=PlacedItem(item.id, item.title), **values)
    try:
        escrow.hold_on_locked(
            order, resident, escrow_id, locked, actor=actor, memo=f"hold for item {item.id}"
        )
    except InsufficientBalance as exc:
        raise InsufficientPoints(
            f"The item costs {order.points} points.", extra={"points_price": order.points}
        ) from exc
    # Read after the escrow was locked: a freeze holds that lock until it commits, so an
    # order racing a freeze sees it here (or was there for it to cancel).
    if frozen:
        raise MerchantFrozen("The merchant is frozen; its items are not on sale.")
    return order


def _refund(row, *, kind: str, actor: str) -> None:
    """Put the unit back and the points back (escrow -> resident) for a closed order.
    `row` has id, user_id, item_id, merchant_id, points; the caller closed the order."""
    db.session.execute(
        update(Item)
        .where(Item.id == row.item_id, Item.stock.is_not(None))
        .values(stock=Item.stock + 1)
        .execution_options(synchronize_session=False)
    )
    escrow.refund(row, actor=actor, memo=f"order {kind}")
    notifications.add([notifications.order_closed(row.user_id, row.id, row.points, kind)])


_CLOSED_COLUMNS = (Order.id, Order.user_id, Order.item_id, Order.merchant_id, Order.points)


def cancel(user_id: int, order_id: int, *, actor: str) -> Order:
    """The resident cancels their own pending order: points back, stock back."""
    now = utcnow()
    row = db.session.execute(
        update(Order)
        .where(Order.id == order_id, Order.user_id == user_id, Order.status == "pending")
        .values(status="cancelled", closed_at=now)
        .returning(*_CLOSED_COLUMNS)
        .execution_options(synchronize_session=False)
    ).one_or_none()
    if row is None:
        status = db.session.execute(
            select(Order.status).where(Order.id == order_id, Order.user_id == user_id)
        ).scalar_one_or_none()
        if status is None:
            raise OrderNotFound("No such order.")
        raise state_conflict(status)
    _refund(row, kind="cancelled", actor=actor)
    return get_own(user_id, order_id)


@dataclass(frozen=True)
class Expired:
    orders: int
    points: int


def expire_due(now: datetime | None = None, limit: int = 1000) -> Expired:
    """Expire up to `limit` pending orders past their time: points back, stock back.
    Rows another transaction is changing are skipped (they are being cancelled or
    redeemed; the next run sees what is left). All locks are taken up front in the
    mall's order (orders, items, then accounts) so this never deadlocks with orders,
    cancels or redemptions."""
    now = now or utcnow()
    due = (
        select(Order.id)
        .where(Order.status == "pending", Order.expires_at <= now)
        .order_by(Order.id)
        .limit(limit)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = db.session.execute(due).scalars().all()
    if not ids:
        return Expired(0, 0)
    rows = _close_many(ids, status="expired", now=now, actor="system:expiry")
    return Expired(len(rows), sum(r.points for r in rows))


def cancel_all_pending(
    *, merchant_id: int | None = None, user_id: int | None = None, actor: str
) -> list[int]:
    """Cancel every pending order of a merchant or of a resident (a freeze): points
    back, stock back. Waits for rows other transactions hold; returns the ids."""
    if (merchant_id is None) == (user_id is None):
        raise ValueError("name a merchant or a resident")
    owner = (
        Order.merchant_id == merchant_id if merchant_id is not None else (Order.user_id == user_id)
    )
    due = select(Order.id).where(Order.status == "pending", owner).order_by(Order.id)
    ids = db.session.execute(due.with_for_update()).scalars().all()
    if not ids:
        return []
    return [r.id for r in _close_many(ids, status="cancelled", now=utcnow(), actor=actor)]


def _close_many(ids: list[int], *, status: str, now: datetime, actor: str) -> list:
    """Close the pending orders among `ids` (expired or cancelled) and refund them. All
    locks are taken up front in the mall's order (orders, items, then accounts) so this
    never deadlocks with orders, cancels or redemptions."""
    rows = db.session.execute(
        update(Order)
        .where(Order.id.in_(ids), Order.status == "pending")
        .values(status=status, closed_at=now)
        .returning(*_CLOSED_COLUMNS)
        .execution_options(synchronize_session=False)
    ).all()
    if not rows:
        return []
    rows.sort(key=lambda r: r.id)
    item_ids = sorted({r.item_id for r in rows})
    db.session.execute(
        select(Item.id).where(Item.id.in_(item_ids)).order_by(Item.id).with_for_update()
    ).all()
    escrows = [escrow.escrow(m) for m in sorted({r.merchant_id for r in rows})]
    residents = [account_for(AccountKind.RESIDENT_POINTS, u) for u in {r.user_id for r in rows}]
    for group in (escrows, residents):
        db.session.execute(
            select(Account.id)
            .where(Account.id.in_([a.id for a in group]))
            .order_by(Account.id)
            .with_for_update()
        ).all()
    for row in rows:
        _refund(row, kind=status, actor=actor)
    return rows


def bring_expiry_forward(order_id: int, expires_at: datetime) -> Order:
    """Staff bring a pending order's expiry forward (never later than it was): it expires
    at that time like any other, points and stock back. When that time has come, the
    expiry job is asked for at once (after the commit) instead of at its next round."""
    order = db.session.execute(
        select(Order)
        .where(Order.id == order_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if order is None:
        raise OrderNotFound("No such order.")
    if order.status != "pending":
        raise state_conflict(order.status)
    current = order.expires_at
    if current.tzinfo is None:
        current = current.replace(tzinfo=expires_at.tzinfo)
    if expires_at >= current:
        raise Invalid(
            errors={"expires_at": [f"Must be earlier than the order's expiry, {current}."]}
        )
    order.expires_at = expires_at
    audit.record(
        "order.expiry",
        "order",
        order.id,
        before={"expires_at": current.isoformat()},
        after={"expires_at": expires_at.isoformat()},
    )
    if expires_at <= utcnow():
        enqueue_after_commit(expire_orders)
    return order


def get(order_id: int) -> Order:
    order = db.session.execute(
        select(Order).where(Order.id == order_id).options(selectinload(Order.item))
    ).scalar_one_or_none()
    if order is None:
        raise OrderNotFound("No such order.")
    return order


def get_own(user_id: int, order_id: int) -> Order:
    order = db.session.execute(
        select(Order)
        .where(Order.id == order_id, Order.user_id == user_id)
        .options(selectinload(Order.item))
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if order is None:
        raise OrderNotFound("No such order.")
    return order


def resident_query(user_id: int, status: str | None = None) -> Select:
    stmt = select(Order).where(Order.user_id == user_id).options(selectinload(Order.item))
    if status:
        stmt = stmt.where(Order.status == status)
    return stmt


def merchant_query(merchant_id: int, status: str | None = None) -> Select:
    stmt = select(Order).where(Order.merchant_id == merchant_id).options(selectinload(Order.item))
    if status:
        stmt = stmt.where(Order.status == status)
    return stmt


def of_settlement(batch_id: int) -> Select:
    """The orders a settlement batch converts (what staff check before approving)."""
    return select(Order).where(Order.settlement_id == batch_id).options(selectinload(Order.item))


@job(queue="mall", timeout=300)
def expire_orders(limit: int = 1000) -> dict:
    """Expire pending orders past their time (points back, stock back)."""
    done = expire_due(limit=limit)
    return {"expired": done.orders, "points": done.points}
