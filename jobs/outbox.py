"""The transactional outbox: a job is asked for by writing a row in the same transaction
as the change that needs it; only after that transaction commits does the relay
(`jobs.relay`) hand it to RQ (or run it in-process). A Redis outage delays jobs and
loses none."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import BigId, UTCDateTime, db, utcnow
from jobs import spec_of


class OutboxMessage(db.Model):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "sent_at", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(120))
    kwargs: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


def enqueue_after_commit(job: Callable, **kwargs) -> None:
    """Ask for `job` (a `@job` function) to run with `kwargs` once this transaction
    commits. Never call RQ directly from a transaction."""
    db.session.add(OutboxMessage(job=spec_of(job).name, kwargs=kwargs))
    db.session.info["outbox_dirty"] = True


def pending() -> bool:
    """Did this session ask for a job since the relay last looked?"""
    return bool(db.session.info.get("outbox_dirty"))
