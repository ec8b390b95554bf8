"""Property-based fuzzing of every operation in the app's own OpenAPI document.

Schemathesis reads `/api/openapi.json` and calls the app in-process (WSGI, no server),
so routes added later are fuzzed without touching this file. Each operation is called
with the token of the role its path prefix needs; the checks: never a 5xx, the status is
documented (there is no `default` response to hide behind), the content type is the one
documented for it (`application/problem+json` for problems), the body conforms to the
schema documented for its status, and a problem's `code` is one the operation lists for
that status. Valid and invalid inputs are both generated (schemathesis' positive and
negative modes, its coverage phase of boundary values, and the document's examples)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import text

from backend import apidoc
from backend.auth.roles import STAFF_ROLES
from tests import helpers
from tests.ledger_guards import guards_off

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}

# The role each path prefix needs; any other path is called without a token.
ROLE_PREFIXES = [
    ("/api/v1/admin", "staff"),
    ("/api/v1/me", "resident"),
    ("/api/v1/mall/orders", "resident"),
    ("/api/v1/operator", "operator"),
    ("/api/v1/merchant", "merchant"),
    ("/api/v1/org", "merchant"),  # a merchant's till login is an organisation user
]


def role_for(path: str) -> str | None:
    for prefix, role in ROLE_PREFIXES:
        if path == prefix or path.startswith(prefix + "/"):
            return role
    return None


def _openapi_document() -> dict:
    """The app's own document, read at collection time from a throwaway app (the
    document does not depend on the database); the calls go to the session's app."""
    from backend.app import create_app

    spec_app = create_app("test", {"DATABASE_URL": "sqlite://", "REDIS_URL": None})
    response = spec_app.test_client().get("/api/openapi.json")
    assert response.status_code == 200
    return response.get_json()


DOCUMENT = _openapi_document()
schema = schemathesis.openapi.from_dict(DOCUMENT)


def problem_code_documented(ctx, response, case):
    """A problem's `code` is one the operation lists for the status it came with."""
    if response.status_code < 400 or case.method.upper() != case.operation.method.upper():
        return None  # (the coverage phase also sends methods the route has not: 405)
    op = DOCUMENT["paths"][case.operation.path][case.operation.method.lower()]
    listed = apidoc.problems_of(op).get(response.status_code, [])
    code = response.json().get("code")
    if code not in listed:
        raise AssertionError(
            f"{case.operation.method} {case.operation.path} answered {response.status_code} "
            f"`{code}`, which it does not list ({listed})"
        )
    return None


CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    problem_code_documented,
]


def _truncate(app) -> None:
    from backend.db import db

    with app.app_context():
        names = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
        with guards_off(db.session):  # the ledger refuses TRUNCATE (superuser in tests)
            db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        db.session.commit()
        db.session.remove()


@pytest.fixture(scope="module")
def role_headers(app) -> dict:
    """A token of every role, made over the HTTP API once for the whole module."""
    from backend.extensions import limiter

    _truncate(app)
    limiter.reset()
    client = app.test_client()
    # staff holding every role, so the fuzzing gets past the role check everywhere
    helpers.make_staff(app, "fuzzstaff", "staff-password", roles=STAFF_ROLES)
    staff = helpers.bearer(helpers.login(client, "fuzzstaff", "staff-password")["access_token"])
    helpers.load_catalogue(client, staff)
    resident = helpers.register_resident(client)["headers"]
    operator = helpers.operator_headers(client, staff, "SIP-S-METRO")
    r = client.post(
        "/api/v1/admin/organizations",
        json={"name": "Fuzz merchant", "kind": "merchant", "credit_code": helpers.credit_code()},
        headers=staff,
    )
    assert r.status_code == 201, r.get_json()
    r = client.post(
        "/api/v1/admin/merchant-users",
        json={
            "organization_id": r.get_json()["id"],
            "login": "fuzzshop",
            "password": "shop-pass-1",
        },
        headers=staff,
    )
    assert r.status_code == 201, r.get_json()
    merchant = helpers.bearer(helpers.login(client, "fuzzshop", "shop-pass-1")["access_token"])
    # Something in the mall, so that item and order ids can name a real row.
    r = client.post(
        "/api/v1/merchant/items",
        json={"title": "Fuzz tea", "points_price": 10, "stock": 5},
        headers=merchant,
    )
    assert r.status_code == 201, r.get_json()
    yield {"staff": staff, "resident": resident, "operator": operator, "merchant": merchant}
    _truncate(app)


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    from backend.extensions import limiter

    limiter.reset()


@pytest.fixture()
def _subjects_restored(app):
    """The fuzzer may disable, freeze, sign out or rotate the very logins it calls with:
    give them back before each operation, so each one is fuzzed past the guard."""
    from backend.db import db

    with app.app_context():
        for sql in (
            "UPDATE users SET active = true, frozen = false, token_gen = 0",
            "UPDATE operator_clients SET active = true, token_gen = 0",
            "UPDATE organizations SET status = 'active'",
            "UPDATE accounts SET frozen = false",
        ):
            db.session.execute(text(sql))
        db.session.commit()
        db.session.remove()


def test_every_secured_operation_is_called_with_a_role():
    """A new protected prefix must be added to ROLE_PREFIXES, or its fuzzing would stop
    at the 401 and test nothing behind it."""
    operations = [
        (method.upper(), path, op)
        for path, item in DOCUMENT["paths"].items()
        for method, op in item.items()
        if method in HTTP_METHODS
    ]
    assert len(operations) >= 15
    unmapped = [f"{m} {p}" for m, p, op in operations if op.get("security") and not role_for(p)]
    assert unmapped == []
    # The staff, resident and operator surfaces are in the document (and so fuzzed).
    paths = set(DOCUMENT["paths"])
    for needed in ("/api/v1/auth/login", "/api/v1/admin/organizations", "/api/v1/me"):
        assert needed in paths


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_conforms(case, app, role_headers, _subjects_restored):
    role = role_for(case.operation.path)
    headers = dict(role_headers[role]) if role else {}
    case.call_and_validate(app=app, headers=headers, checks=CHECKS)
