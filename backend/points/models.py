"""Points tables: the published validity rules (how long a credit of points lives)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import BigId, UTCDateTime, db, utcnow


class PointsRule(db.Model):
    """A points validity rule: points credited from `effective_from` on (until the next
    rule's `effective_from`) expire at the end of the month (Asia/Shanghai) `months`
    after their credit. Published with its note; never edited (a change is a new rule,
    effective from now or later, so no credit already made changes its expiry)."""

    __tablename__ = "points_rules"
    __table_args__ = (CheckConstraint("months >= 1 AND months <= 1200", name="months"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    months: Mapped[int] = mapped_column(Integer)
    effective_from: Mapped[datetime] = mapped_column(UTCDateTime(), unique=True)
    note: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
