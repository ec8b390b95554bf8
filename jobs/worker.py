"""`flask --app wsgi worker`: an RQ worker that survives its Redis, and the periodic
scheduler it supervises.

- Start-up waits for Redis with a growing backoff (0.5 s doubling to 10 s, jittered)
  instead of crashing.
- The RQ worker runs every job in its app's context (`AppWorker`). An idle worker rides
  out a Redis outage inside RQ's dequeue loop; a busy one (Redis lost while a job runs)
  leaves its work loop. Either way the command's loop waits for Redis and starts a new
  work loop: only a stop request (SIGTERM/SIGINT) or `--burst` ends the command. A work
  horse left running by a work loop that ended finishes its job (jobs are idempotent).
- The periodic jobs run on RQ's `CronScheduler` in a child process (`_cron_main`).
  `CronScheduler.start` lets a Redis error escape; the child then waits for Redis and
  starts a new scheduler (a fresh name each time: a name left in RQ's registry by a
  scheduler that died without unregistering would otherwise refuse the new one). The
  parent's `CronSupervisor` restarts the child if it dies all the same; the child exits
  when its parent is gone, so a killed worker leaves no scheduler behind.
- Every scheduler sends a heartbeat to RQ's cron scheduler registry at least every 15 s
  (the relay's period); `/readyz` reads it (`scheduler_alive`): none in the last two
  minutes makes it 503.

A process manager still runs the worker and restarts it without a start limit (see
`docs/deploy/sip-carbon-points-worker.service`).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import random
import signal
import socket
import threading
import time
import uuid

from flask import Flask

from jobs import QUEUES, registry_of

log = logging.getLogger("jobs.worker")
CRON_NAME = "sip-carbon-points"
MAX_BACKOFF = 10.0  # seconds between tries once Redis has been gone a while
STABLE_AFTER = 60.0  # a run that lasted this long starts the backoff again from the bottom
HEARTBEAT_MAX_AGE = 120  # seconds; RQ's own TTL for a cron scheduler's entry


def backoff(attempt: int) -> float:
    """Seconds to wait before try number `attempt` + 1: 0.5 s doubling up to
    `MAX_BACKOFF`, jittered so that many workers do not knock in step."""
    return min(MAX_BACKOFF, 0.5 * 2**attempt) * random.uniform(0.8, 1.2)


class Stopper:
    """A stop request, set by SIGTERM/SIGINT, and sleeps that end when it is set. A
    plain flag: a signal handler must not take a lock the interrupted code may hold."""

    def __init__(self) -> None:
        self.asked = False

    def request(self, signum=None, frame=None) -> None:
        self.asked = True

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self.request)
        signal.signal(signal.SIGINT, self.request)

    def sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self.asked:
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, 0.2))


def wait_for_redis(url: str, stopper: Stopper | None = None, what: str = "worker") -> bool:
    """Block until Redis at `url` answers a PING, with backoff between tries. Returns
    False when a stop was requested first."""
    from redis import Redis
    from redis.exceptions import RedisError

    stopper = stopper or Stopper()
    attempt = 0
    while not stopper.asked:
        try:
            with Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2) as conn:
                conn.ping()
            if attempt:
                log.info("%s: redis answers again", what)
            return True
        except (RedisError, OSError) as exc:
            delay = backoff(attempt)
            log.warning("%s: redis does not answer (%s); retrying in %.1f s", what, exc, delay)
            stopper.sleep(delay)
            attempt += 1
    return False


def _app_worker_class():
    from redis.exceptions import RedisError
    from rq import Worker
    from rq.exceptions import StopRequested

    from backend.db import db

    class AppWorker(Worker):
        """Runs each job in the app's context, with its own database connections."""

        app: Flask
        stopper: Stopper
        max_connection_wait_time = MAX_BACKOFF  # RQ's own retry while idle

        def request_stop(self, signum, frame):
            self.stopper.request()
            try:
                super().request_stop(signum, frame)
            except (RedisError, OSError):  # Redis is gone: nothing to record there
                raise StopRequested() from None

        def perform_job(self, job, queue, execution):
            with self.app.app_context():
                # A forked work horse must not share pooled connections with its parent.
                db.engine.dispose(close=False)
                return super().perform_job(job, queue, execution)

    return AppWorker


def _let_go(w) -> None:
    """Stop what a work loop that ended on a Redis error left running: its pubsub
    listener thread (RQ only stops it when Redis answers the unsubscribe)."""
    thread = getattr(w, "pubsub_thread", None)
    if thread is not None:
        thread.stop()  # it ends (and closes its connection) at its next turn


def _reap(pids: list[int]) -> None:
    """Collect work horses of earlier work loops that have finished."""
    for pid in list(pids):
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            pids.remove(pid)


# --- the periodic scheduler ------------------------------------------------------------


