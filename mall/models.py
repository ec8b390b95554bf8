"""Mall tables: items, orders and settlement batches.

The database guards what must never happen whatever the code does: stock below zero, a
redemption code used twice, an order in two batches (one nullable `settlement_id`
column), a settled order that is not fulfilled, a non-positive price."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import Amount, BigId, UTCDateTime, db, utcnow
from backend.registry.models import Organization

ORDER_STATUSES = ("pending", "fulfilled", "cancelled", "expired")
SETTLEMENT_STATUSES = ("pending", "approved", "settled", "failed", "cancelled")


class Item(db.Model):
    """A good or service a merchant offers for points. `stock` is what is left (NULL:
    unlimited); an order takes one unit and a cancel or expiry puts it back."""

    __tablename__ = "items"
    __table_args__ = (
        CheckConstraint("points_price >= 1", name="price"),
        CheckConstraint("stock IS NULL OR stock >= 0", name="stock"),
        CheckConstraint("per_resident_limit IS NULL OR per_resident_limit >= 1", name="limit"),
        CheckConstraint(
            "valid_from IS NULL OR valid_until IS NULL OR valid_from < valid_until",
            name="window",
        ),
        Index("ix_items_merchant_id_id", "merchant_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    points_price: Mapped[int] = mapped_column(Amount)
    stock: Mapped[int | None] = mapped_column(Integer)
    per_resident_limit: Mapped[int | None] = mapped_column(Integer)
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    merchant: Mapped[Organization] = relationship(lazy="raise")


class Order(db.Model):
    """A resident's order: its points sit in the merchant's order escrow while it is
    `pending`; `fulfilled` moved them to the merchant; `cancelled` or `expired` gave
    them back. `settlement_id` names the one batch that converts it back to grams."""

    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("points >= 1", name="points"),
        CheckConstraint(
            "status IN ('pending', 'fulfilled', 'cancelled', 'expired')", name="status"
        ),
        CheckConstraint("settlement_id IS NULL OR status = 'fulfilled'", name="settled_fulfilled"),
        Index("ix_orders_user_id_id", "user_id", "id"),
        Index("ix_orders_item_id_user_id", "item_id", "user_id"),
        Index("ix_orders_merchant_id_id", "merchant_id", "id"),
        Index("ix_orders_settlement_id", "settlement_id"),
        Index(
            "ix_orders_pending_expiry",
            "expires_at",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        Index(
            "ix_orders_unsettled",
            "merchant_id",
            postgresql_where=text("status = 'fulfilled' AND settlement_id IS NULL"),
            sqlite_where=text("status = 'fulfilled' AND settlement_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    merchant_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    points: Mapped[int] = mapped_column(Amount)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    # 16 Crockford base32 characters (80 random bits), stored without separators
    redemption_code: Mapped[str] = mapped_column(String(16), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    fulfilled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    redeemed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # cancelled / expired
    settlement_id: Mapped[int | None] = mapped_column(ForeignKey("settlement_batches.id"))

    item: Mapped[Item] = relationship(lazy="raise")


class SettlementBatch(db.Model):
    """Points back to reductions (Art. 20): every fulfilled, unsettled order of one
    merchant at the time it applied. pending -> approved (staff) -> settled (the job
    posted it) or failed (`error` says why; staff may retry: failed -> approved). A
    batch not yet settled is cancelled when its merchant is frozen (its orders are
    released, to be settled in a later batch)."""

    __tablename__ = "settlement_batches"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'approved', 'settled', 'failed', 'cancelled')", name="status"
        ),
        CheckConstraint("orders >= 0 AND points >= 0", name="amounts"),
        Index("ix_settlement_batches_merchant_id_id", "merchant_id", "id"),
        Index("ix_settlement_batches_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    orders: Mapped[int] = mapped_column(Integer, default=0)
    points: Mapped[int] = mapped_column(Amount, default=0)
    # what the posting converted: the points taken and the grams given at the rate
    points_converted: Mapped[int | None] = mapped_column(Amount)
    reductions_g: Mapped[int | None] = mapped_column(Amount)
    rate_version: Mapped[int | None] = mapped_column(Integer)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"))
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    requested_by: Mapped[str | None] = mapped_column(String(64))
    approved_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
