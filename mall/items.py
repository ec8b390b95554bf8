"""Items merchants offer for points: creating, changing, listing, browsing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, and_, bindparam, or_, select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import selectinload

from backend.audit import log as audit
from backend.db import db, utcnow
from backend.errors import Invalid, NotFound
from backend.ledger import Account, AccountKind
from backend.registry.models import Organization
from mall.models import Item

EDITABLE = (
    "title",
    "description",
    "points_price",
    "stock",
    "per_resident_limit",
    "valid_from",
    "valid_until",
    "active",
)


class ItemNotFound(NotFound):
    code, title = "item_not_found", "No such item"


def _check_window(valid_from: datetime | None, valid_until: datetime | None) -> None:
    if valid_from is not None and valid_until is not None and valid_from >= valid_until:
        raise Invalid(errors={"valid_until": ["Must be later than valid_from."]})


def create(merchant_id: int, fields: dict) -> Item:
    values = {k: fields[k] for k in EDITABLE if k in fields}
    _check_window(values.get("valid_from"), values.get("valid_until"))
    now = utcnow()
    item = Item(merchant_id=merchant_id, created_at=now, updated_at=now, **values)
    item.active = values.get("active", True)
    db.session.add(item)
    db.session.flush()
    audit.record("item.create", "item", item.id, after={**values, "active": item.active})
    return item


def in_window(now: datetime):
    """SQL: the item's valid window holds `now` (the one definition of the window)."""
    return and_(
        or_(Item.valid_from.is_(None), Item.valid_from <= now),
        or_(Item.valid_until.is_(None), Item.valid_until > now),
    )


def on_sale(now: datetime):
    """SQL: residents can order the item now: active, inside its valid window, and its
    merchant not frozen."""
    frozen = select(Organization.id).where(Organization.status == "frozen")
    return and_(Item.active.is_(True), in_window(now), Item.merchant_id.not_in(frozen))


def lock_for_order(item_id: int, now: datetime) -> tuple[Item, bool] | None:
    """The item, locked until commit, and whether its window holds `now`."""
    row = db.session.execute(
        select(Item, in_window(now).label("in_window"))
        .where(Item.id == item_id)
        .with_for_update(of=Item)
        .execution_options(populate_existing=True)
    ).one_or_none()
    return None if row is None else (row[0], bool(row[1]))


_ORDER_COLUMNS = (
    Item.id,
    Item.merchant_id,
    Item.title,
    Item.points_price,
    Item.stock,
    Item.per_resident_limit,
    Item.active,
    Item.valid_from,
    Item.valid_until,
)


def window_holds(row, now: datetime) -> bool:
    """`in_window` for a row already read (the same rule, in Python)."""
    return (row.valid_from is None or row.valid_from <= now) and (
        row.valid_until is None or row.valid_until > now
    )


_ITEMS = Item.__table__
_ACCOUNTS = Account.__table__
_ORDER_COLUMNS_CORE = tuple(_ITEMS.c[c.key] for c in _ORDER_COLUMNS)
# The order's statements, built once (bound parameters; Core on the session's connection:
# no ORM compile step, no statement built per request).
_READ_FOR_ORDER = select(
    *_ORDER_COLUMNS_CORE,
    select(_ACCOUNTS.c.id)
    .where(
        _ACCOUNTS.c.kind == AccountKind.RESIDENT_POINTS.value,
        _ACCOUNTS.c.owner_id == bindparam("user_id"),
    )
    .scalar_subquery()
    .label("resident_account"),
    select(_ACCOUNTS.c.id)
    .where(
        _ACCOUNTS.c.kind == AccountKind.ORDER_ESCROW.value,
        _ACCOUNTS.c.owner_id == _ITEMS.c.merchant_id,
    )
    .correlate(_ITEMS)
    .scalar_subquery()
    .label("escrow_account"),
).where(_ITEMS.c.id == bindparam("item_id"))
_TAKE_UNIT = (
    sql_update(_ITEMS)
    .where(_ITEMS.c.id == bindparam("item_id"), _ITEMS.c.stock > 0)
    .values(stock=_ITEMS.c.stock - 1)
    .returning(*_ORDER_COLUMNS_CORE)
)
_STOCK = select(_ITEMS.c.stock).where(_ITEMS.c.id == bindparam("item_id"))
_LOCK_FOR_ORDER = (
    select(*_ORDER_COLUMNS_CORE).where(_ITEMS.c.id == bindparam("item_id")).with_for_update()
)


