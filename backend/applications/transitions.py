"""Moving an application one step: lock its row, ask the transition table, write the
public history and the audit log, all in the caller's transaction. Two reviewers acting
at once serialise on the row: the second sees the first's result and is refused."""

from __future__ import annotations

from sqlalchemy import select

from backend.applications.models import Application, ApplicationEvent
from backend.applications.workflow import next_status
from backend.audit import log as audit
from backend.db import db, utcnow
from backend.errors import NotFound


class ApplicationNotFound(NotFound):
    code, title = "application_not_found", "No such application"


def lock(application_id: int) -> Application:
    app = db.session.execute(
        select(Application)
        .where(Application.id == application_id)
        .with_for_update(of=Application)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if app is None:
        raise ApplicationNotFound("No such application.")
    return app


def record(app: Application, action: str, *, role: str, actor: str | None, note: str | None):
    """Append a history event (the status is the application's current one)."""
    event = ApplicationEvent(
        application_id=app.id,
        at=utcnow(),
        action=action,
        status=app.status,
        role=role,
        actor=actor,
        note=note,
    )
    db.session.add(event)
    return event


def move(app: Application, action: str, *, role: str, actor: str | None, note: str | None):
    """Take `action` on the locked `app` (StepNotAllowed if its status does not allow it)."""
    before = app.status
    app.status = next_status(app.type, app.status, action)
    app.updated_at = utcnow()
    record(app, action, role=role, actor=actor, note=note)
    audit.record(
        f"application.{action}",
        "application",
        app.id,
        before={"status": before},
        after={"status": app.status},
    )
    db.session.flush()
    return app
