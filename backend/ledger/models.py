"""Ledger tables. Postings and journal entries are append-only; an account's balance is
materialised, and the database moves it when its postings are inserted (each posting's
`balance_after` must continue it); an entry balances per unit (checked at commit); the
database refuses a negative balance on any account that is not a system source (CHECK
constraint). The triggers that enforce this live in migration `3c8d5e7a9b21`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import Amount, BigId, UTCDateTime, db, utcnow


class Account(db.Model):
    __tablename__ = "accounts"
    __table_args__ = (
        UniqueConstraint("kind", "owner_id", name="owner_kind"),
        # by kind, not by the row's own flag: only the system sources may go negative
        CheckConstraint(
            "balance >= 0 OR kind IN ('scenario_issuance', 'project_issuance', 'points_mint')",
            name="nonnegative",
        ),
        CheckConstraint("unit IN ('g', 'pt')", name="unit"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(40))
    unit: Mapped[str] = mapped_column(String(2))
    owner_id: Mapped[int] = mapped_column(BigId, default=0)
    may_go_negative: Mapped[bool] = mapped_column(Boolean, default=False)
    balance: Mapped[int] = mapped_column(Amount, default=0)
    # Frozen (Art. 24): no posting may take value out of it; incoming value still lands.
    frozen: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class JournalEntry(db.Model):
    __tablename__ = "journal_entries"
    __table_args__ = (Index("ix_journal_entries_ref", "ref_type", "ref_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    ref_type: Mapped[str | None] = mapped_column(String(40))
    ref_id: Mapped[str | None] = mapped_column(String(64))
    actor: Mapped[str | None] = mapped_column(String(64))
    memo: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    postings: Mapped[list[Posting]] = relationship(back_populates="entry", lazy="selectin")


class Posting(db.Model):
    __tablename__ = "postings"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="nonzero"),
        Index("ix_postings_account_id_id", "account_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    amount: Mapped[int] = mapped_column(Amount)
    balance_after: Mapped[int] = mapped_column(Amount)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    entry: Mapped[JournalEntry] = relationship(back_populates="postings")
