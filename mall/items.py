"""Items merchants offer for points: creating, changing, listing, browsing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import selectinload

from backend.audit import log as audit
from backend.db import db, utcnow
from backend.errors import Invalid, NotFound
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
