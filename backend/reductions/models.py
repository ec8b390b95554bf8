"""Serial blocks, issuances, agreement transfers, uses and beneficiaries.

A serial block is a contiguous range of gram serials of one object (a project `P{id}`,
or `S0`, the pool of personal reductions that came back from the points mall) and one
vintage, sitting in one ledger account, in one state: held, reserved (for a pending
transfer or use), retired or cancelled. On PostgreSQL an exclusion constraint refuses two
blocks of one object whose ranges overlap, and a trigger refuses any change to a retired
or cancelled block and any deletion (see the migration)."""

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
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import Amount, BigId, UTCDateTime, db, utcnow
from backend.registry.models import Organization, Project

BLOCK_STATUSES = ("held", "reserved", "retired", "cancelled")
PURPOSES = ("retirement", "offset", "cancellation", "donation")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class SerialCounter(db.Model):
    """The next free serial of an object: numbering is per object, contiguous across
    vintages."""

    __tablename__ = "serial_counters"

    object_type: Mapped[str] = mapped_column(String(1), primary_key=True)
    object_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    next_serial: Mapped[int] = mapped_column(Amount, default=1)


class SerialBlock(db.Model):
    __tablename__ = "serial_blocks"
    __table_args__ = (
        CheckConstraint("start_serial >= 1 AND end_serial >= start_serial", name="range"),
        CheckConstraint("object_type IN ('S', 'P')", name="object_type"),
        CheckConstraint(_in("status", BLOCK_STATUSES), name="status"),
        CheckConstraint(
            "(status = 'reserved') = (reserved_for_type IS NOT NULL)", name="reservation"
        ),
        Index("ix_serial_blocks_account_status", "account_id", "status", "vintage", "id"),
        Index("ix_serial_blocks_object", "object_type", "object_id", "start_serial"),
        Index("ix_serial_blocks_reserved_for", "reserved_for_type", "reserved_for_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    object_type: Mapped[str] = mapped_column(String(1))
    object_id: Mapped[int] = mapped_column(BigId)
    vintage: Mapped[int] = mapped_column(Integer)
    start_serial: Mapped[int] = mapped_column(Amount)
    end_serial: Mapped[int] = mapped_column(Amount)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    status: Mapped[str] = mapped_column(String(10), default="held")
    reserved_for_type: Mapped[str | None] = mapped_column(String(10))  # transfer | use
    reserved_for_id: Mapped[int | None] = mapped_column(BigId)
    origin_type: Mapped[str] = mapped_column(String(12))  # issuance | settlement
    origin_id: Mapped[int] = mapped_column(BigId)
    parent_id: Mapped[int | None] = mapped_column(BigId)  # the block it was split from
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def amount_g(self) -> int:
        return self.end_serial - self.start_serial + 1

    @property
    def serial(self) -> str:
        return serial_of(
            self.object_type, self.object_id, self.vintage, self.start_serial, self.end_serial
        )


def serial_of(object_type: str, object_id: int, vintage: int, start: int, end: int) -> str:
    return f"CN-SIP-{object_type}{object_id}-{vintage}-{start}-{end}"


class Issuance(db.Model):
    """Reductions issued to a project's owner on an approved issuance application."""

    __tablename__ = "issuances"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), unique=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    vintage: Mapped[int] = mapped_column(Integer)
    amount_g: Mapped[int] = mapped_column(Amount)
    start_serial: Mapped[int] = mapped_column(Amount)
    end_serial: Mapped[int] = mapped_column(Amount)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"))
    certificate_number: Mapped[str | None] = mapped_column(String(40), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    owner: Mapped[Organization] = relationship(lazy="joined")
    project: Mapped[Project] = relationship(lazy="joined")


class Transfer(db.Model):
    """An agreement transfer (Art. 17, 21): the seller proposes, the buyer accepts, the
    centre executes. The seller's grams are reserved from the proposal on."""

    __tablename__ = "transfers"
    __table_args__ = (
        CheckConstraint(
            _in("status", ("proposed", "accepted", "executed", "cancelled")), name="status"
        ),
        CheckConstraint("amount_g >= 1", name="amount"),
        CheckConstraint("seller_id <> buyer_id", name="two_parties"),
        Index("ix_transfers_seller_id_id", "seller_id", "id"),
        Index("ix_transfers_buyer_id_id", "buyer_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    buyer_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    amount_g: Mapped[int] = mapped_column(Amount)
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="proposed")
    serials: Mapped[list | None] = mapped_column(JSON)  # [{serial, amount_g}] moved
    proposed_by: Mapped[str | None] = mapped_column(String(64))
    accepted_by: Mapped[str | None] = mapped_column(String(64))
    executed_by: Mapped[str | None] = mapped_column(String(64))
    cancelled_by: Mapped[str | None] = mapped_column(String(64))
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    executed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    seller: Mapped[Organization] = relationship(foreign_keys=[seller_id], lazy="joined")
    buyer: Mapped[Organization] = relationship(foreign_keys=[buyer_id], lazy="joined")


class Beneficiary(db.Model):
    """A name uses are made "on behalf of"; staff normalise it the first time it is used,
    so the public registry shows one spelling per beneficiary."""

    __tablename__ = "beneficiaries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)  # as first written
    normalized_name: Mapped[str | None] = mapped_column(String(200))
    normalized_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Use(db.Model):
    """A use of reductions (Art. 18, 21-23): retirement, offset of operations or an event,
    voluntary cancellation, or donation. Requested, reserved, then approved or rejected."""

    __tablename__ = "uses"
    __table_args__ = (
        CheckConstraint(_in("purpose", PURPOSES), name="purpose"),
        CheckConstraint(_in("status", ("pending", "approved", "rejected")), name="status"),
        CheckConstraint("amount_g >= 1", name="amount"),
        CheckConstraint(
            "(purpose = 'donation') = (recipient_id IS NOT NULL)", name="donation_recipient"
        ),
        Index("ix_uses_owner_id_id", "owner_id", "id"),
        Index("ix_uses_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    purpose: Mapped[str] = mapped_column(String(12))
    amount_g: Mapped[int] = mapped_column(Amount)
    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("beneficiaries.id"))
    reason: Mapped[str] = mapped_column(Text)
    event: Mapped[dict | None] = mapped_column(JSON)  # offset: {name, date, emissions_g}
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    serials: Mapped[list | None] = mapped_column(JSON)  # [{serial, amount_g}] used
    decision_reasons: Mapped[str | None] = mapped_column(Text)
    certificate_number: Mapped[str | None] = mapped_column(String(40), unique=True)
    requested_by: Mapped[str | None] = mapped_column(String(64))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    owner: Mapped[Organization] = relationship(foreign_keys=[owner_id], lazy="joined")
    recipient: Mapped[Organization | None] = relationship(
        foreign_keys=[recipient_id], lazy="joined"
    )
    beneficiary: Mapped[Beneficiary] = relationship(lazy="joined")
