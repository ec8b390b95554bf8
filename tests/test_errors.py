"""Every refusal is an RFC 9457 problem document, never a 500; and the request log:
one line per request with a request id, and never a phone, a password or a token."""

from __future__ import annotations

import json
import logging
import re

import pytest

from tests import helpers

LOGIN = "/api/v1/auth/login"
REGISTER = "/api/v1/auth/register"
ORGS = "/api/v1/admin/organizations"
IMPORT = "/api/v1/admin/catalogue/import"


def assert_problem(r, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True))
    assert r.headers["Content-Type"] == "application/problem+json"
    body = json.loads(r.get_data(as_text=True))
    assert {"type", "title", "status", "detail", "code"} <= set(body), body
    assert body["status"] == status
    assert body["type"].endswith("/" + body["code"])
    assert body["title"] and body["detail"]
    if code is not None:
        assert body["code"] == code, body
    return body


# -- problem documents ------------------------------------------------------------


@pytest.mark.sqlite
@pytest.mark.parametrize(
    "path", ["/api/v1/nope", "/nope", "/api/v1/admin/nope", "/api/v2/auth/login"]
)
def test_unknown_route_is_404_not_found(client, path):
    assert_problem(client.get(path), 404, "not_found")
    assert_problem(client.post(path, json={}), 404, "not_found")


@pytest.mark.sqlite
@pytest.mark.parametrize(
    "method, path, allowed",
    [
        ("get", LOGIN, {"POST"}),
        ("put", REGISTER, {"POST"}),
        ("delete", "/healthz", {"GET"}),
        ("patch", ORGS, {"GET", "POST"}),
        ("post", "/api/v1/public/scenarios", {"GET"}),
    ],
)
def test_wrong_method_is_405_with_allow(client, method, path, allowed):
    r = getattr(client, method)(path)
    assert_problem(r, 405, "method_not_allowed")
    assert allowed <= {m.strip() for m in r.headers["Allow"].split(",")}


@pytest.mark.sqlite
@pytest.mark.parametrize(
    "raw",
    ['{"login": "a", "password": ', "{bad", "{'login': 'a'}", "\xff\xfe{}", "[1, 2,]", "NaN]"],
)
def test_malformed_json_is_400_malformed_json(client, raw):
    data = raw.encode("latin-1")
    r = client.post(LOGIN, data=data, content_type="application/json")
    problem = assert_problem(r, 400, "malformed_json")
    assert "errors" not in problem


def test_malformed_json_to_a_hand_parsed_route_is_400_too(app, client):
    staff = helpers.staff_headers(app, client)
    r = client.post(IMPORT, data="{bad", content_type="application/json", headers=staff)
    assert_problem(r, 400, "malformed_json")


@pytest.mark.sqlite
@pytest.mark.parametrize("body", [[], [{"login": "a", "password": "b"}], "text", 7, True, None])
def test_json_that_is_not_an_object_is_422(client, body):
    r = client.post(LOGIN, data=json.dumps(body), content_type="application/json")
    problem = assert_problem(r, 422, "validation_failed")
    assert problem["errors"]


@pytest.mark.sqlite
@pytest.mark.parametrize(
    "path, body, fields",
    [
        (LOGIN, {"login": 139, "password": True}, {"login", "password"}),
        (LOGIN, {"login": ["a"], "password": {"p": 1}}, {"login", "password"}),
        (REGISTER, {"phone": 13912345678, "password": "long-enough"}, {"phone"}),
        (REGISTER, {"phone": "13912345678", "password": 12345678}, {"password"}),
        (
            REGISTER,
            {"phone": "13912345678", "password": "long-enough", "display_name": 5},
            {"display_name"},
        ),
        ("/api/v1/auth/refresh", {"refresh_token": None}, {"refresh_token"}),
    ],
)
def test_wrong_types_are_422_naming_each_field(client, path, body, fields):
    problem = assert_problem(client.post(path, json=body), 422, "validation_failed")
    assert set(problem["errors"]) == fields
    for messages in problem["errors"].values():
        assert messages and all(isinstance(m, str) for m in messages)


