"""Bad input that used to answer 500, and the headers every answer carries: a JSON body
nested 10,000 deep is 400 `malformed_json` on every JSON route (no traceback logged); a
body that is not sent as JSON to a JSON route is 415; a PATCH that changes nothing is
422; every answer has `X-Content-Type-Options: nosniff` and a restrictive CSP. The
JSON routes come from the app's own OpenAPI document."""

from __future__ import annotations

import logging
import re

import pytest

from backend.auth.roles import STAFF_ROLES
from tests import helpers

DEEP = "[" * 10_000 + "]" * 10_000
DEEP_OBJECT = '{"a":' * 10_000 + "1" + "}" * 10_000
UNDER_THE_RECURSION_LIMIT = "[" * 900 + "]" * 900
API_CSP = "default-src 'none'; frame-ancestors 'none'"


def _fill(path: str, params: dict) -> str:
    def one(match):
        kind = params.get(match.group(1), {}).get("schema", {}).get("type")
        return "1" if kind == "integer" else "x"

    return re.sub(r"\{(\w+)\}", one, path)


def _json_operations(client) -> list[tuple[str, str, dict]]:
    document = client.get("/api/openapi.json").get_json()
    out = []
    for path, item in document["paths"].items():
        params = {p["name"]: p for p in item.get("parameters", [])}
        for method, op in item.items():
            if method == "parameters" or "requestBody" not in op:
                continue
            if "application/json" in op["requestBody"]["content"]:
                out.append((method, _fill(path, params), op))
    return out


@pytest.fixture()
def callers(app, client) -> dict:
    """A token for every kind of caller (staff holding every role)."""
    helpers.make_staff(app, "everything", "staff-password", roles=STAFF_ROLES)
    staff = helpers.bearer(helpers.login(client, "everything", "staff-password")["access_token"])
    helpers.load_catalogue(client, staff)
    from tests.mall_helpers import make_merchant
    from tests.registry_helpers import organization

    return {
        "org": organization(client, staff, "project_owner")["headers"],
        "staff": staff,
        "resident": helpers.register_resident(client)["headers"],
        "operator": helpers.operator_headers(client, staff, "SIP-S-METRO"),
        "merchant": make_merchant(client, staff)["headers"],
    }


def _headers_for(op: dict, callers: dict) -> dict:
    if "x-roles" in op:
        return callers["staff"]
    kinds = op.get("x-callers") or []
    if not kinds:
        return {}
    # a merchant's till login is an organisation user too
    return callers["merchant"] if kinds[0] == "org" else callers[kinds[0]]


def test_a_json_body_nested_10000_deep_is_400_on_every_json_route(app, client, callers, caplog):
    caplog.set_level(logging.INFO)
    operations = _json_operations(client)
    assert len(operations) >= 15
    for method, url, op in operations:
        for body in (DEEP, DEEP_OBJECT, UNDER_THE_RECURSION_LIMIT):
            r = getattr(client, method)(
                url,
                data=body,
                headers={**_headers_for(op, callers), "Content-Type": "application/json"},
            )
            assert r.status_code == 400, (
                method,
                url,
                r.status_code,
                r.get_data(as_text=True)[:200],
            )
            assert r.get_json()["code"] == "malformed_json", (method, url)
    assert not [rec for rec in caplog.records if rec.levelno >= logging.ERROR or rec.exc_info]
    # a sane body still works
    r = client.post("/api/v1/auth/login", json={"login": "nobody-here", "password": "x"})
    assert r.status_code == 401


def test_a_body_not_sent_as_json_to_a_json_route_is_415(app, client, callers):
    for method, url, op in _json_operations(client):
        headers = _headers_for(op, callers)
        for kwargs in (
            {"data": '{"a": 1}', "content_type": "text/plain"},
            {"data": {"a": "1"}},  # a form
            {},  # no body at all
        ):
            r = getattr(client, method)(url, headers=headers, **kwargs)
            assert r.status_code == 415, (method, url, kwargs, r.status_code)
            assert r.get_json()["code"] == "unsupported_media_type"


@pytest.mark.sqlite
def test_patch_me_without_json_is_415_an_empty_patch_is_422_and_nothing_changes(app, client):
    resident = helpers.register_resident(client)
    h = resident["headers"]
    before = client.get("/api/v1/me", headers=h).get_json()
    for kwargs in (
        {"data": "display_name=Mallory", "content_type": "text/plain"},
        {"data": {"display_name": "Mallory", "auto_convert": "false"}},
        {},
    ):
        r = client.patch("/api/v1/me", headers=h, **kwargs)
        assert (r.status_code, r.get_json()["code"]) == (415, "unsupported_media_type"), kwargs
    for empty in ({}, None):
        r = (
            client.patch("/api/v1/me", json=empty, headers=h)
            if empty is not None
            else client.patch("/api/v1/me", data="", content_type="application/json", headers=h)
        )
        assert (r.status_code, r.get_json()["code"]) == (422, "validation_failed")
    assert client.get("/api/v1/me", headers=h).get_json() == before
    r = client.patch("/api/v1/me", json={"display_name": "Alice"}, headers=h)
    assert r.status_code == 200 and r.get_json()["display_name"] == "Alice"
    # charset parameters and +json types are JSON too
    r = client.patch(
        "/api/v1/me",
        data='{"auto_convert": false}',
        content_type="application/json; charset=utf-8",
        headers=h,
    )
    assert r.status_code == 200 and r.get_json()["auto_convert"] is False


@pytest.mark.sqlite
def test_every_answer_says_nosniff_with_a_restrictive_csp(app, client):
    resident = helpers.register_resident(client)
    answers = [
        client.get("/api/v1/me", headers=resident["headers"]),
        client.get("/api/v1/public/stats"),
        client.get("/api/v1/nope"),
        client.post("/api/v1/auth/login", json={}),
        client.get("/api/openapi.json"),
        client.get("/healthz"),
    ]
    for r in answers:
        assert r.headers["X-Content-Type-Options"] == "nosniff", r.request.path
        assert r.headers["Content-Security-Policy"] == API_CSP, r.request.path
    docs = client.get("/api/docs")  # an HTML page: its own CSP, still this site's only
    assert docs.headers["X-Content-Type-Options"] == "nosniff"
    csp = docs.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "http" not in csp  # nothing from another site (no CDN)
    assert "frame-ancestors 'none'" in docs.headers["Content-Security-Policy"]


def test_a_view_that_sets_its_own_csp_keeps_it(database_url):
    from flask import Response

    from backend.app import create_app

    page = "default-src 'self'; img-src 'self' data:"
    own = create_app("test", {"DATABASE_URL": database_url, "REDIS_URL": None, "TESTING": True})

    @own.route("/verify/page")
    def verify_page():
        resp = Response("<html></html>", mimetype="text/html")
        resp.headers["Content-Security-Policy"] = page
        return resp

    r = own.test_client().get("/verify/page")
    assert r.headers["Content-Security-Policy"] == page
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    with own.app_context():
        from backend.db import db

        db.engine.dispose()
