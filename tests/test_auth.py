"""Auth over HTTP: registering, logging in, refresh rotation and reuse detection,
logout, operator client credentials, what access tokens are refused, roles, the login
rate limit, and how passwords and phone numbers are stored."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import warnings

import jwt
import pytest
from sqlalchemy import text

from tests import helpers

REGISTER = "/api/v1/auth/register"
LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
TOKEN = "/api/v1/auth/token"
STAFF_ROUTE = "/api/v1/admin/organizations"
ME = "/api/v1/me"


def assert_problem(r, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True))
    assert r.mimetype == "application/problem+json"
    body = json.loads(r.get_data(as_text=True))
    assert {"type", "title", "status", "detail", "code"} <= set(body)
    assert body["status"] == status
    if code is not None:
        assert body["code"] == code, body
    return body


def assert_token_pair(body: dict, app) -> dict:
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == app.config["ACCESS_TOKEN_SECONDS"] == 15 * 60
    assert body["access_token"] != body["refresh_token"]
    return jwt.decode(
        body["access_token"],
        app.config["JWT_SECRET"],
        algorithms=[app.config["JWT_ALGORITHM"]],
        audience=app.config["JWT_AUDIENCE"],
        issuer=app.config["JWT_ISSUER"],
    )


# -- registering ------------------------------------------------------------------


@pytest.mark.sqlite
def test_register_answers_201_with_an_id_and_refuses_a_second_time(client):
    phone = helpers.phone()
    r = client.post(REGISTER, json={"phone": phone, "password": "long-enough", "display_name": "A"})
    assert r.status_code == 201, r.get_json()
    assert set(r.get_json()) == {"id"}
    assert isinstance(r.get_json()["id"], int)
    again = client.post(REGISTER, json={"phone": phone, "password": "another-one"})
    assert_problem(again, 409, "phone_taken")


@pytest.mark.parametrize(
    "body, field",
    [
        ({"phone": "12912345678", "password": "long-enough"}, "phone"),  # 2nd digit 2
        ({"phone": "1391234567", "password": "long-enough"}, "phone"),  # 10 digits
        ({"phone": "139123456789", "password": "long-enough"}, "phone"),  # 12 digits
        ({"phone": "+8613912345678", "password": "long-enough"}, "phone"),
        ({"phone": "85291234567", "password": "long-enough"}, "phone"),  # Hong Kong
        ({"phone": "13912345678", "password": "short12"}, "password"),  # 7 chars
        ({"phone": "13912345678", "password": "long-enough", "role": "staff"}, "role"),
        ({"password": "long-enough"}, "phone"),
    ],
)
def test_register_refuses_bad_input_with_422_naming_the_field(client, body, field):
    r = client.post(REGISTER, json=body)
    problem = assert_problem(r, 422)
    assert field in problem["errors"], problem
    assert (
        client.post(LOGIN, json={"login": "13912345678", "password": "long-enough"}).status_code
        == 401
    )


# -- logging in -------------------------------------------------------------------


@pytest.mark.sqlite
def test_login_by_phone_gives_a_resident_token_pair(app, client):
    phone = helpers.phone()
    r = client.post(REGISTER, json={"phone": phone, "password": "resident-pass"})
    user_id = r.get_json()["id"]
    r = client.post(LOGIN, json={"login": phone, "password": "resident-pass"})
    assert r.status_code == 200, r.get_json()
    claims = assert_token_pair(r.get_json(), app)
    assert claims["role"] == "resident"
    assert claims["sub"] == str(user_id)
    assert 0 < claims["exp"] - time.time() <= 15 * 60 + 5
    me = client.get(ME, headers=helpers.bearer(r.get_json()["access_token"]))
    assert me.status_code == 200
    assert me.get_json()["id"] == user_id


@pytest.mark.sqlite
def test_login_by_staff_login_gives_a_staff_token_pair(app, client):
    helpers.make_staff(app, "clerk", "clerk-password")
    body = helpers.login(client, "clerk", "clerk-password")
    claims = assert_token_pair(body, app)
    assert claims["role"] == "staff"
    assert claims["roles"] == ["admin"]
    r = client.get(STAFF_ROUTE, headers=helpers.bearer(body["access_token"]))
    assert r.status_code == 200


@pytest.mark.sqlite
def test_wrong_password_and_unknown_login_are_the_same_401(app, client):
    resident = helpers.register_resident(client)
    helpers.make_staff(app, "clerk", "clerk-password")
    attempts = [
        {"login": resident["phone"], "password": "not-the-password"},
        {"login": "clerk", "password": "not-the-password"},
        {"login": "nobody-here", "password": "clerk-password"},
        {"login": helpers.phone(), "password": "resident-pass"},
    ]
    details = set()
    for body in attempts:
        problem = assert_problem(client.post(LOGIN, json=body), 401, "bad_credentials")
        details.add(problem["detail"])
    assert len(details) == 1  # nothing tells which half was wrong


# -- refresh tokens ---------------------------------------------------------------


@pytest.mark.sqlite
def test_refresh_rotates_the_pair_and_spends_the_old_refresh_token(app, client):
    first = helpers.register_resident(client)["tokens"]
    r = client.post(REFRESH, json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200, r.get_json()
    second = r.get_json()
    assert_token_pair(second, app)
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert client.get(ME, headers=helpers.bearer(second["access_token"])).status_code == 200
    # The new refresh token works in turn.
    r = client.post(REFRESH, json={"refresh_token": second["refresh_token"]})
    assert r.status_code == 200
    assert_token_pair(r.get_json(), app)


@pytest.mark.sqlite
def test_reusing_a_spent_refresh_token_revokes_the_whole_family(app, client):
    first = helpers.register_resident(client)["tokens"]
    second = client.post(REFRESH, json={"refresh_token": first["refresh_token"]}).get_json()
    reused = client.post(REFRESH, json={"refresh_token": first["refresh_token"]})
    assert_problem(reused, 401, "refresh_token_reused")
    # The newer token of the same family is refused too: the revocation was kept.
    newer = client.post(REFRESH, json={"refresh_token": second["refresh_token"]})
    assert_problem(newer, 401, "bad_refresh_token")
    with app.app_context():
        from backend.db import db

        live = db.session.execute(
            text("SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NULL")
        ).scalar()
        db.session.remove()
    assert live == 0


def test_reuse_revokes_only_that_family(app, client):
    resident = helpers.register_resident(client)
    phone_session = resident["tokens"]
    tablet_session = helpers.login(client, resident["phone"], "resident-pass")
    client.post(REFRESH, json={"refresh_token": phone_session["refresh_token"]})
    client.post(REFRESH, json={"refresh_token": phone_session["refresh_token"]})  # reuse
    r = client.post(REFRESH, json={"refresh_token": tablet_session["refresh_token"]})
    assert r.status_code == 200


def test_unknown_refresh_token_is_401(client):
    assert_problem(
        client.post(REFRESH, json={"refresh_token": "never-issued"}), 401, "bad_refresh_token"
    )


@pytest.mark.sqlite
def test_logout_revokes_the_refresh_token(client):
    tokens = helpers.register_resident(client)["tokens"]
    r = client.post(LOGOUT, json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 204
    assert r.get_data() == b""
    assert_problem(
        client.post(REFRESH, json={"refresh_token": tokens["refresh_token"]}),
        401,
        "bad_refresh_token",
    )
    # Logging out an unknown token says nothing about it.
    assert client.post(LOGOUT, json={"refresh_token": "never-issued"}).status_code == 204


# -- operator client credentials --------------------------------------------------


def test_operator_client_credentials(app, client):
    staff = helpers.staff_headers(app, client)
    helpers.load_catalogue(client, staff)
    org_id = helpers.scenario_operator_org(client, staff, "SIP-S-METRO")
    r = client.post(
        "/api/v1/admin/operator-clients",
        json={"organization_id": org_id, "scenario_code": "SIP-S-METRO"},
        headers=staff,
    )
    assert r.status_code == 201, r.get_json()
    creds = r.get_json()
    r = client.post(TOKEN, json=creds)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert set(body) == {"access_token", "token_type", "expires_in"}  # no refresh token
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 15 * 60
    claims = jwt.decode(
        body["access_token"],
        app.config["JWT_SECRET"],
        algorithms=["HS256"],
        audience=app.config["JWT_AUDIENCE"],
        issuer=app.config["JWT_ISSUER"],
    )
    assert claims["role"] == "operator"
    assert claims["sub"] == creds["client_id"]
    assert claims["org"] == org_id
    operator = helpers.bearer(body["access_token"])
    r = client.post("/api/v1/operator/bind-tokens", json={"user_ref": "u-1"}, headers=operator)
    assert r.status_code == 201
    assert_problem(client.get(STAFF_ROUTE, headers=operator), 403, "forbidden")

    wrong = {"client_id": creds["client_id"], "client_secret": creds["client_secret"] + "x"}
    assert_problem(client.post(TOKEN, json=wrong), 401, "bad_credentials")
    unknown = {"client_id": "op_unknown", "client_secret": creds["client_secret"]}
    assert_problem(client.post(TOKEN, json=unknown), 401, "bad_credentials")
    # A client secret is no password: it does not log in as a user.
    assert_problem(
        client.post(LOGIN, json={"login": creds["client_id"], "password": creds["client_secret"]}),
        401,
        "bad_credentials",
    )


# -- access tokens that are refused -----------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _valid_claims(app, client) -> tuple[dict, dict]:
    """Claims of a real staff token, and the token pair it came in."""
    helpers.make_staff(app, "clerk", "clerk-password")
    pair = helpers.login(client, "clerk", "clerk-password")
    claims = jwt.decode(
        pair["access_token"],
        app.config["JWT_SECRET"],
        algorithms=["HS256"],
        audience=app.config["JWT_AUDIENCE"],
        issuer=app.config["JWT_ISSUER"],
    )
    return claims, pair


def _forge(app, claims: dict, **changes) -> str:
    c = {**claims, **changes}
    for key in [k for k, v in changes.items() if v is None]:
        del c[key]
    return jwt.encode(c, app.config["JWT_SECRET"], algorithm="HS256")


@pytest.mark.sqlite
def test_a_well_formed_token_signed_with_the_secret_is_accepted(app, client):
    """The control for the refusals below: a token built the same way, unchanged, works."""
    claims, _ = _valid_claims(app, client)
    token = _forge(app, claims, jti="forged-but-valid", exp=int(time.time()) + 60)
    assert client.get(STAFF_ROUTE, headers=helpers.bearer(token)).status_code == 200


BAD_TOKENS = [
    "expired",
    "tampered_payload",
    "other_secret",
    "alg_none",
    "hs512_same_secret",
    "wrong_audience",
    "wrong_issuer",
    "missing_exp",
    "refresh_token",
    "garbage",
    "empty_segments",
    "unknown_role",
]


def _bad_token(kind: str, app, claims: dict, pair: dict) -> str:
    secret = app.config["JWT_SECRET"]
    now = int(time.time())
    if kind == "expired":
        return _forge(app, claims, iat=now - 3600, nbf=now - 3600, exp=now - 1800)
    if kind == "tampered_payload":
        header, _, signature = pair["access_token"].split(".")
        payload = _b64(json.dumps({**claims, "roles": ["admin", "auditor"]}).encode())
        return f"{header}.{payload}.{signature}"
    if kind == "other_secret":
        return jwt.encode(claims, "another-secret-" + "y" * 40, algorithm="HS256")
    if kind == "alg_none":
        header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
        return f"{header}.{_b64(json.dumps(claims).encode())}."
    if kind == "hs512_same_secret":
        with warnings.catch_warnings():  # the test secret is short for HS512; no matter
            warnings.simplefilter("ignore")
            return jwt.encode(claims, secret, algorithm="HS512")
    if kind == "wrong_audience":
        return _forge(app, claims, aud="someone-else")
    if kind == "wrong_issuer":
        return _forge(app, claims, iss="https://evil.example")
    if kind == "missing_exp":
        return _forge(app, claims, exp=None)
    if kind == "refresh_token":
        return pair["refresh_token"]
    if kind == "garbage":
        return "not-a-jwt-at-all"
    if kind == "empty_segments":
        return ".."
    if kind == "unknown_role":
        return _forge(app, claims, role="superuser")
    raise AssertionError(kind)


def test_bad_access_tokens_are_401_problems(app, client):
    claims, pair = _valid_claims(app, client)
    for kind in BAD_TOKENS:
        bad = _bad_token(kind, app, claims, pair)
        r = client.get(STAFF_ROUTE, headers=helpers.bearer(bad))
        problem = assert_problem(r, 401)
        expected = "token_expired" if kind == "expired" else "bad_token"
        assert problem["code"] == expected, kind
    # ...while the genuine token of the same login is still accepted.
    assert client.get(STAFF_ROUTE, headers=helpers.bearer(pair["access_token"])).status_code == 200


def test_no_token_and_other_schemes_are_401(app, client):
    token = _valid_claims(app, client)[1]["access_token"]
    assert_problem(client.get(STAFF_ROUTE), 401, "missing_token")
    assert_problem(
        client.get(STAFF_ROUTE, headers={"Authorization": f"Basic {token}"}), 401, "missing_token"
    )
    assert_problem(client.get(STAFF_ROUTE, headers={"Authorization": "Bearer "}), 401)
    assert client.get(STAFF_ROUTE, headers={"Authorization": f"bearer {token}"}).status_code == 200


@pytest.mark.sqlite
def test_a_resident_calling_a_staff_route_is_403(client):
    resident = helpers.register_resident(client)
    r = client.get(STAFF_ROUTE, headers=resident["headers"])
    assert_problem(r, 403, "forbidden")
    r = client.post(
        STAFF_ROUTE,
        json={"name": "X", "kind": "other", "credit_code": helpers.credit_code()},
        headers=resident["headers"],
    )
    assert_problem(r, 403, "forbidden")


# -- the login rate limit ---------------------------------------------------------


def test_hammering_login_is_rate_limited_with_429(database_url, redis_url):
    """A separate app allowing 3 logins a minute, counting in the real Redis."""
    from backend.app import create_app
    from backend.extensions import limiter

    limited = create_app(
        "test",
        {
            "DATABASE_URL": database_url,
            "RATELIMIT_STORAGE_URI": redis_url,
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_AUTH": "3 per minute",
            "TESTING": True,
        },
    )
    limiter.reset()
    try:
        c = limited.test_client()
        statuses = []
        for _ in range(8):
            r = c.post(LOGIN, json={"login": "nobody-here", "password": "whatever-1"})
            statuses.append(r.status_code)
        assert statuses[:3] == [401, 401, 401]
        assert set(statuses[3:]) == {429}
        problem = assert_problem(r, 429, "rate_limited")
        assert problem["detail"]
        assert int(r.headers["Retry-After"]) > 0
    finally:
        limiter.reset()
        with limited.app_context():
            from backend.db import db

            db.engine.dispose()


# -- storage of secrets and phone numbers -----------------------------------------


@pytest.mark.sqlite
def test_passwords_are_argon2id_and_phones_are_not_stored_in_clear(app, client):
    phone = "13900001234"
    r = client.post(REGISTER, json={"phone": phone, "password": "resident-pass"})
    assert r.status_code == 201
    helpers.make_staff(app, "clerk", "clerk-password")
    with app.app_context():
        from backend.db import db

        rows = [dict(row._mapping) for row in db.session.execute(text("SELECT * FROM users")).all()]
        db.session.remove()
    assert len(rows) == 2
    for row in rows:
        assert row["password_hash"].startswith("$argon2id$"), row["password_hash"][:12]
        assert "resident-pass" not in row["password_hash"]
    resident = next(row for row in rows if row["kind"] == "resident")
    assert resident["phone_masked"] == "139****1234"
    assert resident["login"] is None
    # A keyed hash: not the plain SHA-256 anyone could compute from a phone list.
    assert resident["phone_hash"] != hashlib.sha256(phone.encode()).hexdigest()
    assert len(resident["phone_hash"]) == 64
    for row in rows:
        for column, value in row.items():
            assert phone not in str(value), column
            assert phone[3:] not in str(value), column
    # ...and the masked form is what the resident sees.
    tokens = helpers.login(client, phone, "resident-pass")
    assert client.get(ME, headers=helpers.bearer(tokens["access_token"])).get_json()["phone"] == (
        "139****1234"
    )
