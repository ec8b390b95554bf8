"""Overlap: no trip counted twice. A record that overlaps another counted activity of the
same resident (in any scenario, from any operator) is accepted with 0 g and the flag
`overlap`: the first reported counts.

Two activities overlap when the time they share exceeds half of the shorter one or
`TOLERANCE` (5 minutes), whichever is smaller. The rule is symmetric (it does not matter
which came first) and scale-free: two identical 4-minute trips overlap, while a 3-minute
brush between a bus and the metro it leads to does not.

Only activities of one overlap group can overlap (an adapter's `OVERLAP_GROUP`): a
person can't take two trips at once, but their car can charge while they take the
metro. An activity longer than its methodology allows is refused by its adapter
(`implausible`), so one weeks-long "trip" can't zero every later trip.

Uploads touching the same residents are serialised (PostgreSQL advisory locks) so two
operators racing can't both count one trip."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import select, text

import scenarios_adapters
from backend.activity.models import Activity, ActivityDetail
from backend.db import db, in_values
from backend.registry.models import Methodology

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


def overlaps(s1: datetime, e1: datetime, s2: datetime, e2: datetime) -> bool:
    """Do [s1, e1) and [s2, e2) share more than half of the shorter one or `TOLERANCE`,
    whichever is smaller? Symmetric in its two activities."""
    shared = min(e1, e2) - max(s1, s2)
    if shared <= timedelta(0):
        return False
    shorter = min(e1 - s1, e2 - s2)
    return shared > min(shorter / 2, TOLERANCE)


def flag(candidates: list, formula: str) -> None:
    """Zero (with the flag `overlap`) each candidate of a `formula` scenario that overlaps
    a counted activity of its resident, stored or earlier in `candidates`."""
    if not candidates:
        return
    by_user: dict[int, list] = defaultdict(list)
    for c in candidates:
        by_user[c.consent.user_id].append(c)
    lo = min(c.started_at for c in candidates) - timedelta(days=1)
    hi = max(c.ended_at for c in candidates)
    formulas = scenarios_adapters.overlapping_formulas(formula)
    existing: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    users = sorted(by_user)
    for start in range(0, len(users), CHUNK):
        rows = db.session.execute(
            select(ActivityDetail.user_id, ActivityDetail.started_at, ActivityDetail.ended_at)
            .join(Activity, Activity.id == ActivityDetail.activity_id)
            .join(Methodology, Methodology.id == Activity.methodology_id)
            .where(
                in_values(ActivityDetail.user_id, users[start : start + CHUNK]),
                ActivityDetail.started_at.is_not(None),
                ActivityDetail.started_at < hi,
                ActivityDetail.ended_at > lo,
                Activity.reduction_g > 0,
                Methodology.formula.in_(formulas),
            )
        )
        for user_id, s, e in rows:
            existing[user_id].append((s, e))
    for user_id, items in by_user.items():
        counted = existing[user_id]
        for c in sorted(items, key=lambda c: c.index):
            if any(overlaps(c.started_at, c.ended_at, s, e) for s, e in counted):
                c.flags = ["overlap"]
                c.reduction_g = 0
            elif c.reduction_g > 0:
                counted.append((c.started_at, c.ended_at))
