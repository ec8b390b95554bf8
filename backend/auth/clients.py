"""Operator machine clients: created for a scenario of their operator (the secret is
shown once, kept as SHA-256), and exchanged for access tokens. Callers commit."""

from __future__ import annotations

import hmac

from sqlalchemy import Select, select

from backend.audit import log as audit
from backend.auth import subjects
from backend.auth.models import OperatorClient
from backend.auth.sessions import BadCredentials
from backend.auth.tokens import Principal, config_from_app, issue_access, new_secret, sha256
from backend.db import db
from backend.errors import Invalid, NotFound
from backend.registry import organizations, scenarios
from backend.registry.models import Scenario


def _new_client(
    organization_id: int,
    scenario_id: int,
    client_id: str | None = None,
    secret: str | None = None,
) -> tuple[OperatorClient, str]:
    secret = secret or new_secret()
    client = OperatorClient(
        client_id=client_id or "op_" + new_secret(12),
        secret_hash=sha256(secret),
        organization_id=organization_id,
        scenario_id=scenario_id,
    )
    db.session.add(client)
    db.session.flush()
    return client, secret


def client_token(client_id: str, client_secret: str) -> dict:
    client = db.session.execute(
        select(OperatorClient).where(OperatorClient.client_id == client_id)
    ).scalar_one_or_none()
    expected = client.secret_hash if client else sha256("no-such-client")
    if (
        not hmac.compare_digest(expected, sha256(client_secret))
        or client is None
        or not client.active
    ):
        raise BadCredentials("Wrong client id or secret.")
    if subjects.organization_frozen(client.organization_id):
        raise subjects.OrganizationFrozen("This organisation is frozen.")
    cfg = config_from_app()
    token = issue_access(
        cfg,
        Principal(
            kind="operator",
            id=client.client_id,
            organization_id=client.organization_id,
            scenario_id=client.scenario_id,
            gen=client.token_gen,
        ),
    )
    return {"access_token": token, "token_type": "Bearer", "expires_in": cfg.access_seconds}


def create_for_scenario(
    organization_id: int,
    scenario_code: str,
    *,
    client_id: str | None = None,
    secret: str | None = None,
) -> dict:
    """A client for `scenario_code`, run by operator `organization_id`; the secret is in
    the answer and nowhere else. (`client_id` and `secret`: given ones, for the demo's
    published logins; otherwise random.)"""
    org = organizations.get_of_kind(organization_id, "operator")
    scenario = db.session.execute(
        select(Scenario).where(Scenario.code == scenario_code)
    ).scalar_one_or_none()
    if scenario is None:
        raise NotFound("No such scenario.", code="scenario_not_found")
    scenarios.require_registered(scenario.id)
    if scenario.operator_id != org.id:
        raise Invalid(errors={"scenario_code": ["The scenario is run by another operator."]})
    client, secret = _new_client(org.id, scenario.id, client_id, secret)
    audit.record(
        "operator_client.create",
        "operator_client",
        client.client_id,
        after={"organization_id": org.id, "scenario_code": scenario.code},
    )
    return {"client_id": client.client_id, "client_secret": secret}


def get(client_id: str) -> OperatorClient:
    client = db.session.execute(
        select(OperatorClient).where(OperatorClient.client_id == client_id)
    ).scalar_one_or_none()
    if client is None:
        raise NotFound("No such operator client.", code="operator_client_not_found")
    return client


def query(organization_id: int | None = None) -> Select:
    """Operator clients (never their secrets), by organisation."""
    stmt = select(OperatorClient)
    if organization_id is not None:
        stmt = stmt.where(OperatorClient.organization_id == organization_id)
    return stmt
