"""The ledger's part of the reconciliation, incrementally: from the last verified report.

A full check (`backend.ledger.invariants.check`) sums every posting: linear in the whole
history (about 1.4 s a million postings on the 2-core machine). Between two full checks
(`RECONCILIATION_FULL_EVERY_DAYS`, default 7) the report starts from the last stored
report that was ok and carries a high-water mark (the highest posting id it saw):

- every unit sums to zero over the postings since the mark (the ones before summed to
  zero in the verified report);
- every account touched since the mark: its balance equals its balance at the mark (the
  `balance_after` of its last posting up to the mark, 0 without one) plus the sum of
  its postings since the mark;
- every account, touched or not: its balance equals the `balance_after` of its last
  posting (0 without one), one indexed read each: a balance edited behind the
  ledger's back is found the same night;
- the unit sums over the balances and the negative balances, over every account (the
  accounts table is small beside the postings).

A posting committed late with an id below the mark is no gap: its account's balance at
the mark is read from the `balance_after` chain, which the database continues on every
insert. What only the full check finds is an old posting edited in place (the database
refuses that to anyone but a superuser): hence the full check every few days."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text

from backend.db import db
from backend.ledger.invariants import Report
from backend.reconciliation.models import ReconciliationReport

_MARK = text("SELECT COALESCE(MAX(id), 0) FROM postings")

_UNIT_SUMS = text("SELECT unit, COALESCE(SUM(balance), 0) FROM accounts GROUP BY unit")

_POSTING_SUMS_SINCE = text(
    """
    SELECT a.unit, COALESCE(SUM(p.amount), 0)
    FROM postings p JOIN accounts a ON a.id = p.account_id
    WHERE p.id > :since AND p.id <= :mark
    GROUP BY a.unit
    """
)

_NEGATIVES = text(
    """
    SELECT id, kind, owner_id, balance FROM accounts
    WHERE balance < 0 AND may_go_negative = false
    ORDER BY id LIMIT :limit
    """
)

# accounts moved since the mark: balance at the mark + what moved since
_MOVED_SINCE = text(
    """
    WITH moved AS (
      SELECT account_id, SUM(amount) AS moved FROM postings
      WHERE id > :since AND id <= :mark GROUP BY account_id
    ), x AS (
      SELECT a.id, a.kind, a.balance,
             COALESCE((SELECT p.balance_after FROM postings p
                       WHERE p.account_id = a.id AND p.id <= :since
                       ORDER BY p.id DESC LIMIT 1), 0) + m.moved AS postings_sum
      FROM moved m JOIN accounts a ON a.id = m.account_id
    )
    SELECT id, kind, balance, postings_sum FROM x WHERE balance <> postings_sum
    ORDER BY id LIMIT :limit
    """
)

# every account: its balance is where its last posting left it
_LAST_POSTING = text(
    """
    WITH x AS (
      SELECT a.id, a.kind, a.balance,
             COALESCE((SELECT p.balance_after FROM postings p WHERE p.account_id = a.id
                       ORDER BY p.id DESC LIMIT 1), 0) AS postings_sum
      FROM accounts a
    )
    SELECT id, kind, balance, postings_sum FROM x WHERE balance <> postings_sum
    ORDER BY id LIMIT :limit
    """
)


def mark() -> int:
    """The highest posting id this snapshot sees."""
    return int(db.session.execute(_MARK).scalar() or 0)


def base(now: datetime, full_every_days: int) -> dict | None:
    """The last verified report to start from: the latest stored one, if it was ok,
    carries a mark and its chain's last full check is younger than `full_every_days`;
    else None (a full check is due). `{"mark", "full_as_of", "report_id"}`."""
    if full_every_days <= 0:
        return None
    row = db.session.execute(
        text("SELECT id FROM reconciliation_reports ORDER BY day DESC LIMIT 1")
    ).scalar()
    if row is None:
        return None
    stored = db.session.get(ReconciliationReport, row).report
    full_as_of = stored.get("full_as_of")
    if not stored.get("ok") or stored.get("mark") is None or not full_as_of:
        return None
    full_at = datetime.fromisoformat(full_as_of)
    if now - full_at >= timedelta(days=full_every_days):
        return None
    return {"mark": int(stored["mark"]), "full_as_of": full_at, "report_id": row}


def check(since: int, upto: int, limit: int = 100) -> Report:
    """The ledger's invariants from the mark `since` to the mark `upto` (see above)."""
    report = Report(unit_sums={"g": 0, "pt": 0}, posting_sums={"g": 0, "pt": 0})
    for unit, total in db.session.execute(_UNIT_SUMS):
        report.unit_sums[unit] = int(total)
    for unit, total in db.session.execute(_POSTING_SUMS_SINCE, {"since": since, "mark": upto}):
        report.posting_sums[unit] = int(total)
    report.negative_accounts = [
        dict(r._mapping) for r in db.session.execute(_NEGATIVES, {"limit": limit})
    ]
    found: dict[int, dict] = {}
    for stmt, params in (
        (_MOVED_SINCE, {"since": since, "mark": upto, "limit": limit}),
        (_LAST_POSTING, {"limit": limit}),
    ):
        for r in db.session.execute(stmt, params):
            found.setdefault(
                r.id,
                {
                    "id": r.id,
                    "kind": r.kind,
                    "balance": int(r.balance),
                    "postings_sum": int(r.postings_sum),
                },
            )
    report.balance_mismatches = [found[k] for k in sorted(found)][:limit]
    return report
