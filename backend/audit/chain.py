"""The hash chain: each record's hash is SHA-256 over its canonical JSON (sorted keys,
no spaces, UTF-8) together with the previous record's hash; the first record follows
`GENESIS`. Appends are serialised (a PostgreSQL advisory transaction lock, taken just
before the commit; SQLite serialises writers anyway), so the order of ids is the order
of the chain. `verify()` recomputes it and names the first record that does not fit."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, select, text

from backend.audit.models import AuditRecord
from backend.db import db

GENESIS = "0" * 64
ADVISORY_KEY = 0x5150_0A0D  # "audit"
FIELDS = (
    "at",
    "actor",
    "role",
    "action",
    "object_type",
    "object_id",
    "before",
    "after",
    "request_id",
)


def canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _at(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def digest(record: dict, prev_hash: str) -> str:
    body = {k: record[k] for k in FIELDS}
    body["at"] = _at(record["at"])
    body["prev_hash"] = prev_hash
    return hashlib.sha256(canonical(body).encode("utf-8")).hexdigest()


def append(session, records: list[dict]) -> None:
    """Write `records` (dicts of FIELDS) at the end of the chain, in this transaction."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ADVISORY_KEY})
    prev = session.execute(
        select(AuditRecord.hash).order_by(AuditRecord.id.desc()).limit(1)
    ).scalar_one_or_none()
    prev = prev or GENESIS
    for record in records:  # one by one: ids follow the chain
        own = digest(record, prev)
        session.execute(insert(AuditRecord).values(**record, prev_hash=prev, hash=own))
        prev = own


@dataclass(frozen=True)
class Verdict:
    ok: bool
    records: int
    broken_id: int | None = None
    reason: str | None = None


def verify(batch: int = 1000) -> Verdict:
    """Recompute the whole chain, in id order."""
    prev = GENESIS
    count = 0
    last_id = 0
    while True:
        rows = (
            db.session.execute(
                select(AuditRecord)
                .where(AuditRecord.id > last_id)
                .order_by(AuditRecord.id)
                .limit(batch)
            )
            .scalars()
            .all()
        )
        if not rows:
            return Verdict(True, count)
        for row in rows:
            if row.prev_hash != prev:
                return Verdict(
                    False, count, row.id, "its prev_hash is not the hash of the record before it"
                )
            record = {k: getattr(row, k) for k in FIELDS}
            if row.hash != digest(record, prev):
                return Verdict(False, count, row.id, "its contents do not match its hash")
            prev = row.hash
            count += 1
            last_id = row.id
        db.session.expunge_all()
