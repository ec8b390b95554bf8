"""Erasure on request: a resident erases the raw details of their activities."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, select, update

from backend.activity.models import Activity, ActivityDetail
from backend.db import db, utcnow


def erase_raw_details(user_id: int) -> int:
    """Erase the measures (distances, energy) of the resident's activities at once; the
    amounts and days stay. The start and end times stay only while a record from another
    operator could still overlap them (the longest scenario window): without them one
    trip could be credited twice. Details past that horizon go whole (their row is
    deleted); the retention job (`retention.py`) deletes the others' later. Returns how
    many activities had details still unerased."""
    from backend.activity.retention import SLACK, longest_window_days

    now = utcnow()
    horizon = now - timedelta(days=longest_window_days()) - SLACK
    unerased = db.session.scalar(
        select(func.count())
        .select_from(ActivityDetail)
        .where(ActivityDetail.user_id == user_id, ActivityDetail.erased_at.is_(None))
    )
    db.session.execute(
        delete(ActivityDetail)
        .where(ActivityDetail.user_id == user_id, ActivityDetail.ended_at < horizon)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(ActivityDetail)
        .where(ActivityDetail.user_id == user_id, ActivityDetail.erased_at.is_(None))
        .values(measures=None, erased_at=now)
        .execution_options(synchronize_session=False)
    )
    _forget()
    return int(unerased or 0)


def delete_raw_details(user_ids: list[int]) -> int:
    """Delete every raw detail (times and measures) of these residents (account closure:
    no upload of theirs is accepted any more, so no overlap needs the times). Returns
    how many details rows went."""
    if not user_ids:
        return 0
    result = db.session.execute(
        delete(ActivityDetail)
        .where(ActivityDetail.user_id.in_(sorted(set(user_ids))))
        .execution_options(synchronize_session=False)
    )
    _forget()
    return result.rowcount


def _forget() -> None:
    """Expire the loaded activities and details (their rows changed under them)."""
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, Activity | ActivityDetail):
            db.session.expire(obj)
