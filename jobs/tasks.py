"""Every job, by purpose. Each is a thin call into the service that holds the rule.
The job modules by purpose: `jobs.activity` (ingest, accrual, retention), `jobs.mall`
(order expiry, settlement, reconciliation)."""

from __future__ import annotations

import jobs.activity  # noqa: F401
import jobs.mall  # noqa: F401
from jobs import job


@job(queue="maintenance", timeout=60)
def relay_outbox() -> int:
    """Sends outbox rows a web process could not (e.g. Redis was down then)."""
    from jobs import relay

    return relay.flush(limit=1000)
