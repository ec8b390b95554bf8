"""Jobs through a real RQ worker process on the machine's Redis: the outbox hands jobs
to RQ only after commit; a Redis outage delays accrual and loses nothing; a worker
killed (SIGKILL) in the middle of accrual leaves the ledger consistent, and the next
scheduled run finishes the work exactly once."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import timedelta

import psycopg
import pytest
from redis import Redis
from rq import Queue
from sqlalchemy import func, select

from backend.activity.accrual import accrue
from jobs.runner import execute
from tests.helpers import (
    ROOT,
    assert_books_balanced,
    bind,
    load_catalogue,
    operator_headers,
    register_resident,
    staff_headers,
    trip,
)
from tests.test_trip_to_points import _today_9am

pytestmark = pytest.mark.jobs
DEAD_REDIS = "redis://127.0.0.1:6399/0"


@pytest.fixture()
def rq_app(app, redis_url, clean):
    from backend.app import create_app

    Redis.from_url(redis_url).flushdb()
    other = create_app(
        "test",
        {
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "REDIS_URL": redis_url,
            "TESTING": True,
        },
    )
    if other.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("RQ worker tests run on PostgreSQL")
    yield other
    Redis.from_url(redis_url).flushdb()


def _worker(app, *args: str, log_name: str = "worker") -> subprocess.Popen:
    env = {
        **os.environ,
        "APP_PROFILE": "test",
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": app.config["REDIS_URL"],
    }
    log = tempfile.NamedTemporaryFile("w", prefix=f"sip-{log_name}-", suffix=".log", delete=False)  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--no-cron", *args],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _burst(app, timeout: float = 60) -> None:
    proc = _worker(app, "--burst", log_name="burst")
    assert proc.wait(timeout=timeout) == 0


def _setup(app, client):
    staff_h = staff_headers(app, client)
    load_catalogue(client, staff_h)
    op = operator_headers(client, staff_h, "SIP-S-METRO")
    alice = register_resident(client)
    bind(client, op, alice["headers"], "alice")
    return op, alice


def _points(client, resident) -> int:
    return client.get("/api/v1/me", headers=resident["headers"]).get_json()["points"]


def _pending_outbox(app) -> int:
    from backend.db import db
    from jobs.outbox import OutboxMessage

    with app.app_context():
        return db.session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
        )


def test_upload_enqueues_after_commit_and_a_real_worker_accrues(app, rq_app, client, redis_url):
    op, alice = _setup(app, client)
    rq_client = rq_app.test_client()
    t0 = _today_9am()
    r = rq_client.post(
        "/api/v1/operator/activities",
        json={
            "records": [
                trip("j1", "alice", 10, t0),
                trip("j2", "alice", 5, t0 + timedelta(hours=2)),
            ]
        },
        headers=op,
    )
    assert r.status_code == 200 and r.get_json()["accepted"] == 2
    # nothing ran yet: the job waits in Redis for a worker
    assert _points(client, alice) == 0
    assert Queue("accrual", connection=Redis.from_url(redis_url)).count == 1
    assert _pending_outbox(app) == 0
    _burst(rq_app)
    assert _points(client, alice) == 467 + 233
    # async upload: 202, the ingest job and then accrual run on the worker
    r = rq_client.post(
        "/api/v1/operator/activities",
        json={"records": [trip("j3", "alice", 10, t0 - timedelta(days=1))]},
        headers={**op, "Prefer": "respond-async"},
    )
    assert r.status_code == 202
    batch = r.get_json()["batch_id"]
    assert (
        rq_client.get(f"/api/v1/operator/batches/{batch}", headers=op).get_json()["status"]
        == "queued"
    )
    _burst(rq_app)
    _burst(rq_app)  # the ingest job asked for accrual after its own commit
    got = rq_client.get(f"/api/v1/operator/batches/{batch}", headers=op).get_json()
    assert got["status"] == "done" and got["accepted"] == 1
    assert _points(client, alice) == 467 + 233 + 467
    assert_books_balanced(app)


def test_redis_outage_delays_accrual_and_loses_nothing(app, rq_app, client):
    from backend.app import create_app

    op, alice = _setup(app, client)
    down = create_app(
        "test",
        {
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "REDIS_URL": DEAD_REDIS,
            "TESTING": True,
        },
    )
    down_client = down.test_client()
    t0 = _today_9am()
    for i in range(3):
        r = down_client.post(
            "/api/v1/operator/activities",
            json={"records": [trip(f"o{i}", "alice", 10, t0 + timedelta(hours=i))]},
            headers=op,
        )
        assert r.status_code == 200 and r.get_json()["accepted"] == 1
    assert _pending_outbox(app) == 3  # kept, not lost
    assert _points(client, alice) == 0
    # Redis is back: the next relay (a request's commit or the periodic relay) sends them
    from jobs import relay

    with rq_app.app_context():
        assert relay.flush() == 3
    assert _pending_outbox(app) == 0
    _burst(rq_app)
    assert _points(client, alice) == 3 * 467
    assert_books_balanced(app)


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _db_conninfo(app) -> str:
    return app.config["SQLALCHEMY_DATABASE_URI"].replace("postgresql+psycopg://", "postgresql://")


def test_worker_killed_mid_accrual_then_schedule_finishes_exactly_once(
    app, rq_app, client, redis_url
):
    op, alice = _setup(app, client)
    t0 = _today_9am()
    records = [trip(f"k{i}", "alice", 10, t0 - timedelta(days=i)) for i in range(5)]
    r = rq_app.test_client().post(
        "/api/v1/operator/activities", json={"records": records}, headers=op
    )
    assert r.get_json()["accepted"] == 5
    conninfo = _db_conninfo(app)
    with psycopg.connect(conninfo) as blocker:
        # Hold one activity row: the accrual job posts its ledger entries, then blocks on
        # marking that row credited, i.e. it is stopped in the middle of its transaction.
        blocker.execute("SELECT id FROM activities WHERE external_id = 'k4' FOR UPDATE")
        worker = _worker(rq_app, log_name="killed")
        try:
            deadline = time.monotonic() + 60
            with psycopg.connect(conninfo, autocommit=True) as probe:
                while time.monotonic() < deadline:
                    waiting = probe.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        " AND wait_event_type = 'Lock'"
                    ).fetchone()[0]
                    if waiting:
                        break
                    time.sleep(0.1)
                assert waiting, "the accrual job never reached the blocked row"
                horses = _descendants(worker.pid)
                assert horses, "no work horse found"
                pending_entries = probe.execute(
                    "SELECT count(*) FROM journal_entries WHERE kind = 'accrual'"
                ).fetchone()[0]
                assert pending_entries == 0  # its entries are not committed
        finally:
            # RQ forks a work horse per job in a session of its own: kill it and the worker
            for pid in [*_descendants(worker.pid), worker.pid]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            worker.wait(timeout=30)
        blocker.rollback()
    # the killed job left nothing half-done
    with psycopg.connect(conninfo, autocommit=True) as probe:
        for _ in range(50):  # the server notices the dead connection and rolls it back
            idle = probe.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND state LIKE 'idle in transaction%'"
            ).fetchone()[0]
            if not idle:
                break
            time.sleep(0.1)
        assert (
            probe.execute("SELECT count(*) FROM journal_entries WHERE kind='accrual'").fetchone()[0]
            == 0
        )
        assert (
            probe.execute(
                "SELECT count(*) FROM activities WHERE credited_g IS NOT NULL"
            ).fetchone()[0]
            == 0
        )
    assert_books_balanced(app)
    assert _points(client, alice) == 0
    # RQ does not retry a job whose worker was killed: the schedule enqueues accrual again
    queue = Queue("accrual", connection=Redis.from_url(redis_url))
    for _ in range(2):  # twice, as two scheduler ticks would
        queue.enqueue(execute, kwargs={"name": accrue.job.name, "kwargs": {}})
    _burst(rq_app)
    assert _points(client, alice) == 5 * 467
    with psycopg.connect(conninfo, autocommit=True) as probe:
        assert (
            probe.execute("SELECT count(*) FROM journal_entries WHERE kind='accrual'").fetchone()[0]
            == 5
        )
    assert_books_balanced(app)


def test_periodic_schedule_registers_every_job_on_rq_cron(app, redis_url):
    from rq.cron import CronScheduler

    import jobs
    from backend.schedule import PERIODIC
    from jobs.worker import periodic_entries, register_periodic

    cron = CronScheduler(connection=Redis.from_url(redis_url), name="test")
    register_periodic(cron, periodic_entries(app))
    names = sorted(j.name for j in cron.get_jobs())
    assert names == sorted(p.func.job.name for p in PERIODIC)
    assert accrue.job.name in names
    registry = jobs.registry_of(app)
    assert all(registry.get(n).queue in jobs.QUEUES for n in names)
