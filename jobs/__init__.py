"""Background jobs: one decorator, queues named by purpose, run by RQ or in-process.

A job is a plain function taking JSON-able keyword arguments, decorated with
`@job(queue=..., timeout=...)` in the rules module whose rule it runs (beside it). It is
asked for by reference, `enqueue_after_commit(accrue, ...)` (`jobs.outbox`), never by a
name typed as a string. The app factory hands the list of every job and the periodic
schedule (`backend.schedule`) to `install()`; the runner finds a job there, on the app,
not in a module global.

Jobs are idempotent by design: running one twice changes nothing the second time, so
nothing depends on one job instance succeeding. Only a job body may commit (a long job
commits per chunk); the rules it calls never do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

QUEUES = ("ingest", "accrual", "mall", "registry", "maintenance")


@dataclass(frozen=True)
class JobSpec:
    name: str  # "module.function": how the outbox and RQ refer to it
    func: Callable
    queue: str
    timeout: int  # seconds


@dataclass(frozen=True)
class Periodic:
    func: Callable  # a @job function
    every_seconds: int

    @property
    def spec(self) -> JobSpec:
        return spec_of(self.func)


def job(*, queue: str, timeout: int):
    """Declare a job: its queue and its time limit (seconds)."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}; one of {QUEUES}")

    def decorator(func: Callable) -> Callable:
        func.job = JobSpec(
            name=f"{func.__module__}.{func.__qualname__}", func=func, queue=queue, timeout=timeout
        )
        return func

    return decorator


def spec_of(func: Callable) -> JobSpec:
    spec = getattr(func, "job", None)
    if not isinstance(spec, JobSpec):
        raise TypeError(f"{func!r} is not a @job function")
    return spec


@dataclass(frozen=True)
class Registry:
    """Every job of an app, by name, and its periodic schedule."""

    by_name: dict[str, JobSpec]
    periodic: tuple[Periodic, ...]

    def get(self, name: str) -> JobSpec:
        try:
            return self.by_name[name]
        except KeyError:
            raise LookupError(f"no job named {name!r} is installed") from None


def install(app, every_job: Iterable[Callable], periodic: Iterable[Periodic]) -> Registry:
    """Give `app` its jobs (called once, by the app factory)."""
    specs = [spec_of(f) for f in every_job]
    by_name = {s.name: s for s in specs}
    periodic = tuple(periodic)
    for p in periodic:
        if p.spec.name not in by_name:
            raise ValueError(f"periodic job {p.spec.name} is not in the list of every job")
    registry = Registry(by_name=by_name, periodic=periodic)
    app.extensions["jobs"] = registry
    return registry


def registry_of(app) -> Registry:
    return app.extensions["jobs"]
