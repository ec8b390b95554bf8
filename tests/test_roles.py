"""Who may do what: the role x route matrix, generated from the app's own OpenAPI
document (so a route added later is covered without touching this file), and the
subject check every authenticated request makes (a subject that does not exist, is
disabled, or whose token generation moved on is refused at once)."""

from __future__ import annotations

import re
import time

import jwt
import pytest

from backend.auth.roles import STAFF_ROLES
from tests import helpers

HTTP_METHODS = ("get", "post", "put", "patch", "delete")
# Path arguments naming nothing: no call of the matrix can change anything.
MISSING_INT = "987654321"
MISSING_STR = "no-such-thing"


def _document(client) -> dict:
    r = client.get("/api/openapi.json")
    assert r.status_code == 200
    return r.get_json()


def _operations(document: dict):
    for path, item in document["paths"].items():
        params = {p["name"]: p for p in item.get("parameters", [])}
        for method in HTTP_METHODS:
            if method in item:
                yield method, path, item[method], params


def _url(path: str, params: dict) -> str:
    def fill(match):
        name = match.group(1)
        kind = params.get(name, {}).get("schema", {}).get("type")
        return MISSING_INT if kind == "integer" else MISSING_STR

    return re.sub(r"\{(\w+)\}", fill, path)


def _call(client, method: str, url: str, headers: dict):
    if method in ("get", "delete"):
        return getattr(client, method)(url, headers=headers)
    return getattr(client, method)(url, json={}, headers=headers)


@pytest.fixture()
def logins(app, client) -> dict:
    """A staff login per role (holding only that role), and one of each other kind."""
    out = {role: helpers.role_headers(app, client, role) for role in STAFF_ROLES}
    admin = out["admin"]
    helpers.load_catalogue(client, admin)
    out["resident"] = helpers.register_resident(client)["headers"]
    out["operator"] = helpers.operator_headers(client, admin, "SIP-S-METRO")
    r = client.post(
        "/api/v1/admin/organizations",
        json={"name": "Matrix shop", "kind": "merchant", "credit_code": helpers.credit_code()},
        headers=admin,
    )
    assert r.status_code == 201, r.get_json()
    r = client.post(
        "/api/v1/admin/merchant-users",
        json={
            "organization_id": r.get_json()["id"],
            "login": "matrixshop",
            "password": "shop-pass-1",
        },
        headers=admin,
    )
    assert r.status_code == 201, r.get_json()
    out["merchant"] = helpers.bearer(
        helpers.login(client, "matrixshop", "shop-pass-1")["access_token"]
    )
    return out


def test_every_staff_route_names_its_roles_and_the_auditor_reads_only(client):
    document = _document(client)
    admin_ops = [
        (m, p, op) for m, p, op, _ in _operations(document) if p.startswith("/api/v1/admin/")
    ]
    assert len(admin_ops) >= 25
    for method, path, op in admin_ops:
        roles = op.get("x-roles")
        assert roles, f"{method.upper()} {path} names no staff roles"
        assert set(roles) <= set(STAFF_ROLES), (path, roles)
        assert f"Staff roles: {', '.join(roles)}." in op["description"], path
        # the auditor reads every staff route and writes none
        assert ("auditor" in roles) == (method == "get"), (method, path, roles)
    # separation of duties: admin is no superuser, and no write is both admin's and finance's
    finance_writes = {(m, p) for m, p, op in admin_ops if m != "get" and "finance" in op["x-roles"]}
    admin_writes = {(m, p) for m, p, op in admin_ops if m != "get" and "admin" in op["x-roles"]}
    assert ("post", "/api/v1/admin/settlements/{batch_id}/approve") in finance_writes
    assert ("post", "/api/v1/admin/organizations/{org_id}/freeze") in admin_writes
    assert not finance_writes & admin_writes


