"""Staff APIs over HTTP: organisations (credit codes, filters, cursor pages), the
catalogue import (idempotent, immutable methodology versions, no partial writes),
operator clients, merchant users, the CLI, the public catalogue lists and health."""

from __future__ import annotations

import base64
import copy
import json
import time

import pytest
from sqlalchemy import text

from tests import helpers

ORGS = "/api/v1/admin/organizations"
IMPORT = "/api/v1/admin/catalogue/import"
CLIENTS = "/api/v1/admin/operator-clients"
MERCHANT_USERS = "/api/v1/admin/merchant-users"
CATALOGUE_TABLES = ("organizations", "methodologies", "scenarios", "conversion_rules")


def assert_problem(r, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True))
    assert r.mimetype == "application/problem+json"
    body = json.loads(r.get_data(as_text=True))
    assert {"type", "title", "status", "detail", "code"} <= set(body)
    assert body["status"] == status
    if code is not None:
        assert body["code"] == code, body
    return body


def counts(app, tables=CATALOGUE_TABLES) -> dict:
    from backend.db import db

    with app.app_context():
        result = {
            t: db.session.execute(text(f'SELECT count(*) FROM "{t}"')).scalar() for t in tables
        }
        db.session.remove()
    return result


def new_org(client, staff, kind: str = "other", name: str | None = None) -> tuple[int, str]:
    code = helpers.credit_code()
    r = client.post(
        ORGS, json={"name": name or f"Org {code}", "kind": kind, "credit_code": code}, headers=staff
    )
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"], code


@pytest.fixture()
def staff(app, client) -> dict:
    return helpers.staff_headers(app, client)


# -- organisations ----------------------------------------------------------------


@pytest.mark.sqlite
def test_create_organization_and_refuse_a_taken_credit_code(client, staff):
    code = helpers.credit_code()
    r = client.post(
        ORGS, json={"name": "园区示范", "kind": "merchant", "credit_code": code}, headers=staff
    )
    assert r.status_code == 201, r.get_json()
    assert set(r.get_json()) == {"id"}
    again = client.post(
        ORGS, json={"name": "Another", "kind": "operator", "credit_code": code}, headers=staff
    )
    assert_problem(again, 409, "credit_code_taken")
    listed = client.get(ORGS, headers=staff).get_json()["items"]
    assert listed == [
        {"id": r.get_json()["id"], "name": "园区示范", "kind": "merchant", "credit_code": code}
    ]


def _bad_check_char(code: str) -> str:
    from backend.registry.credit_code import CHARSET

    wrong = next(c for c in CHARSET if c != code[-1])
    return code[:-1] + wrong


ORG_REFUSALS = [
    (
        "bad check character",
        lambda b: {**b, "credit_code": _bad_check_char(b["credit_code"])},
        "credit_code",
    ),
    ("lower case", lambda b: {**b, "credit_code": b["credit_code"].lower()}, "credit_code"),
    ("17 characters", lambda b: {**b, "credit_code": b["credit_code"][:-1]}, "credit_code"),
    ("19 characters", lambda b: {**b, "credit_code": b["credit_code"] + "0"}, "credit_code"),
    ("I is not in the set", lambda b: {**b, "credit_code": "91320594MA1XDM01I9"}, "credit_code"),
    ("unknown kind", lambda b: {**b, "kind": "bank"}, "kind"),
    ("empty name", lambda b: {**b, "name": ""}, "name"),
    ("unknown field", lambda b: {**b, "website": "x"}, "website"),
    ("no kind", lambda b: {k: v for k, v in b.items() if k != "kind"}, "kind"),
]


def test_create_organization_validates(app, client, staff):
    good = {"name": "Org", "kind": "merchant", "credit_code": "91320594MA1XDM0189"}
    for case, change, field in ORG_REFUSALS:
        problem = assert_problem(client.post(ORGS, json=change(good), headers=staff), 422)
        assert field in problem["errors"], (case, problem)
    assert counts(app, ("organizations",)) == {"organizations": 0}
    assert client.post(ORGS, json=good, headers=staff).status_code == 201  # the control


