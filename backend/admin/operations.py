"""Staff operations on clients and merchant users."""

from __future__ import annotations

from sqlalchemy import select

from backend.auth import services as auth
from backend.db import db
from backend.errors import Invalid, NotFound
from backend.registry.models import Organization, Scenario


def _organization(org_id: int, kind: str) -> Organization:
    org = db.session.get(Organization, org_id)
    if org is None:
        raise NotFound("No such organisation.", code="organization_not_found")
    if org.kind != kind:
        raise Invalid(errors={"organization_id": [f"The organisation is not of kind {kind}."]})
    return org


def create_operator_client(organization_id: int, scenario_code: str) -> dict:
    org = _organization(organization_id, "operator")
    scenario = db.session.execute(
        select(Scenario).where(Scenario.code == scenario_code)
    ).scalar_one_or_none()
    if scenario is None:
        raise NotFound("No such scenario.", code="scenario_not_found")
    if scenario.operator_id != org.id:
        raise Invalid(errors={"scenario_code": ["The scenario is run by another operator."]})
    client, secret = auth.create_operator_client(org.id, scenario.id)
    return {"client_id": client.client_id, "client_secret": secret}


def create_merchant_user(organization_id: int, login: str, password: str) -> int:
    org = _organization(organization_id, "merchant")
    return auth.create_login_user("merchant", login, password, organization_id=org.id).id
