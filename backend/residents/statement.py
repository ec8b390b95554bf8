"""A resident's statement: the postings on their reductions or points account."""

from __future__ import annotations

from sqlalchemy import Select, select

from backend.ledger import Account, AccountKind, JournalEntry, Posting


def postings(user_id: int, unit: str) -> Select:
    kind = AccountKind.RESIDENT_REDUCTIONS if unit == "g" else AccountKind.RESIDENT_POINTS
    return (
        select(
            Posting.id,
            Posting.entry_id,
            JournalEntry.kind,
            Posting.amount,
            Posting.balance_after,
            Posting.created_at,
            JournalEntry.memo,
        )
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .join(Account, Account.id == Posting.account_id)
        .where(Account.kind == kind.value, Account.owner_id == user_id)
    )