def read_for_order(item_id: int, user_id: int):
    """What an order needs to know first, in ONE indexed read and no lock: the item
    (is it on sale, in stock?), the resident's points account and the merchant's escrow
    account (ids; None until opened). A sold-out item is refused on this read alone."""
    return (
        db.session.connection()
        .execute(_READ_FOR_ORDER, {"item_id": item_id, "user_id": user_id})
        .one_or_none()
    )


def take_unit(item_id: int, limited: bool):
    """Lock the item row for an order and take one unit of its stock; returns the locked
    row (its current price, limit, window, what is left) or None when no unit is left.
    An item with stock: one conditional `UPDATE ... SET stock = stock - 1 WHERE stock > 0
    RETURNING` (the row lock and the unit in one round trip); of racing orders for the
    last unit exactly one matches. Unlimited stock: `SELECT ... FOR UPDATE` (orders,
    restocks and edits serialise on the row)."""
    conn = db.session.connection()
    params = {"item_id": item_id}
    for _ in range(2):
        if limited:
            row = conn.execute(_TAKE_UNIT, params).one_or_none()
            if row is not None:
                return row
            # none left, or the stock was made unlimited meanwhile: look without a lock
            stock = conn.execute(_STOCK, params).scalar_one_or_none()
            if stock is not None and stock <= 0:
                return None
            limited = stock is not None  # a unit came back, or the item went unlimited
            continue
        row = conn.execute(_LOCK_FOR_ORDER, params).one_or_none()
        if row is None or row.stock is None:
            return row
        if row.stock <= 0:
            return None
        limited = True  # limited meanwhile: take the unit (the row is ours now)
    return None


def lock(item_id: int) -> Item | None:
    """The item, its row locked until commit (orders, restocks and edits serialise on it)."""
    return db.session.execute(
        select(Item)
        .where(Item.id == item_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def update(merchant_id: int, item_id: int, fields: dict) -> Item:
    """Change the merchant's own item; another merchant's is not found. Setting `stock`
    sets what is left from now on (orders already taken keep their unit)."""
    item = lock(item_id)
    if item is None or item.merchant_id != merchant_id:
        raise ItemNotFound("No such item.")
    before, after = {}, {}
    for key in EDITABLE:
        if key in fields and getattr(item, key) != fields[key]:
            before[key], after[key] = getattr(item, key), fields[key]
            setattr(item, key, fields[key])
    _check_window(item.valid_from, item.valid_until)
    item.updated_at = utcnow()
    db.session.flush()
    audit.record("item.update", "item", item.id, before=before, after=after)
    return item


def get_own(merchant_id: int, item_id: int) -> Item:
    item = db.session.execute(
        select(Item)
        .where(Item.id == item_id)
        .options(selectinload(Item.merchant))
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if item is None or item.merchant_id != merchant_id:
        raise ItemNotFound("No such item.")
    return item


def merchant_query(merchant_id: int, active: bool | None = None) -> Select:
    stmt = select(Item).where(Item.merchant_id == merchant_id).options(selectinload(Item.merchant))
    if active is not None:
        stmt = stmt.where(Item.active.is_(active))
    return stmt


def on_sale_query(merchant_id: int | None = None, now: datetime | None = None) -> Select:
    """Items residents can order now: active and inside their valid window (sold-out
    items stay listed, with `stock_left` 0)."""
    now = now or utcnow()
    stmt = select(Item).where(on_sale(now)).options(selectinload(Item.merchant))
    if merchant_id is not None:
        stmt = stmt.where(Item.merchant_id == merchant_id)
    return stmt


def get_on_sale(item_id: int) -> Item:
    item = db.session.execute(on_sale_query().where(Item.id == item_id)).scalar_one_or_none()
    if item is None:
        raise ItemNotFound("No such item on sale.")
    return item
