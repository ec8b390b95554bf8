"""The monthly partitions of `activity_details` (PostgreSQL; on SQLite the table is one
plain table and every function here does nothing).

A partition holds one month of activity days: `activity_details_pYYYYMM`, `FOR VALUES
FROM ('YYYY-MM-01') TO (<next month>-01)`. There is no default partition: a row whose
month has none would fail, so every path that writes details makes its months first
(`ensure_months`, in the writer's own transaction, serialised by an advisory lock),
and the periodic job `make_activity_partitions` makes the months an upload can reach
(back to the longest scenario window, and `AHEAD_MONTHS` ahead) before any upload needs
them, so the writers almost never have to. Creating a partition takes a short exclusive
lock on the parent; made ahead by the job it happens once a month, off the hot path.

The retention job (`retention.py`) drops whole months once every row in them is past
both the retention period and the overlap horizon (`drop_months_before`)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, timedelta

from sqlalchemy import text

from backend.db import db
from jobs import job

PARENT = "activity_details"
AHEAD_MONTHS = 3
_NAME = re.compile(r"^activity_details_p(\d{4})(\d{2})$")
_LOCK = 0x5AC7D7A1  # pg_advisory_xact_lock key: one partition maker at a time


def month_of(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def name_of(month: date) -> str:
    return f"{PARENT}_p{month.year:04d}{month.month:02d}"


def _is_pg(connection) -> bool:
    return connection.dialect.name == "postgresql"


def existing(connection) -> list[date]:
    """The months that have a partition, oldest first."""
    if not _is_pg(connection):
        return []
    rows = connection.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(:parent)"
        ),
        {"parent": PARENT},
    ).scalars()
    months = []
    for name in rows:
        m = _NAME.match(name)
        if m:
            months.append(date(int(m[1]), int(m[2]), 1))
    return sorted(months)


def not_a_partition(name, type_, parent_names) -> bool:
    """Alembic's `include_name`: the schema compared with the models leaves out the
    monthly partitions (made at run time, not in the models)."""
    return not (type_ == "table" and name is not None and _NAME.match(name))


def create_sql(month: date) -> str:
    """The DDL of one month's partition (names and bounds made here, never from input)."""
    return (
        f'CREATE TABLE IF NOT EXISTS "{name_of(month)}" PARTITION OF {PARENT} '
        f"FOR VALUES FROM ('{month.isoformat()}') TO ('{next_month(month).isoformat()}')"
    )


def ensure_months(connection, days: Iterable[date]) -> int:
    """Make the partitions of the months of `days` that have none, in the caller's
    transaction; returns how many were made."""
    if not _is_pg(connection):
        return 0
    months = sorted({month_of(d) for d in days if d is not None})
    if not months:
        return 0
    missing = [
        m
        for m in months
        if connection.execute(text("SELECT to_regclass(:n)"), {"n": name_of(m)}).scalar() is None
    ]
    if not missing:
        return 0
    connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK})
    for m in missing:
        connection.execute(text(create_sql(m)))
    return len(missing)


def ensure_range(connection, first: date, last: date) -> int:
    """Make every month from `first`'s to `last`'s."""
    months, m = [], month_of(first)
    while m <= last:
        months.append(m)
        m = next_month(m)
    return ensure_months(connection, months)


def drop_months_before(connection, bound: date) -> list[str]:
    """Drop the partitions whose whole month lies before `bound` (a day); returns their
    names. Dropping a month is a catalogue change: no row is read or rewritten."""
    if not _is_pg(connection):
        return []
    dropped = []
    for m in existing(connection):
        if next_month(m) <= bound:
            connection.execute(text(f'DROP TABLE IF EXISTS "{name_of(m)}"'))
            dropped.append(name_of(m))
    return dropped


@job(queue="maintenance", timeout=600)
def make_activity_partitions() -> int:
    """Make the months an upload can reach: back to the longest scenario window, and
    `AHEAD_MONTHS` ahead. Idempotent."""
    from sqlalchemy import func, select

    from backend.db import utcnow
    from backend.registry.models import Scenario

    longest = int(db.session.scalar(select(func.max(Scenario.window_days))) or 0)
    today = utcnow().date()
    # the oldest day an upload can still reach (`ingest`: within the window, a day of
    # clock slack); older months are retention's to drop, not to make again
    first = today - timedelta(days=longest + 1)
    last = today + timedelta(days=31 * AHEAD_MONTHS)
    return ensure_range(db.session.connection(), first, last)