@pytest.mark.sqlite
def test_list_filters_and_walks_every_row_once_by_cursor(client, staff):
    made = {}
    for i in range(11):
        kind = ("operator", "merchant", "project_owner")[i % 3]
        org_id, code = new_org(client, staff, kind)
        made[org_id] = (kind, code)

    seen, cursor, pages = [], None, 0
    while True:
        url = f"{ORGS}?limit=3" + (f"&cursor={cursor}" if cursor else "")
        body = client.get(url, headers=staff).get_json()
        assert set(body) == {"items", "next_cursor"}
        assert len(body["items"]) <= 3
        seen += [item["id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert isinstance(cursor, str)
    assert pages == 4
    assert sorted(seen) == sorted(made) and len(seen) == len(set(seen))
    assert seen == sorted(seen, reverse=True)  # newest first

    merchants = client.get(f"{ORGS}?kind=merchant&limit=500", headers=staff).get_json()
    assert {o["id"] for o in merchants["items"]} == {
        i for i, (k, _) in made.items() if k == "merchant"
    }
    assert merchants["next_cursor"] is None
    some_id, (some_kind, some_code) = next(iter(made.items()))
    one = client.get(f"{ORGS}?credit_code={some_code}", headers=staff).get_json()["items"]
    assert [(o["id"], o["kind"], o["credit_code"]) for o in one] == [
        (some_id, some_kind, some_code)
    ]
    none = client.get(f"{ORGS}?credit_code={helpers.credit_code()}", headers=staff).get_json()
    assert none == {"items": [], "next_cursor": None}
    # A filter and a cursor together.
    first = client.get(f"{ORGS}?kind=operator&limit=2", headers=staff).get_json()
    rest = client.get(
        f"{ORGS}?kind=operator&limit=500&cursor={first['next_cursor']}", headers=staff
    ).get_json()
    both = [o["id"] for o in first["items"] + rest["items"]]
    assert sorted(both) == sorted(i for i, (k, _) in made.items() if k == "operator")


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


FORGED_CURSORS = [
    "not-a-cursor",
    _b64("-5"),
    _b64("abc"),
    _b64(str(2**63)),  # one past the largest 64-bit id
    _b64(str(10**30)),
    "%FF%FE",
]


def test_a_forged_cursor_is_400_bad_cursor(client, staff):
    new_org(client, staff)
    for cursor in FORGED_CURSORS:
        r = client.get(f"{ORGS}?cursor={cursor}", headers=staff)
        assert_problem(r, 400, "bad_cursor")
    # The largest id there can be is a cursor like any other.
    assert client.get(f"{ORGS}?cursor={_b64(str(2**63 - 1))}", headers=staff).status_code == 200


def test_list_query_validation(client, staff):
    for query, field in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=x", "limit"),
        ("kind=bank", "kind"),
        (f"cursor={'A' * 201}", "cursor"),
    ]:
        problem = assert_problem(client.get(f"{ORGS}?{query}", headers=staff), 422)
        assert field in problem["errors"], query


# -- the catalogue ----------------------------------------------------------------


@pytest.mark.sqlite
def test_catalogue_import_twice_changes_nothing_the_second_time(app, client, staff):
    first = helpers.load_catalogue(client, staff)
    cat = helpers.CATALOGUE
    assert first["organizations"]["created"] == len(cat["organizations"])
    assert first["methodologies"]["created"] == len(cat["methodologies"])
    assert first["scenarios"]["created"] == len(cat["scenarios"])
    assert first["conversion"]["created"] == 1
    after_first = counts(app)
    second = helpers.load_catalogue(client, staff)
    for section, c in second.items():
        assert c["created"] == 0 and c["updated"] == 0, (section, c)
    assert second["methodologies"]["unchanged"] == len(cat["methodologies"])
    assert second["scenarios"]["unchanged"] == len(cat["scenarios"])
    assert counts(app) == after_first


def test_changing_a_published_methodology_version_is_409_and_writes_nothing(app, client, staff):
    helpers.load_catalogue(client, staff)
    before = counts(app)
    doc = copy.deepcopy(helpers.CATALOGUE)
    doc["methodologies"][0]["parameters"]["baseline_g_per_km"] = 75.0
    # The same document also carries new things, none of which may be written.
    new_code = helpers.credit_code()
    doc["organizations"].append(
        {"name": "New operator", "kind": "operator", "credit_code": new_code}
    )
    doc["methodologies"].append({**doc["methodologies"][0], "version": "2.0"})
    r = client.post(IMPORT, json=doc, headers=staff)
    assert_problem(r, 409, "methodology_version_immutable")
    assert counts(app) == before
    published = client.get("/api/v1/public/methodologies").get_json()["items"]
    transit = [m for m in published if m["code"] == doc["methodologies"][0]["code"]]
    assert [m["version"] for m in transit] == ["1.0"]
    assert transit[0]["parameters"]["baseline_g_per_km"] == 60.0
    assert client.get(f"{ORGS}?credit_code={new_code}", headers=staff).get_json()["items"] == []


def _unknown_formula(doc):
    doc["methodologies"][1]["formula"] = "teleport"


def _bad_parameters(doc):
    del doc["methodologies"][0]["parameters"]["modes"]


def _non_numeric_factor(doc):
    doc["methodologies"][0]["parameters"]["baseline_g_per_km"] = "a lot"


def _scenario_without_methodology(doc):
    doc["scenarios"][-1]["methodology_version"] = "9.9"


def _scenario_with_bad_cap(doc):
    doc["scenarios"][-1]["daily_cap_g"] = -1


def _not_an_object(doc):
    doc["methodologies"][0] = "SIP-M-TRANSIT"


def _nul_in_a_name(doc):
    doc["organizations"][0]["name"] = "Metro\u0000"


def _nul_in_a_source(doc):
    doc["methodologies"][0]["source"] = "see \u0000 here"


SPOILERS = [
    _unknown_formula,
    _bad_parameters,
    _non_numeric_factor,
    _scenario_without_methodology,
    _scenario_with_bad_cap,
    _not_an_object,
    _nul_in_a_name,
    _nul_in_a_source,
]


def test_an_invalid_catalogue_is_422_and_writes_nothing(app, client, staff):
    """Organisations come first in a document: a later error must take them back too."""
    for spoil in SPOILERS:
        doc = copy.deepcopy(helpers.CATALOGUE)
        spoil(doc)
        problem = assert_problem(client.post(IMPORT, json=doc, headers=staff), 422)
        assert problem["errors"], spoil.__name__
        assert counts(app) == dict.fromkeys(CATALOGUE_TABLES, 0), spoil.__name__
    # The good document still loads in full afterwards.
    helpers.load_catalogue(client, staff)
    assert counts(app)["scenarios"] == len(helpers.CATALOGUE["scenarios"])


def test_a_catalogue_that_is_not_an_object_is_422(app, client, staff):
    for body in ([], "catalogue", 42, None):
        r = client.post(
            IMPORT, data=json.dumps(body), content_type="application/json", headers=staff
        )
        assert_problem(r, 422)
    assert counts(app) == dict.fromkeys(CATALOGUE_TABLES, 0)


# -- operator clients -------------------------------------------------------------


def test_operator_client_secret_is_shown_once_and_stored_hashed(app, client, staff):
    helpers.load_catalogue(client, staff)
    org_id = helpers.scenario_operator_org(client, staff, "SIP-S-METRO")
    r = client.post(
        CLIENTS, json={"organization_id": org_id, "scenario_code": "SIP-S-METRO"}, headers=staff
    )
    assert r.status_code == 201, r.get_json()
    creds = r.get_json()
    assert set(creds) == {"client_id", "client_secret"}
    assert len(creds["client_secret"]) >= 32
    second = client.post(
        CLIENTS, json={"organization_id": org_id, "scenario_code": "SIP-S-METRO"}, headers=staff
    ).get_json()
    assert second["client_id"] != creds["client_id"]
    assert second["client_secret"] != creds["client_secret"]
    from backend.db import db

    with app.app_context():
        stored = db.session.execute(text("SELECT * FROM operator_clients")).mappings().all()
        db.session.remove()
    assert len(stored) == 2
    for row in stored:
        assert creds["client_secret"] not in [str(v) for v in row.values()]
    assert client.post("/api/v1/auth/token", json=creds).status_code == 200


def test_operator_client_refusals(client, staff):
    helpers.load_catalogue(client, staff)
    metro_org = helpers.scenario_operator_org(client, staff, "SIP-S-METRO")
    bus_org = helpers.scenario_operator_org(client, staff, "SIP-S-BUS")
    merchant_org, _ = new_org(client, staff, "merchant")

    def create(org, scenario):
        return client.post(
            CLIENTS, json={"organization_id": org, "scenario_code": scenario}, headers=staff
        )

    assert_problem(create(metro_org, "SIP-S-NOPE"), 404, "scenario_not_found")
    assert_problem(create(999_999, "SIP-S-METRO"), 404, "organization_not_found")
    p = assert_problem(create(merchant_org, "SIP-S-METRO"), 422)
    assert "organization_id" in p["errors"]
    p = assert_problem(create(bus_org, "SIP-S-METRO"), 422)  # another operator's scenario
    assert "scenario_code" in p["errors"]
    p = assert_problem(create("1", "SIP-S-METRO"), 422)  # ids are JSON integers
    assert "organization_id" in p["errors"]
    assert create(bus_org, "SIP-S-BUS").status_code == 201


# -- merchant users ---------------------------------------------------------------


@pytest.mark.sqlite
def test_merchant_user_can_log_in_bound_to_its_merchant(app, client, staff):
    import jwt

    merchant_org, _ = new_org(client, staff, "merchant")
    r = client.post(
        MERCHANT_USERS,
        json={"organization_id": merchant_org, "login": "till-01", "password": "till-password"},
        headers=staff,
    )
    assert r.status_code == 201, r.get_json()
    assert set(r.get_json()) == {"id"}
    tokens = helpers.login(client, "till-01", "till-password")
    claims = jwt.decode(
        tokens["access_token"],
        app.config["JWT_SECRET"],
        algorithms=["HS256"],
        audience=app.config["JWT_AUDIENCE"],
    )
    assert claims["role"] == "merchant"
    assert claims["org"] == merchant_org
    assert claims["sub"] == str(r.get_json()["id"])
    # A merchant is not staff.
    assert_problem(client.get(ORGS, headers=helpers.bearer(tokens["access_token"])), 403)
    again = client.post(
        MERCHANT_USERS,
        json={"organization_id": merchant_org, "login": "till-01", "password": "other-password"},
        headers=staff,
    )
    assert_problem(again, 409, "login_taken")
    # The first password still works: the refused request changed nothing.
    helpers.login(client, "till-01", "till-password")


def test_merchant_user_refusals(app, client, staff):
    operator_org, _ = new_org(client, staff, "operator")
    for body, field in [
        ({"login": "till-02", "password": "till-password"}, "organization_id"),  # an operator
        ({"login": "13912345678", "password": "till-password"}, "login"),  # looks like a phone
        ({"login": "ab", "password": "till-password"}, "login"),
        ({"login": "till-02", "password": "short"}, "password"),
        ({"login": "till-02", "password": "till-password", "roles": "admin"}, "roles"),
    ]:
        r = client.post(
            MERCHANT_USERS, json={"organization_id": operator_org, **body}, headers=staff
        )
        assert field in assert_problem(r, 422)["errors"], body
    assert counts(app, ("users",)) == {"users": 1}  # the staff member only


def test_merchant_user_for_an_unknown_organization_is_404(client, staff):
    r = client.post(
        MERCHANT_USERS,
        json={"organization_id": 424242, "login": "till-03", "password": "till-password"},
        headers=staff,
    )
    assert_problem(r, 404, "organization_not_found")


# -- the CLI ----------------------------------------------------------------------


def _invoke(app, args: list[str]):
    """As `flask --app wsgi ...` runs a command: with the app's context pushed (the
    `flask` command pushes it for every command; `catalogue` is a plain click group,
    whose commands do not push one themselves)."""
    with app.app_context():
        return app.test_cli_runner().invoke(args=args)


@pytest.mark.sqlite
def test_cli_create_staff(app, clean):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-staff", "chief", "--password", "chief-password"])
    assert result.exit_code == 0, result.output
    assert "chief" in result.output
    client = app.test_client()
    tokens = helpers.login(client, "chief", "chief-password")
    assert client.get(ORGS, headers=helpers.bearer(tokens["access_token"])).status_code == 200

    again = runner.invoke(args=["create-staff", "chief", "--password", "chief-password"])
    assert again.exit_code != 0
    assert "login_taken" in again.output
    short = runner.invoke(args=["create-staff", "deputy", "--password", "short"])
    assert short.exit_code != 0
    assert (
        client.post("/api/v1/auth/login", json={"login": "deputy", "password": "short"}).status_code
        == 401
    )


def test_cli_create_staff_with_roles(app, clean):
    import jwt

    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "create-staff",
            "auditor",
            "--password",
            "auditor-password",
            "--roles",
            "reviewer,auditor",
        ]
    )
    assert result.exit_code == 0, result.output
    tokens = helpers.login(app.test_client(), "auditor", "auditor-password")
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert claims["roles"] == ["auditor", "reviewer"]
    # a role that does not exist is refused, and nothing is created
    bad = runner.invoke(
        args=["create-staff", "boss", "--password", "boss-password", "--roles", "superuser"]
    )
    assert bad.exit_code != 0 and "unknown staff role" in bad.output
    r = app.test_client().post(
        "/api/v1/auth/login", json={"login": "boss", "password": "boss-password"}
    )
    assert r.status_code == 401


