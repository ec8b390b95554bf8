"""Who is acting, kept on the SQLAlchemy session (`session.info`) for the audit log.

The HTTP guard sets it for each authenticated request, the job runner as
`system:<job>`, the CLI as `cli:<command>`. Rules never read it from Flask."""

from __future__ import annotations

from dataclasses import dataclass

KEY = "audit_actor"


@dataclass(frozen=True)
class Actor:
    actor: str  # e.g. "staff:3", "merchant:7", "operator:op_x", "system:mall.settlement..."
    role: str  # the staff role(s) acted under, or the subject kind, or "system"
    request_id: str | None = None


UNKNOWN = Actor("system:unattributed", "system")


def set_actor(session, actor: Actor) -> None:
    session.info[KEY] = actor


def actor_of(session) -> Actor:
    return session.info.get(KEY) or UNKNOWN


def clear(session) -> None:
    session.info.pop(KEY, None)