def test_role_matrix_over_the_openapi_document(app, client, logins):
    """For every staff operation and every staff role: 403 exactly when the role is not
    admitted (the guard runs before the arguments are parsed), never 403 otherwise; and
    residents, merchants and operators are 403 on every staff route."""
    from backend.extensions import limiter

    document = _document(client)
    checked = 0
    for method, path, op, params in _operations(document):
        roles = op.get("x-roles")
        if not roles:
            continue
        url = _url(path, params)
        for role in STAFF_ROLES:
            limiter.reset()
            r = _call(client, method, url, logins[role])
            if role in roles:
                assert r.status_code != 403, (role, method, url, r.get_json())
                assert r.status_code < 500, (role, method, url, r.get_data(as_text=True))
            else:
                assert r.status_code == 403, (role, method, url, r.status_code)
                assert r.get_json()["code"] == "forbidden"
            checked += 1
        for kind in ("resident", "merchant", "operator"):
            r = _call(client, method, url, logins[kind])
            assert r.status_code == 403, (kind, method, url, r.status_code)
    assert checked >= 25 * len(STAFF_ROLES)


def test_only_the_roles_of_a_route_reach_it_for_real(app, client, logins):
    """The control of the matrix: an admitted role does the real thing."""
    r = client.get("/api/v1/admin/audit", headers=logins["auditor"])
    assert r.status_code == 200 and r.get_json()["items"]
    r = client.get("/api/v1/admin/reconciliation", headers=logins["finance"])
    assert r.status_code == 200 and r.get_json()["ok"] is True
    assert client.get("/api/v1/admin/reconciliation", headers=logins["admin"]).status_code == 403
    me = client.get("/api/v1/admin/me", headers=logins["expert"]).get_json()
    assert (me["kind"], me["roles"], me["organization"]) == ("staff", ["expert"], None)


# -- who am I ------------------------------------------------------------------------


def test_admin_creates_staff_with_roles_and_each_sees_who_they_are(app, client):
    admin = helpers.staff_headers(app, client)
    body = {"login": "treasurer", "password": "treasurer-pass", "roles": ["finance", "auditor"]}
    r = client.post("/api/v1/admin/staff", json=body, headers=admin)
    assert r.status_code == 201, r.get_json()
    created = r.get_json()
    assert created["roles"] == ["auditor", "finance"] and created["active"] is True
    assert "password" not in created
    r = client.post("/api/v1/admin/staff", json=body, headers=admin)
    assert (r.status_code, r.get_json()["code"]) == (409, "login_taken")
    bad = {**body, "login": "someone", "roles": ["superuser"]}
    assert client.post("/api/v1/admin/staff", json=bad, headers=admin).status_code == 422
    assert (
        client.post("/api/v1/admin/staff", json={**bad, "roles": []}, headers=admin).status_code
        == 422
    )
    treasurer = helpers.bearer(helpers.login(client, "treasurer", "treasurer-pass")["access_token"])
    me = client.get("/api/v1/admin/me", headers=treasurer).get_json()
    assert (me["id"], me["login"], me["roles"]) == (
        created["id"],
        "treasurer",
        ["auditor", "finance"],
    )
    # a finance login may not create staff (separation of duties)
    assert (
        client.post(
            "/api/v1/admin/staff", json={**body, "login": "x-y-z"}, headers=treasurer
        ).status_code
        == 403
    )
    listed = client.get("/api/v1/admin/staff", headers=treasurer).get_json()["items"]
    assert {s["login"] for s in listed} == {"staff1", "treasurer"}


def test_merchant_me_names_the_organisation(app, client):
    from tests.mall_helpers import make_merchant

    admin = helpers.staff_headers(app, client)
    shop = make_merchant(client, admin, "Tea House")
    me = client.get("/api/v1/merchant/me", headers=shop["headers"]).get_json()
    assert me["kind"] == "merchant" and me["roles"] == []
    assert me["organization"]["id"] == shop["org_id"]
    assert (me["organization"]["name"], me["organization"]["status"]) == ("Tea House", "active")
    resident = helpers.register_resident(client)
    assert client.get("/api/v1/merchant/me", headers=resident["headers"]).status_code == 403


# -- the subject check ---------------------------------------------------------------


def _forge(app, **claims) -> str:
    now = int(time.time())
    base = {
        "iss": app.config["JWT_ISSUER"],
        "aud": app.config["JWT_AUDIENCE"],
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": "forged",
        "gen": 0,
    }
    return jwt.encode({**base, **claims}, app.config["JWT_SECRET"], algorithm="HS256")


