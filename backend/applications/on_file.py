"""The catalogue file's entries as already-approved applications, with a recorded history,
so the registry is never empty and every published object has an application behind it."""

from __future__ import annotations

from backend.applications.models import Application, ApplicationEvent
from backend.db import db, utcnow

NOTE = "Loaded from the platform's catalogue file (config/catalogue.json) at installation."
STEPS = ("submitted", "accepted", "in_review", "in_notice", "approved")
ACTIONS = ("submitted", "accept", "opinion", "notice", "approve")


def record_approved(
    app_type: str,
    *,
    organization_id: int | None,
    code: str,
    title: str,
    subject: dict,
    result: tuple[str, int],
) -> Application:
    now = utcnow()
    app = Application(
        type=app_type,
        status="approved",
        organization_id=organization_id,
        subject=subject,
        subject_code=code,
        subject_title=title,
        submitted_by="system:catalogue",
        decided_at=now,
        decision_reasons=NOTE,
        result_type=result[0],
        result_id=result[1],
        created_at=now,
        updated_at=now,
    )
    db.session.add(app)
    db.session.flush()
    for action, status in zip(ACTIONS, STEPS, strict=True):
        db.session.add(
            ApplicationEvent(
                application_id=app.id,
                at=now,
                action=action,
                status=status,
                role="system",
                actor="system:catalogue",
                note=NOTE if status == "approved" else None,
            )
        )
    return app
