"""Background jobs: one decorator, queues named by purpose, run by RQ or in-process.

A job is a plain function taking JSON-able keyword arguments, registered by name with
`@job(queue=..., timeout=...)`. Jobs are idempotent by design: running one twice
changes nothing the second time, so nothing depends on one job instance succeeding."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

QUEUES = ("ingest", "accrual", "mall", "maintenance")


@dataclass(frozen=True)
class JobSpec:
    name: str
    func: Callable
    queue: str
    timeout: int


REGISTRY: dict[str, JobSpec] = {}


def job(*, queue: str, timeout: int):
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue}")

    def decorator(func: Callable) -> Callable:
        name = f"{func.__module__}.{func.__name__}"
        REGISTRY[name] = JobSpec(name=name, func=func, queue=queue, timeout=timeout)
        func.job_name = name
        return func

    return decorator


def load_all() -> None:
    """Import every module that defines jobs, so the registry is complete."""
    import jobs.tasks  # noqa: F401