@pytest.mark.sqlite
def test_cli_catalogue_load_twice_changes_nothing(app, clean):
    from config.settings import DEFAULT_CATALOGUE

    first = _invoke(app, ["catalogue", "load", str(DEFAULT_CATALOGUE)])
    assert first.exit_code == 0, first.output
    created = json.loads(first.output)
    assert created["scenarios"]["created"] == len(helpers.CATALOGUE["scenarios"])
    after_first = counts(app)
    assert after_first["scenarios"] == len(helpers.CATALOGUE["scenarios"])
    second = _invoke(app, ["catalogue", "load", str(DEFAULT_CATALOGUE)])
    assert second.exit_code == 0, second.output
    for section, c in json.loads(second.output).items():
        assert c["created"] == 0 and c["updated"] == 0, (section, c)
    assert counts(app) == after_first


def test_cli_catalogue_load_refuses_a_bad_file_and_writes_nothing(app, clean, tmp_path):
    doc = copy.deepcopy(helpers.CATALOGUE)
    doc["methodologies"][0]["formula"] = "teleport"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    result = _invoke(app, ["catalogue", "load", str(path)])
    assert result.exit_code != 0
    assert "validation_failed" in result.output
    assert counts(app) == dict.fromkeys(CATALOGUE_TABLES, 0)


