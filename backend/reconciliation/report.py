"""The reconciliation report: the ledger's invariants plus the mall's, every check one
set-based SQL statement (aggregates and joins, never a Python loop over rows), so it
stays cheap on millions of postings and orders. On PostgreSQL the whole report reads
one REPEATABLE READ snapshot, so it is consistent while traffic goes on.

Checks (each lists its offenders, at most `limit` of them):
- `units`: every unit sums to zero over all account balances and over all postings;
- `negative_accounts`, `balance_mismatches`: from `backend.ledger.invariants`;
- `points_backed`: points outstanding (residents + merchants + escrow) x 1000 equal
  points backing (g) x the rate's points per kg;
- `escrow_mismatches`: each merchant's escrow balance equals its pending orders' points;
- `merchant_mismatches`: each merchant's points balance equals the points of its
  fulfilled orders less the points its settled batches converted;
- `order_offenders`: each order has exactly one hold; a pending one nothing else; a
  fulfilled one exactly one redemption and no refund; a cancelled or expired one
  exactly one refund and no redemption; only fulfilled orders are in a batch;
- `settlement_offenders`: each batch holds exactly the orders and points it records (a
  batch cancelled by a freeze holds none: its orders were released); a settled batch
  has exactly one settlement entry, any other none (settled at most once);
- the registry's serial blocks: `block_mismatches` (the blocks in each organisation
  account and in the registry's retired and cancelled sinks add up to its balance) and
  `block_state_offenders` (held blocks in reductions accounts, reserved in reserved
  accounts, retired and cancelled in their sinks); `issued_mismatches` (what each project
  issued, and what settlement gave back to merchants, equals the sum of its blocks);
  `reservation_offenders` (no reserved gram without a pending transfer or use);
  `overlapping_blocks` (never two blocks of one object over one serial).

The ledger's sums are checked in full (every posting) at least every
`RECONCILIATION_FULL_EVERY_DAYS`, and incrementally from the last verified report's
high-water mark in between (`incremental.py`); the report says which (`mode`), from
which mark (`from_mark`, the stored report `from_report`), up to which (`mark`), and
when the last full check was (`full_as_of`). The other checks read tables that grow
with orders, settlements and blocks, not with postings: every report runs them whole.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select, text

from backend.db import db, utcnow
from backend.errors import NotFound
from backend.ledger.invariants import check as ledger_check
from backend.reconciliation import incremental
from backend.reconciliation.models import ReconciliationReport
from backend.registry.rate import NoRate, current_rate
from backend.runtime import setting
from jobs import job


class ReportNotFound(NotFound):
    code, title = "report_not_found", "No such stored report"


log = logging.getLogger("backend.reconciliation")
SHANGHAI = ZoneInfo("Asia/Shanghai")  # a report belongs to its Asia/Shanghai day

_BACKING = text(
    """
    SELECT
      COALESCE(SUM(CASE WHEN kind IN ('resident_points', 'merchant_points', 'order_escrow')
                   THEN balance ELSE 0 END), 0) AS outstanding,
      COALESCE(SUM(CASE WHEN kind = 'points_backing' THEN balance ELSE 0 END), 0) AS backing
    FROM accounts
    WHERE kind IN ('resident_points', 'merchant_points', 'order_escrow', 'points_backing')
    """
)

_ESCROW = text(
    """
    WITH p AS (
      SELECT merchant_id, SUM(points) AS pending
      FROM orders WHERE status = 'pending' GROUP BY merchant_id
    ), a AS (
      SELECT owner_id AS merchant_id, balance FROM accounts WHERE kind = 'order_escrow'
    )
    SELECT a.merchant_id AS merchant_id, a.balance AS escrow, COALESCE(p.pending, 0) AS pending
    FROM a LEFT JOIN p ON p.merchant_id = a.merchant_id
    WHERE a.balance <> COALESCE(p.pending, 0)
    UNION ALL
    SELECT p.merchant_id, 0, p.pending
    FROM p LEFT JOIN a ON a.merchant_id = p.merchant_id
    WHERE a.merchant_id IS NULL
    ORDER BY 1
    LIMIT :limit
    """
)

_MERCHANT = text(
    """
    WITH f AS (
      SELECT merchant_id, SUM(points) AS redeemed
      FROM orders WHERE status = 'fulfilled' GROUP BY merchant_id
    ), s AS (
      SELECT merchant_id, SUM(points_converted) AS converted
      FROM settlement_batches WHERE status = 'settled' GROUP BY merchant_id
    ), a AS (
      SELECT owner_id AS merchant_id, balance FROM accounts WHERE kind = 'merchant_points'
    ), m AS (
      SELECT merchant_id FROM f UNION SELECT merchant_id FROM s UNION SELECT merchant_id FROM a
    )
    SELECT m.merchant_id AS merchant_id, COALESCE(a.balance, 0) AS points,
           COALESCE(f.redeemed, 0) AS redeemed, COALESCE(s.converted, 0) AS converted
    FROM m
    LEFT JOIN a ON a.merchant_id = m.merchant_id
    LEFT JOIN f ON f.merchant_id = m.merchant_id
    LEFT JOIN s ON s.merchant_id = m.merchant_id
    WHERE COALESCE(a.balance, 0) <> COALESCE(f.redeemed, 0) - COALESCE(s.converted, 0)
    ORDER BY 1
    LIMIT :limit
    """
)

_ORDERS = text(
    """
    WITH e AS (
      SELECT ref_id,
             SUM(CASE WHEN kind = 'order_hold' THEN 1 ELSE 0 END) AS holds,
             SUM(CASE WHEN kind = 'order_redeem' THEN 1 ELSE 0 END) AS redeems,
             SUM(CASE WHEN kind = 'order_refund' THEN 1 ELSE 0 END) AS refunds
      FROM journal_entries WHERE ref_type = 'order' GROUP BY ref_id
    ), x AS (
      SELECT o.id, o.status, o.settlement_id,
             COALESCE(e.holds, 0) AS holds, COALESCE(e.redeems, 0) AS redeems,
             COALESCE(e.refunds, 0) AS refunds
      FROM orders o LEFT JOIN e ON e.ref_id = CAST(o.id AS VARCHAR(64))
    ), bad AS MATERIALIZED (
      SELECT id, status, settlement_id, holds, redeems, refunds FROM x
      WHERE holds <> 1
         OR (status = 'pending' AND redeems + refunds <> 0)
         OR (status = 'fulfilled' AND (redeems <> 1 OR refunds <> 0))
         OR (status IN ('cancelled', 'expired') AND (refunds <> 1 OR redeems <> 0))
         OR (status NOT IN ('pending', 'fulfilled', 'cancelled', 'expired'))
         OR (settlement_id IS NOT NULL AND status <> 'fulfilled')
    )
    SELECT * FROM bad ORDER BY id LIMIT :limit
    """
)

_ORPHAN_ENTRIES = text(
    """
    WITH bad AS MATERIALIZED (
      SELECT e.id AS entry_id, e.kind, e.ref_id
      FROM journal_entries e
      LEFT JOIN orders o ON CAST(o.id AS VARCHAR(64)) = e.ref_id
      WHERE e.ref_type = 'order' AND o.id IS NULL
    )
    SELECT * FROM bad ORDER BY entry_id LIMIT :limit
    """
)

_SETTLEMENTS = text(
    """
    WITH o AS (
      SELECT settlement_id, COUNT(*) AS n, SUM(points) AS pts
      FROM orders WHERE settlement_id IS NOT NULL GROUP BY settlement_id
    ), e AS (
      SELECT ref_id, COUNT(*) AS n
      FROM journal_entries WHERE ref_type = 'settlement' GROUP BY ref_id
    )
    SELECT b.id, b.merchant_id, b.status, b.orders, b.points,
           COALESCE(o.n, 0) AS orders_found, COALESCE(o.pts, 0) AS points_found,
           COALESCE(e.n, 0) AS entries
    FROM settlement_batches b
    LEFT JOIN o ON o.settlement_id = b.id
    LEFT JOIN e ON e.ref_id = CAST(b.id AS VARCHAR(64))
    WHERE (b.status <> 'cancelled' AND b.orders <> COALESCE(o.n, 0))
       OR (b.status <> 'cancelled' AND b.points <> COALESCE(o.pts, 0))
       OR (b.status = 'cancelled' AND COALESCE(o.n, 0) <> 0)
       OR (b.status = 'settled' AND COALESCE(e.n, 0) <> 1)
       OR (b.status <> 'settled' AND COALESCE(e.n, 0) <> 0)
    ORDER BY b.id
    LIMIT :limit
    """
)

# --- the registry's serial blocks ---------------------------------------------------
# Accounts that hold blocks, and the state their blocks must be in.
_BLOCK_ACCOUNTS = """
    SELECT id, kind, owner_id, balance,
           CASE kind WHEN 'org_reductions' THEN 'held' WHEN 'org_reserved' THEN 'reserved'
                     WHEN 'retired' THEN 'retired' ELSE 'cancelled' END AS block_status
    FROM accounts
    WHERE kind IN ('org_reductions', 'org_reserved')
       OR (kind IN ('retired', 'cancelled') AND owner_id = 0)
