"""Deregistration (Art. 14): a scenario or project ends on its owner's request (an
application) or on the centre's own finding (organisation ceased, project ended,
non-compliance). From that moment its uploads and issuances stop; what was credited
before stays. Its assets are released."""

from __future__ import annotations

from sqlalchemy import select

from backend.audit import log as audit
from backend.db import db, utcnow
from backend.errors import Conflict, NotFound
from backend.registry import assets
from backend.registry.models import Project, Scenario

CAUSES = ("on_request", "organization_ceased", "project_ended", "non_compliance", "other")


class NotRegistered(Conflict):
    code, title = "not_registered", "Not a registered scenario or project"


def _subject(code: str, org_id: int | None) -> Scenario | Project:
    for model, owner in ((Scenario, "operator_id"), (Project, "owner_id")):
        found = db.session.execute(
            select(model).where(model.code == code).with_for_update(of=model)
        ).scalar_one_or_none()
        if found is not None and (org_id is None or getattr(found, owner) == org_id):
            return found
    raise NotFound(f"No scenario or project {code}.", code="subject_not_found")


def deregister(code: str, *, cause: str, reasons: str, org_id: int | None = None):
    """Deregister `code` (of `org_id` when given); 409 `not_registered` if it is not."""
    subject = _subject(code, org_id)
    if subject.status != "registered":
        raise NotRegistered(f"{code} is {subject.status}.")
    subject.status = "deregistered"
    subject.deregistered_at = utcnow()
    subject.deregistration_cause = cause
    subject.deregistration_reasons = reasons
    kind = "scenario" if isinstance(subject, Scenario) else "project"
    assets.release(kind, subject.id)
    audit.record(
        f"{kind}.deregistered",
        kind,
        subject.id,
        before={"status": "registered"},
        after={"status": "deregistered", "cause": cause},
    )
    db.session.flush()
    return subject
