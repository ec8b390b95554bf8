from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
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
    documents: Mapped[list | None] = mapped_column(JSON)  # [{title, sha256}]
    status: Mapped[str] = mapped_column(String(12), default="published")  # | retired
    published_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Art. 10: a version is retired publicly, with reasons; what runs on it keeps running
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    retirement_reasons: Mapped[str | None] = mapped_column(Text)
    application_id: Mapped[int | None] = mapped_column(BigId)


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
    status: Mapped[str] = mapped_column(String(12), default="registered")  # | deregistered
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Art. 12: the basis for using personal data (the consent flow); Art. 15: the promise
    personal_data_basis: Mapped[str | None] = mapped_column(String(40))
    commitment: Mapped[dict | None] = mapped_column(JSON)
    deregistered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deregistration_cause: Mapped[str | None] = mapped_column(String(40))
    deregistration_reasons: Mapped[str | None] = mapped_column(Text)
    application_id: Mapped[int | None] = mapped_column(BigId)

    methodology: Mapped[Methodology] = relationship(lazy="joined")
    operator: Mapped[Organization] = relationship(lazy="joined")


class Project(db.Model):
    """A reduction project of an organisation (减排项目, Art. 11-14), registered after
    review and public notice; its reductions are issued by issuance applications."""

    __tablename__ = "projects"
    __table_args__ = (CheckConstraint("status IN ('registered', 'deregistered')", name="status"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    methodology_id: Mapped[int] = mapped_column(ForeignKey("methodologies.id"))
    sector: Mapped[str | None] = mapped_column(String(60))
    location: Mapped[str | None] = mapped_column(String(200))
    started_on: Mapped[date | None] = mapped_column(Date)
    commitment: Mapped[dict | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12), default="registered")
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    deregistered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deregistration_cause: Mapped[str | None] = mapped_column(String(40))
    deregistration_reasons: Mapped[str | None] = mapped_column(Text)
    application_id: Mapped[int | None] = mapped_column(BigId)

    methodology: Mapped[Methodology] = relationship(lazy="joined")
    owner: Mapped[Organization] = relationship(lazy="joined")


class AssetClaim(db.Model):
    """An asset (meter, plate, station, green-certificate or CCER project code) claimed by
    a pending application or a live scenario or project (Art. 15: no double claiming).
    The database keeps one unreleased claim per asset; deregistration, a refusal or a
    withdrawal releases it."""

    __tablename__ = "asset_claims"
    __table_args__ = (
        Index(
            "uq_asset_claims_live",
            "kind",
            "identifier",
            unique=True,
            postgresql_where=text("released_at IS NULL"),
            sqlite_where=text("released_at IS NULL"),
        ),
        Index("ix_asset_claims_holder", "holder_type", "holder_id"),
        CheckConstraint(
            "holder_type IN ('application', 'scenario', 'project')", name="holder_type"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))
    identifier: Mapped[str] = mapped_column(String(80))  # normalised
    raw_identifier: Mapped[str] = mapped_column(String(80))
    holder_type: Mapped[str] = mapped_column(String(12))
    holder_id: Mapped[int] = mapped_column(BigId)
    holder_code: Mapped[str] = mapped_column(String(40))
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ConversionRule(db.Model):
    """The platform-wide reductions-to-points rate, versioned. Points stay fungible and
    backed: the rate may change only while no points are outstanding."""

    __tablename__ = "conversion_rules"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    points_per_kg: Mapped[int] = mapped_column(Integer)
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DuplicateReport(db.Model):
    """The nightly double-claiming check's findings, one report per Asia/Shanghai day."""

    __tablename__ = "duplicate_reports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    as_of: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    count: Mapped[int] = mapped_column(Integer, default=0)
    findings: Mapped[list] = mapped_column(JSON, default=list)