# -- public lists and health ------------------------------------------------------


@pytest.mark.sqlite
def test_public_catalogue_lists_need_no_login_and_hold_no_personal_data(app, client, staff):
    helpers.load_catalogue(client, staff)
    resident = helpers.register_resident(client, "13900005678")
    merchant_org, merchant_code = new_org(client, staff, "merchant", name="Shop of Someone")
    r = client.post(
        MERCHANT_USERS,
        json={"organization_id": merchant_org, "login": "till-99", "password": "till-password"},
        headers=staff,
    )
    assert r.status_code == 201

    methodologies = client.get("/api/v1/public/methodologies")
    scenarios = client.get("/api/v1/public/scenarios")
    for r in (methodologies, scenarios):
        assert r.status_code == 200
        raw = r.get_data(as_text=True)
        for secret in (
            resident["phone"],
            "139****5678",
            "5678",
            "till-99",
            "staff1",
            merchant_code,
        ):
            assert secret not in raw
        for word in ("phone", "password", "login", "token", "credit_code"):
            assert word not in raw

    m = methodologies.get_json()
    assert {x["code"] for x in m["items"]} == {
        x["code"] for x in helpers.CATALOGUE["methodologies"]
    }
    assert m["next_cursor"] is None
    for item in m["items"]:
        assert item["published_at"].endswith("+08:00"), item["published_at"]
        assert item["status"] == "published"
    s = scenarios.get_json()
    assert {x["code"] for x in s["items"]} == {x["code"] for x in helpers.CATALOGUE["scenarios"]}
    for item in s["items"]:
        assert item["registered_at"].endswith("+08:00"), item["registered_at"]
        assert set(item) >= {"code", "title", "operator", "methodology", "methodology_version"}
    metro = next(x for x in s["items"] if x["code"] == "SIP-S-METRO")
    assert metro["methodology"] == "SIP-M-TRANSIT" and metro["methodology_version"] == "1.0"
    # They page like every list.
    page = client.get("/api/v1/public/scenarios?limit=2").get_json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    assert_problem(client.get("/api/v1/public/scenarios?cursor=forged"), 400, "bad_cursor")


