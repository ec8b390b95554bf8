"""Stored reconciliation reports."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import BigId, UTCDateTime, db, utcnow


class ReconciliationReport(db.Model):
    """A stored reconciliation report: one per Asia/Shanghai day (a re-run that day
    replaces it)."""

    __tablename__ = "reconciliation_reports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    as_of: Mapped[datetime] = mapped_column(UTCDateTime())
    ok: Mapped[bool] = mapped_column(Boolean)
    report: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