def test_wrong_types_on_staff_routes_name_the_field(app, client):
    staff = helpers.staff_headers(app, client)
    r = client.post(ORGS, json={"name": ["x"], "kind": "other", "credit_code": 9}, headers=staff)
    problem = assert_problem(r, 422)
    assert set(problem["errors"]) == {"name", "credit_code"}
    r = client.post(
        "/api/v1/admin/merchant-users",
        json={"organization_id": 1.5, "login": "till-1", "password": "till-password"},
        headers=staff,
    )
    assert "organization_id" in assert_problem(r, 422)["errors"]


@pytest.mark.sqlite
def test_a_form_body_to_a_json_route_is_415_not_500(client):
    """(It was 422: a JSON route now refuses any body that is not JSON; issue 8.)"""
    r = client.post(LOGIN, data={"login": "a", "password": "b"})
    assert_problem(r, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    "path, body, field",
    [
        (LOGIN, {"login": "clerk\u0000", "password": "x"}, "login"),
        (REGISTER, {"phone": "13912345678", "password": "pass\u0000word"}, "password"),
        ("/api/v1/auth/refresh", {"refresh_token": "\u0000"}, "refresh_token"),
    ],
)
def test_nul_characters_are_422_not_a_database_error(client, path, body, field):
    problem = assert_problem(client.post(path, json=body), 422)
    assert field in problem["errors"]


def test_nul_in_a_query_and_ids_beyond_64_bits_are_refused_not_500(app, client):
    staff = helpers.staff_headers(app, client)
    assert (
        "credit_code"
        in assert_problem(client.get(f"{ORGS}?credit_code=%00", headers=staff), 422)["errors"]
    )
    r = client.post(
        "/api/v1/admin/merchant-users",
        json={"organization_id": 2**63, "login": "till-1", "password": "till-password"},
        headers=staff,
    )
    assert "organization_id" in assert_problem(r, 422)["errors"]
    resident = helpers.register_resident(client)
    assert_problem(client.delete(f"/api/v1/me/consents/{2**63}", headers=resident["headers"]), 404)
    assert_problem(
        client.delete(f"/api/v1/me/consents/{2**63 - 1}", headers=resident["headers"]), 404
    )
    # A NUL in a string path part matches no route.
    helpers.load_catalogue(client, staff)
    operator = helpers.operator_headers(client, staff)
    assert_problem(client.get("/api/v1/operator/batches/%00", headers=operator), 404)
    assert_problem(client.get("/api/v1/operator/batches/a%00b", headers=operator), 404)


@pytest.fixture()
def small_app(database_url, redis_url):
    """The app with a 1 KiB body limit (the default is 16 MiB)."""
    from backend.app import create_app

    small = create_app(
        "test",
        {
            "DATABASE_URL": database_url,
            "RATELIMIT_STORAGE_URI": redis_url,
            "MAX_CONTENT_LENGTH": 1024,
            "TESTING": True,
        },
    )
    yield small
    with small.app_context():
        from backend.db import db

        db.engine.dispose()


def test_a_body_over_max_content_length_is_413(small_app, clean):
    c = small_app.test_client()
    big = {"login": "x" * 2048, "password": "y"}
    assert_problem(c.post(LOGIN, json=big), 413, "payload_too_large")
    assert_problem(
        c.post(REGISTER, data="z" * 4096, content_type="application/json"), 413, "payload_too_large"
    )
    staff = helpers.staff_headers(small_app, c)
    r = c.post(
        IMPORT, data=json.dumps({"pad": "p" * 4096}), content_type="application/json", headers=staff
    )
    assert_problem(r, 413, "payload_too_large")
    # Just under the limit is parsed as usual.
    r = c.post(LOGIN, json={"login": "x" * 64, "password": "y" * 100})
    assert_problem(r, 401, "bad_credentials")


