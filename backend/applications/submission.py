"""Organisations apply (Art. 7, 9, 11-14, 16): checking each type's fields against the
registry, claiming a scenario's or project's assets, recording the submission; reading
and withdrawing their own applications."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Select, func, or_, select

import scenarios_adapters
from backend.applications import transitions
from backend.applications.models import Application
from backend.applications.workflow import FINAL
from backend.audit import log as audit
from backend.db import db, utcnow
from backend.errors import Conflict, Invalid, NotFound, integer, text
from backend.registry import assets
from backend.registry.models import Methodology, Organization, Project, Scenario
from backend.registry.organizations import OrganizationNotFound


class CodeTaken(Conflict):
    code, title = "code_taken", "The code is taken"


class MethodologyNotFound(NotFound):
    code, title = "methodology_not_found", "No such methodology"


class MethodologyRetired(Conflict):
    code, title = "methodology_retired", "The methodology version is retired"
    extras = {
        "retired_at": text(
            "When it was retired.", "2026-03-01T10:00:00+08:00", format="date-time", nullable=True
        )
    }


class SubjectNotFound(NotFound):
    code, title = "subject_not_found", "No such registered scenario or project of yours"


class AlreadyPending(Conflict):
    code, title = "application_pending", "An application for this is pending"


class IssuancePeriodOverlap(Conflict):
    code, title = "issuance_period_overlap", "Overlaps an issued or pending period"
    extras = {"application_id": integer("The application whose period it overlaps.", 12)}


def _pending(app_type: str, code: str) -> Application | None:
    return db.session.execute(
        select(Application).where(
            Application.type == app_type,
            Application.subject_code == code,
            Application.status.not_in(FINAL),
        )
    ).scalar_one_or_none()


def published_version(code: str, version: str, kind: str) -> Methodology:
    """A methodology version new scenarios or projects may use."""
    found = db.session.execute(
        select(Methodology).where(Methodology.code == code, Methodology.version == version)
    ).scalar_one_or_none()
    if found is None:
        raise MethodologyNotFound(f"No methodology {code} version {version} is published.")
    if found.status == "retired":
        raise MethodologyRetired(
            f"Methodology {code} {version} is retired: no new {kind}s may use it.",
            extra={"retired_at": found.retired_at.isoformat() if found.retired_at else None},
        )
    if found.kind != kind:
        raise Invalid(errors={"methodology": [f"{code} is a {found.kind} methodology."]})
    return found


def _check_parameters(kind: str, formula: str, parameters: dict, field: str) -> None:
    if kind != "scenario":
        return
    try:
        scenarios_adapters.validate_parameters(formula, parameters)
    except ValueError as err:
        raise Invalid(errors={field: [str(err)]}) from err


def _check_methodology(data: dict) -> tuple[str, str]:
    code = data["code"]
    if db.session.scalar(select(func.count()).where(Methodology.code == code)) or _pending(
        "methodology", code
    ):
        raise CodeTaken(f"A methodology with the code {code} exists or is applied for.")
    _check_parameters(data["kind"], data["formula"], data["parameters"], "parameters")
    return code, data["title"]


def _check_revision(data: dict) -> tuple[str, str]:
    code = data["code"]
    latest = latest_version(code)
    if _pending("methodology_revision", code):
        raise AlreadyPending(f"A revision of {code} is under review already.")
    if "parameters" in data:
        _check_parameters(latest.kind, latest.formula, data["parameters"], "parameters")
    return code, data.get("title") or latest.title


def latest_version(code: str) -> Methodology:
    versions = db.session.execute(select(Methodology).where(Methodology.code == code)).scalars()
    ordered = sorted(versions, key=lambda m: tuple(int(p) for p in m.version.split(".")))
    if not ordered:
        raise MethodologyNotFound(f"No methodology {code} is published.")
    return ordered[-1]


def _check_scenario(org: Organization, data: dict) -> tuple[str, str]:
    if org.kind != "operator":
        raise Invalid(errors={"type": ["Scenarios are applied for by operators."]})
    code = data["code"]
    taken = db.session.scalar(select(func.count()).where(Scenario.code == code))
    if taken or _pending("scenario", code):
        raise CodeTaken(f"A scenario with the code {code} exists or is applied for.")
    methodology = published_version(data["methodology"], data["methodology_version"], "scenario")
    adapter = scenarios_adapters.get_adapter(methodology.formula)
    unknown = set(data["activity_types"]) - set(
        adapter.supported_activity_types(methodology.parameters)
    )
    if unknown:
        raise Invalid(
            errors={"activity_types": [f"The methodology has no factor for {sorted(unknown)}."]}
        )
    return code, data["title"]


def _check_project(data: dict) -> tuple[str, str]:
    code = data["code"]
    taken = db.session.scalar(select(func.count()).where(Project.code == code))
    if taken or _pending("project", code):
        raise CodeTaken(f"A project with the code {code} exists or is applied for.")
    published_version(data["methodology"], data["methodology_version"], "project")
    return code, data["title"]


def registered_subject(org_id: int | None, code: str) -> Scenario | Project:
    """The applicant's registered scenario or project `code` (404 otherwise)."""
    scenario = db.session.execute(
        select(Scenario).where(Scenario.code == code)
    ).scalar_one_or_none()
    mine = org_id is None or (scenario is not None and scenario.operator_id == org_id)
    if scenario is not None and scenario.status == "registered" and mine:
        return scenario
    project = db.session.execute(select(Project).where(Project.code == code)).scalar_one_or_none()
    mine = org_id is None or (project is not None and project.owner_id == org_id)
    if project is not None and project.status == "registered" and mine:
        return project
    raise SubjectNotFound(f"{code} is no registered scenario or project of yours.")


