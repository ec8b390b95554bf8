"""A resident's profile, balances and settings."""

from __future__ import annotations

from backend.auth.models import User
from backend.db import db, utcnow
from backend.errors import NotFound
from backend.ledger import AccountKind, balance_of
from backend.points import lots


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
        "points_expiring_next": lots.next_expiry(user.id, utcnow()),
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
