"""Accrual: each resident's accepted, uncredited reductions become one ledger entry per
resident, scenario and Asia/Shanghai day, within the scenario's daily cap; with
auto-convert on, a second entry in the same transaction converts the credited grams to
points. Two entries, not one: the resident's reductions history then shows the grams
credited and their conversion as two lines (one entry would net them to nothing). The
credit entry is the activities' `accrual_entry_id`; each resident credited is recorded
in `credited_residents` (public stats count them).

Exactly once: a chunk runs under an exclusive accrual lock (a PostgreSQL advisory
transaction lock; SQLite serialises writers anyway), marks the activities it credits
in the same transaction as the entries, and keys each entry by its first activity, so
a second run, a concurrent worker or a run after a killed one finds nothing to do
twice. Activities arriving later on a day already credited get a further entry for
what the cap still leaves. A closed account (`backend.residents.closure`) is credited
nothing: its activities are marked 0 and their raw details erased."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select, text

from backend.activity.models import Activity, CreditedResident
from backend.auth.models import User
from backend.db import bulk_insert, bulk_update, db, in_values, utcnow
from backend.ledger import AccountKind, Leg, account_for, lock
from backend.ledger.accounts import accounts_for
from backend.ledger.posting import EntryRequest, post_many
from backend.points.conversion import ConversionAccounts, conversion_legs
from backend.registry.models import Scenario
from backend.registry.rate import current_rate
from backend.residents import notifications
from jobs import job

ADVISORY_KEY = 0x5150_0001  # "accrual"


@dataclass
class ChunkResult:
    activities: int = 0
    entries: int = 0  # credit entries (one per resident-day credited)
    conversions: int = 0  # auto-conversion entries
    credited_g: int = 0
    points: int = 0
    locked_out: bool = False


def _take_lock() -> bool:
    if db.session.get_bind().dialect.name != "postgresql":
        return True
    return bool(
        db.session.execute(
            text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": ADVISORY_KEY}
        ).scalar()
    )


def hold_lock() -> None:
    """Wait for the accrual lock and hold it to the end of the caller's transaction (an
    account closure: no chunk credits the resident while it closes, and every chunk
    after it sees the account closed)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ADVISORY_KEY})


def mark_credited(user_ids) -> None:
    """Record that these residents have been credited (kept once per resident, with the
    first time), in the caller's transaction: what public stats count."""
    if not user_ids:
        return
    now = utcnow()
    bulk_insert(
        CreditedResident,
        [{"user_id": u, "first_credited_at": now} for u in sorted(set(user_ids))],
        on_conflict=("user_id",),
    )


