"""The OpenAPI document is complete, operation by operation and schema by schema, so that
a route added later cannot slip: a client generator and a newcomer can live on it.

Read from a throwaway app (the document does not depend on the database)."""

from __future__ import annotations

import re
from copy import deepcopy

import jsonschema_rs
import pytest

from backend import apidoc
from backend.errors import PROBLEMS

SUCCESS = re.compile(r"^2\d\d$")
GUARD_401 = {"missing_token", "bad_token", "token_expired", "subject_inactive"}


@pytest.fixture(scope="module")
def document() -> dict:
    from backend.app import create_app

    app = create_app("test", {"DATABASE_URL": "sqlite://", "REDIS_URL": None})
    r = app.test_client().get("/api/openapi.json")
    assert r.status_code == 200
    return r.get_json()


def _ops(document):
    return list(apidoc.operations(document))


def _params(document, path, op):
    shared = document["components"].get("parameters", {})
    out = []
    for p in document["paths"][path].get("parameters", []) + op.get("parameters", []):
        out.append(shared[p["$ref"].rsplit("/", 1)[-1]] if "$ref" in p else p)
    return out


def test_info_servers_and_tags(document):
    info = document["info"]
    assert info["title"] and info["version"]
    assert len(info["description"]) > 500
    assert info["contact"]["email"] and info["license"]["name"]
    assert document["servers"] and all("url" in s for s in document["servers"])
    tags = [t["name"] for t in document["tags"]]
    assert tags == [a.tag for a in apidoc.AUDIENCES if a.tag in tags], "a route of no audience"
    assert all(t["description"] for t in document["tags"])
    used = {tag for _p, _m, op in _ops(document) for tag in op["tags"]}
    assert used == set(tags)
    # no internal names (blueprint names such as `admin_mall`)
    assert all(re.fullmatch(r"[A-Z][a-z]+", t) for t in tags)


def test_every_operation_says_what_it_does_who_may_call_it_and_how_it_fails(document):
    ops = _ops(document)
    assert len(ops) >= 120
    ids = [op.get("operationId") for _p, _m, op in ops]
    assert all(i and re.fullmatch(r"[a-z][a-z0-9_]*", i) for i in ids), ids
    assert len(set(ids)) == len(ids), "operationIds must be unique"
    problems = []
    for path, method, op in ops:
        where = f"{method.upper()} {path}"
        summary, description = op.get("summary", ""), op.get("description", "")
        if not summary or "\n" in summary or len(summary) > 120:
            problems.append(f"{where}: summary {summary!r}")
        if len(description) < len(summary) + 20:
            problems.append(f"{where}: no description")
        if len(op["tags"]) != 1:
            problems.append(f"{where}: tags {op['tags']}")
        if "default" in op["responses"]:
            problems.append(f"{where}: a `default` response hides the statuses")
        if not any(SUCCESS.match(s) for s in op["responses"]):
            problems.append(f"{where}: no success response")
        if any(k.startswith("x-") and k not in ("x-callers", "x-roles") for k in op):
            problems.append(f"{where}: private marks left: {[k for k in op if k[:2] == 'x-']}")
        documented = apidoc.problems_of(op)
        for status, response in op["responses"].items():
            if SUCCESS.match(status) or status.startswith("3"):
                continue
            content = response.get("content", {})
            if list(content) != ["application/problem+json"]:
                problems.append(f"{where} {status}: content {list(content)}")
                continue
            media = content["application/problem+json"]
            if media["schema"] != {"$ref": "#/components/schemas/Problem"}:
                problems.append(f"{where} {status}: not the Problem schema")
            codes = documented.get(int(status), [])
            if not codes or set(media["examples"]) != set(codes):
                problems.append(f"{where} {status}: codes {codes}, examples {list(media)}")
            for code in codes:
                if (int(status), code) not in PROBLEMS:
                    problems.append(f"{where} {status}: {code} is not catalogued")
                if f"`{code}`" not in description:
                    problems.append(f"{where}: {status} {code} not in the description")
        # what every operation can answer
        if "retry" not in documented.get(503, []):
            problems.append(f"{where}: no 503 retry")
        if "unknown_parameter" not in documented.get(400, []):
            problems.append(f"{where}: no 400 unknown_parameter")
        params = _params(document, path, op)
        if any(p["in"] == "path" for p in params) and "not_found" not in documented.get(404, []):
            problems.append(f"{where}: a path parameter and no 404 not_found")
        body = op.get("requestBody", {}).get("content", {})
        if "application/json" in body:
            for status, code in ((415, "unsupported_media_type"), (422, "validation_failed")):
                if code not in documented.get(status, []):
                    problems.append(f"{where}: a JSON body and no {status} {code}")
        # security from the guard
        if op.get("security"):
            if not op.get("x-callers"):
                problems.append(f"{where}: secured without x-callers")
            if not set(documented.get(401, [])) >= GUARD_401:
                problems.append(f"{where}: 401 {documented.get(401)}")
            if "forbidden" not in documented.get(403, []):
                problems.append(f"{where}: no 403 forbidden")
            if "staff" in op["x-callers"] and not op.get("x-roles"):
                problems.append(f"{where}: a staff route without roles")
            if "**Who:**" not in description:
                problems.append(f"{where}: the description does not say who may call it")
        elif path.startswith(("/api/v1/me", "/api/v1/admin", "/api/v1/merchant")):
            problems.append(f"{where}: not secured")
        # Idempotency-Key, declared where it is taken
        takes_key = any(p["in"] == "header" and p["name"] == "Idempotency-Key" for p in params)
        answers_key = "idempotency_key_reused" in documented.get(422, [])
        if takes_key != answers_key:
            problems.append(f"{where}: Idempotency-Key declared {takes_key}, codes {answers_key}")
        if any(p["in"] == "query" for p in params) and op.get("x-paged", False):
            problems.append(f"{where}: x-paged left")
    assert problems == []


