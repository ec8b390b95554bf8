"""Public notices and objections (Art. 13, 26): anyone reads the open and closed notices
and may object to an open one, without an account; reviewers resolve each objection, and
an upheld one rejects the application. The objector's contact is never published."""

from __future__ import annotations

import secrets

from sqlalchemy import Select, or_, select

from backend.applications import transitions
from backend.applications.models import Application, Objection
from backend.audit import log as audit
from backend.db import db, utcnow
from backend.errors import Conflict, NotFound
from backend.registry import assets

_REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class NoticeNotFound(NotFound):
    code, title = "notice_not_found", "No such notice"


class NoticeClosed(Conflict):
    code, title = "notice_closed", "The notice is closed"


class ObjectionNotFound(NotFound):
    code, title = "objection_not_found", "No such objection"


class AlreadyResolved(Conflict):
    code, title = "objection_resolved", "The objection is resolved already"


def public_query(status: str) -> Select:
    """Open notices (running now) or closed ones (ended, or ended early by a decision)."""
    now = utcnow()
    stmt = select(Application).where(Application.notice_starts_at.is_not(None))
    if status == "open":
        return stmt.where(Application.status == "in_notice", Application.notice_ends_at > now)
    return stmt.where(or_(Application.status != "in_notice", Application.notice_ends_at <= now))


def get_public(application_id: int) -> Application:
    app = db.session.get(Application, application_id)
    if app is None or app.notice_starts_at is None:
        raise NoticeNotFound("No such notice.")
    return app


def is_open(app: Application) -> bool:
    """Does the notice take objections now?"""
    return (
        app.notice_starts_at is not None
        and app.status == "in_notice"
        and utcnow() < app.notice_ends_at
    )


def _reference() -> str:
    return "OBJ-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(10))


def file(application_id: int, text: str, contact: str | None) -> Objection:
    """An objection from the public to a running notice."""
    app = transitions.lock(application_id) if _exists(application_id) else None
    if app is None or app.notice_starts_at is None:
        raise NoticeNotFound("No such notice.")
    if not is_open(app):
        raise NoticeClosed("The notice is closed: objections are no longer received.")
    objection = Objection(
        application_id=app.id, reference=_reference(), text=text, contact=contact, status="open"
    )
    db.session.add(objection)
    transitions.record(app, "objection_filed", role="public", actor=None, note=None)
    db.session.flush()
    return objection


def _exists(application_id: int) -> bool:
    return db.session.get(Application, application_id) is not None


def staff_query(status: str | None) -> Select:
    stmt = select(Objection)
    if status:
        stmt = stmt.where(Objection.status == status)
    return stmt


def resolve(objection_id: int, outcome: str, text: str, *, actor: str) -> Objection:
    """Uphold (the application is rejected) or dismiss an objection; the outcome is public."""
    objection = db.session.get(Objection, objection_id)
    if objection is None:
        raise ObjectionNotFound("No such objection.")
    app = transitions.lock(objection.application_id)
    db.session.refresh(objection, with_for_update=True)
    if objection.status != "open":
        raise AlreadyResolved(f"The objection was {objection.status} already.")
    objection.status, objection.outcome = outcome, text
    objection.resolved_by, objection.resolved_at = actor, utcnow()
    audit.record(
        f"objection.{outcome}",
        "objection",
        objection.id,
        before={"status": "open"},
        after={"status": outcome},
    )
    if outcome == "upheld" and app.status == "in_notice":
        transitions.move(app, "objection_upheld", role="reviewer", actor=actor, note=text)
        app.decided_at, app.decision_reasons = utcnow(), text
        assets.release("application", app.id)
    else:
        transitions.record(app, f"objection_{outcome}", role="reviewer", actor=actor, note=text)
    db.session.flush()
    return objection
