"""Applications, their public history, expert opinions and objections to notices."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import BigId, UTCDateTime, db, utcnow
from backend.registry.models import Organization

TYPES = (
    "methodology",
    "methodology_revision",
    "scenario",
    "project",
    "deregistration",
    "issuance",
)
STATUSES = (
    "submitted",
    "accepted",
    "returned",
    "in_review",
    "in_notice",
    "approved",
    "rejected",
    "withdrawn",
)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Application(db.Model):
    __tablename__ = "applications"
    __table_args__ = (
        CheckConstraint(_in("type", TYPES), name="type"),
        CheckConstraint(_in("status", STATUSES), name="status"),
        CheckConstraint(
            "notice_starts_at IS NULL OR notice_ends_at > notice_starts_at", name="notice"
        ),
        Index("ix_applications_organization_id_id", "organization_id", "id"),
        Index("ix_applications_status_id", "status", "id"),
        Index("ix_applications_subject_code", "subject_code"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(12), default="submitted")
    # the applicant; NULL for the entries of the platform's catalogue file
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    subject: Mapped[dict] = mapped_column(JSON)  # the type's fields, as validated
    subject_code: Mapped[str] = mapped_column(String(40))
    subject_title: Mapped[str] = mapped_column(String(200))
    submitted_by: Mapped[str | None] = mapped_column(String(64))
    notice_starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    notice_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_reasons: Mapped[str | None] = mapped_column(Text)
    # what an approval published: ("methodology" | "scenario" | "project" | "issuance", id)
    result_type: Mapped[str | None] = mapped_column(String(20))
    result_id: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    organization: Mapped[Organization | None] = relationship(lazy="joined")
    events: Mapped[list[ApplicationEvent]] = relationship(
        lazy="selectin", order_by="ApplicationEvent.id"
    )
    opinions: Mapped[list[ExpertOpinion]] = relationship(
        lazy="selectin", order_by="ExpertOpinion.id"
    )
    objections: Mapped[list[Objection]] = relationship(lazy="selectin", order_by="Objection.id")


class ApplicationEvent(db.Model):
    """One step of an application's public history: when, the status after it, who (by
    role: applicant, reviewer, expert, public, system; never a person's name) and the
    note shown to the applicant and the public."""

    __tablename__ = "application_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    action: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(12))
    role: Mapped[str] = mapped_column(String(12))
    actor: Mapped[str | None] = mapped_column(String(64))  # internal, never published
    note: Mapped[str | None] = mapped_column(Text)


class ExpertOpinion(db.Model):
    __tablename__ = "expert_opinions"
    __table_args__ = (
        UniqueConstraint("application_id", "expert_id", name="one_per_expert"),
        CheckConstraint("conclusion IN ('approve', 'reject', 'revise')", name="conclusion"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"))
    expert_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    conclusion: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Objection(db.Model):
    """An objection the public filed against a notice (Art. 13, 26). The contact is kept
    for the reviewer and never published; the reference, status and outcome are."""

    __tablename__ = "objections"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'upheld', 'dismissed')", name="status"),
        Index("ix_objections_application_id_status", "application_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"))
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    text: Mapped[str] = mapped_column(Text)
    contact: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), default="open")
    outcome: Mapped[str | None] = mapped_column(Text)
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
