"""Jobs of the activity path: processing async upload batches, accrual, retention."""

from __future__ import annotations

from backend.db import db
from jobs import job


@job(queue="ingest", timeout=600)
def process_batch(batch_id: str) -> dict:
    """Process a stored async batch; a batch already done is left as it is."""
    from backend.activity import ingest
    from backend.activity.models import UploadBatch

    batch = db.session.get(UploadBatch, batch_id, with_for_update=True)
    if batch is None or batch.status == "done":
        return {"batch_id": batch_id, "status": batch.status if batch else "missing"}
    records = batch.payload or []
    batch.status = "running"
    ingest.process(batch, records)
    return {"batch_id": batch_id, "status": batch.status, "accepted": batch.accepted}


@job(queue="accrual", timeout=1800)
def accrue(max_chunks: int = 1000) -> dict:
    """Credit everything uncredited, a chunk per transaction."""
    from backend.activity.accrual import accrue_chunk

    totals = {"activities": 0, "entries": 0, "credited_g": 0, "points": 0, "locked_out": False}
    for _ in range(max_chunks):
        res = accrue_chunk(limit=20_000)
        db.session.commit()
        if res.locked_out:
            totals["locked_out"] = True
            break
        if res.activities == 0:
            break
        for k in ("activities", "entries", "credited_g", "points"):
            totals[k] += getattr(res, k)
    return totals


@job(queue="maintenance", timeout=1800)
def purge_raw_activity() -> int:
    """Erase raw activity details past the retention period."""
    from backend.activity.consents import purge_raw_details
    from backend.runtime import setting

    return purge_raw_details(setting("RAW_ACTIVITY_RETENTION_DAYS"))


@job(queue="ingest", timeout=600)
def resume_batches(older_than_seconds: int = 120) -> int:
    """Re-run async batches still queued after a while (their job was lost or its worker
    killed: RQ does not retry those)."""
    from datetime import timedelta

    from sqlalchemy import select

    from backend.activity.models import UploadBatch
    from backend.db import utcnow

    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    ids = (
        db.session.execute(
            select(UploadBatch.id).where(
                UploadBatch.status == "queued", UploadBatch.created_at < cutoff
            )
        )
        .scalars()
        .all()
    )
    for batch_id in ids:
        try:
            process_batch(batch_id)
            db.session.commit()
        except Exception as exc:  # one bad batch must not hold up the others
            db.session.rollback()
            batch = db.session.get(UploadBatch, batch_id)
            batch.status, batch.error = "failed", f"{type(exc).__name__}"
            batch.payload, batch.finished_at = None, utcnow()
            db.session.commit()
    return len(ids)
