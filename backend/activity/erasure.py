"""Erasure on request: a resident erases the raw details of their activities."""

from __future__ import annotations

from sqlalchemy import update

from backend.activity.models import Activity
from backend.db import db, utcnow


def erase_raw_details(user_id: int) -> int:
    """Erase the measures (distances, energy) of the resident's activities at once; the
    amounts and days stay. The start and end times stay only while a record from another
    operator could still overlap them (the longest scenario window): without them one
    trip could be credited twice. The retention job (`retention.py`) erases them after."""
    result = db.session.execute(
        update(Activity)
        .where(Activity.user_id == user_id, Activity.erased_at.is_(None))
        .values(measures=None, erased_at=utcnow())
    )
    return result.rowcount