@pytest.mark.sqlite
def test_a_validly_signed_token_of_a_subject_that_does_not_exist_is_401(app, client):
    admin = helpers.staff_headers(app, client)
    helpers.load_catalogue(client, admin)
    scenario_org = helpers.scenario_operator_org(client, admin, "SIP-S-METRO")
    cases = [
        ("/api/v1/me", {"role": "resident", "sub": "424242"}),
        ("/api/v1/admin/organizations", {"role": "staff", "sub": "424242", "roles": ["admin"]}),
        ("/api/v1/merchant/balance", {"role": "merchant", "sub": "424242", "org": scenario_org}),
        (
            "/api/v1/operator/bind-tokens",
            {"role": "operator", "sub": "op_nobody", "org": scenario_org, "scn": 1},
        ),
    ]
    for url, claims in cases:
        headers = helpers.bearer(_forge(app, **claims))
        if "bind-tokens" in url:
            r = client.post(url, json={"user_ref": "someone"}, headers=headers)
        else:
            r = client.get(url, headers=headers)
        assert r.status_code == 401, (url, r.get_json())
        assert r.get_json()["code"] == "subject_inactive"
    # a resident's id in a staff token is not a staff member either
    resident = helpers.register_resident(client)
    staff_claims = {"role": "staff", "sub": str(resident["id"]), "roles": ["admin"]}
    r = client.get(
        "/api/v1/admin/organizations", headers=helpers.bearer(_forge(app, **staff_claims))
    )
    assert (r.status_code, r.get_json()["code"]) == (401, "subject_inactive")
    # the roles come from the database, not from the token
    staff_id = helpers.make_staff(app, "reader", "reader-pass", roles=("auditor",))
    claims = {"role": "staff", "sub": str(staff_id), "roles": ["admin"]}
    r = client.post(
        "/api/v1/admin/organizations",
        json={"name": "X", "kind": "other", "credit_code": helpers.credit_code()},
        headers=helpers.bearer(_forge(app, **claims)),
    )
    assert r.status_code == 403


@pytest.mark.sqlite
def test_disabling_cuts_access_tokens_at_once_and_enabling_needs_a_new_login(app, client):
    admin = helpers.staff_headers(app, client)
    resident = helpers.register_resident(client)
    assert client.get("/api/v1/me", headers=resident["headers"]).status_code == 200
    r = client.post(f"/api/v1/admin/residents/{resident['id']}/disable", headers=admin)
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == {
        "id": resident["id"],
        "kind": "resident",
        "active": False,
        "frozen": False,
    }
    r = client.get("/api/v1/me", headers=resident["headers"])
    assert (r.status_code, r.get_json()["code"]) == (401, "subject_inactive")
    refresh = resident["tokens"]["refresh_token"]
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": refresh}).status_code == 401
    r = client.post(
        "/api/v1/auth/login", json={"login": resident["phone"], "password": "resident-pass"}
    )
    assert r.status_code == 401
    assert (
        client.get(f"/api/v1/admin/residents/{resident['id']}", headers=admin).get_json()["active"]
        is False
    )

    r = client.post(f"/api/v1/admin/residents/{resident['id']}/enable", headers=admin)
    assert r.status_code == 200 and r.get_json()["active"] is True
    # the old tokens stay dead; a new login works
    assert client.get("/api/v1/me", headers=resident["headers"]).status_code == 401
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": refresh}).status_code == 401
    fresh = helpers.login(client, resident["phone"], "resident-pass")
    assert (
        client.get("/api/v1/me", headers=helpers.bearer(fresh["access_token"])).status_code == 200
    )
    # kinds are checked: a resident is no merchant user
    r = client.post(f"/api/v1/admin/merchant-users/{resident['id']}/disable", headers=admin)
    assert (r.status_code, r.get_json()["code"]) == (404, "merchant_not_found")


