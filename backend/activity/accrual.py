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
nothing: its activities are marked 0 and their raw details erased.

Two paths credit the same: on PostgreSQL a chunk is set-based (`_accrue_chunk_sql`: each
activity's credit within its day's cap by window functions, the entries and postings
written by INSERT ... SELECT through `backend.ledger.bulk`, whose postings the
database's ledger triggers check like any other, the activities marked by one UPDATE:
a fixed handful of statements whatever the chunk's size); elsewhere (SQLite) row by row
(`_accrue_chunk_rows`, posting with `post_many`)."""

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
    commits, then calls again until `activities` is 0. On PostgreSQL set-based
    (`_accrue_chunk_sql`: a few statements whatever the chunk's size), elsewhere row by
    row (`_accrue_chunk_rows`); the two credit the same."""
    out = ChunkResult()
    if not _take_lock():
        out.locked_out = True
        return out
    if db.session.get_bind().dialect.name == "postgresql":
        return _accrue_chunk_sql(limit, out)
    return _accrue_chunk_rows(limit, out)


def _accrue_chunk_rows(limit: int, out: ChunkResult) -> ChunkResult:
    """The portable path: the chunk computed in Python, posted with `post_many`."""
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
    _erase_closed(sorted(closed))
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


# --- the set-based path (PostgreSQL) -------------------------------------------------

_ACCRUAL_TABLES = (
    "CREATE TEMP TABLE IF NOT EXISTS accrual_acts ("
    " id bigint PRIMARY KEY, user_id bigint NOT NULL, scenario_id bigint NOT NULL,"
    " day date NOT NULL, credited bigint NOT NULL"
    ") ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS accrual_groups ("
    " seq bigint PRIMARY KEY, user_id bigint NOT NULL, scenario_id bigint NOT NULL,"
    " day date NOT NULL, first_id bigint NOT NULL, total bigint NOT NULL,"
    " code text, issuance bigint, reductions bigint, points_acct bigint,"
    " taken bigint NOT NULL DEFAULT 0, points bigint NOT NULL DEFAULT 0,"
    " credit_key text, conversion_key text"
    ") ON COMMIT DELETE ROWS;"
    "DELETE FROM accrual_acts; DELETE FROM accrual_groups"
)

# Each uncredited activity of the chunk's resident-days with what it is credited: the
# cap's room (0 for a closed account, else the cap less what the day already has) less
# the reductions of the day's earlier uncredited activities (by id), never below 0.
_ACTS = """
WITH keys AS (
  SELECT user_id, scenario_id, day FROM activities WHERE credited_g IS NULL
  GROUP BY user_id, scenario_id, day
  ORDER BY scenario_id, user_id, day LIMIT :keys
), acts AS (
  SELECT a.id, a.user_id, a.scenario_id, a.day, a.reduction_g
  FROM activities a JOIN keys k USING (user_id, scenario_id, day)
  WHERE a.credited_g IS NULL
), already AS (
  -- by the residents' ids (one array: the user index, whatever the planner's stats)
  SELECT a.user_id, a.scenario_id, a.day, sum(a.credited_g) AS g
  FROM activities a
  WHERE a.user_id = ANY(ARRAY(SELECT DISTINCT user_id FROM keys))
    AND a.credited_g IS NOT NULL
  GROUP BY a.user_id, a.scenario_id, a.day
), room AS (
  SELECT k.user_id, k.scenario_id, k.day,
         CASE WHEN u.closed_at IS NOT NULL THEN 0
              ELSE greatest(0, s.daily_cap_g - coalesce(al.g, 0)) END AS room
  FROM keys k
  JOIN scenarios s ON s.id = k.scenario_id
  JOIN users u ON u.id = k.user_id
  LEFT JOIN already al USING (user_id, scenario_id, day)
)
INSERT INTO accrual_acts (id, user_id, scenario_id, day, credited)
SELECT a.id, a.user_id, a.scenario_id, a.day,
       least(a.reduction_g, greatest(0, r.room - coalesce(sum(a.reduction_g) OVER (
         PARTITION BY a.user_id, a.scenario_id, a.day ORDER BY a.id
         ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)))
FROM acts a JOIN room r USING (user_id, scenario_id, day)
"""

# One group per resident-day credited something, in the posting order; its keys are
# those of the row-by-row path (scenario, resident, day, first activity).
_GROUPS = """
INSERT INTO accrual_groups (seq, user_id, scenario_id, day, first_id, total, code,
                            credit_key, conversion_key)
SELECT row_number() OVER (ORDER BY g.scenario_id, g.user_id, g.day), g.user_id,
       g.scenario_id, g.day, g.first_id, g.total, s.code,
       'accrual:' || g.tail, 'accrual-conversion:' || g.tail
FROM (
  SELECT user_id, scenario_id, day, min(id) AS first_id, sum(credited) AS total,
         scenario_id || ':' || user_id || ':' || to_char(day, 'YYYY-MM-DD') || ':' || min(id)
           AS tail
  FROM accrual_acts GROUP BY user_id, scenario_id, day
  HAVING sum(credited) > 0
) g JOIN scenarios s ON s.id = g.scenario_id
"""

# A resident's account of `kind` opened where missing (frozen with its owner; the owner
# rows read FOR SHARE, as `accounts.frozen_owners` does).
_OPEN = """
INSERT INTO accounts (kind, unit, owner_id, may_go_negative, balance, frozen, created_at)
SELECT CAST(:kind AS varchar), CAST(:unit AS varchar), u.id, false, 0, u.frozen,
       CAST(:now AS timestamptz)
FROM users u
WHERE u.id IN (SELECT user_id FROM accrual_groups) AND {where}
  AND NOT EXISTS (SELECT 1 FROM accounts a
                  WHERE a.kind = CAST(:kind AS varchar) AND a.owner_id = u.id)
ORDER BY u.id
FOR SHARE OF u
ON CONFLICT (kind, owner_id) DO NOTHING
"""

_STAGE = """
INSERT INTO ledger_stage_entries (seq, idempotency_key, kind, ref_type, ref_id, actor, memo)
SELECT 2 * seq, credit_key, 'accrual', 'activity_day',
       code || ':' || to_char(day, 'YYYY-MM-DD'), 'job:accrual',
       code || ' ' || to_char(day, 'YYYY-MM-DD') || ': ' || total || ' g credited'
FROM accrual_groups
UNION ALL
SELECT 2 * seq + 1, conversion_key, 'conversion', 'activity_day',
       code || ':' || to_char(day, 'YYYY-MM-DD'), 'job:accrual',
       'auto-convert ' || code || ' ' || to_char(day, 'YYYY-MM-DD') || ': ' || taken
         || ' g -> ' || points || ' pt (rate v' || :version || ')'
FROM accrual_groups WHERE taken > 0
"""
_STAGE_LEGS = """
INSERT INTO ledger_stage_legs (entry_seq, account_id, amount)
SELECT 2 * seq, issuance, -total FROM accrual_groups
UNION ALL SELECT 2 * seq, reductions, total FROM accrual_groups
UNION ALL SELECT 2 * seq + 1, reductions, -taken FROM accrual_groups WHERE taken > 0
UNION ALL SELECT 2 * seq + 1, :backing, taken FROM accrual_groups WHERE taken > 0
UNION ALL SELECT 2 * seq + 1, :mint, -points FROM accrual_groups WHERE taken > 0
UNION ALL SELECT 2 * seq + 1, points_acct, points FROM accrual_groups WHERE taken > 0
"""

# The residents' notifications: the texts of `notifications.credit`, in SQL.
_NOTIFY = """
INSERT INTO notifications (user_id, kind, text_zh, text_en, data, created_at)
SELECT user_id, 'credit',
       left(to_char(day, 'YYYY-MM-DD') || ' ' || code || ' 减排量 ' || total || ' 克已入账'
            || CASE WHEN points > 0 THEN '，已自动兑换为 ' || points || ' 积分' ELSE '' END
            || '。', 300),
       left(total || ' g CO2e credited for ' || to_char(day, 'YYYY-MM-DD') || ' (' || code
            || ')' || CASE WHEN points > 0 THEN ', auto-converted into ' || points
            || ' points' ELSE '' END || '.', 300),
       json_build_object('scenario_code', code, 'day', to_char(day, 'YYYY-MM-DD'),
                         'grams', total, 'points', points),
       :now
FROM accrual_groups ORDER BY seq
"""


def _accrue_chunk_sql(limit: int, out: ChunkResult) -> ChunkResult:
    """The chunk in a few set-based statements: the credit of each activity within its
    day's cap by window functions, the entries and postings written by INSERT ...
    SELECT through `backend.ledger.bulk` (the database's ledger triggers check them as
    any posting), the activities marked in one UPDATE."""
    from backend.ledger import bulk

    s = db.session
    now = utcnow()
    s.execute(text(_ACCRUAL_TABLES))
    s.execute(text(_ACTS), {"keys": max(1, limit // 4)})
    out.activities = s.execute(text("SELECT count(*) FROM accrual_acts")).scalar_one()
    if not out.activities:
        return out
    s.execute(text(_GROUPS))
    scenario_ids = s.execute(text("SELECT DISTINCT scenario_id FROM accrual_groups")).scalars()
    issuance = {sid: account_for(AccountKind.SCENARIO_ISSUANCE, sid) for sid in scenario_ids}
    backing = account_for(AccountKind.POINTS_BACKING)
    mint = account_for(AccountKind.POINTS_MINT)
    for kind, unit, where in (
        (AccountKind.RESIDENT_REDUCTIONS, "g", "true"),
        (AccountKind.RESIDENT_POINTS, "pt", "u.auto_convert"),
    ):
        s.execute(text(_OPEN.format(where=where)), {"kind": kind.value, "unit": unit, "now": now})
    # system accounts (by id), then the residents' (by id): the rate can't change while
    # this chunk converts
    system_ids = sorted({a.id for a in issuance.values()} | {backing.id, mint.id})
    bulk.lock_accounts("SELECT unnest(CAST(:ids AS bigint[]))", {"ids": system_ids})
    rate = current_rate()
    g_block, p_block = _block(rate)
    if issuance:
        s.execute(
            text(
                "UPDATE accrual_groups g SET issuance = a.id FROM accounts a"
                " WHERE a.kind = 'scenario_issuance' AND a.owner_id = g.scenario_id"
            )
        )
    # with auto-convert on (and the resident not frozen: nothing leaves a frozen
    # account), the grams credited buy whole points in the same transaction
    s.execute(
        text(
            "UPDATE accrual_groups g SET reductions = r.id, points_acct = p.id,"
            " taken = CASE WHEN u.auto_convert AND NOT r.frozen"
            "   THEN g.total / :gb * :gb ELSE 0 END,"
            " points = CASE WHEN u.auto_convert AND NOT r.frozen"
            "   THEN g.total / :gb * :pb ELSE 0 END"
            " FROM users u"
            " JOIN accounts r ON r.kind = 'resident_reductions' AND r.owner_id = u.id"
            " LEFT JOIN accounts p ON p.kind = 'resident_points' AND p.owner_id = u.id"
            " WHERE u.id = g.user_id"
        ),
        {"gb": g_block, "pb": p_block},
    )
    bulk.stage()
    s.execute(text(_STAGE), {"version": str(rate.version)})
    s.execute(text(_STAGE_LEGS), {"backing": backing.id, "mint": mint.id})
    bulk.post_staged(now)
    totals = s.execute(
        text(
            "SELECT count(*), count(*) FILTER (WHERE taken > 0), coalesce(sum(total), 0),"
            " coalesce(sum(points), 0) FROM accrual_groups"
        )
    ).one()
    out.entries, out.conversions, out.credited_g, out.points = (int(v) for v in totals)
    s.execute(text(_NOTIFY), {"now": now})
    s.execute(
        text(
            "INSERT INTO credited_residents (user_id, first_credited_at)"
            " SELECT DISTINCT user_id, CAST(:now AS timestamptz) FROM accrual_groups"
            " ORDER BY user_id ON CONFLICT (user_id) DO NOTHING"
        ),
        {"now": now},
    )
    s.execute(
        text(
            "UPDATE activities a SET credited_g = t.credited, accrual_entry_id = e.entry_id"
            " FROM accrual_acts t"
            " LEFT JOIN accrual_groups g USING (user_id, scenario_id, day)"
            " LEFT JOIN ledger_stage_entries e ON e.idempotency_key = g.credit_key"
            " WHERE a.id = t.id AND a.credited_g IS NULL"
        )
    )
    closed = (
        s.execute(
            text(
                "SELECT DISTINCT t.user_id FROM accrual_acts t JOIN users u ON u.id = t.user_id"
                " WHERE u.closed_at IS NOT NULL ORDER BY t.user_id"
            )
        )
        .scalars()
        .all()
    )
    _erase_closed(closed)
    return out


def _erase_closed(user_ids: list[int]) -> None:
    """Closed accounts whose activities a chunk met (an upload that raced the closure):
    their raw details go too (both paths call this)."""
    if user_ids:
        from backend.activity.erasure import delete_raw_details

        delete_raw_details(user_ids)


def _block(rate) -> tuple[int, int]:
    """(grams, points) of the smallest whole block `rate.grams_to_points` converts (it
    takes whole blocks only: a block's grams divide 1000)."""
    grams = next(g for g in range(1, 1001) if rate.grams_to_points(g)[0] == g)
    return grams, rate.grams_to_points(grams)[1]