@pytest.mark.sqlite
def test_unsupported_media_type_on_a_hand_parsed_route_is_a_problem(app, client):
    staff = helpers.staff_headers(app, client)
    r = client.post(IMPORT, data="conversion: 1", content_type="text/yaml", headers=staff)
    assert r.status_code in {415, 422}
    assert_problem(r, r.status_code)


# -- the request log --------------------------------------------------------------


def _request_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "backend.request"]


@pytest.mark.sqlite
def test_one_log_line_per_request_with_its_request_id(client, caplog):
    caplog.set_level(logging.INFO)
    phone = helpers.phone()
    responses = [
        client.post(REGISTER, json={"phone": phone, "password": "resident-pass"}),
        client.post(LOGIN, json={"login": phone, "password": "resident-pass"}),
    ]
    records = _request_records(caplog)
    assert len(records) == 2
    ids = []
    for record, response, (route, status) in zip(
        records, responses, [(REGISTER, 201), (LOGIN, 200)], strict=True
    ):
        fields = record.fields
        assert re.fullmatch(r"[0-9a-f]{32}", fields["request_id"])
        assert response.headers["X-Request-ID"] == fields["request_id"]
        assert fields["route"] == route
        assert fields["status"] == status
        assert fields["method"] == "POST"
        assert fields["ms"] >= 0
        ids.append(fields["request_id"])
    assert len(set(ids)) == 2
    # An authenticated call names the caller's kind and id, not who they are.
    token = responses[1].get_json()["access_token"]
    user_id = responses[0].get_json()["id"]
    client.get("/api/v1/me", headers=helpers.bearer(token))
    assert _request_records(caplog)[-1].fields["actor"] == f"resident:{user_id}"


@pytest.mark.sqlite
def test_an_incoming_request_id_is_kept_only_when_it_is_safe(client, caplog):
    caplog.set_level(logging.INFO)
    r = client.get("/healthz", headers={"X-Request-ID": "edge-1234abcd"})
    assert r.headers["X-Request-ID"] == "edge-1234abcd"
    assert _request_records(caplog)[-1].fields["request_id"] == "edge-1234abcd"
    for unsafe in ["short", "has space in it", "x" * 65, "a/b/c/d/e/f", "id;drop=1"]:
        r = client.get("/healthz", headers={"X-Request-ID": unsafe})
        assert re.fullmatch(r"[0-9a-f]{32}", r.headers["X-Request-ID"])
        assert _request_records(caplog)[-1].fields["request_id"] == r.headers["X-Request-ID"]


def test_the_log_never_holds_a_phone_a_password_or_a_token(app, client, caplog):
    from backend.request_log import JsonFormatter

    caplog.set_level(logging.DEBUG)
    phone = helpers.phone()
    password = "very-secret-pass"
    client.post(REGISTER, json={"phone": phone, "password": password})
    pair = client.post(LOGIN, json={"login": phone, "password": password}).get_json()
    client.post(LOGIN, json={"login": phone, "password": password + "-wrong"})
    again = client.post(
        "/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}
    ).get_json()
    client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})  # reuse
    client.get(f"/api/v1/me?phone={phone}", headers=helpers.bearer(again["access_token"]))
    client.post("/api/v1/auth/logout", json={"refresh_token": again["refresh_token"]})
    client.post(REGISTER, json={"phone": phone, "password": password})  # 409
    secrets = [
        phone,
        phone[3:],
        password,
        pair["access_token"],
        pair["refresh_token"],
        again["access_token"],
        again["refresh_token"],
        pair["access_token"].split(".")[2],  # the signature alone
    ]
    formatter = JsonFormatter()
    assert len(_request_records(caplog)) == 8
    for record in caplog.records:
        rendered = formatter.format(record) + repr(record.__dict__)
        for secret in secrets:
            assert secret not in rendered, (record.name, secret[:6])