"""

_BLOCKS_PER_ACCOUNT = text(
    """
    WITH a AS (:block_accounts),
    b AS (
      SELECT account_id, SUM(end_serial - start_serial + 1) AS blocks_g
      FROM serial_blocks GROUP BY account_id
    )
    SELECT a.id AS account_id, a.kind, a.owner_id, a.balance, COALESCE(b.blocks_g, 0) AS blocks_g
    FROM a LEFT JOIN b ON b.account_id = a.id
    WHERE a.balance <> COALESCE(b.blocks_g, 0)
    UNION ALL
    SELECT b.account_id, NULL, NULL, NULL, b.blocks_g
    FROM b LEFT JOIN a ON a.id = b.account_id WHERE a.id IS NULL
    ORDER BY 1
    LIMIT :limit
    """.replace(":block_accounts", _BLOCK_ACCOUNTS)
)

_BLOCK_STATES = text(
    """
    WITH a AS (:block_accounts)
    SELECT s.id AS block_id, s.status, a.kind AS account_kind
    FROM serial_blocks s JOIN a ON a.id = s.account_id
    WHERE s.status <> a.block_status
    ORDER BY s.id
    LIMIT :limit
    """.replace(":block_accounts", _BLOCK_ACCOUNTS)
)

_ISSUED_PER_OBJECT = text(
    """
    WITH issued AS (
      SELECT 'P' AS object_type, owner_id AS object_id, -balance AS issued_g
      FROM accounts WHERE kind = 'project_issuance'
      UNION ALL
      SELECT 'S', 0, COALESCE(SUM(reductions_g), 0)
      FROM settlement_batches WHERE status = 'settled'
    ), blocks AS (
      SELECT object_type, object_id, SUM(end_serial - start_serial + 1) AS blocks_g
      FROM serial_blocks GROUP BY object_type, object_id
    )
    SELECT i.object_type, i.object_id, i.issued_g, COALESCE(b.blocks_g, 0) AS blocks_g
    FROM issued i LEFT JOIN blocks b
      ON b.object_type = i.object_type AND b.object_id = i.object_id
    WHERE i.issued_g <> COALESCE(b.blocks_g, 0)
    UNION ALL
    SELECT b.object_type, b.object_id, 0, b.blocks_g
    FROM blocks b LEFT JOIN issued i
      ON i.object_type = b.object_type AND i.object_id = b.object_id
    WHERE i.object_type IS NULL
    LIMIT :limit
    """
)

_RESERVATIONS = text(
    """
    SELECT s.id AS block_id, s.reserved_for_type, s.reserved_for_id
    FROM serial_blocks s
    LEFT JOIN transfers t ON s.reserved_for_type = 'transfer' AND t.id = s.reserved_for_id
      AND t.status IN ('proposed', 'accepted')
    LEFT JOIN uses u ON s.reserved_for_type = 'use' AND u.id = s.reserved_for_id
      AND u.status = 'pending'
    WHERE s.status = 'reserved' AND t.id IS NULL AND u.id IS NULL
    ORDER BY s.id
    LIMIT :limit
    """
)

_RESERVED_BALANCES = text(
    """
    WITH pending AS (
      SELECT seller_id AS org_id, amount_g FROM transfers WHERE status IN ('proposed', 'accepted')
      UNION ALL
      SELECT owner_id, amount_g FROM uses WHERE status = 'pending'
    ), p AS (SELECT org_id, SUM(amount_g) AS pending_g FROM pending GROUP BY org_id),
    a AS (SELECT owner_id AS org_id, balance FROM accounts WHERE kind = 'org_reserved')
    SELECT COALESCE(a.org_id, p.org_id) AS org_id, COALESCE(a.balance, 0) AS reserved_g,
           COALESCE(p.pending_g, 0) AS pending_g
    FROM a FULL OUTER JOIN p ON p.org_id = a.org_id
    WHERE COALESCE(a.balance, 0) <> COALESCE(p.pending_g, 0)
    LIMIT :limit
    """
)

_OVERLAPS = text(
    """
    WITH o AS (
      SELECT id, object_type, object_id, start_serial,
             LAG(end_serial) OVER (PARTITION BY object_type, object_id ORDER BY start_serial)
               AS previous_end
      FROM serial_blocks
    )
    SELECT id AS block_id, object_type, object_id FROM o
    WHERE previous_end IS NOT NULL AND previous_end >= start_serial
    ORDER BY id
    LIMIT :limit
    """
)

_ORDER_COUNTS = text(
    """
    SELECT
      COALESCE(SUM(CASE WHEN o.status = 'pending' THEN 1 ELSE 0 END), 0) AS pending,
      COALESCE(SUM(CASE WHEN o.status = 'fulfilled' THEN 1 ELSE 0 END), 0) AS fulfilled,
      COALESCE(SUM(CASE WHEN b.status = 'settled' THEN 1 ELSE 0 END), 0) AS settled
    FROM orders o LEFT JOIN settlement_batches b ON b.id = o.settlement_id
    """
)


def _plain(value):
    return int(value) if isinstance(value, Decimal) else value


def _rows(stmt, limit: int) -> list[dict]:
    return [
        {k: _plain(v) for k, v in r._mapping.items()}
        for r in db.session.execute(stmt, {"limit": limit})
    ]


def _snapshot() -> None:
    """Read the whole report from one snapshot where the database can (PostgreSQL)."""
    if db.session().in_transaction():
        return
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def compute(limit: int = 100, now: datetime | None = None, full: bool | None = None) -> dict:
    """The report of API.md (`ok` false, offenders listed, when any check fails).
    `full`: True re-sums every posting, False checks from the last verified report when
    there is one, None (the default) does the full check when it is due
    (`RECONCILIATION_FULL_EVERY_DAYS`)."""
    _snapshot()
    now = now or utcnow()
    upto = incremental.mark()
    start = None
    if full is not True:
        every = setting("RECONCILIATION_FULL_EVERY_DAYS") if full is None else 10**6
        start = incremental.base(now, every)
    if start is None:
        ledger = ledger_check(limit=limit)
        provenance = {"mode": "full", "from_mark": None, "from_report": None, "full_as_of": now}
    else:
        ledger = incremental.check(start["mark"], upto, limit=limit)
        provenance = {
            "mode": "incremental",
            "from_mark": start["mark"],
            "from_report": start["report_id"],
            "full_as_of": start["full_as_of"],
        }
    try:
        points_per_kg: int | None = current_rate().points_per_kg
    except NoRate:
        points_per_kg = None
    outstanding, backing = (int(v) for v in db.session.execute(_BACKING).one())
    if points_per_kg is None:
        backed = outstanding == 0 and backing == 0
    else:
        backed = outstanding * 1000 == backing * points_per_kg
    counts = db.session.execute(_ORDER_COUNTS).one()
    report = {
        "as_of": now,
        **provenance,
        "mark": upto,
        "units": {
            unit: {
                "sum": ledger.unit_sums.get(unit, 0),
                "postings_sum": ledger.posting_sums.get(unit, 0),
            }
            for unit in ("g", "pt")
        },
        "points_outstanding": outstanding,
        "points_backing_g": backing,
        "points_per_kg": points_per_kg,
        "points_backed": backed,
        "negative_accounts": [
            {k: _plain(v) for k, v in a.items()} for a in ledger.negative_accounts
        ],
        "balance_mismatches": ledger.balance_mismatches,
        "escrow_mismatches": _rows(_ESCROW, limit),
        "merchant_mismatches": _rows(_MERCHANT, limit),
        "order_offenders": _rows(_ORDERS, limit),
        "orphan_order_entries": _rows(_ORPHAN_ENTRIES, limit),
        "settlement_offenders": _rows(_SETTLEMENTS, limit),
        "block_mismatches": _rows(_BLOCKS_PER_ACCOUNT, limit),
        "block_state_offenders": _rows(_BLOCK_STATES, limit),
        "issued_mismatches": _rows(_ISSUED_PER_OBJECT, limit),
        "reservation_offenders": _rows(_RESERVATIONS, limit) + _rows(_RESERVED_BALANCES, limit),
        "overlapping_blocks": _rows(_OVERLAPS, limit),
        "orders_pending": int(counts.pending),
        "orders_fulfilled": int(counts.fulfilled),
        "orders_settled": int(counts.settled),
    }
    checks = {
        "units_sum_to_zero": not any(ledger.unit_sums.values())
        and not any(ledger.posting_sums.values()),
        "no_negative_accounts": not report["negative_accounts"],
        "balances_match_postings": not report["balance_mismatches"],
        "points_backed": backed,
        "escrow_matches_pending_orders": not report["escrow_mismatches"],
        "merchant_points_match_orders": not report["merchant_mismatches"],
        "orders_posted_once": not report["order_offenders"] and not report["orphan_order_entries"],
        "settled_at_most_once": not report["settlement_offenders"],
        "blocks_match_balances": not report["block_mismatches"]
        and not report["block_state_offenders"],
        "issued_equals_blocks": not report["issued_mismatches"],
        "no_reserved_gram_without_a_pending_move": not report["reservation_offenders"],
        "no_overlapping_blocks": not report["overlapping_blocks"],
    }
    report["checks"] = checks
    report["ok"] = all(checks.values())
    return report


def store(report: dict) -> int:
    """Keep the report as that Asia/Shanghai day's (a re-run that day replaces it)."""
    as_of: datetime = report["as_of"]
    day = as_of.astimezone(SHANGHAI).date()
    stored = {**report, "as_of": as_of.isoformat()}
    if isinstance(report.get("full_as_of"), datetime):
        stored["full_as_of"] = report["full_as_of"].isoformat()
    row = db.session.execute(
        select(ReconciliationReport).where(ReconciliationReport.day == day).with_for_update()
    ).scalar_one_or_none()
    if row is None:
        row = ReconciliationReport(day=day, as_of=as_of, ok=report["ok"], report=stored)
        db.session.add(row)
    else:
        row.as_of, row.ok, row.report = as_of, report["ok"], stored
    db.session.flush()
    return row.id


