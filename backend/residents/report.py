"""A resident's yearly carbon report, from the ledger: every amount of grams and points
is a sum of the resident's own postings, so the report agrees with the ledger to the
gram and the point.

- Reductions: the accrual credits (postings on the resident's reductions account) of
  the activity days (Asia/Shanghai) in the year, by scenario and by month (a credit
  names its scenario and day in its reference).
- Trips and kilometres by mode: the resident's activities of those days; the distance
  is measured while the raw details are kept, and estimated from the grams and the
  methodology's factor once they are erased (`km_estimated` says how much).
- What the grams compare to: the car-kilometres whose emissions they equal, at the
  baseline factor of each methodology (`baseline_g_per_km`, named with its source).
- Points: earned (conversions), spent on orders (holds less refunds), expired, and the
  balance at the end of the year, by the time of their postings.
- The rank band among the year's participants (residents credited that year), from
  an aggregate over everyone's credits of the year: the band only, never anyone
  else's figures."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, select, text

import scenarios_adapters
from backend.activity.models import Activity
from backend.db import db, in_values, utcnow
from backend.ledger import Account, AccountKind, JournalEntry, Posting
from backend.points.validity import SHANGHAI, month_start
from backend.registry.models import Scenario
from backend.residents.history import mode_names

BANDS = [
    (Decimal("0.01"), "top_1", "前 1%", "top 1 %"),
    (Decimal("0.05"), "top_5", "前 5%", "top 5 %"),
    (Decimal("0.10"), "top_10", "前 10%", "top 10 %"),
    (Decimal("0.25"), "top_25", "前 25%", "top 25 %"),
    (Decimal("0.50"), "top_50", "前 50%", "top half"),
    (Decimal("1"), "bottom_50", "后 50%", "bottom half"),
]

_PARTICIPANTS = text(
    """
    WITH t AS (
      SELECT user_id, SUM(credited_g) AS g FROM activities
      WHERE day >= :first AND day <= :last AND credited_g > 0
      GROUP BY user_id
    )
    SELECT COUNT(*) AS total, COALESCE(SUM(CASE WHEN g > :mine THEN 1 ELSE 0 END), 0) AS above
    FROM t
    """
)


def _postings(user_id: int, until: datetime):
    """The resident's postings (both accounts) up to `until`, with their entries."""
    return db.session.execute(
        select(
            Account.unit,
            Posting.amount,
            Posting.balance_after,
            Posting.created_at,
            JournalEntry.kind,
            JournalEntry.ref_type,
            JournalEntry.ref_id,
        )
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .join(Account, Account.id == Posting.account_id)
        .where(
            Account.owner_id == user_id,
            Account.kind.in_(
                [AccountKind.RESIDENT_REDUCTIONS.value, AccountKind.RESIDENT_POINTS.value]
            ),
            Posting.created_at < until,
        )
        .order_by(Posting.id)
    ).all()


def _credit_day(ref_type: str | None, ref_id: str | None, at: datetime) -> tuple[str | None, date]:
    """(scenario code, activity day) of an accrual credit: from its reference, or the
    day of its posting for one without (e.g. a credit made by hand)."""
    if ref_type == "activity_day" and ref_id and ":" in ref_id:
        code, _, day = ref_id.rpartition(":")
        try:
            return code, date.fromisoformat(day)
        except ValueError:
            pass
    return None, at.astimezone(SHANGHAI).date()


def yearly(user_id: int, year: int, now: datetime | None = None) -> dict:
    now = now or utcnow()
    start, end = month_start(year, 0), month_start(year, 12)
    first, last = date(year, 1, 1), date(year, 12, 31)

    by_scenario: dict[str | None, int] = defaultdict(int)
    by_month = [0] * 12
    points = {"earned": 0, "spent": 0, "expired": 0, "cancelled_at_closure": 0}
    balance_end = {"g": 0, "pt": 0}
    # credits of days in the year may be posted early the next year (accrual runs later)
    for row in _postings(user_id, month_start(year, 13)):
        if row.created_at < end:
            balance_end[row.unit] = row.balance_after
        if row.unit == "g" and row.kind == "accrual" and row.amount > 0:
            code, day = _credit_day(row.ref_type, row.ref_id, row.created_at)
            if first <= day <= last:
                by_scenario[code] += row.amount
                by_month[day.month - 1] += row.amount
            continue
        if row.unit != "pt" or not start <= row.created_at < end:
            continue
        if row.kind == "conversion":
            points["earned"] += row.amount
        elif row.kind in ("order_hold", "order_refund"):
            points["spent"] -= row.amount
        elif row.kind == "points_expiry":
            points["expired"] -= row.amount
        elif row.kind == "account_closure":
            points["cancelled_at_closure"] -= row.amount
    credited = sum(by_scenario.values())

    codes = sorted(c for c in by_scenario if c)
    scenarios = (
        {
            s.code: s
            for s in db.session.execute(
                select(Scenario).where(in_values(Scenario.code, codes))
            ).scalars()
        }
        if codes
        else {}
    )
    trips = _trips(user_id, first, last)
    return {
        "year": year,
        "as_of": now,
        "reductions": {
            "credited_g": credited,
            "by_scenario": [
                {"scenario_code": code, "credited_g": g}
                for code, g in sorted(by_scenario.items(), key=lambda kv: (kv[0] is None, kv[0]))
            ],
            "by_month": [
                {"month": f"{year}-{m + 1:02d}", "credited_g": g} for m, g in enumerate(by_month)
            ],
        },
        "trips": trips,
        "comparisons": _comparisons(by_scenario, scenarios),
        "points": {**points, "balance_end": balance_end["pt"]},
        "reductions_balance_end_g": balance_end["g"],
        "rank": _rank(user_id, first, last),
    }