def _exit_with_parent(parent_pid: int, stopper: Stopper) -> None:
    """Stop this process (as SIGTERM would) once its parent is gone."""

    def watch():
        while os.getppid() == parent_pid:
            time.sleep(1)
        log.warning("scheduler: the worker process %s is gone; stopping", parent_pid)
        stopper.request()
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _cron_main(url: str, entries: list[tuple[str, str, int, int]], parent_pid: int) -> None:
    """The scheduler child: (re)start RQ's CronScheduler until asked to stop."""
    from redis import Redis
    from rq import cron_scheduler_registry
    from rq.cron import CronScheduler
    from rq.exceptions import StopRequested

    from backend.request_log import JsonFormatter

    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    stopper = Stopper()

    class Cron(CronScheduler):
        def _request_stop(self, signum, frame):
            stopper.request()
            super()._request_stop(signum, frame)

    stopper.install()
    _exit_with_parent(parent_pid, stopper)
    attempt = 0
    while not stopper.asked:
        if not wait_for_redis(url, stopper, what="scheduler"):
            return
        started, delay = time.monotonic(), 0.0
        try:
            conn = Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30)
            cron_scheduler_registry.cleanup(conn)  # entries of schedulers that died
            name = f"{CRON_NAME}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
            cron = Cron(connection=conn, name=name)
            register_periodic(cron, entries)
            cron.start()  # installs its own SIGTERM handler; returns when asked to stop
            return
        except StopRequested:
            return
        except Exception as exc:  # noqa: BLE001 - Redis lost, or its registry in a bad state
            if stopper.asked:
                return
            if time.monotonic() - started > STABLE_AFTER:
                attempt = 0
            delay = backoff(attempt)
            attempt += 1
            log.warning("scheduler stopped (%r); starting again in %.1f s", exc, delay)
        finally:
            stopper.install()
        stopper.sleep(delay)


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
        self.lock = threading.Lock()
        self.process: multiprocessing.Process | None = None
        self.restarts = 0
        self.thread = threading.Thread(target=self._run, name="cron-supervisor", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _spawn(self) -> bool:
        with self.lock:
            if self.stop_event.is_set():
                return False
            ctx = multiprocessing.get_context("spawn")
            self.process = ctx.Process(
                target=_cron_main,
                args=(self.url, self.entries, os.getpid()),
                name="cron",
                daemon=True,
            )
            self.process.start()
            return True

    def _run(self) -> None:
        attempt = 0
        while not self.stop_event.is_set():
            started = time.monotonic()
            if not self._spawn():
                return
            while self.process.is_alive() and not self.stop_event.is_set():
                self.process.join(timeout=1)
            if self.stop_event.is_set():
                return
            if time.monotonic() - started > STABLE_AFTER:
                attempt = 0
            delay = backoff(attempt)
            attempt += 1
            self.restarts += 1
            log.error(
                "scheduler process exited (code %s); starting it again in %.1f s",
                self.process.exitcode,
                delay,
            )
            self.stop_event.wait(delay)

    def stop(self) -> None:
        with self.lock:
            self.stop_event.set()
            proc = self.process
        if proc is not None and proc.is_alive():
            proc.terminate()
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)
        self.thread.join(timeout=5)


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
    stopper = Stopper()
    stopper.install()
    if not wait_for_redis(url, stopper):
        return 0
    supervisor = None
    if cron and not burst:
        supervisor = CronSupervisor(url, periodic_entries(app))
        supervisor.start()
    worker_class = _app_worker_class()
    worker_class.app = app
    worker_class.stopper = stopper
    attempt = 0
    horses: list[int] = []
    try:
        while True:
            started = time.monotonic()
            failed, w = False, None
            try:
                conn = Redis.from_url(url, socket_connect_timeout=5)
                w = worker_class([Queue(n, connection=conn) for n in names], connection=conn)
                w.work(with_scheduler=True, burst=burst)
            except Exception as exc:  # noqa: BLE001 - e.g. Redis gone while a job ran
                failed = True
                log.warning("worker loop stopped: %r", exc)
            finally:
                stopper.install()  # RQ's handlers belong to the work loop that ended
            if w is not None:
                _let_go(w)
                if w.horse_pid:
                    horses.append(w.horse_pid)
            _reap(horses)
            if stopper.asked:
                return 0
            if burst:
                return 1 if failed else 0
            if time.monotonic() - started > STABLE_AFTER:
                attempt = 0
            delay = backoff(attempt)
            attempt += 1
            log.warning("worker loop ended without a stop request; restarting in %.1f s", delay)
            stopper.sleep(delay)
            if not wait_for_redis(url, stopper):
                return 0
    finally:
        if supervisor is not None:
            supervisor.stop()
        log.info("worker %s exits", os.getpid())


def scheduler_alive(conn, max_age_seconds: int = HEARTBEAT_MAX_AGE) -> bool:
    """Has a periodic scheduler sent a heartbeat in the last `max_age_seconds`?"""
    from rq import cron_scheduler_registry

    key = cron_scheduler_registry.get_registry_key()
    newest = conn.zrevrange(key, 0, 0, withscores=True)
    return bool(newest) and time.time() - newest[0][1] <= max_age_seconds
