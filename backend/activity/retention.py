"""Retention: raw activity details are erased after `RAW_ACTIVITY_RETENTION_DAYS`.

The measures (distances, energy) go at the end of the retention period. The start and
end times go too, but never while an upload could still overlap them: a record counts
when it started within its scenario's window, so an activity that ended less than the
longest window (plus a day) ago could still be overlapped, and without its times the
same trip, reported again by another operator, would be credited twice. A retention
shorter than the longest window is refused at start-up and at catalogue import
(`config.settings.check_retention`); should one run anyway, the times still stay.

The details live in `activity_details`, a month a partition on PostgreSQL
(`partitions.py`): a month whose every row is past both bounds is DROPped whole (no row
read or rewritten); the months at the bounds are handled row by row, and those reads
are pruned to them by the partition key (`day`, the Asia/Shanghai day of the start)."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Flask
from sqlalchemy import delete, func, inspect, select, text, update
from sqlalchemy.exc import DBAPIError

from backend.activity import partitions
from backend.activity.models import ActivityDetail
from backend.db import db, utcnow
from backend.registry.models import Scenario
from backend.runtime import setting
from config.settings import check_retention
from jobs import job

log = logging.getLogger(__name__)

# Kept beyond the longest window: uploads judge "within the window" against their own
# clock, which may run a little behind this job's.
SLACK = timedelta(days=1)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def longest_window_days() -> int:
    """The longest window of any scenario (0 when there is none)."""
    return int(db.session.scalar(select(func.max(Scenario.window_days))) or 0)


def _day(moment: datetime) -> date:
    """The last Asia/Shanghai day a start before `moment` can have."""
    return moment.astimezone(SHANGHAI).date()


def _drop_whole_months(cutoff: datetime, horizon: datetime) -> int:
    """Drop the months every row of which is past the retention (`cutoff`) and the
    overlap horizon; returns how many of their rows still had their measures."""
    conn = db.session.connection()
    if conn.dialect.name != "postgresql":
        return 0
    bound = min(_day(cutoff), _day(horizon))
    erased = 0
    for month in partitions.existing(conn):
        if partitions.next_month(month) > bound:
            break
        name = partitions.name_of(month)
        # one read of a month about to go: none may still be needed (a trip that ends
        # long after its day, a clock far off); names come from the catalogue
        fresh, kept = conn.execute(
            text(
                f"SELECT COUNT(*) FILTER (WHERE erased_at IS NULL), "  # noqa: S608
                f"COALESCE(BOOL_OR(started_at >= :cutoff OR ended_at >= :horizon), false) "
                f'FROM "{name}"'
            ),
            {"cutoff": cutoff, "horizon": horizon},
        ).one()
        if kept:
            break
        conn.execute(text(f'DROP TABLE "{name}"'))
        log.info("retention dropped partition %s", name)
        erased += int(fresh)
    return erased


def purge_raw_details(older_than_days: int) -> int:
    """Erase the measures of activities that started more than `older_than_days` ago,
    and the times of erased activities once no upload can overlap them any more (their
    details row goes: a whole month at once where it can). Returns how many activities
    had their measures erased now."""
    now = utcnow()
    cutoff = now - timedelta(days=older_than_days)
    overlap_horizon = now - timedelta(days=longest_window_days()) - SLACK
    erased = _drop_whole_months(cutoff, overlap_horizon)
    result = db.session.execute(
        update(ActivityDetail)
        .where(
            ActivityDetail.day <= _day(cutoff),
            ActivityDetail.erased_at.is_(None),
            ActivityDetail.started_at < cutoff,
        )
        .values(measures=None, erased_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        delete(ActivityDetail)
        .where(
            ActivityDetail.day <= _day(overlap_horizon),
            ActivityDetail.erased_at.is_not(None),
            ActivityDetail.ended_at < overlap_horizon,
        )
        .execution_options(synchronize_session=False)
    )
    return erased + result.rowcount


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
