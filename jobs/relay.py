"""The outbox relay: after a commit, hand pending outbox rows to RQ (REDIS_URL set) or
run them here, in-process (the embedded default). Claiming a row is an atomic UPDATE,
so two relays never send one row twice; a row whose send failed (Redis down) is
released and sent by the next flush."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import or_, select, update

from backend.db import db, utcnow
from backend.outbox import OutboxMessage

log = logging.getLogger("jobs.relay")
STALE_CLAIM = timedelta(minutes=5)


def redis_connection():
    from redis import Redis

    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    conn = current_app.extensions.get("redis")
    if conn is None:
        conn = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        current_app.extensions["redis"] = conn
    return conn


def _claim(limit: int) -> list[OutboxMessage]:
    now = utcnow()
    ids = (
        db.session.execute(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.sent_at.is_(None),
                or_(
                    OutboxMessage.claimed_at.is_(None),
                    OutboxMessage.claimed_at < now - STALE_CLAIM,
                ),
            )
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
        .scalars()
        .all()
    )
    claimed = []
    for msg_id in ids:
        res = db.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == msg_id,
                OutboxMessage.sent_at.is_(None),
                or_(
                    OutboxMessage.claimed_at.is_(None),
                    OutboxMessage.claimed_at < now - STALE_CLAIM,
                ),
            )
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


def flush(limit: int = 200, _depth: int = 0) -> int:
    """Send what is pending; returns how many rows were sent. Never raises for Redis."""
    db.session.info.pop("outbox_dirty", None)
    messages = _claim(limit)
    if not messages:
        return 0
    conn = redis_connection()
    sent = 0
    if conn is None:
        from jobs.runner import execute

        for msg in messages:
            job, kwargs, msg_id = msg.job, msg.kwargs, msg.id
            _mark(msg_id, True)
            try:
                execute(job, kwargs)
            except Exception:  # the job is idempotent; its schedule will run it again
                log.exception("in-process job failed", extra={"job": job})
            sent += 1
        return sent
    from rq import Queue

    import jobs

    jobs.load_all()
    for msg in messages:
        spec = jobs.REGISTRY.get(msg.job)
        if spec is None:
            log.error("outbox row %s names unknown job %s", msg.id, msg.job)
            _mark(msg.id, True)
            continue
        try:
            Queue(spec.queue, connection=conn).enqueue(
                "jobs.runner.execute",
                kwargs={"name": spec.name, "kwargs": msg.kwargs},
                job_id=f"outbox-{msg.id}",
                job_timeout=spec.timeout,
                result_ttl=3600,
                failure_ttl=7 * 24 * 3600,
            )
        except Exception:  # Redis down: release the claim, the next flush sends it
            log.warning("redis unavailable; outbox row %s kept for later", msg.id)
            db.session.rollback()
            _mark(msg.id, False)
            continue
        _mark(msg.id, True)
        sent += 1
    return sent
