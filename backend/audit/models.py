"""The audit log table: append-only (PostgreSQL refuses UPDATE and DELETE by trigger)
and hash-chained (each row holds the hash of the row before it and its own)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import BigId, UTCDateTime, db, utcnow


class AuditRecord(db.Model):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_object", "object_type", "object_id", "id"),
        Index("ix_audit_log_actor_id", "actor", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(80))  # "staff:3", "system:<job>", ...
    role: Mapped[str] = mapped_column(String(80))  # the role(s) acted under, or the kind
    action: Mapped[str] = mapped_column(String(80))  # "organization.freeze", ...
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict | None] = mapped_column(JSON)  # the fields changed, as they were
    after: Mapped[dict | None] = mapped_column(JSON)  # ...and as they are now
    request_id: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