def stored() -> Select:
    """The stored daily reports."""
    return select(ReconciliationReport)


def get_stored(report_id: int) -> ReconciliationReport:
    row = db.session.get(ReconciliationReport, report_id)
    if row is None:
        raise ReportNotFound("No such report.")
    return row


@job(queue="maintenance", timeout=1800)
def nightly_reconciliation() -> dict:
    """Compute the reconciliation report and store it as today's."""
    report = compute()
    report_id = store(report)
    if not report["ok"]:
        failed = [name for name, ok in report["checks"].items() if not ok]
        log.error("reconciliation is not ok: %s (report %s)", failed, report_id)
    return {"report_id": report_id, "ok": report["ok"]}


def history(days: int = 90) -> dict:
    """The stored daily reports of the last `days` days, oldest first, as chart series:
    whether each was ok, how many checks failed, points outstanding and their backing."""
    rows = list(
        db.session.execute(
            select(ReconciliationReport).order_by(ReconciliationReport.day.desc()).limit(days)
        ).scalars()
    )[::-1]
    out: dict[str, list] = {
        "days": [],
        "ok": [],
        "failed_checks": [],
        "points_outstanding": [],
        "points_backing_g": [],
        "report_ids": [],
    }
    for row in rows:
        checks = row.report.get("checks") or {}
        out["days"].append(row.day.isoformat())
        out["ok"].append(bool(row.ok))
        out["failed_checks"].append(sum(1 for passed in checks.values() if not passed))
        out["points_outstanding"].append(int(row.report.get("points_outstanding") or 0))
        out["points_backing_g"].append(int(row.report.get("points_backing_g") or 0))
        out["report_ids"].append(row.id)
    return out


def latest_stored() -> ReconciliationReport | None:
    return db.session.execute(
        select(ReconciliationReport).order_by(ReconciliationReport.day.desc()).limit(1)
    ).scalar_one_or_none()
