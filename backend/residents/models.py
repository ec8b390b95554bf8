"""Residents' tables: the notifications a mobile app polls.

A notification is written in the same transaction as the event it tells of (a credit,
a refund, an order's expiry, a consent change, points expired), or by the periodic
reminder of points expiring within 30 days. `sent_at` stays NULL until a push job (not
built yet) has sent it: that job reads the unsent ones by the partial index."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import BigId, UTCDateTime, db, utcnow


class Notification(db.Model):
    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user_id_id", "user_id", "id"),
        Index(
            "ix_notifications_unsent",
            "id",
            postgresql_where=text("sent_at IS NULL"),
            sqlite_where=text("sent_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # credit | order_refunded | order_expired | consent_granted | consent_withdrawn |
    # points_expiring | points_expired
    kind: Mapped[str] = mapped_column(String(40))
    text_zh: Mapped[str] = mapped_column(String(300))
    text_en: Mapped[str] = mapped_column(String(300))
    data: Mapped[dict | None] = mapped_column(JSON)
    # a notification that must be written once (a reminder) carries a unique key
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
