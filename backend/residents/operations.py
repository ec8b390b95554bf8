"""A resident's own view and settings."""

from __future__ import annotations

from sqlalchemy import select

from backend.auth.models import User
from backend.db import db
from backend.errors import NotFound
from backend.ledger import Account, AccountKind, JournalEntry, Posting, balance_of


def profile(user_id: int) -> dict:
    user = db.session.get(User, user_id)
    if user is None or user.kind != "resident":
        raise NotFound()
    return {
        "id": user.id,
        "phone": user.phone_masked,
        "display_name": user.display_name,
        "auto_convert": user.auto_convert,
        "reductions_g": balance_of(AccountKind.RESIDENT_REDUCTIONS, user.id),
        "points": balance_of(AccountKind.RESIDENT_POINTS, user.id),
    }


def update_profile(user_id: int, changes: dict) -> dict:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound()
    for field in ("display_name", "auto_convert"):
        if field in changes:
            setattr(user, field, changes[field])
    db.session.flush()
    return profile(user_id)


def ledger_query(user_id: int, unit: str):
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
