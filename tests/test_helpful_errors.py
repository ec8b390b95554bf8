"""Errors that help an integrator: a 403 names the callers and roles a route is for; a
query parameter a route does not declare is 400 `unknown_parameter` (on every list, and
every other operation); the ledger answers both units when none is asked for."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from backend.auth.roles import STAFF_ROLES
from tests import helpers
from tests.mall_helpers import make_merchant

API = "/api/v1"


@pytest.mark.sqlite
def test_a_403_names_who_the_route_is_for(app, client):
    staff = helpers.staff_headers(app, client)
    merchant = make_merchant(client, staff)["headers"]
    r = client.get(f"{API}/me", headers=merchant)
    body = r.get_json()
    assert (r.status_code, body["code"]) == (403, "forbidden")
    assert body["callers"] == ["resident"] and body["roles"] == []
    assert "for residents" in body["detail"] and "merchant" in body["detail"]
    auditor = helpers.role_headers(app, client, "auditor")
    r = client.post(f"{API}/admin/settlements/1/approve", headers=auditor)
    body = r.get_json()
    assert (r.status_code, body["code"]) == (403, "forbidden")
    assert body["roles"] == ["finance"] and body["callers"] == ["staff"]
    assert "needs the staff role finance" in body["detail"] and "holds auditor" in body["detail"]
    r = client.get(f"{API}/admin/reconciliation", headers=staff)  # finance or auditor
    assert r.status_code == 403
    assert "needs one of the staff roles auditor, finance" in r.get_json()["detail"]


def test_an_undeclared_query_parameter_is_refused_on_every_list(app, client):
    helpers.make_staff(app, "all-roles", "staff-password", roles=STAFF_ROLES)
    staff = helpers.bearer(helpers.login(client, "all-roles", "staff-password")["access_token"])
    helpers.load_catalogue(client, staff)
    tokens = {
        "staff": staff,
        "resident": helpers.register_resident(client)["headers"],
        "operator": helpers.operator_headers(client, staff),
        "merchant": make_merchant(client, staff)["headers"],
    }
    tokens["org"] = tokens["merchant"]  # a merchant's till login is an organisation user
    document = client.get("/api/openapi.json").get_json()
    lists = 0
    for path, item in document["paths"].items():
        op = item.get("get")
        if op is None:
            continue
        url = re.sub(r"\{\w+\}", "1", path)
        callers = op.get("x-callers") or []
        headers = tokens[callers[0]] if callers else {}
        names = {p["name"] for p in op.get("parameters", []) if p.get("in") == "query"}
        lists += "cursor" in names
        declared = "&limit=5" if "limit" in names else ""
        r = client.get(url + "?account=points" + declared, headers=headers)
        assert r.status_code == 400, (path, r.status_code, r.get_json())
        body = r.get_json()
        assert body["code"] == "unknown_parameter", path
        assert body["errors"] == {"account": ["Unknown query parameter."]}, path
        if "limit" in names:  # a declared one alone is fine
            assert client.get(url + "?limit=5", headers=headers).status_code != 400, path
    assert lists >= 30


@pytest.mark.sqlite
def test_the_ledger_answers_both_units_unless_one_is_asked_for(app, client):
    staff = helpers.staff_headers(app, client)
    helpers.load_catalogue(client, staff)
    op = helpers.operator_headers(client, staff)
    alice = helpers.register_resident(client)
    helpers.bind(client, op, alice["headers"], "ledger-alice")
    day = datetime.now(ZoneInfo("Asia/Shanghai")) - timedelta(days=1)
    start = day.replace(hour=9, minute=0, second=0, microsecond=0)
    r = helpers.upload(client, op, [helpers.trip("l1", "ledger-alice", 10, start)])
    assert r.get_json()["accepted"] == 1
    both = client.get(f"{API}/me/ledger", headers=alice["headers"]).get_json()["items"]
    assert sorted((p["unit"], p["amount"]) for p in both) == [("g", -467), ("g", 467), ("pt", 467)]
    points = client.get(f"{API}/me/ledger?unit=pt", headers=alice["headers"]).get_json()
    assert [(p["unit"], p["amount"], p["balance_after"]) for p in points["items"]] == [
        ("pt", 467, 467)
    ]
    r = client.get(f"{API}/me/ledger?account=points", headers=alice["headers"])
    assert (r.status_code, r.get_json()["code"]) == (400, "unknown_parameter")