def accrue_chunk(limit: int = 5000) -> ChunkResult:
    """Credit up to about `limit` uncredited activities (whole resident-days). The caller
    commits, then calls again until `activities` is 0."""
    out = ChunkResult()
    if not _take_lock():
        out.locked_out = True
        return out
    keys = db.session.execute(
        select(Activity.user_id, Activity.scenario_id, Activity.day)
        .where(Activity.credited_g.is_(None))
        .group_by(Activity.user_id, Activity.scenario_id, Activity.day)
        .order_by(Activity.scenario_id, Activity.user_id, Activity.day)
        .limit(max(1, limit // 4))
    ).all()
    if not keys:
        return out
    users = sorted({k.user_id for k in keys})
    scenarios = {
        s.id: s
        for s in db.session.execute(
            select(Scenario).where(Scenario.id.in_({k.scenario_id for k in keys}))
        ).scalars()
    }
    days = sorted({k.day for k in keys})
    wanted = {(k.user_id, k.scenario_id, k.day) for k in keys}

    pending: dict[tuple, list] = defaultdict(list)
    for row in db.session.execute(
        select(
            Activity.id, Activity.user_id, Activity.scenario_id, Activity.day, Activity.reduction_g
        )
        .where(
            Activity.credited_g.is_(None),
            in_values(Activity.user_id, users),
            in_values(Activity.day, days),
        )
        .order_by(Activity.id)
    ):
        key = (row.user_id, row.scenario_id, row.day)
        if key in wanted:
            pending[key].append(row)
    already: dict[tuple, int] = defaultdict(int)
    for row in db.session.execute(
        select(Activity.user_id, Activity.scenario_id, Activity.day, func.sum(Activity.credited_g))
        .where(
            Activity.credited_g.is_not(None),
            in_values(Activity.user_id, users),
            in_values(Activity.day, days),
        )
        .group_by(Activity.user_id, Activity.scenario_id, Activity.day)
    ):
        already[(row[0], row[1], row[2])] = int(row[3] or 0)
    auto: dict[int, bool] = {}
    closed: set[int] = set()  # closed accounts: nothing is credited to them any more
    for uid, flag, closed_at in db.session.execute(
        select(User.id, User.auto_convert, User.closed_at).where(in_values(User.id, users))
    ):
        auto[uid] = flag
        if closed_at is not None:
            closed.add(uid)

    backing = account_for(AccountKind.POINTS_BACKING)
    mint = account_for(AccountKind.POINTS_MINT)
    lock([backing, mint])  # the rate can't change while this chunk converts
    rate = current_rate()
    issuance = {sid: account_for(AccountKind.SCENARIO_ISSUANCE, sid) for sid in scenarios}
    reductions = accounts_for(AccountKind.RESIDENT_REDUCTIONS, users)
    points_accts = accounts_for(AccountKind.RESIDENT_POINTS, [u for u in users if auto.get(u)])

    marks: list[dict] = []
    requests: list[EntryRequest] = []
    entry_of_group: list[tuple[EntryRequest, list[dict]]] = []
    credited_users: set[int] = set()
    told: list[dict] = []  # the residents' notifications, written with the entries
    for key in sorted(pending, key=lambda k: (k[1], k[0], k[2])):
        user_id, scenario_id, day = key
        scenario = scenarios[scenario_id]
        room = 0 if user_id in closed else max(0, scenario.daily_cap_g - already[key])
        credited_total = 0
        group_marks = []
        for row in pending[key]:
            credited = min(row.reduction_g, room)
            room -= credited
            credited_total += credited
            group_marks.append({"aid": row.id, "credited": credited, "entry": None})
        marks += group_marks
        if credited_total == 0:
            continue
        ref_id = f"{scenario.code}:{day.isoformat()}"
        key_tail = f"{scenario_id}:{user_id}:{day.isoformat()}:{pending[key][0].id}"
        request = EntryRequest(
            kind="accrual",
            idempotency_key=f"accrual:{key_tail}",
            legs=[
                Leg(issuance[scenario_id], -credited_total),
                Leg(reductions[user_id], credited_total),
            ],
            ref_type="activity_day",
            ref_id=ref_id,
            actor="job:accrual",
            memo=f"{scenario.code} {day.isoformat()}: {credited_total} g credited",
        )
        requests.append(request)
        entry_of_group.append((request, group_marks))
        credited_users.add(user_id)
        out.entries += 1
        out.credited_g += credited_total
        converted_points = 0
        # a frozen resident's grams land, but nothing leaves the account (no conversion)
        if auto.get(user_id) and not reductions[user_id].frozen:
            accounts = ConversionAccounts(reductions[user_id], backing, mint, points_accts[user_id])
            taken, points, conv = conversion_legs(credited_total, rate, accounts)
            if conv:
                # after its credit in the same list: post_many checks balances in order
                requests.append(
                    EntryRequest(
                        kind="conversion",
                        idempotency_key=f"accrual-conversion:{key_tail}",
                        legs=conv,
                        ref_type="activity_day",
                        ref_id=ref_id,
                        actor="job:accrual",
                        memo=f"auto-convert {scenario.code} {day.isoformat()}: {taken} g -> "
                        f"{points} pt (rate v{rate.version})",
                    )
                )
                out.conversions += 1
                out.points += points
                converted_points = points
        told.append(
            notifications.credit(user_id, scenario.code, day, credited_total, converted_points)
        )
    entry_ids = post_many(requests)
    notifications.add(told)
    mark_credited(credited_users)
    for request, group_marks in entry_of_group:
        for m in group_marks:
            m["entry"] = entry_ids[request.idempotency_key]
    bulk_update(
        Activity,
        "id",
        [
            {"id": m["aid"], "credited_g": m["credited"], "accrual_entry_id": m["entry"]}
            for m in marks
        ],
        only_where_null="credited_g",
    )
    if closed:  # an upload that raced the closure: its raw details go too
        from backend.activity.erasure import delete_raw_details

        delete_raw_details(sorted(closed))
    out.activities = len(marks)
    return out


@job(queue="accrual", timeout=1800)
def accrue(max_chunks: int = 1000) -> dict:
    """Credit everything uncredited, a chunk per transaction (commits per chunk)."""
    totals = {
        "activities": 0,
        "entries": 0,
        "conversions": 0,
        "credited_g": 0,
        "points": 0,
        "locked_out": False,
    }
    for _ in range(max_chunks):
        res = accrue_chunk(limit=20_000)
        db.session.commit()
        if res.locked_out:
            totals["locked_out"] = True
            break
        if res.activities == 0:
            break
        for k in ("activities", "entries", "conversions", "credited_g", "points"):
            totals[k] += getattr(res, k)
    return totals