def test_money_moving_posts_declare_the_idempotency_key(document):
    needed = {
        ("post", "/api/v1/mall/orders"),
        ("post", "/api/v1/me/conversions"),
        ("post", "/api/v1/merchant/settlements"),
        ("post", "/api/v1/org/transfers"),
        ("post", "/api/v1/org/uses"),
        ("post", "/api/v1/admin/settlements/{batch_id}/approve"),
    }
    declared = {
        (m, p)
        for p, m, op in _ops(document)
        if any(q.get("name") == "Idempotency-Key" for q in _params(document, p, op))
    }
    assert needed <= declared
    header = document["components"]["parameters"]["IdempotencyKey"]
    assert (header["in"], header["required"]) == ("header", False)
    assert header["schema"]["maxLength"] == 200


def test_lists_and_codes_with_extra_members_are_documented(document):
    orders = document["paths"]["/api/v1/mall/orders"]
    listing = orders["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"limit", "cursor", "status"}
    assert "bad_cursor" in apidoc.problems_of(listing)[400]
    placing = apidoc.problems_of(orders["post"])
    assert {"insufficient_points", "out_of_stock", "limit_reached"} <= set(placing[409])
    examples = orders["post"]["responses"]["409"]["content"]["application/problem+json"]
    assert examples["examples"]["insufficient_points"]["value"]["points_price"] == 300
    problem = document["components"]["schemas"]["Problem"]["properties"]
    for extra in ("points_price", "held_by", "current_status", "allowed", "callers", "roles"):
        assert extra in problem, extra
        assert problem[extra]["description"].endswith(".)"), extra  # names its codes
    assert problem["status"]["type"] == "integer"
    # the operator client of an unknown scenario, a cursor not given out
    clients = document["paths"]["/api/v1/admin/operator-clients"]["post"]
    assert "scenario_not_found" in apidoc.problems_of(clients)[404]


def test_every_schema_is_typed_used_and_has_examples(document):
    schemas = document["components"]["schemas"]
    untyped = [
        f"{name}.{prop}"
        for name, schema in schemas.items()
        for prop, sub in (schema.get("properties") or {}).items()
        if not {"type", "$ref", "allOf", "anyOf", "oneOf"} & set(sub)
    ]
    assert untyped == []
    assert apidoc.missing_examples(document) == []
    referenced = set(apidoc._refs(document["paths"]))
    for schema in schemas.values():
        referenced |= set(apidoc._refs(schema))
    unused = [n for n in schemas if f"#/components/schemas/{n}" not in referenced]
    assert unused == []
    assert "PaginationMetadata" not in schemas


def _json_schema(node):
    """OpenAPI 3.0 Schema Object -> JSON Schema (nullable as a null alternative)."""
    if isinstance(node, list):
        return [_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _json_schema(v) for k, v in node.items() if k not in ("nullable", "example")}
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


def _validate(document, schema, value, where, problems):
    root = {"components": {"schemas": _json_schema(document["components"]["schemas"])}}
    checked = {**root, "allOf": [_json_schema(deepcopy(schema))]}
    errors = list(jsonschema_rs.Draft7Validator(checked).iter_errors(value))
    if errors:
        problems.append(f"{where}: {errors[0].message[:200]}")


def test_every_example_is_valid_for_its_schema(document):
    problems: list[str] = []
    for name, schema in document["components"]["schemas"].items():
        _validate(document, schema, schema["example"], f"schema {name}", problems)
        for prop, sub in (schema.get("properties") or {}).items():
            if "example" in sub:
                _validate(document, sub, sub["example"], f"schema {name}.{prop}", problems)
    for path, method, op in _ops(document):
        where = f"{method.upper()} {path}"
        for param in _params(document, path, op):
            label = f"{where} {param['name']}"
            _validate(document, param["schema"], param["example"], label, problems)
        media = [("request", m) for m in op.get("requestBody", {}).get("content", {}).values()]
        for status, response in op["responses"].items():
            media += [(status, m) for m in response.get("content", {}).values()]
        for label, one in media:
            if "schema" not in one:
                continue
            if "example" in one:
                _validate(document, one["schema"], one["example"], f"{where} {label}", problems)
            for key, named in one.get("examples", {}).items():
                named_label = f"{where} {label} {key}"
                _validate(document, one["schema"], named["value"], named_label, problems)
    assert problems == []


def test_a_route_declared_the_older_way_or_in_the_wrong_place_is_still_documented():
    """The completion works on any raw document: codes named in an error response's
    description (`@blp.alt_response(409, description="a, b")`) are listed, and a route
    under no audience is tagged Other (which the tests above refuse)."""
    raw = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "v1"},
        "paths": {
            "/api/v1/mall/things/{thing_id}": {
                "parameters": [
                    {
                        "in": "path",
                        "name": "thing_id",
                        "required": True,
                        "schema": {"type": "integer"},
                    }
                ],
                "post": {
                    "summary": "Do a thing. More words.",
                    "responses": {
                        "200": {"description": "OK"},
                        "409": {"description": "out_of_stock, limit_reached"},
                    },
                    "x-endpoint": "do_thing",
                },
            },
            "/elsewhere": {
                "get": {"summary": "Lost.", "responses": {"200": {"description": "OK"}}}
            },
        },
        "components": {"schemas": {}},
    }
    document = apidoc.complete(raw, servers=[{"url": "/"}])
    op = document["paths"]["/api/v1/mall/things/{thing_id}"]["post"]
    assert op["operationId"] == "mall_do_thing" and op["summary"] == "Do a thing"
    codes = apidoc.problems_of(op)
    assert {"out_of_stock", "limit_reached", "conflict", "retry"} <= set(codes[409])
    assert codes[404] == ["not_found"] and codes[503] == ["retry"]
    assert document["paths"]["/elsewhere"]["get"]["tags"] == ["Other"]
    assert [t["name"] for t in document["tags"]] == ["Mall", "Other"]
