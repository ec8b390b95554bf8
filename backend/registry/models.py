from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import Amount, BigId, UTCDateTime, db, utcnow


class Organization(db.Model):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # operator | merchant | project_owner | other
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    # active | frozen (Art. 24: its users and clients lose access, outgoing moves stop)
    status: Mapped[str] = mapped_column(String(12), default="active", server_default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Methodology(db.Model):
    """A published methodology version; a version never changes once published (a
    revision is a new version)."""

    __tablename__ = "methodologies"
    __table_args__ = (UniqueConstraint("code", "version", name="code_version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(40))
    version: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(10))  # scenario | project
    title: Mapped[str] = mapped_column(String(200))
    formula: Mapped[str] = mapped_column(String(40))
    parameters: Mapped[dict] = mapped_column(JSON)
    source: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="published")
    published_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Scenario(db.Model):
    __tablename__ = "scenarios"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    operator_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    methodology_id: Mapped[int] = mapped_column(ForeignKey("methodologies.id"))
    activity_types: Mapped[list] = mapped_column(JSON)
    daily_cap_g: Mapped[int] = mapped_column(Amount)
    window_days: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default="registered")
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    methodology: Mapped[Methodology] = relationship(lazy="joined")
    operator: Mapped[Organization] = relationship(lazy="joined")


class ConversionRule(db.Model):
    """The platform-wide reductions-to-points rate, versioned. Points stay fungible and
    backed: the rate may change only while no points are outstanding."""

    __tablename__ = "conversion_rules"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    points_per_kg: Mapped[int] = mapped_column(Integer)
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
