"""Issuance (Art. 16): approving an issuance application posts the grams from the
project's issuance account to its owner, as one new serial block of the project
(vintage: the year the period ends), and publishes it. Issuance is in principle yearly:
a period overlapping one issued or pending is refused when applied for."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Select, select

from backend.applications.models import Application
from backend.audit import log as audit
from backend.certificates import issuing
from backend.db import db, utcnow
from backend.errors import Conflict
from backend.ledger import AccountKind, Leg, account_for, post
from backend.reductions import blocks
from backend.reductions.models import Issuance
from backend.registry.models import Project


def issue(app: Application) -> Issuance:
    s = app.subject
    project = db.session.execute(
        select(Project).where(Project.code == app.subject_code)
    ).scalar_one()
    if project.status != "registered":
        raise Conflict(
            f"{project.code} is {project.status}: nothing more is issued to it.",
            code="not_registered",
        )
    start, end = date.fromisoformat(s["period_start"]), date.fromisoformat(s["period_end"])
    amount = int(s["amount_g"])
    owner = account_for(AccountKind.ORG_REDUCTIONS, project.owner_id)
    block = blocks.mint("P", project.id, end.year, amount, owner, origin=("issuance", app.id))
    entry, _ = post(
        kind="issuance",
        idempotency_key=f"issuance:{app.id}",
        legs=[
            Leg(account_for(AccountKind.PROJECT_ISSUANCE, project.id), -amount),
            Leg(owner, amount),
        ],
        ref_type="issuance",
        ref_id=app.id,
        actor="system:issuance",
        memo=f"{project.code} {start.isoformat()}..{end.isoformat()}: {amount} g",
    )
    issuance = Issuance(
        application_id=app.id,
        project_id=project.id,
        owner_id=project.owner_id,
        period_start=start,
        period_end=end,
        vintage=end.year,
        amount_g=amount,
        start_serial=block.start_serial,
        end_serial=block.end_serial,
        entry_id=entry.id,
        issued_at=utcnow(),
    )
    db.session.add(issuance)
    db.session.flush()
    issuing.for_issuance(issuance)
    audit.record("issuance.issued", "issuance", issuance.id, after={"amount_g": amount})
    return issuance


def published() -> Select:
    return select(Issuance)
