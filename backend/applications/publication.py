"""What an approval publishes, per type: a methodology version joins the catalogue (a
revision is a new version beside the unchanged earlier ones); a scenario or project is
registered with its assets; a deregistration ends one; an issuance issues reductions."""

from __future__ import annotations

from datetime import date

from backend.applications.models import Application
from backend.applications.submission import latest_version, published_version
from backend.db import db, utcnow
from backend.reductions.issuance import issue
from backend.registry import assets, deregistration
from backend.registry.models import Methodology, Project, Scenario


def _next_minor(version: str) -> str:
    parts = [int(p) for p in version.split(".")]
    if len(parts) == 1:
        parts.append(0)
    parts[-1] += 1
    return ".".join(str(p) for p in parts)


def _methodology(app: Application) -> tuple[str, int]:
    s = app.subject
    m = Methodology(
        code=s["code"],
        version="1.0",
        kind=s["kind"],
        title=s["title"],
        formula=s["formula"],
        parameters=s["parameters"],
        documents=s["documents"],
        status="published",
        published_at=utcnow(),
        application_id=app.id,
    )
    db.session.add(m)
    db.session.flush()
    return "methodology", m.id


def _revision(app: Application) -> tuple[str, int]:
    s = app.subject
    latest = latest_version(s["code"])
    m = Methodology(
        code=latest.code,
        version=_next_minor(latest.version),
        kind=latest.kind,
        title=s.get("title", latest.title),
        formula=latest.formula,
        parameters=s.get("parameters", latest.parameters),
        documents=s.get("documents", latest.documents),
        source=latest.source,
        status="published",
        published_at=utcnow(),
        application_id=app.id,
    )
    db.session.add(m)
    db.session.flush()
    return "methodology", m.id


def _scenario(app: Application) -> tuple[str, int]:
    s = app.subject
    methodology = published_version(s["methodology"], s["methodology_version"], "scenario")
    scenario = Scenario(
        code=s["code"],
        title=s["title"],
        operator_id=app.organization_id,
        methodology_id=methodology.id,
        activity_types=sorted(set(s["activity_types"])),
        daily_cap_g=s["daily_cap_g"],
        window_days=s["window_days"],
        status="registered",
        registered_at=utcnow(),
        personal_data_basis=s["personal_data_basis"],
        commitment=s["commitment"],
        application_id=app.id,
    )
    db.session.add(scenario)
    db.session.flush()
    assets.transfer("application", app.id, "scenario", scenario.id, scenario.code)
    return "scenario", scenario.id


def _project(app: Application) -> tuple[str, int]:
    s = app.subject
    methodology = published_version(s["methodology"], s["methodology_version"], "project")
    project = Project(
        code=s["code"],
        title=s["title"],
        owner_id=app.organization_id,
        methodology_id=methodology.id,
        sector=s.get("sector"),
        location=s.get("location"),
        started_on=date.fromisoformat(s["started_on"]) if s.get("started_on") else None,
        commitment=s["commitment"],
        status="registered",
        registered_at=utcnow(),
        application_id=app.id,
    )
    db.session.add(project)
    db.session.flush()
    assets.transfer("application", app.id, "project", project.id, project.code)
    return "project", project.id


def _deregistration(app: Application) -> tuple[str, int]:
    subject = deregistration.deregister(
        app.subject_code,
        cause="on_request",
        reasons=app.subject["reason"],
        org_id=app.organization_id,
    )
    return ("scenario" if isinstance(subject, Scenario) else "project"), subject.id


def _issuance(app: Application) -> tuple[str, int]:
    issued = issue(app)
    return "issuance", issued.id


PUBLISHERS = {
    "methodology": _methodology,
    "methodology_revision": _revision,
    "scenario": _scenario,
    "project": _project,
    "deregistration": _deregistration,
    "issuance": _issuance,
}


def publish(app: Application, *, actor: str) -> None:
    app.result_type, app.result_id = PUBLISHERS[app.type](app)
