"""`flask --app wsgi worker`: an RQ worker that survives its Redis, and the periodic
scheduler it supervises.

- Start-up waits for Redis with a growing backoff instead of crashing.
- The RQ worker runs every job in its app's context (`AppWorker`). When its work loop
  ends on a Redis error (a busy worker loses Redis mid-job, a timeout), it waits for
  Redis and starts again; only a stop request (SIGTERM/SIGINT) or `--burst` ends it.
- The periodic jobs run on RQ's `CronScheduler` in a child process. `CronScheduler.start`
  lets a connection error escape, so the child restarts it after a backoff, and the
  parent restarts the child if it dies all the same. The scheduler's heartbeat (RQ's
  cron scheduler registry) is what `/readyz` reads: a dead scheduler makes it 503.

A supervisor still runs the worker (a process manager restarts it without a start
limit; see `docs/deploy/sip-carbon-points-worker.service`).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time

from flask import Flask

from jobs import QUEUES, registry_of

log = logging.getLogger("jobs.worker")
CRON_NAME = "sip-carbon-points"
MAX_BACKOFF = 30.0


def _backoff(attempt: int) -> float:
    return min(MAX_BACKOFF, 0.5 * 2**attempt)


def wait_for_redis(url: str, stop: threading.Event | None = None, what: str = "worker") -> None:
    """Block until Redis at `url` answers a PING (backoff up to 30 s between tries)."""
    from redis import Redis
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    attempt = 0
    while stop is None or not stop.is_set():
        try:
            Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
            if attempt:
                log.info("%s: redis answers again", what)
            return
        except (RedisConnectionError, RedisTimeoutError, OSError):
            delay = _backoff(attempt)
            log.warning("%s: redis does not answer; retrying in %.1f s", what, delay)
            time.sleep(delay)
            attempt += 1


def _app_worker_class():
    from rq import Worker

    from backend.db import db

    class AppWorker(Worker):
        """Runs each job in the app's context, with its own database connections."""

        app: Flask

        def perform_job(self, job, queue, execution):
            with self.app.app_context():
                # A forked work horse must not share pooled connections with its parent.
                db.engine.dispose(close=False)
                return super().perform_job(job, queue, execution)

    return AppWorker


# --- the periodic scheduler ------------------------------------------------------------


def _cron_main(url: str, entries: list[tuple[str, str, int, int]]) -> None:
    """The scheduler child: (re)start RQ's CronScheduler until asked to stop."""
    from redis import Redis
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
    from rq.cron import CronScheduler

    logging.basicConfig(level=logging.INFO)
    stopping = threading.Event()

    def _stop(signum, frame):
        stopping.set()
        raise SystemExit(0)

    attempt = 0
    while not stopping.is_set():
        wait_for_redis(url, stopping, what="scheduler")
        cron = CronScheduler(connection=Redis.from_url(url, socket_timeout=10), name=CRON_NAME)
        register_periodic(cron, entries)
        started = time.monotonic()
        try:
            cron.start()  # installs its own SIGTERM handler; returns when asked to stop
            return
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            if time.monotonic() - started > 60:
                attempt = 0
            delay = _backoff(attempt)
            attempt += 1
            log.warning("scheduler lost redis (%s); restarting in %.1f s", exc, delay)
            signal.signal(signal.SIGTERM, _stop)
            time.sleep(delay)


def periodic_entries(app: Flask) -> list[tuple[str, str, int, int]]:
    """(name, queue, timeout, every seconds) of each periodic job: plain data for the
    scheduler's child process."""
    return [
        (p.spec.name, p.spec.queue, p.spec.timeout, p.every_seconds)
        for p in registry_of(app).periodic
    ]


def register_periodic(cron, entries: list[tuple[str, str, int, int]]) -> None:
    """Register the periodic jobs on an `rq.cron.CronScheduler`."""
    from jobs.runner import execute

    for name, queue, timeout, every in entries:
        cron.register(
            execute,
            queue_name=queue,
            kwargs={"name": name, "kwargs": {}},
            interval=every,
            job_timeout=timeout,
            name=name,
        )


class CronSupervisor:
    """Keeps one scheduler child alive (restart with backoff) until stopped."""

    def __init__(self, url: str, entries: list[tuple[str, str, int, int]]):
        self.url, self.entries = url, entries
        self.stop_event = threading.Event()
        self.process: multiprocessing.Process | None = None
        self.restarts = 0
        self.thread = threading.Thread(target=self._run, name="cron-supervisor", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _spawn(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.process = ctx.Process(
            target=_cron_main, args=(self.url, self.entries), name="cron", daemon=True
        )
        self.process.start()

    def _run(self) -> None:
        attempt = 0
        while not self.stop_event.is_set():
            started = time.monotonic()
            self._spawn()
            while self.process.is_alive() and not self.stop_event.is_set():
                self.process.join(timeout=1)
            if self.stop_event.is_set():
                break
            if time.monotonic() - started > 60:
                attempt = 0
            delay = _backoff(attempt)
            attempt += 1
            self.restarts += 1
            log.error(
                "scheduler process exited (code %s); restarting in %.1f s",
                self.process.exitcode,
                delay,
            )
            self.stop_event.wait(delay)

    def stop(self) -> None:
        self.stop_event.set()
        if self.process is not None and self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=10)
            if self.process.is_alive():
                self.process.kill()


# --- the command -------------------------------------------------------------------------


def run(app: Flask, *, queues: list[str] | None, cron: bool, burst: bool) -> int:
    """The worker command's body; returns the process exit code."""
    from redis import Redis
    from rq import Queue

    url = app.config.get("REDIS_URL")
    if not url:
        raise RuntimeError("REDIS_URL is not set: jobs run in-process")
    names = queues or list(QUEUES)
    unknown = set(names) - set(QUEUES)
    if unknown:
        raise ValueError(f"unknown queues: {', '.join(sorted(unknown))}")
    wait_for_redis(url)
    supervisor = None
    if cron and not burst:
        supervisor = CronSupervisor(url, periodic_entries(app))
        supervisor.start()
    worker_class = _app_worker_class()
    worker_class.app = app
    attempt = 0
    try:
        while True:
            conn = Redis.from_url(url)
            started = time.monotonic()
            try:
                w = worker_class([Queue(n, connection=conn) for n in names], connection=conn)
                w.work(with_scheduler=True, burst=burst)
            except Exception as exc:  # e.g. Redis gone while registering the worker
                log.warning("worker stopped: %s", exc)
                w = None
            if burst:
                return 0
            if w is not None and w._stop_requested:
                return 0
            if time.monotonic() - started > 60:
                attempt = 0
            delay = _backoff(attempt)
            attempt += 1
            log.warning("worker loop ended without a stop request; restarting in %.1f s", delay)
            time.sleep(delay)
            wait_for_redis(url)
    finally:
        if supervisor is not None:
            supervisor.stop()
        log.info("worker %s exits", os.getpid())


def scheduler_alive(conn, max_age_seconds: int = 120) -> bool:
    """Has a periodic scheduler sent a heartbeat in the last `max_age_seconds`?"""
    from rq import cron_scheduler_registry

    key = cron_scheduler_registry.get_registry_key()
    newest = conn.zrevrange(key, 0, 0, withscores=True)
    return bool(newest) and time.time() - newest[0][1] <= max_age_seconds