def _trips(user_id: int, first: date, last: date) -> dict:
    modes: dict[str, dict] = {}
    km_measured: dict[str, Decimal] = defaultdict(Decimal)
    km_estimated: dict[str, Decimal] = defaultdict(Decimal)
    count = 0
    for a in db.session.execute(
        select(Activity).where(
            Activity.user_id == user_id, Activity.day >= first, Activity.day <= last
        )
    ).scalars():
        count += 1
        m = modes.setdefault(
            a.activity_type,
            {"activity_type": a.activity_type, "trips": 0, "reduction_g": 0, "credited_g": 0},
        )
        m["trips"] += 1
        m["reduction_g"] += a.reduction_g
        m["credited_g"] += a.credited_g or 0
        how = scenarios_adapters.explain(
            a.methodology.formula, a.activity_type, a.measures, a.methodology.parameters
        )
        if how["km"] is not None:
            km_measured[a.activity_type] += how["km"]
        elif how["g_per_km"] > 0:
            km_estimated[a.activity_type] += Decimal(a.reduction_g) / how["g_per_km"]
    out = []
    for activity_type, m in sorted(modes.items()):
        zh, en = mode_names(activity_type)
        measured = km_measured[activity_type]
        estimated = km_estimated[activity_type]
        out.append(
            {
                **m,
                "name_zh": zh,
                "name_en": en,
                "km": float(round(measured + estimated, 1)),
                "km_estimated": float(round(estimated, 1)),
            }
        )
    return {"count": count, "by_mode": out}


def _comparisons(by_scenario: dict, scenarios: dict[str, Scenario]) -> list[dict]:
    """The grams of each methodology as car-kilometres at its baseline factor."""
    grams: dict[int, int] = defaultdict(int)
    methodologies = {}
    for code, g in by_scenario.items():
        scenario = scenarios.get(code) if code else None
        if scenario is None:
            continue
        grams[scenario.methodology.id] += g
        methodologies[scenario.methodology.id] = scenario.methodology
    out = []
    for mid, g in sorted(grams.items()):
        m = methodologies[mid]
        baseline = Decimal(str(m.parameters.get("baseline_g_per_km", 0)))
        if baseline <= 0:
            continue
        car_km = Decimal(g) / baseline
        out.append(
            {
                "methodology": m.code,
                "methodology_version": m.version,
                "credited_g": g,
                "factor": "baseline_g_per_km",
                "factor_g_per_km": float(baseline),
                "car_km": float(round(car_km, 1)),
                "text_zh": f"相当于少开 {round(car_km, 1)} 公里汽车（按 {m.code} {m.version} "
                f"的基准排放因子 {baseline} 克/公里计）",
                "text_en": f"what a car emits over {round(car_km, 1)} km (at the baseline "
                f"factor of {m.code} {m.version}: {baseline} g/km)",
                "source": m.source,
            }
        )
    return out


def _rank(user_id: int, first: date, last: date) -> dict:
    mine = db.session.execute(
        select(func.coalesce(func.sum(Activity.credited_g), 0)).where(
            Activity.user_id == user_id, Activity.day >= first, Activity.day <= last
        )
    ).scalar_one()
    if not mine:
        return {"band": "not_ranked", "text_zh": "本年度暂无减排记录", "text_en": "not ranked"}
    row = db.session.execute(_PARTICIPANTS, {"first": first, "last": last, "mine": int(mine)}).one()
    share = Decimal(int(row.above) + 1) / max(int(row.total), 1)
    for limit, band, zh, en in BANDS:
        if share <= limit:
            return {"band": band, "text_zh": f"参与居民中{zh}", "text_en": f"{en} of participants"}
    return {"band": "bottom_50", "text_zh": "参与居民中后 50%", "text_en": "bottom half"}
