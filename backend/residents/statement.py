"""A resident's statement: the postings on their reductions account (`g`), their points
account (`pt`), or both."""

from __future__ import annotations

from sqlalchemy import Select, literal_column, select, union_all

from backend.db import BigId, db
from backend.ledger import Account, AccountKind, JournalEntry, Posting

UNITS = {"g": AccountKind.RESIDENT_REDUCTIONS, "pt": AccountKind.RESIDENT_POINTS}


# The page key of `postings()`: the statement's own `id` column (its rows come from a
# UNION ALL, one branch per account).
PAGE_KEY = literal_column("id", BigId)


def postings(user_id: int, unit: str | None = None) -> Select:
    """The resident's postings in `unit` (`g` or `pt`), or in both when it is None; page
    them by `PAGE_KEY`.

    One branch per account, each filtered by `account_id = :id`: its page reads only that
    account's range of `ix_postings_account_id_id`, whatever the ledger's size. Filtered
    through a join on accounts (or `account_id = ANY(...)`), a generic (prepared) plan
    may walk every posting backwards by id instead (seen in `bench/growth.py`)."""
    kinds = [UNITS[unit]] if unit else list(UNITS.values())
    ids = list(
        db.session.execute(
            select(Account.id)
            .where(Account.kind.in_([k.value for k in kinds]), Account.owner_id == user_id)
            .order_by(Account.id)
        ).scalars()
    )
    branches = [
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
        .where(Posting.account_id == account_id)
        for account_id in ids or [0]
    ]
    rows = (branches[0] if len(branches) == 1 else union_all(*branches)).subquery("statement")
    return select(rows)
