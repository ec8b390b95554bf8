"""Public series for the site's charts (Art. 25): aggregates only, never personal data.

Every figure is one set-based SQL statement over the ledger's postings, grouped by
Asia/Shanghai calendar month (China has kept UTC+8 all year since 1992, so the month of
a posting is that of its UTC time plus eight hours) and joined to the few accounts of a
kind; no Python loop over rows:
- reductions credited, per month and scenario: what each scenario's issuance account
  gave out (accrual: scenario issuance -> residents);
- points issued per month: what the points mint gave out (conversions); points
  redeemed per month: what reached merchants' points accounts (redemptions);
- reductions retired and cancelled per month: what reached the registry's retired and
  cancelled sinks (approved uses);
- reductions credited per scenario, ever: -the balance of each scenario's issuance
  account (no postings read).

The postings of a scenario's issuance account are one per resident-day; the answers are
public and the same for everyone, so the HTTP layer lets a proxy cache them for a few
minutes (`Cache-Control: public, max-age=300`) rather than computing them per visitor.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import bindparam, text

from backend.db import UTCDateTime, db, is_sqlite, utcnow

CST = timedelta(hours=8)
MAX_MONTHS = 60


_MONTHLY = """
    SELECT {month} AS month, a.owner_id AS owner_id, SUM(p.amount) * :direction AS total
    FROM postings p JOIN accounts a ON a.id = p.account_id
    WHERE a.kind IN :kinds AND p.amount * :direction > 0 AND p.created_at >= :since
    GROUP BY 1, 2
"""
# The Asia/Shanghai month of a posting, per dialect.
_BY_DIALECT = {
    "postgresql": _MONTHLY.replace(
        "{month}", "to_char(p.created_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM')"
    ),
    "sqlite": _MONTHLY.replace("{month}", "strftime('%Y-%m', p.created_at, '+8 hours')"),
}
OUT, IN = -1, 1  # what accounts of a kind gave out, or took in


def _monthly_rows(kinds: tuple[str, ...], direction: int, since: datetime):
    """(month, owner_id, total) of the postings of accounts of `kinds` since `since`:
    what went out of them (`OUT`, as positive amounts) or came in (`IN`)."""
    stmt = text(_BY_DIALECT["sqlite" if is_sqlite() else "postgresql"]).bindparams(
        bindparam("kinds", expanding=True), bindparam("since", type_=UTCDateTime())
    )
    return db.session.execute(stmt, {"kinds": list(kinds), "direction": direction, "since": since})


def month_labels(months: int, now: datetime | None = None) -> list[str]:
    """The last `months` Asia/Shanghai months, oldest first, this month last."""
    local = ((now or utcnow()).astimezone(UTC) + CST).date()
    year, month = local.year, local.month
    out = []
    for _ in range(months):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out[::-1]


def _since(first_month: str) -> datetime:
    """The UTC moment the Asia/Shanghai month `first_month` begins."""
    year, month = (int(x) for x in first_month.split("-"))
    return datetime.combine(date(year, month, 1), datetime.min.time(), UTC) - CST


def monthly(months: int = 12, now: datetime | None = None) -> dict:
    """Month by month over the last `months` months (zeros where nothing happened)."""
    months = max(1, min(months, MAX_MONTHS))
    labels = month_labels(months, now)
    index = {m: i for i, m in enumerate(labels)}
    since = _since(labels[0])

    def series(kinds: tuple[str, ...], direction: int) -> list[int]:
        values = [0] * len(labels)
        for row in _monthly_rows(kinds, direction, since):
            if row.month in index:
                values[index[row.month]] += int(row.total)
        return values

    scenarios = {
        row.id: (row.code, row.title)
        for row in db.session.execute(text("SELECT id, code, title FROM scenarios ORDER BY code"))
    }
    credited: dict[int, list[int]] = {}
    for row in _monthly_rows(("scenario_issuance",), OUT, since):
        if row.month in index:
            credited.setdefault(row.owner_id, [0] * len(labels))[index[row.month]] += int(row.total)
    return {
        "months": labels,
        "reductions_credited_g": [
            {
                "scenario_code": scenarios.get(owner, (f"#{owner}", ""))[0],
                "scenario_title": scenarios.get(owner, ("", f"#{owner}"))[1],
                "values": values,
            }
            for owner, values in sorted(
                credited.items(), key=lambda kv: scenarios.get(kv[0], (str(kv[0]),))[0]
            )
        ],
        "points_issued": series(("points_mint",), OUT),
        "points_redeemed": series(("merchant_points",), IN),
        "reductions_retired_g": series(("retired",), IN),
        "reductions_cancelled_g": series(("cancelled",), IN),
    }


_BY_SCENARIO = text(
    """
    SELECT s.code AS code, s.title AS title, s.status AS status,
           COALESCE(-a.balance, 0) AS credited_g
    FROM scenarios s
    LEFT JOIN accounts a ON a.kind = 'scenario_issuance' AND a.owner_id = s.id
    ORDER BY credited_g DESC, s.code
    """
)


def by_scenario() -> list[dict]:
    """Reductions credited to residents, ever, per scenario (registered or not)."""
    return [
        {
            "scenario_code": row.code,
            "scenario_title": row.title,
            "status": row.status,
            "reductions_credited_g": int(row.credited_g),
        }
        for row in db.session.execute(_BY_SCENARIO)
    ]
