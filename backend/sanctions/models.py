"""Sanctions: who was frozen, why, when, by whom, and when it was lifted. At most one
open (not lifted) sanction per subject."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import BigId, UTCDateTime, db, utcnow


class Sanction(db.Model):
    __tablename__ = "sanctions"
    __table_args__ = (
        CheckConstraint("subject_type IN ('organization', 'resident')", name="subject_type"),
        Index(
            "uq_sanctions_open_subject",
            "subject_type",
            "subject_id",
            unique=True,
            postgresql_where=text("lifted_at IS NULL"),
            sqlite_where=text("lifted_at IS NULL"),
        ),
        Index("ix_sanctions_subject_type_id", "subject_type", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    subject_type: Mapped[str] = mapped_column(String(20))  # organization | resident
    subject_id: Mapped[int] = mapped_column(BigId)
    reason: Mapped[str] = mapped_column(Text)
    frozen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    frozen_by: Mapped[str] = mapped_column(String(80))
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lifted_by: Mapped[str | None] = mapped_column(String(80))
    lift_reason: Mapped[str | None] = mapped_column(Text)
