"""Registering organisations (operators, merchants, project owners)."""

from __future__ import annotations

from sqlalchemy import select

from backend.audit import log as audit
from backend.db import db
from backend.errors import Conflict, Invalid, NotFound
from backend.registry.models import Organization


class CreditCodeTaken(Conflict):
    code, title = "credit_code_taken", "An organisation with this credit code exists"


class OrganizationNotFound(NotFound):
    code, title = "organization_not_found", "No such organisation"


def register(name: str, kind: str, credit_code: str) -> Organization:
    if db.session.execute(
        select(Organization.id).where(Organization.credit_code == credit_code)
    ).first():
        raise CreditCodeTaken("An organisation with this credit code exists.")
    org = Organization(name=name, kind=kind, credit_code=credit_code)
    db.session.add(org)
    db.session.flush()
    audit.record(
        "organization.create",
        "organization",
        org.id,
        after={"name": name, "kind": kind, "credit_code": credit_code},
    )
    return org


def list_query(kind: str | None, credit_code: str | None):
    stmt = select(Organization)
    if kind:
        stmt = stmt.where(Organization.kind == kind)
    if credit_code:
        stmt = stmt.where(Organization.credit_code == credit_code)
    return stmt


def names(org_ids) -> dict[int, str]:
    """Organisation names by id (for lists that show who)."""
    ids = sorted({int(i) for i in org_ids if i is not None})
    if not ids:
        return {}
    rows = db.session.execute(
        select(Organization.id, Organization.name).where(Organization.id.in_(ids))
    )
    return {row.id: row.name for row in rows}


def by_credit_code(code: str) -> Organization:
    org = db.session.execute(
        select(Organization).where(Organization.credit_code == code)
    ).scalar_one_or_none()
    if org is None:
        raise OrganizationNotFound("No organisation has this credit code.")
    return org


def get(org_id: int) -> Organization:
    org = db.session.get(Organization, org_id)
    if org is None:
        raise OrganizationNotFound("No such organisation.")
    return org


def get_of_kind(org_id: int, kind: str) -> Organization:
    """The organisation `org_id`, which must be of `kind` (404 / 422 otherwise)."""
    org = db.session.get(Organization, org_id)
    if org is None:
        raise OrganizationNotFound("No such organisation.")
    if org.kind != kind:
        raise Invalid(errors={"organization_id": [f"The organisation is not of kind {kind}."]})
    return org
