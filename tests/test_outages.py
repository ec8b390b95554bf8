"""Jobs that survive their Redis, with real processes: a private `redis-server` per test
(started on a free port with no persistence, killed with SIGKILL so its data are lost),
a real `flask --app wsgi worker` on it, and the machine's PostgreSQL.

- A 30 s outage under a flow of async uploads: without restarting anything, the periodic
  scheduler comes back (`/readyz` 200, `scheduler: ok`; it is 503 while the scheduler is
  dead), periodic jobs run again, every batch the API accepted ends `done` and every
  accepted trip is credited.
- A busy worker whose Redis goes away keeps its process and works again once Redis is
  back; a worker started while Redis is down waits for it; a killed scheduler process
  is started again; a killed worker leaves no scheduler behind."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from redis import Redis
from sqlalchemy import func, select

from tests.helpers import ROOT, assert_books_balanced, trip
from tests.mall_helpers import assert_reconciled
from tests.test_jobs_rq import _db_conninfo, _descendants, _setup

pytestmark = pytest.mark.jobs
OUTAGE_SECONDS = 30


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float, what: str, interval: float = 0.5, details=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"{what} (waited {timeout:.0f} s)" + (f"\n{details()}" if details else ""))


class RedisServer:
    """A private redis-server: no RDB, no AOF, so SIGKILL loses everything it held."""

    def __init__(self, port: int, workdir):
        self.port, self.workdir, self.proc = port, workdir, None
        self.url = f"redis://127.0.0.1:{port}/0"

    def start(self) -> None:
        log = (self.workdir / f"redis-{self.port}.log").open("ab")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        wait_until(self.answers, 20, f"redis-server on port {self.port} did not start")

    def answers(self) -> bool:
        try:
            with Redis(port=self.port, socket_connect_timeout=1, socket_timeout=1) as conn:
                return bool(conn.ping())
        except Exception:  # noqa: BLE001
            return False

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
            self.proc = None

    def connection(self) -> Redis:
        return Redis(port=self.port)


class WorkerProcess:
    """`flask --app wsgi worker ...` as a deployment runs it."""

    def __init__(self, app, redis_url: str, workdir, *args: str, **env: str):
        self.log_path = workdir / f"worker-{len(list(workdir.glob('worker-*')))}.log"
        out = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "worker", *args],
            cwd=ROOT,
            env={
                **os.environ,
                "APP_PROFILE": "test",
                "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
                "REDIS_URL": redis_url,
                **env,
            },
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log(self, tail: int = 60) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-tail:])

    def scheduler_pids(self) -> list[int]:
        """The spawned scheduler child(ren) of this worker."""
        found = []
        for pid in _descendants(self.pid):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/cmdline", "rb") as fh:
                if b"spawn_main" in fh.read():
                    found.append(pid)
        return found

    def stop(self) -> int | None:
        """SIGTERM (as a supervisor stops it), then SIGKILL whatever is left."""
        family = _descendants(self.pid)
        code = None
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        for pid in family:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return code


@pytest.fixture()
def private_redis(app, tmp_path):
    server = RedisServer(_free_port(), tmp_path)
    yield server
    server.kill()
    # The rate limiter is one object shared by every app built here; the last app built
    # points its counters at this Redis. Point them back where the session's app keeps
    # them (memory), or the next test's `limiter.reset()` knocks on a dead server.
    _web(app, None)


@pytest.fixture()
def workers(clean, tmp_path):
    started: list[WorkerProcess] = []

    def start(app, redis_url: str, *args: str, **env: str) -> WorkerProcess:
        w = WorkerProcess(app, redis_url, tmp_path, *args, **env)
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()


def _web(app, redis_url: str):
    """The API as a web process configured with this Redis would serve it."""
    from backend.app import create_app

    return create_app(
        "test",
        {
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "REDIS_URL": redis_url,
            "TESTING": True,
        },
    )


def _ready(http) -> tuple[int, dict]:
    r = http.get("/readyz")
    return r.status_code, r.get_json()


def _scheduler_ok(http) -> bool:
    status, body = _ready(http)
    return status == 200 and body["checks"]["scheduler"] == "ok"


def _batch_statuses(app) -> dict[str, str]:
    from backend.activity.models import UploadBatch
    from backend.db import db

    with app.app_context():
        rows = db.session.execute(select(UploadBatch.id, UploadBatch.status)).all()
        db.session.remove()
        return dict(rows)


def _uncredited(app) -> int:
    from backend.activity.models import Activity
    from backend.db import db

    with app.app_context():
        n = db.session.scalar(
            select(func.count()).select_from(Activity).where(Activity.credited_g.is_(None))
        )
        db.session.remove()
        return n


def _activities(app) -> int:
    from backend.activity.models import Activity
    from backend.db import db

    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(Activity))
        db.session.remove()
        return n


class Uploads(threading.Thread):
    """Async uploads (`Prefer: respond-async`), one trip each, every half second."""

    def __init__(self, web, op_headers: dict, user_ref: str):
        super().__init__(name="uploads", daemon=True)
        self.client = web.test_client()
        self.headers = {**op_headers, "Prefer": "respond-async"}
        self.user_ref = user_ref
        self.start_at = datetime.now(UTC) - timedelta(hours=1)
        self.halt = threading.Event()
        self.accepted: list[str] = []
        self.answers: list[int] = []
        self.errors: list[BaseException] = []
        self.n = 0

    def run(self) -> None:
        try:
            while not self.halt.is_set():
                started = self.start_at - timedelta(minutes=40 * self.n)
                record = trip(f"flow-{self.n}", self.user_ref, 3, started)
                self.n += 1
                r = self.client.post(
                    "/api/v1/operator/activities", json={"records": [record]}, headers=self.headers
                )
                self.answers.append(r.status_code)
                if r.status_code == 202:
                    self.accepted.append(r.get_json()["batch_id"])
                self.halt.wait(0.5)
        except BaseException as exc:  # noqa: BLE001 - re-raised by the test
            self.errors.append(exc)

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=60)
        assert not self.is_alive(), "the upload thread hung"
        if self.errors:
            raise self.errors[0]


def test_a_redis_outage_heals_itself_scheduler_and_every_accepted_batch(
    app, client, private_redis, workers
):
    from rq.cron import get_cron_job_ids

    from backend.activity.accrual import accrue
    from backend.activity.ingest import resume_batches
    from jobs.relay import relay_outbox

    op, _alice = _setup(app, client)
    private_redis.start()
    web = _web(app, private_redis.url)
    http = web.test_client()
    # Redis answers but no scheduler runs yet: not ready
    status, body = _ready(http)
    assert status == 503 and body["checks"] == {
        "database": "ok",
        "redis": "ok",
        "scheduler": "down",
    }

    worker = workers(web, private_redis.url, RESUME_BATCHES_AFTER_SECONDS="10")
    wait_until(lambda: _scheduler_ok(http), 90, "the scheduler never came up", details=worker.log)
    uploads = Uploads(web, op, "alice")
    uploads.start()
    try:
        wait_until(
            lambda: sum(s == "done" for s in _batch_statuses(app).values()) >= 3,
            60,
            "uploads are not processed before the outage",
            details=worker.log,
        )
        # Redis dies with everything it held: queued jobs, the scheduler's registration
        private_redis.kill()
        outage_ends = time.monotonic() + OUTAGE_SECONDS
        down_answers = []
        # rate-limited routes keep answering: their counters fall back to memory
        r = http.post("/api/v1/auth/login", json={"login": "nobody", "password": "x" * 8})
        assert r.status_code == 401, r.get_json()
        while time.monotonic() < outage_ends:
            down_answers.append(_ready(http))
            time.sleep(2)
    finally:
        uploads.stop()  # from here on no request relays anything: only the schedule can
    accepted_during_outage = len(uploads.accepted)
    assert uploads.answers and set(uploads.answers) == {202}, uploads.answers
    down = {"database": "ok", "redis": "down"}
    assert all(status == 503 and body["checks"] == down for status, body in down_answers), (
        down_answers
    )
    assert worker.alive(), worker.log()

    private_redis.start()  # same port, empty
    wait_until(
        lambda: _scheduler_ok(http), 120, "the scheduler did not come back", details=worker.log
    )

    def all_done():
        statuses = _batch_statuses(app)
        return all(statuses.get(b) == "done" for b in uploads.accepted)

    wait_until(all_done, 120, "accepted batches were left unprocessed", details=worker.log)
    wait_until(
        lambda: _uncredited(app) == 0, 120, "accepted trips were not credited", details=worker.log
    )
    # Nothing was restarted by hand: the same worker process did it all.
    assert worker.alive(), worker.log()
    assert accepted_during_outage == len(uploads.accepted) >= 10
    assert _activities(app) == len(uploads.accepted)
    # The new, empty Redis saw the scheduler enqueue the periodic jobs again.
    conn = private_redis.connection()
    for job in (relay_outbox, resume_batches, accrue):
        assert get_cron_job_ids(job.job.name, conn), job.job.name
    assert_books_balanced(app)
    assert_reconciled(app)


def _wait_for_lock_waiter(conninfo: str, timeout: float = 60) -> None:
    with psycopg.connect(conninfo, autocommit=True) as probe:
        wait_until(
            lambda: probe.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock'"
            ).fetchone()[0],
            timeout,
            "no job reached the blocked row",
            interval=0.1,
        )


def _points(client, resident) -> int:
    return client.get("/api/v1/me", headers=resident["headers"]).get_json()["points"]


def _upload(http, op, records) -> None:
    r = http.post("/api/v1/operator/activities", json={"records": records}, headers=op)
    assert r.status_code == 200 and r.get_json()["accepted"] == len(records), r.get_json()


def test_a_busy_worker_outlives_its_redis_and_works_again(app, client, private_redis, workers):
    op, alice = _setup(app, client)
    private_redis.start()
    web = _web(app, private_redis.url)
    http = web.test_client()
    base = datetime.now(UTC) - timedelta(hours=2)
    _upload(http, op, [trip(f"b{i}", "alice", 10, base - timedelta(days=i)) for i in range(3)])
    conninfo = _db_conninfo(app)
    with psycopg.connect(conninfo) as blocker:
        # Hold one trip: the accrual job blocks in the middle of its work, i.e. busy.
        blocker.execute("SELECT id FROM activities WHERE external_id = 'b2' FOR UPDATE")
        worker = workers(web, private_redis.url, "--no-cron")
        _wait_for_lock_waiter(conninfo)
        private_redis.kill()
        time.sleep(3)
        blocker.rollback()  # the job finishes its database work while Redis is gone
    wait_until(lambda: _uncredited(app) == 0, 60, "the busy job did not finish")
    time.sleep(5)
    assert worker.alive(), worker.log()
    private_redis.start()  # empty
    _upload(http, op, [trip(f"c{i}", "alice", 10, base - timedelta(days=10 + i)) for i in range(2)])
    wait_until(
        lambda: _uncredited(app) == 0 and _activities(app) == 5,
        90,
        "the worker did not take jobs again after Redis came back",
        details=worker.log,
    )
    assert worker.alive(), worker.log()
    assert _points(client, alice) == 5 * 467
    assert_books_balanced(app)
    assert worker.stop() == 0, worker.log()


def test_a_worker_started_while_redis_is_down_waits_for_it(app, client, private_redis, workers):
    op, alice = _setup(app, client)
    web = _web(app, private_redis.url)
    http = web.test_client()
    worker = workers(web, private_redis.url)  # Redis is not there yet
    wait_until(
        lambda: worker.log().count("redis does not answer") >= 2,
        60,
        "the worker did not try Redis",
        details=worker.log,
    )
    assert worker.alive(), worker.log()
    assert _ready(http)[0] == 503
    private_redis.start()
    base = datetime.now(UTC) - timedelta(hours=2)
    _upload(http, op, [trip(f"w{i}", "alice", 10, base - timedelta(days=i)) for i in range(2)])
    wait_until(
        lambda: _activities(app) == 2 and _uncredited(app) == 0,
        90,
        "the waiting worker did not run the jobs",
        details=worker.log,
    )
    assert _points(client, alice) == 2 * 467
    wait_until(lambda: _scheduler_ok(http), 60, "no scheduler heartbeat", details=worker.log)

    # A scheduler process that dies is started again by the worker it belongs to.
    conn = private_redis.connection()
    registry_key = "rq:cron_schedulers"
    (first,) = worker.scheduler_pids()
    names_before = {n.decode() for n in conn.zrange(registry_key, 0, -1)}
    os.kill(first, signal.SIGKILL)
    wait_until(
        lambda: {n.decode() for n in conn.zrange(registry_key, 0, -1)} - names_before,
        60,
        "the killed scheduler was not started again",
        details=worker.log,
    )
    (second,) = worker.scheduler_pids()
    assert second != first and worker.alive()

    # A worker killed outright leaves no scheduler behind to double the periodic jobs.
    os.kill(worker.pid, signal.SIGKILL)
    worker.proc.wait(timeout=10)

    def gone() -> bool:
        try:
            os.kill(second, 0)
        except ProcessLookupError:
            return True
        with open(f"/proc/{second}/stat") as fh:  # a zombie waiting for its reaper
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"

    wait_until(gone, 30, "the orphaned scheduler kept running")
