"""Jobs of the mall: order expiry, settlement posting and sweep, nightly reconciliation.
Thin calls into `mall.*` and `backend.reconciliation`; each is idempotent (a second run
changes nothing) and `jobs.runner.execute` commits it."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app

from jobs import job

log = logging.getLogger("jobs.mall")

SWEEP_AFTER_SECONDS = 300  # an approved batch unsettled this long is posted again


@job(queue="mall", timeout=300)
def expire_orders(limit: int = 1000) -> dict:
    """Expire pending orders past their time (points back, stock back)."""
    from mall.orders import expire_due

    done = expire_due(limit=limit)
    return {"expired": done.orders, "points": done.points}


@job(queue="mall", timeout=600)
def post_settlement(settlement_id: int) -> str:
    """Post an approved settlement batch; a settled one is left as it is."""
    from mall.settlement import post_batch

    status = post_batch(int(settlement_id))
    if status == "failed":
        log.warning("settlement %s failed", settlement_id)
    return status


@job(queue="mall", timeout=120)
def sweep_settlements(older_than_seconds: int | None = None) -> list[int]:
    """Ask again for approved batches still unsettled after a few minutes (their job was
    lost or its worker killed; RQ does not retry those)."""
    from mall.settlement import sweep

    if older_than_seconds is None:
        older_than_seconds = current_app.config.get("SETTLEMENT_SWEEP_SECONDS", SWEEP_AFTER_SECONDS)
    return sweep(timedelta(seconds=older_than_seconds))


@job(queue="mall", timeout=1800)
def nightly_reconciliation() -> dict:
    """Compute the reconciliation report and store it as today's."""
    from backend import reconciliation

    report = reconciliation.compute()
    report_id = reconciliation.store(report)
    if not report["ok"]:
        failed = [name for name, ok in report["checks"].items() if not ok]
        log.error("reconciliation is not ok: %s (report %s)", failed, report_id)
    return {"report_id": report_id, "ok": report["ok"]}