@pytest.mark.parametrize(
    "moment",
    [
        "2026-11-24T08:00:00+00:00",
        "1988-07-01T12:00:00+00:00",  # summer time in Shanghai then (+09:00)
        "1900-01-01T00:00:00+00:00",  # local mean time in Shanghai then (+08:05:43)
        "0008-01-15T00:28:01+00:00",
    ],
)
def test_response_times_are_always_at_plus_0800(moment):
    from datetime import datetime

    import marshmallow as ma

    from backend.http import LocalDateTime

    schema = ma.Schema.from_dict({"at": LocalDateTime()})()
    shown = schema.dump({"at": datetime.fromisoformat(moment)})["at"]
    assert shown.endswith("+08:00"), shown
    assert datetime.fromisoformat(shown) == datetime.fromisoformat(moment)


@pytest.mark.sqlite
def test_healthz_and_readyz(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.get_json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200
    body = r.get_json()
    assert body["status"] == "ready"
    assert body["checks"]["database"] == "ok"
    assert "redis" not in body["checks"]  # REDIS_URL is unset in the test app


def test_readyz_checks_redis_where_configured(database_url, redis_url):
    from backend.app import create_app

    app = create_app(
        "test",
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "TESTING": True,
        },
    )
    from redis import Redis
    from rq import cron_scheduler_registry

    conn = Redis.from_url(redis_url)
    key = cron_scheduler_registry.get_registry_key()
    try:
        conn.delete(key)  # no periodic scheduler: not ready
        r = app.test_client().get("/readyz")
        problem = assert_problem(r, 503, "not_ready")
        assert problem["checks"] == {"database": "ok", "redis": "ok", "scheduler": "down"}
        conn.zadd(key, {"stale": time.time() - 600})  # one that stopped ten minutes ago
        assert app.test_client().get("/readyz").status_code == 503
        conn.zadd(key, {"live": time.time()})  # a scheduler's heartbeat, as RQ writes it
        body = app.test_client().get("/readyz").get_json()
        assert body == {
            "status": "ready",
            "checks": {"database": "ok", "redis": "ok", "scheduler": "ok"},
        }
        app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
        app.extensions.pop("redis", None)  # the cached connection
        r = app.test_client().get("/readyz")
        problem = assert_problem(r, 503, "not_ready")
        assert problem["checks"] == {"database": "ok", "redis": "down"}
    finally:
        conn.delete(key)
        with app.app_context():
            from backend.db import db

            db.engine.dispose()
