"""Overlap: no trip counted twice. A record whose time overlaps another counted
activity of the same resident (in any scenario, from any operator) by more than
`TOLERANCE` is accepted with 0 g and the flag `overlap`: the first reported counts.
Uploads touching the same residents are serialised (PostgreSQL advisory locks) so two
operators racing can't both count one trip."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import select, text

from backend.activity.models import Activity
from backend.db import db, in_values

TOLERANCE = timedelta(minutes=5)
RESIDENT_LOCK_NS = 0x5150  # advisory lock namespace: one resident's uploads
CHUNK = 5000


def lock_residents(user_ids: list[int]) -> None:
    """Serialise uploads that touch the same residents (PostgreSQL advisory locks, in
    ascending order, held to commit), so two concurrent batches can't both miss an
    overlap. SQLite serialises writers anyway."""
    if not user_ids or db.session.get_bind().dialect.name != "postgresql":
        return
    db.session.execute(
        text(
            "SELECT pg_advisory_xact_lock(:ns, CAST(u % 2147483647 AS integer)) "
            "FROM unnest(CAST(:ids AS bigint[])) AS u"
        ),
        {"ns": RESIDENT_LOCK_NS, "ids": user_ids},
    )


def flag(candidates: list) -> None:
    if not candidates:
        return
    by_user: dict[int, list] = defaultdict(list)
    for c in candidates:
        by_user[c.consent.user_id].append(c)
    lo = min(c.started_at for c in candidates) - timedelta(days=1)
    hi = max(c.ended_at for c in candidates)
    existing: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    users = sorted(by_user)
    for start in range(0, len(users), CHUNK):
        rows = db.session.execute(
            select(Activity.user_id, Activity.started_at, Activity.ended_at).where(
                in_values(Activity.user_id, users[start : start + CHUNK]),
                Activity.started_at.is_not(None),
                Activity.started_at < hi,
                Activity.ended_at > lo,
                Activity.reduction_g > 0,
            )
        )
        for user_id, s, e in rows:
            existing[user_id].append((s, e))
    for user_id, items in by_user.items():
        counted = existing[user_id]
        for c in sorted(items, key=lambda c: c.index):
            if any(_overlap(c.started_at, c.ended_at, s, e) > TOLERANCE for s, e in counted):
                c.flags = ["overlap"]
                c.reduction_g = 0
            elif c.reduction_g > 0:
                counted.append((c.started_at, c.ended_at))


def _overlap(s1: datetime, e1: datetime, s2: datetime, e2: datetime) -> timedelta:
    return min(e1, e2) - max(s1, s2)