def _check_deregistration(org: Organization, data: dict) -> tuple[str, str]:
    subject = registered_subject(org.id, data["subject_code"])
    if _pending("deregistration", subject.code):
        raise AlreadyPending(f"A deregistration of {subject.code} is pending already.")
    return subject.code, subject.title


def _overlapping_issuance(project_code: str, start: date, end: date) -> Application | None:
    for app in db.session.execute(
        select(Application).where(
            Application.type == "issuance",
            Application.subject_code == project_code,
            or_(Application.status.not_in(FINAL), Application.status == "approved"),
        )
    ).scalars():
        other_start = date.fromisoformat(app.subject["period_start"])
        other_end = date.fromisoformat(app.subject["period_end"])
        if start <= other_end and other_start <= end:
            return app
    return None


def _check_issuance(org: Organization, data: dict) -> tuple[str, str]:
    project = db.session.execute(
        select(Project).where(Project.code == data["project_code"])
    ).scalar_one_or_none()
    if project is None or project.owner_id != org.id or project.status != "registered":
        raise SubjectNotFound(f"{data['project_code']} is no registered project of yours.")
    other = _overlapping_issuance(project.code, data["period_start"], data["period_end"])
    if other is not None:
        raise IssuancePeriodOverlap(
            "Issuance is in principle yearly: this period overlaps application "
            f"{other.id} ({other.subject['period_start']} to {other.subject['period_end']}).",
            extra={"application_id": other.id},
        )
    return project.code, project.title


def _stored(data: dict) -> dict:
    """The fields as JSON (dates as ISO strings), without the type."""
    return {
        k: (v.isoformat() if isinstance(v, date) else v) for k, v in data.items() if k != "type"
    }


def submit(org_id: int, data: dict, *, actor: str) -> Application:
    org = db.session.get(Organization, org_id)
    if org is None:
        raise OrganizationNotFound("No such organisation.")
    kind = data["type"]
    checks = {
        "methodology": lambda: _check_methodology(data),
        "methodology_revision": lambda: _check_revision(data),
        "scenario": lambda: _check_scenario(org, data),
        "project": lambda: _check_project(data),
        "deregistration": lambda: _check_deregistration(org, data),
        "issuance": lambda: _check_issuance(org, data),
    }
    code, title = checks[kind]()
    now = utcnow()
    app = Application(
        type=kind,
        status="submitted",
        organization_id=org.id,
        subject=_stored(data),
        subject_code=code,
        subject_title=title,
        submitted_by=actor,
        created_at=now,
        updated_at=now,
    )
    db.session.add(app)
    db.session.flush()
    if kind in ("scenario", "project"):
        assets.claim(data["assets"], "application", app.id, code)
    transitions.record(app, "submitted", role="applicant", actor=actor, note=None)
    audit.record("application.submitted", "application", app.id, after={"type": kind})
    db.session.flush()
    return app


def withdraw(org_id: int, application_id: int, *, actor: str) -> Application:
    app = transitions.lock(application_id)
    if app.organization_id != org_id:
        raise transitions.ApplicationNotFound("No such application.")
    transitions.move(app, "withdraw", role="applicant", actor=actor, note=None)
    assets.release("application", app.id)
    return app


def get_own(org_id: int, application_id: int) -> Application:
    app = db.session.get(Application, application_id)
    if app is None or app.organization_id != org_id:
        raise transitions.ApplicationNotFound("No such application.")
    return app


def of_organization(org_id: int, status: str | None, app_type: str | None) -> Select:
    stmt = select(Application).where(Application.organization_id == org_id)
    if status:
        stmt = stmt.where(Application.status == status)
    if app_type:
        stmt = stmt.where(Application.type == app_type)
    return stmt
