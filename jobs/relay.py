"""The outbox relay: after a commit, hand pending outbox rows to RQ (REDIS_URL set) or
run them here, in-process (the embedded default). Claiming a row is an atomic UPDATE,
so two relays never send one row twice; a row whose send failed (Redis down) is
released and sent by the next flush (the periodic `relay_outbox` job, or the next
commit that asks for a job). The first send that fails ends the flush: with Redis down,
a request pays for one failed try, not one per pending row."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import or_, select, update

from backend.db import db, utcnow
from jobs import job, registry_of
from jobs.outbox import OutboxMessage, pending

log = logging.getLogger("jobs.relay")
STALE_CLAIM = timedelta(minutes=5)


def redis_connection():
    """The app's Redis connection, or None when jobs run in-process."""
    from redis import Redis

    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    conn = current_app.extensions.get("redis")
    if conn is None:
        conn = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        current_app.extensions["redis"] = conn
    return conn


def _claimable(now):
    return (
        OutboxMessage.sent_at.is_(None),
        or_(OutboxMessage.claimed_at.is_(None), OutboxMessage.claimed_at < now - STALE_CLAIM),
    )


def _claim(limit: int) -> list[OutboxMessage]:
    now = utcnow()
    ids = (
        db.session.execute(
            select(OutboxMessage.id).where(*_claimable(now)).order_by(OutboxMessage.id).limit(limit)
        )
        .scalars()
        .all()
    )
    claimed = []
    for msg_id in ids:
        res = db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == msg_id, *_claimable(now))
            .values(claimed_at=now)
        )
        if res.rowcount == 1:
            claimed.append(db.session.get(OutboxMessage, msg_id))
    db.session.commit()
    return claimed


def _mark(msg_id: int, sent: bool) -> None:
    values = {"sent_at": utcnow()} if sent else {"claimed_at": None}
    db.session.execute(update(OutboxMessage).where(OutboxMessage.id == msg_id).values(**values))
    db.session.commit()


def _release(msg_ids: list[int]) -> None:
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(msg_ids), OutboxMessage.sent_at.is_(None))
        .values(claimed_at=None)
    )
    db.session.commit()


def flush_if_pending() -> int:
    """The after-commit hook: relay only when this session asked for a job."""
    return flush() if pending() else 0


def flush(limit: int = 200) -> int:
    """Send what is pending; returns how many rows were sent. Never raises for Redis."""
    db.session.info.pop("outbox_dirty", None)
    messages = _claim(limit)
    if not messages:
        return 0
    registry = registry_of(current_app)
    conn = redis_connection()
    sent = 0
    if conn is None:
        from jobs.runner import execute

        for msg in messages:
            name, kwargs, msg_id = msg.job, msg.kwargs, msg.id
            _mark(msg_id, True)
            try:
                execute(name, kwargs)
            except Exception:  # the job is idempotent; its schedule will run it again
                log.exception("in-process job failed", extra={"fields": {"job": name}})
            sent += 1
        return sent
    from rq import Queue

    from jobs.runner import execute

    for i, msg in enumerate(messages):
        try:
            spec = registry.get(msg.job)
        except LookupError:
            log.error("outbox row %s names a job that is not installed: %s", msg.id, msg.job)
            _mark(msg.id, True)
            continue
        try:
            Queue(spec.queue, connection=conn).enqueue(
                execute,
                kwargs={"name": spec.name, "kwargs": msg.kwargs},
                job_id=f"outbox-{msg.id}",
                job_timeout=spec.timeout,
                result_ttl=3600,
                failure_ttl=7 * 24 * 3600,
            )
        except Exception:  # noqa: BLE001 - Redis down: keep this row and the rest for later
            kept = [m.id for m in messages[i:]]
            log.warning("redis unavailable; %d outbox rows kept for later", len(kept))
            db.session.rollback()
            _release(kept)
            break
        _mark(msg.id, True)
        sent += 1
    return sent


@job(queue="maintenance", timeout=60)
def relay_outbox() -> int:
    """Send outbox rows a web process could not (e.g. Redis was down then)."""
    return flush(limit=1000)
