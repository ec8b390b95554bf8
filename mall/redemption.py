"""Redeeming a code at a merchant's till: the order becomes `fulfilled` and its points
move from the merchant's escrow to the merchant's points account.

Only the item's merchant can redeem: for anyone else a real code answers exactly like
an unknown one (404), so codes of other merchants cannot be probed. A code redeems once:
the state change is a conditional UPDATE, so of two tills racing exactly one wins."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from backend.audit import log as audit
from backend.db import db, utcnow
from backend.errors import NotFound
from mall import escrow
from mall.models import Order
from mall.orders import OrderExpired, state_conflict
from mall.qr import normalize


class UnknownCode(NotFound):
    code, title = "code_not_found", "No such redemption code"


@dataclass(frozen=True)
class Redeemed:
    order_id: int
    item_id: int
    points: int
    status: str
    fulfilled_at: datetime


def redeem(merchant_id: int, raw_code: str, *, staff_user_id: int, actor: str) -> Redeemed:
    code = normalize(raw_code)
    if code is None:
        raise UnknownCode("No such redemption code.")
    found = db.session.execute(
        select(Order.id, Order.merchant_id, Order.status, Order.expires_at).where(
            Order.redemption_code == code
        )
    ).one_or_none()
    if found is None or found.merchant_id != merchant_id:
        raise UnknownCode("No such redemption code.")
    now = utcnow()
    if found.status != "pending":
        raise state_conflict(found.status)
    if found.expires_at <= now:
        raise OrderExpired("The order has expired.")
    row = db.session.execute(
        update(Order)
        .where(Order.id == found.id, Order.status == "pending", Order.expires_at > now)
        .values(status="fulfilled", fulfilled_at=now, redeemed_by=staff_user_id)
        .returning(Order.id, Order.item_id, Order.points, Order.merchant_id, Order.user_id)
        .execution_options(synchronize_session=False)
    ).one_or_none()
    if row is None:  # another till, a cancel or the expiry job won the race
        status = db.session.execute(select(Order.status).where(Order.id == found.id)).scalar_one()
        if status == "pending":
            raise OrderExpired("The order has expired.")
        raise state_conflict(status)
    entry_id = escrow.release(row, actor=actor, memo=f"redeemed item {row.item_id}")
    audit.record(
        "order.redeem",
        "order",
        row.id,
        before={"status": "pending"},
        after={"status": "fulfilled", "entry_id": entry_id},
    )
    return Redeemed(row.id, row.item_id, row.points, "fulfilled", now)
