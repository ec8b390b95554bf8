"""A resident's statement: the postings on their reductions account (`g`), their points
account (`pt`), or both."""

from __future__ import annotations

from sqlalchemy import Select, select

from backend.ledger import Account, AccountKind, JournalEntry, Posting

UNITS = {"g": AccountKind.RESIDENT_REDUCTIONS, "pt": AccountKind.RESIDENT_POINTS}


def postings(user_id: int, unit: str | None = None) -> Select:
    """The resident's postings in `unit` (`g` or `pt`), or in both when it is None."""
    kinds = [UNITS[unit]] if unit else list(UNITS.values())
    return (
        select(
            Posting.id,
            Posting.entry_id,
            JournalEntry.kind,
            Account.unit,
            Posting.amount,
            Posting.balance_after,
            Posting.created_at,
            JournalEntry.memo,
        )
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .join(Account, Account.id == Posting.account_id)
        .where(Account.kind.in_([k.value for k in kinds]), Account.owner_id == user_id)
    )
