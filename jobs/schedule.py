"""Periodic work. With Redis, RQ's cron scheduler enqueues these (started by
`flask --app wsgi worker`); without Redis, `jobs.inprocess` runs them on a thread.
Every periodic job is idempotent and re-does whatever an earlier, killed run left."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Periodic:
    job: str  # a name in jobs.REGISTRY
    every_seconds: int


PERIODIC = [
    Periodic("jobs.tasks.relay_outbox", 15),
    Periodic("jobs.activity.accrue", 60),
    Periodic("jobs.activity.resume_batches", 60),
    Periodic("jobs.mall.expire_orders", 60),
    Periodic("jobs.mall.sweep_settlements", 120),
    Periodic("jobs.activity.purge_raw_activity", 3600),
    Periodic("jobs.mall.nightly_reconciliation", 24 * 3600),
]


def register_cron(cron) -> None:
    """Register PERIODIC on an `rq.cron.CronScheduler`."""
    import jobs
    from jobs.runner import execute

    jobs.load_all()
    for p in PERIODIC:
        if p.job not in jobs.REGISTRY:
            continue
        spec = jobs.REGISTRY[p.job]
        cron.register(
            execute,
            queue_name=spec.queue,
            kwargs={"name": spec.name, "kwargs": {}},
            interval=p.every_seconds,
            job_timeout=spec.timeout,
            name=spec.name,
        )