def test_staff_and_merchant_users_are_disabled_the_same_way(app, client):
    from tests.mall_helpers import make_merchant

    admin = helpers.staff_headers(app, client)
    shop = make_merchant(client, admin)
    other_admin_id = helpers.make_staff(app, "deputy", "deputy-pass", roles=("admin", "auditor"))
    deputy = helpers.bearer(helpers.login(client, "deputy", "deputy-pass")["access_token"])
    assert client.get("/api/v1/merchant/balance", headers=shop["headers"]).status_code == 200
    r = client.post(f"/api/v1/admin/merchant-users/{shop['user_id']}/disable", headers=deputy)
    assert r.status_code == 200
    assert client.get("/api/v1/merchant/balance", headers=shop["headers"]).status_code == 401
    r = client.post(f"/api/v1/admin/staff/{other_admin_id}/disable", headers=admin)
    assert r.status_code == 200
    assert client.get("/api/v1/admin/staff", headers=deputy).status_code == 401
    # nobody disables themselves (an admin cannot lock the platform out by accident)
    me = client.get("/api/v1/admin/me", headers=admin).get_json()
    r = client.post(f"/api/v1/admin/staff/{me['id']}/disable", headers=admin)
    assert (r.status_code, r.get_json()["code"]) == (409, "cannot_disable_self")
    assert client.get("/api/v1/admin/me", headers=admin).status_code == 200


@pytest.mark.sqlite
def test_a_resident_signs_out_everywhere(app, client):
    resident = helpers.register_resident(client)
    phone, password = resident["phone"], "resident-pass"
    other_device = helpers.login(client, phone, password)
    r = client.post("/api/v1/me/sign-out", headers=resident["headers"])
    assert r.status_code == 204
    for pair in (resident["tokens"], other_device):
        assert (
            client.get("/api/v1/me", headers=helpers.bearer(pair["access_token"])).status_code
            == 401
        )
        r = client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert r.status_code == 401
    fresh = helpers.login(client, phone, password)
    assert (
        client.get("/api/v1/me", headers=helpers.bearer(fresh["access_token"])).status_code == 200
    )


def test_rotating_and_disabling_an_operator_client(app, client):
    admin = helpers.staff_headers(app, client)
    helpers.load_catalogue(client, admin)
    org_id = helpers.scenario_operator_org(client, admin, "SIP-S-METRO")
    creds = client.post(
        "/api/v1/admin/operator-clients",
        json={"organization_id": org_id, "scenario_code": "SIP-S-METRO"},
        headers=admin,
    ).get_json()
    old = helpers.bearer(client.post("/api/v1/auth/token", json=creds).get_json()["access_token"])
    bind = {"user_ref": "u-1"}
    assert client.post("/api/v1/operator/bind-tokens", json=bind, headers=old).status_code == 201

    r = client.post(
        f"/api/v1/admin/operator-clients/{creds['client_id']}/rotate-secret", headers=admin
    )
    assert r.status_code == 200
    rotated = r.get_json()
    assert rotated["client_id"] == creds["client_id"]
    assert rotated["client_secret"] != creds["client_secret"]
    r = client.post("/api/v1/operator/bind-tokens", json=bind, headers=old)
    assert (r.status_code, r.get_json()["code"]) == (401, "subject_inactive")
    assert client.post("/api/v1/auth/token", json=creds).status_code == 401
    new = helpers.bearer(client.post("/api/v1/auth/token", json=rotated).get_json()["access_token"])
    assert client.post("/api/v1/operator/bind-tokens", json=bind, headers=new).status_code == 201
    listed = client.get(f"/api/v1/admin/operator-clients?organization_id={org_id}", headers=admin)
    assert [c["client_id"] for c in listed.get_json()["items"]] == [creds["client_id"]]
    assert "client_secret" not in listed.get_json()["items"][0]

    r = client.post(f"/api/v1/admin/operator-clients/{creds['client_id']}/disable", headers=admin)
    assert r.status_code == 200 and r.get_json()["active"] is False
    assert client.post("/api/v1/operator/bind-tokens", json=bind, headers=new).status_code == 401
    assert client.post("/api/v1/auth/token", json=rotated).status_code == 401
    r = client.post(f"/api/v1/admin/operator-clients/{creds['client_id']}/enable", headers=admin)
    assert r.status_code == 200 and r.get_json()["active"] is True
    assert client.post("/api/v1/operator/bind-tokens", json=bind, headers=new).status_code == 401
    assert client.post("/api/v1/auth/token", json=rotated).status_code == 200
    r = client.post("/api/v1/admin/operator-clients/op_missing/rotate-secret", headers=admin)
    assert (r.status_code, r.get_json()["code"]) == (404, "operator_client_not_found")
