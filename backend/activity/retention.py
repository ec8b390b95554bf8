"""Retention: raw activity details are erased after `RAW_ACTIVITY_RETENTION_DAYS`."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from backend.activity.models import Activity
from backend.db import db, utcnow
from backend.registry.models import Scenario
from backend.runtime import setting
from jobs import job


def purge_raw_details(older_than_days: int) -> int:
    """Erase raw details older than the retention period, and the times of erased
    activities once no upload can overlap them any more."""
    now = utcnow()
    cutoff = now - timedelta(days=older_than_days)
    result = db.session.execute(
        update(Activity)
        .where(Activity.erased_at.is_(None), Activity.started_at < cutoff)
        .values(started_at=None, ended_at=None, measures=None, erased_at=now)
    )
    longest_window = db.session.scalar(select(func.max(Scenario.window_days))) or 0
    db.session.execute(
        update(Activity)
        .where(
            Activity.erased_at.is_not(None),
            Activity.started_at.is_not(None),
            Activity.started_at < now - timedelta(days=longest_window + 1),
        )
        .values(started_at=None, ended_at=None)
    )
    return result.rowcount


@job(queue="maintenance", timeout=1800)
def purge_raw_activity() -> int:
    """Erase raw activity details past the retention period."""
    return purge_raw_details(setting("RAW_ACTIVITY_RETENTION_DAYS"))
