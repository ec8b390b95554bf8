"""Recording acts in the audit log, and reading it back.

`record()` queues a record on the session; the records of a transaction are written,
at the end of the hash chain, just before it commits (a `before_commit` hook), so they
commit or roll back with the change they describe and the chain lock is held only for
the commit. The actor, role and request id come from the actor context
(`backend.audit.context`). Postings are the record of value moves: point at journal
entries (their ids), never copy amounts from them.

Redaction: no secret, password, token or phone number ever enters the log. Fields
whose names say they hold one are replaced by "[redacted]", and so is any text that
looks like a mainland mobile number or a JWT."""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import Select, event, select
from sqlalchemy.orm import Session

from backend.audit import chain
from backend.audit.context import actor_of
from backend.audit.models import AuditRecord
from backend.db import db, utcnow

PENDING = "audit_pending"
REDACTED = "[redacted]"
SENSITIVE_NAMES = (
    "password",
    "secret",
    "token",
    "phone",
    "hash",
    "credential",
    "authorization",
    "redemption_code",
    "user_ref",
)
_PHONE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d(?:[- ]?\d){8}(?!\d)")
_JWT = re.compile(r"eyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*")


def _sensitive(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in SENSITIVE_NAMES)


def redact(value: Any) -> Any:
    """`value` made JSON-plain (dates as ISO text) with every secret taken out."""
    value = json.loads(json.dumps(value, default=str))
    return _redact(value)


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (REDACTED if _sensitive(str(k)) else _redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    if isinstance(value, str) and (_PHONE.search(value) or _JWT.search(value)):
        return _JWT.sub(REDACTED, _PHONE.sub(REDACTED, value))
    return value


def record(
    action: str,
    object_type: str,
    object_id: int | str,
    before: dict | None = None,
    after: dict | None = None,
) -> None:
    """Record an act in this transaction's part of the audit log (written at commit)."""
    record_in(db.session, action, object_type, object_id, before, after)


def record_in(
    session,
    action: str,
    object_type: str,
    object_id: int | str,
    before: dict | None = None,
    after: dict | None = None,
) -> None:
    """`record()` on a given session (for session hooks)."""
    who = actor_of(session)
    entry = {
        "at": utcnow(),
        "actor": who.actor[:80],
        "role": who.role[:80],
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id)[:64],
        "before": None if before is None else redact(before),
        "after": None if after is None else redact(after),
        "request_id": who.request_id,
    }
    session.info.setdefault(PENDING, []).append(entry)


@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    pending = session.info.pop(PENDING, None)
    if pending:
        chain.append(session, pending)


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, previous_transaction) -> None:
    session.info.pop(PENDING, None)


def query(
    actor: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    action: str | None = None,
) -> Select:
    stmt = select(AuditRecord)
    if actor:
        stmt = stmt.where(AuditRecord.actor == actor)
    if object_type:
        stmt = stmt.where(AuditRecord.object_type == object_type)
    if object_id:
        stmt = stmt.where(AuditRecord.object_id == object_id)
    if action:
        stmt = stmt.where(AuditRecord.action == action)
    return stmt
