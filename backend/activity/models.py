"""Tables of the activity path.

Data minimisation: a record of someone without an active consent is never stored (only
counted in its batch's results); an accepted activity keeps its raw details (times,
measures) only until the resident erases them or the retention period ends; the amounts
and the day stay, for the ledger.

The raw details live in their own table, `activity_details`, partitioned by month of the
activity's day on PostgreSQL (`backend.activity.partitions`): retention drops whole
months instead of updating rows. `Activity.started_at`, `ended_at`, `measures` and
`erased_at` read and write through to it; an activity without a details row has had
its raw details erased entirely (`Activity.erased`)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.ext.associationproxy import association_proxy
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import Amount, BigId, UTCDateTime, bulk_insert, db, utcnow
from backend.registry.models import Methodology, Scenario


class BindToken(db.Model):
    """A one-time token an operator issues for one of its user references; the resident
    redeems it to consent. Stored as SHA-256."""

    __tablename__ = "bind_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id"))
    user_ref: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Consent(db.Model):
    """A resident's separate, explicit consent (PIPL Art. 28-29) for one scenario's
    operator to report one user reference's activity, for the purposes named."""

    __tablename__ = "consents"
    __table_args__ = (
        Index(
            "uq_consents_active_ref",
            "scenario_id",
            "user_ref",
            unique=True,
            postgresql_where=text("withdrawn_at IS NULL"),
            sqlite_where=text("withdrawn_at IS NULL"),
        ),
        Index("ix_consents_ref", "scenario_id", "user_ref"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id"))
    user_ref: Mapped[str] = mapped_column(String(128))
    purposes: Mapped[list] = mapped_column(JSON)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    scenario: Mapped[Scenario] = relationship(lazy="joined")


class UploadBatch(db.Model):
    """One upload. `payload` holds an async batch's records only until the job has
    processed them; `results` is what the operator reads back."""

    __tablename__ = "upload_batches"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id"))
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(10))  # queued | running | done | failed
    received: Mapped[int] = mapped_column(Integer, default=0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    payload: Mapped[list | None] = mapped_column(JSON)
    results: Mapped[list | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


def _raw(name: str):
    """An attribute of the activity's details row, read and written through it (a row
    is made on the first write)."""
    return association_proxy("details", name, creator=lambda v: ActivityDetail(**{name: v}))


class Activity(db.Model):
    """An accepted record. `credited_g` is NULL until accrued, then what the daily cap
    left for it; `flags` names why a record counts less (e.g. `overlap`)."""

    __tablename__ = "activities"
    __table_args__ = (
        UniqueConstraint("scenario_id", "external_id", name="uq_activities_scenario_external"),
        Index("ix_activities_uncredited", "credited_g", "user_id"),
        Index("ix_activities_user_id_id", "user_id", "id"),
        Index("ix_activities_user_created", "user_id", "created_at", "id"),
        # a history page's accrual lines read their trips by entry
        Index(
            "ix_activities_accrual_entry",
            "accrual_entry_id",
            postgresql_where=text("accrual_entry_id IS NOT NULL"),
            sqlite_where=text("accrual_entry_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id"))
    external_id: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    consent_id: Mapped[int] = mapped_column(ForeignKey("consents.id"))
    batch_id: Mapped[str] = mapped_column(String(32))
    activity_type: Mapped[str] = mapped_column(String(40))
    methodology_id: Mapped[int] = mapped_column(ForeignKey("methodologies.id"))
    day: Mapped[date] = mapped_column(Date)  # Asia/Shanghai calendar day of the start
    reduction_g: Mapped[int] = mapped_column(Amount)
    credited_g: Mapped[int | None] = mapped_column(Amount)
    flags: Mapped[list | None] = mapped_column(JSON)
    accrual_entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    scenario: Mapped[Scenario] = relationship(lazy="joined")
    methodology: Mapped[Methodology] = relationship(lazy="joined")
    # raw details, erasable (one row, or none once erased entirely)
    details: Mapped[ActivityDetail | None] = relationship(
        back_populates="activity", lazy="selectin", uselist=False
    )
    started_at = _raw("started_at")
    ended_at = _raw("ended_at")
    measures = _raw("measures")
    erased_at = _raw("erased_at")

    @property
    def erased(self) -> bool:
        """Its raw details were erased (the measures at least; the times may stay a
        while, see `retention.py`)."""
        return self.details is None or self.details.erased_at is not None


class ActivityDetail(db.Model):
    """An activity's raw, erasable details. On PostgreSQL `PARTITION BY RANGE (day)`, one
    partition a month (made by `backend.activity.partitions`); the partition key is in
    the primary key, as PostgreSQL requires. `day` and `user_id` copy the activity's, so
    retention, erasure and the overlap check find the rows without the activities."""

    __tablename__ = "activity_details"
    __table_args__ = (
        Index("ix_activity_details_user_started", "user_id", "started_at"),
        {"postgresql_partition_by": "RANGE (day)"},
    )

    activity_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("activities.id"), primary_key=True, autoincrement=False
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigId)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    measures: Mapped[dict | None] = mapped_column(JSON)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    activity: Mapped[Activity] = relationship(back_populates="details")


@event.listens_for(ActivityDetail, "before_insert")
def _copy_keys(mapper, connection, target: ActivityDetail) -> None:
    """A details row made through the ORM takes its activity's day and resident, and
    its month's partition is made if missing."""
    from backend.activity.partitions import ensure_months

    if target.activity is not None:
        target.day = target.activity.day
        target.user_id = target.activity.user_id
    ensure_months(connection, [target.day])


class CreditedResident(db.Model):
    """A resident accrual has credited at least once (written in the accrual's
    transaction), so public stats count the residents taking part without reading the
    ledger's postings, whatever auto-convert did with the grams."""

    __tablename__ = "credited_residents"

    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id"), primary_key=True, autoincrement=False
    )
    first_credited_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


def store_details(stored: list[tuple]) -> None:
    """Insert the raw details of just-inserted activities, each given as (activity id,
    the activity's row as inserted, its record with started_at, ended_at, measures);
    their months' partitions are made first if missing."""
    from backend.activity.partitions import ensure_months

    if not stored:
        return
    ensure_months(db.session.connection(), {row["day"] for _, row, _ in stored})
    bulk_insert(
        ActivityDetail,
        [
            {
                "activity_id": activity_id,
                "day": row["day"],
                "user_id": row["user_id"],
                "started_at": record.started_at,
                "ended_at": record.ended_at,
                "measures": record.measures,
            }
            for activity_id, row, record in stored
        ],
    )
