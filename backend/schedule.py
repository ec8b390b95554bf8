"""Every job of the platform, and when the periodic ones run. The app factory hands
both to `jobs.install`; this is the one place that gathers the job modules. A job not
listed here cannot run (the relay and the runner find jobs on the app)."""

from __future__ import annotations

from backend.activity import accrual, ingest, partitions, retention
from backend.points import expiry
from backend.reconciliation import report
from backend.registry import duplicates
from backend.web import sessions as web_sessions
from jobs import Periodic, relay
from mall import orders, settlement

EVERY_JOB = [
    relay.relay_outbox,
    ingest.process_batch,
    ingest.resume_batches,
    accrual.accrue,
    retention.purge_raw_activity,
    partitions.make_activity_partitions,
    orders.expire_orders,
    settlement.post_settlement,
    settlement.sweep_settlements,
    report.nightly_reconciliation,
    duplicates.find_duplicates,
    expiry.expire_points,
    expiry.remind_expiring,
    web_sessions.purge_web_sessions,
]

# Every periodic job is idempotent and re-does whatever an earlier, killed run left.
PERIODIC = [
    Periodic(relay.relay_outbox, 15),
    Periodic(accrual.accrue, 60),
    Periodic(ingest.resume_batches, 60),
    Periodic(orders.expire_orders, 60),
    Periodic(settlement.sweep_settlements, 120),
    Periodic(retention.purge_raw_activity, 3600),
    Periodic(partitions.make_activity_partitions, 24 * 3600),
    Periodic(report.nightly_reconciliation, 24 * 3600),
    Periodic(duplicates.find_duplicates, 24 * 3600),
    # points expire at month ends: a run every 6 hours expires them within hours
    Periodic(expiry.expire_points, 6 * 3600),
    Periodic(expiry.remind_expiring, 24 * 3600),
    Periodic(web_sessions.purge_web_sessions, 3600),
]
