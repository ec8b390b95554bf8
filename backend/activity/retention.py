"""Retention: raw activity details are erased after `RAW_ACTIVITY_RETENTION_DAYS`.

The measures (distances, energy) go at the end of the retention period. The start and
end times go too, but never while an upload could still overlap them: a record counts
when it started within its scenario's window, so an activity that ended less than the
longest window (plus a day) ago could still be overlapped, and without its times the
same trip, reported again by another operator, would be credited twice. A retention
shorter than the longest window is refused at start-up and at catalogue import
(`config.settings.check_retention`); should one run anyway, the times still stay."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import Flask
from sqlalchemy import func, inspect, select, update
from sqlalchemy.exc import DBAPIError

from backend.activity.models import Activity
from backend.db import db, utcnow
from backend.registry.models import Scenario
from backend.runtime import setting
from config.settings import check_retention
from jobs import job

log = logging.getLogger(__name__)

# Kept beyond the longest window: uploads judge "within the window" against their own
# clock, which may run a little behind this job's.
SLACK = timedelta(days=1)


def longest_window_days() -> int:
    """The longest window of any scenario (0 when there is none)."""
    return int(db.session.scalar(select(func.max(Scenario.window_days))) or 0)


def purge_raw_details(older_than_days: int) -> int:
    """Erase the measures of activities that started more than `older_than_days` ago,
    and the times of erased activities once no upload can overlap them any more.
    Returns how many activities were erased now."""
    now = utcnow()
    cutoff = now - timedelta(days=older_than_days)
    result = db.session.execute(
        update(Activity)
        .where(Activity.erased_at.is_(None), Activity.started_at < cutoff)
        .values(measures=None, erased_at=now)
    )
    overlap_horizon = now - timedelta(days=longest_window_days()) - SLACK
    db.session.execute(
        update(Activity)
        .where(
            Activity.erased_at.is_not(None),
            Activity.started_at.is_not(None),
            Activity.ended_at < overlap_horizon,
        )
        .values(started_at=None, ended_at=None)
    )
    return result.rowcount


@job(queue="maintenance", timeout=1800)
def purge_raw_activity() -> int:
    """Erase raw activity details past the retention period."""
    return purge_raw_details(setting("RAW_ACTIVITY_RETENTION_DAYS"))


def check_at_startup(app: Flask) -> None:
    """Refuse to start when the retention is shorter than the longest scenario window in
    the database (`config.settings.SettingsError`). A database not reachable or not
    migrated yet has no windows to check."""
    with app.app_context():
        try:
            if not inspect(db.engine).has_table(Scenario.__tablename__):
                return
            longest = longest_window_days()
        except DBAPIError as exc:
            log.warning("retention check skipped: database not reachable (%s)", type(exc).__name__)
            return
        finally:
            db.session.remove()
        check_retention(app.config["RAW_ACTIVITY_RETENTION_DAYS"], longest)
