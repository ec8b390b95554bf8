"""The OpenAPI document, completed from what the routes declare, so that a route that
follows the conventions of `backend.http` documents itself completely.

flask-smorest writes the raw document (paths, parameters, bodies, success responses,
schemas). `complete()` adds, for every operation:
- its tag (the audience of its URL prefix, `AUDIENCES`), a stable `operationId`
  (`<audience>_<view function>`), a one-line summary and a description (the view's
  docstring, who may call it, and every problem code it can answer, by status);
- every error response, as `application/problem+json` with the `Problem` schema and an
  example per code, from: the guard (security, 401, 403), the arguments (400
  `malformed_json`, 413, 415, 422), the query (400 `unknown_parameter`), the cursor page
  (400 `bad_cursor`), `@idempotent` (the `Idempotency-Key` header parameter, 409
  `idempotency_in_flight`, 422 `idempotency_key_reused`), a rate limit (429), a path
  parameter (404 `not_found`), a write (409 `conflict`, `retry`), the database (503
  `retry`), and the codes the view names with `@blp.problems(...)`;
- examples: every schema property gets one (its `metadata={"example": ...}`, else the
  conventions below: an enum's first value, a date-time, a well-known name), every schema
  an example composed of its properties', every parameter, request body and JSON
  success response the example of its schema.
It also fills in `info` and `servers`, lists the tags, and drops what nothing refers to
(flask-smorest's stock error responses, unused schemas).

`problems_of(operation)` reads back the (status, code) pairs an operation documents
(the fuzzing test checks each answer against them); `missing_examples(document)` lists
what has no example (the completeness test asserts it is empty)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from copy import deepcopy
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from backend.errors import PROBLEM_TYPE, PROBLEMS, ProblemType

METHODS = ("get", "put", "post", "patch", "delete")
REF = "#/components/schemas/"
PROBLEM_JSON = "application/problem+json"
# Private marks the decorators leave on an operation (dropped from the document).
ENDPOINT, PROBLEM_MARKS, PAGED, IDEMPOTENT, RATE_LIMITED = (
    "x-endpoint",
    "x-problems",
    "x-paged",
    "x-idempotent",
    "x-rate-limited",
)
PRIVATE = (ENDPOINT, PROBLEM_MARKS, PAGED, IDEMPOTENT, RATE_LIMITED)


@dataclass(frozen=True)
class Audience:
    prefix: str
    tag: str
    slug: str  # the operationId prefix
    description: str


AUDIENCES = (
    Audience(
        "/api/v1/auth",
        "Auth",
        "auth",
        "Register a resident, log in (residents with their phone number; staff, merchants' "
        "and organisations' users with their login), refresh and log out; operator machine "
        "clients trade their client credentials for an access token.",
    ),
    Audience(
        "/api/v1/me",
        "Residents",
        "residents",
        "A resident's own account (resident token): profile and balances, consents to "
        "operators' reporting, activities and their erasure, the ledger, conversions.",
    ),
    Audience(
        "/api/v1/mall",
        "Mall",
        "mall",
        "The points mall: items on sale (anyone), and a resident's orders, their "
        "redemption codes and QR codes (resident token).",
    ),
    Audience(
        "/api/v1/merchant",
        "Merchants",
        "merchants",
        "A merchant's staff (merchant token, bound to one merchant): items, redeeming codes "
        "at the till, the balance, settlements back into reductions.",
    ),
    Audience(
        "/api/v1/operator",
        "Operators",
        "operators",
        "Scenario operators' machine clients (client-credentials token; the scenario comes "
        "from the token): bind tokens, activity uploads, batches, the scenario's rules.",
    ),
    Audience(
        "/api/v1/org",
        "Organisations",
        "organisations",
        "Organisation users (organisation token): applications to the service centre, "
        "reductions, transfers and uses.",
    ),
    Audience(
        "/api/v1/admin",
        "Staff",
        "staff",
        "Service-centre staff (staff token). Each operation names the staff roles it "
        "admits (`x-roles`): admin, reviewer, expert, finance, auditor; no role is a "
        "superuser.",
    ),
    Audience(
        "/api/v1/public",
        "Public",
        "public",
        "Anyone, no login: the catalogue, the registry and its totals, notices and "
        "objections, certificates and their keys, sanctions, platform statistics.",
    ),
)

INFO_DESCRIPTION = """\
The backend of the Suzhou Industrial Park carbon-inclusion (碳普惠) service platform:
residents earn carbon reductions (grams CO2e) from low-carbon trips that scenario
operators report with their consent; reductions become points; points buy goods and
services in the points mall; merchants turn the points they collected back into
reductions; the service centre runs the registry (methodologies, scenarios, projects,
issuance, transfers, retirements with signed certificates) and reconciles it all.

**Conventions**
- Base path `/api/v1`; JSON bodies (`Content-Type: application/json`, else 415); times
  are ISO 8601 with an offset (`+08:00` in answers); amounts are integers: `*_g` is grams
  CO2e, `points` is points.
- Authorization: `Authorization: Bearer <JWT>` from `POST /api/v1/auth/login` (or
  `/auth/token` for operator clients). Access tokens live 15 minutes; refresh tokens
  rotate on every use. An operation that needs a token says who may call it
  (`x-callers`, and for staff `x-roles`).
- Errors are RFC 9457 `application/problem+json` with a stable machine `code`; each
  operation lists every code it can answer, by status. 401: no, a bad or an expired
  token; 403: a caller or role the operation is not for (the answer names the ones it
  is for); 404: what does not exist or is not yours; 409: a state conflict (`retry`: a
  concurrent change won, send it again); 422: validation (`errors`: field -> messages);
  503 `retry`: the database is out of reach for a moment.
- Lists: `?limit=` (default 50, at most 500) and the opaque `?cursor=` of the previous
  page; the body is `{"items": [...], "next_cursor": "..." | null}`, newest first. A
  query parameter an operation does not declare is refused (400 `unknown_parameter`).
- Money-moving POSTs take an `Idempotency-Key` header: the same key with the same body
  answers the first response again and moves nothing.

**Start here:** `./scripts/serve.sh` serves this API on 127.0.0.1:5000 with demo data
and prints the demo logins; Swagger UI is at `/api/docs`, ReDoc at `/api/redoc`.
"""

CONTACT = {
    "name": "SIP carbon-inclusion service centre: platform team",
    "url": "https://sip-carbon-points.example/developers",
    "email": "platform@sip-carbon-points.example",
}
LICENSE = {
    "name": "Proprietary: SIP carbon-inclusion service centre",
    "url": "https://sip-carbon-points.example/terms",
}

# Examples by convention, for properties and parameters without their own.
EXAMPLE_TIME = "2026-05-01T08:30:00+08:00"
EXAMPLE_DATE = "2026-05-01"
NAMED_EXAMPLES: dict[str, Any] = {
    "id": 1024,
    "next_cursor": "MTAyNA",
    "cursor": "MTAyNA",
    "limit": 50,
    "points": 300,
    "points_price": 300,
    "credit_code": "91320594MA1XDM0189",
    "to_credit_code": "91320594MA1XDM0264",
    "recipient_credit_code": "91320594MA1XDM0264",
    "operator_credit_code": "91320594MA1XDM0189",
    "phone": "138****0000",
    "login": "demo-merchant",
    "password": "a-long-passphrase",
    "display_name": "园区居民",
    "user_ref": "metro-card-0001",
    "external_id": "metro-20260501-0001",
    "scenario_code": "SIP-S-METRO",
    "methodology": "SIP-M-TRANSIT",
    "methodology_version": "1.0",
    "version": "1.0",
    "title": "可重复使用咖啡杯",
    "name": "苏州工业园区示范轨道运营有限公司（演示）",
    "reason": "invalid",
    "reasons": "材料齐全，符合要求。",
    "note": "年度协议转让",
    "text": "符合方法学要求。",
    "memo": "accrual 2026-05-01",
    "kind": "operator",
    "serial": "CN-SIP-P1-2026-1-1000000",
    "number": "SIP-C-2026-000001",
    "client_id": "op_demo_metro",
    "client_secret": "operator-demo-secret",
    "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.signature",
    "refresh_token": "4dWq3yH9bKj2vR8mN1xT0sLp6cZa5eFg",
    "token_type": "Bearer",
    "expires_in": 900,
    "bind_token": "Zx3kP9vQ2mW8rT5yL1nB7cD4fG6hJ0sA",
    "code": "SIP-S-METRO",
    "batch_id": "9f1c2a3e4b5d6e7f8091a2b3c4d5e6f7",
    "year": 2026,
    "day": EXAMPLE_DATE,
    "vintage": 2026,
    "ok": True,
    "active": True,
    "auto_convert": True,
    "description": "Made of recycled plastic.",
    "actor": "staff:3",
    "object_type": "settlement_batch",
    "object_id": "12",
    "action": "settlement.approve",
    "reference": "OBJ-7K2Q9D",
    "contact": "someone@example.com",
    "subject_code": "SIP-P-SOLAR",
    "subject_title": "园区屋顶光伏项目",
    "unit": "pt",
    "format": "json",
    "open": False,
}
SUFFIX_EXAMPLES = (
    ("_g", 4670),
    ("_id", 7),
    ("_count", 3),
    ("_days", 30),
    ("_seconds", 900),
    ("_limit", 2),
    ("_code", "SIP-S-METRO"),
    ("_at", EXAMPLE_TIME),
)
# Path parameters by name (the router knows only their types).
PATH_EXAMPLES: dict[str, Any] = {
    "batch_id": "9f1c2a3e4b5d6e7f8091a2b3c4d5e6f7",
    "client_id": "op_demo_metro",
    "code": "SIP-M-TRANSIT",
    "version": "1.0",
    "number": "SIP-C-2026-000001",
    "year": 2026,
}


# Where a route under no audience's prefix lands (the completeness test refuses it).
OTHER = Audience("", "Other", "other", "Operations under no audience's prefix.")


def audience_of(path: str) -> Audience:
    """The audience of a path: one of AUDIENCES, or OTHER (a route to move, or an
    audience to add to AUDIENCES)."""
    for audience in AUDIENCES:
        if path == audience.prefix or path.startswith(audience.prefix + "/"):
            return audience
    return OTHER


def _kind(status: int, code: str) -> ProblemType:
    """The catalogued problem, or a stand-in for one the catalogue lacks (the document
    still serves; the completeness test names it)."""
    return PROBLEMS.get((status, code)) or ProblemType(
        status, code, code.replace("_", " ").capitalize()
    )


def operations(document: dict) -> Iterator[tuple[str, str, dict]]:
    for path, item in document.get("paths", {}).items():
        for method, op in item.items():
            if method in METHODS:
                yield path, method, op


def problems_of(operation: dict) -> dict[int, list[str]]:
    """Status -> the codes an operation of the completed document documents."""
    out: dict[int, list[str]] = {}
    for status, response in operation.get("responses", {}).items():
        codes = response.get("x-codes")
        if codes is not None:
            out[int(status)] = list(codes)
    return out


# --- the operations -------------------------------------------------------------------


def _path_params(path_item: dict, op: dict) -> list[dict]:
    return [p for p in path_item.get("parameters", []) + op.get("parameters", []) if "in" in p]


def _first_sentence(text: str) -> str:
    text = " ".join(text.split())
    match = re.match(r"(.+?[.;:])(?:\s|$)", text)
    sentence = match.group(1) if match else text
    return sentence.rstrip(".;:")


def _who(op: dict) -> str | None:
    callers = op.get("x-callers")
    if not callers:
        return None
    roles = op.get("x-roles")
    names = {
        "resident": "residents",
        "staff": "staff",
        "merchant": "merchants' staff",
        "org": "organisation users (a merchant's login too)",
        "operator": "operator clients",
    }
    who = " or ".join(names.get(c, c) for c in callers)
    line = f"**Who:** {who} (bearer token)."
    if roles:
        line += f" Staff roles: {', '.join(roles)}."
    return line


def _described_codes(op: dict) -> set[tuple[int, str]]:
    """Codes named the older way, `@blp.alt_response(409, description="a, b")`: an error
    response with no content whose description lists codes."""
    out = set()
    for status, response in op.get("responses", {}).items():
        if status[:1] not in "45" or "content" in response or "$ref" in response:
            continue
        for piece in str(response.get("description", "")).split(","):
            word = re.sub(r"\(.*?\)", "", piece).strip()
            if re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", word):
                out.add((int(status), word))
    return out


def _codes(path: str, method: str, op: dict, path_item: dict) -> set[tuple[int, str]]:
    codes = {(int(s), c) for s, c in op.get(PROBLEM_MARKS, [])} | _described_codes(op)
    codes.add((503, "retry"))
    codes.add((400, "unknown_parameter"))
    callers = op.get("x-callers") or []
    if op.get("security"):
        codes |= {(401, c) for c in ("missing_token", "bad_token", "token_expired")}
        codes |= {(401, "subject_inactive"), (403, "forbidden")}
        if set(callers) & {"resident", "staff", "merchant", "org"}:
            codes.add((403, "account_frozen"))
        if set(callers) & {"merchant", "org", "operator"}:
            codes.add((403, "organization_frozen"))
    body = op.get("requestBody")
    if body and any(_is_json(mt) for mt in body.get("content", {})):
        codes |= {
            (400, "malformed_json"),
            (413, "payload_too_large"),
            (415, "unsupported_media_type"),
            (422, "validation_failed"),
        }
    params = _path_params(path_item, op)
    if any(p["in"] == "query" for p in params):
        codes.add((422, "validation_failed"))
    if any(p["in"] == "path" for p in params):
        codes.add((404, "not_found"))
    if op.get(PAGED):
        codes.add((400, "bad_cursor"))
    if op.get(IDEMPOTENT):
        codes |= {
            (409, "idempotency_in_flight"),
            (422, "idempotency_key_reused"),
            (422, "validation_failed"),
        }
    if op.get(RATE_LIMITED):
        codes.add((429, "rate_limited"))
    if method != "get":
        codes |= {(409, "conflict"), (409, "retry")}
    return codes


def _is_json(mimetype: str) -> bool:
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def _problem_example(status: int, code: str) -> dict:
    kind = _kind(status, code)
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE + code,
        "title": kind.title,
        "status": status,
        "detail": kind.title + ".",
        "code": code,
    }
    if code == "validation_failed":
        body["errors"] = {"points_price": ["Must be greater than or equal to 1."]}
    if code == "unknown_parameter":
        body["errors"] = {"account": ["Unknown query parameter."]}
    for name, schema in kind.extras.items():
        body[name] = schema.get("example")
    return body


def _problem_response(status: int, codes: list[str]) -> dict:
    def line(code: str) -> str:
        kind = _kind(status, code)
        extras = ", ".join(f"`{n}`" for n in kind.extras)
        return f"`{code}` ({kind.title}" + (f"; with {extras})" if extras else ")")

    phrase = HTTPStatus(status).phrase
    return {
        "description": f"{phrase}: " + ", ".join(line(c) for c in codes) + ".",
        "x-codes": codes,
        "content": {
            PROBLEM_JSON: {
                "schema": {"$ref": REF + "Problem"},
                "examples": {
                    code: {
                        "summary": _kind(status, code).title,
                        "value": _problem_example(status, code),
                    }
                    for code in codes
                },
            }
        },
    }


def _errors_text(by_status: dict[int, list[str]]) -> str:
    lines = ["**Errors** (`application/problem+json`; `code` says which):"]
    for status in sorted(by_status):
        lines.append(f"- {status}: " + ", ".join(f"`{c}`" for c in by_status[status]))
    return "\n".join(lines)


def _complete_operation(path: str, method: str, op: dict, path_item: dict) -> set:
    audience = audience_of(path)
    endpoint = op.get(ENDPOINT)
    if endpoint:
        op["operationId"] = f"{audience.slug}_{endpoint}"
    op["tags"] = [audience.tag]
    codes = _codes(path, method, op, path_item)
    by_status: dict[int, list[str]] = {}
    for status, code in sorted(codes):
        by_status.setdefault(status, []).append(code)
    responses = {
        k: v
        for k, v in op.get("responses", {}).items()
        if k != "default" and not (k[:1] in "45" and "$ref" in v)
    }
    for status, status_codes in by_status.items():
        responses[str(status)] = _problem_response(status, status_codes)
    if "forbidden" in by_status.get(403, []):  # the guard's 403 names the callers and roles
        value = responses["403"]["content"][PROBLEM_JSON]["examples"]["forbidden"]["value"]
        value |= {
            "callers": list(op.get("x-callers") or []),
            "roles": list(op.get("x-roles") or []),
        }
    op["responses"] = dict(sorted(responses.items()))
    if op.get(IDEMPOTENT):
        op.setdefault("parameters", []).append({"$ref": "#/components/parameters/IdempotencyKey"})
    # summary and description
    text = "\n\n".join(p for p in (op.get("summary"), op.get("description")) if p)
    op["summary"] = _first_sentence(text) if text else ""
    parts = [text, _who(op)]
    if op.get(IDEMPOTENT):
        parts.append(
            "**Idempotent:** send an `Idempotency-Key` header; the same key with the same "
            "body answers the first response again (`Idempotent-Replayed: true`) and moves "
            "nothing."
        )
    if op.get(PAGED):
        parts.append(
            "**A list:** newest first, `limit` items a page; pass `next_cursor` as `cursor` "
            "for the next page (null: the last)."
        )
    parts.append(_errors_text(by_status))
    op["description"] = "\n\n".join(p for p in parts if p)
    for key in PRIVATE:
        op.pop(key, None)
    return codes


# --- examples ---------------------------------------------------------------------------


def _named(name: str, schema: dict) -> Any:
    if schema.get("type") not in ("string", "integer", "boolean", "number"):
        return None
    value = NAMED_EXAMPLES.get(name)
    if value is None:
        for suffix, candidate in SUFFIX_EXAMPLES:
            if name.endswith(suffix):
                value = candidate
                break
    if value is None:
        return None
    wanted = {"string": str, "integer": int, "boolean": bool, "number": (int, float)}
    if isinstance(value, bool) and schema["type"] != "boolean":
        return None
    if not isinstance(value, wanted[schema["type"]]):
        return None
    return value


def _scalar_example(name: str | None, schema: dict) -> Any:
    """An example for a scalar property by convention, or None."""
    if "example" in schema:
        return schema["example"]
    if schema.get("enum"):
        return schema["enum"][0]
    fmt = schema.get("format")
    if schema.get("type") == "string" and fmt == "date-time":
        return EXAMPLE_TIME
    if schema.get("type") == "string" and fmt == "date":
        return EXAMPLE_DATE
    if name is not None:
        value = _named(name, schema)
        if value is not None:
            if schema.get("type") == "integer" and "minimum" in schema:
                value = max(value, schema["minimum"])
            return value
    return None


class _Examples:
    def __init__(self, schemas: dict):
        self.schemas = schemas
        self.done: dict[str, Any] = {}
        self.busy: set[str] = set()

    def of_component(self, name: str) -> Any:
        if name in self.done:
            return self.done[name]
        if name in self.busy:  # a recursive schema: stop here
            return None
        self.busy.add(name)
        schema = self.schemas[name]
        value = self.of(schema, None)
        self.busy.discard(name)
        if value is not None and "example" not in schema:
            schema["example"] = value
        self.done[name] = value
        return value

    def of(self, schema: dict, name: str | None) -> Any:
        if "$ref" in schema:
            return self.of_component(schema["$ref"].removeprefix(REF))
        if schema.get("type") == "object" or "properties" in schema:
            composed = self._object(schema)
            return schema.get("example", composed)
        if "example" in schema:
            return schema["example"]
        if "allOf" in schema:
            merged: dict = {}
            for part in schema["allOf"]:
                value = self.of(part, name)
                if isinstance(value, dict):
                    merged.update(value)
            return merged or None
        for key in ("oneOf", "anyOf"):
            if key in schema:  # the first alternative that has an example
                values = (self.of(alternative, name) for alternative in schema[key])
                return next((v for v in values if v is not None), None)
        kind = schema.get("type")
        if kind == "array":
            item = self.of(schema.get("items", {}), None)
            return [item] if item is not None else None
        return _scalar_example(name, schema)

    def _object(self, schema: dict) -> Any:
        """The example of an object schema composed of its properties', each property
        given one where it has none (from the object's own example, if it has one)."""
        given = schema.get("example") if isinstance(schema.get("example"), dict) else {}
        out = {}
        for prop, sub in (schema.get("properties") or {}).items():
            if prop in given and "$ref" not in sub and "example" not in sub:
                sub["example"] = given[prop]
            value = self.of(sub, prop)
            if value is None and not sub.get("nullable"):
                continue
            out[prop] = value
            if "$ref" not in sub and "example" not in sub and value is not None:
                sub["example"] = value
        if not out and not schema.get("properties"):
            return None
        return out


def _fill_examples(document: dict) -> None:
    schemas = document["components"]["schemas"]
    examples = _Examples(schemas)
    for name in list(schemas):
        examples.of_component(name)
    for path, _method, op in operations(document):
        item = document["paths"][path]
        for param in item.get("parameters", []) + op.get("parameters", []):
            if "$ref" in param or "example" in param:
                continue
            schema = param.get("schema", {})
            value = _scalar_example(param["name"], schema)
            if value is None and param["in"] == "path":
                value = PATH_EXAMPLES.get(param["name"])
                if schema.get("type") == "integer" and not isinstance(value, int):
                    value = 1
            if value is not None:
                param["example"] = value
        media = [*op.get("requestBody", {}).get("content", {}).values()]
        for status, response in op.get("responses", {}).items():
            if status.startswith("2"):
                media += [m for mt, m in response.get("content", {}).items() if _is_json(mt)]
        for one in media:
            if "example" in one or "examples" in one or "schema" not in one:
                continue
            value = examples.of(one["schema"], None)
            if value is not None:
                one["example"] = value


def missing_examples(document: dict) -> list[str]:
    """What has no example: schema properties (other than references, which carry their
    schema's), schemas, parameters, JSON bodies and JSON success responses."""
    out = []
    for name, schema in document["components"]["schemas"].items():
        if "example" not in schema:
            out.append(f"schema {name}")
        for prop, sub in (schema.get("properties") or {}).items():
            if {"$ref", "allOf", "anyOf", "oneOf", "example"} & set(sub):
                continue
            out.append(f"schema {name}.{prop}")
    for path, method, op in operations(document):
        where = f"{method.upper()} {path}"
        for param in document["paths"][path].get("parameters", []) + op.get("parameters", []):
            if "$ref" not in param and "example" not in param:
                out.append(f"{where} parameter {param['name']}")
        for mt, one in op.get("requestBody", {}).get("content", {}).items():
            if _is_json(mt) and "example" not in one and "examples" not in one:
                out.append(f"{where} request body")
        for status, response in op.get("responses", {}).items():
            for mt, one in response.get("content", {}).items():
                if _is_json(mt) and "schema" in one and not ({"example", "examples"} & set(one)):
                    out.append(f"{where} response {status}")
    return out


# --- the components ---------------------------------------------------------------------


def _problem_schema(used: set[tuple[int, str]]) -> dict:
    extras: dict[str, dict] = {}
    carried: dict[str, list[str]] = {}
    for key in sorted(used):
        for name, schema in _kind(*key).extras.items():
            carried.setdefault(name, [])
            if key[1] not in carried[name]:
                carried[name].append(key[1])
            known = extras.get(name)
            if known is None:
                extras[name] = deepcopy(schema)
            elif schema.get("nullable"):
                known["nullable"] = True
    for name, schema in extras.items():
        by = ", ".join(f"`{c}`" for c in carried[name])
        schema["description"] = f"{schema.get('description', '')} (Sent with {by}.)".strip()
    return {
        "type": "object",
        "description": "An RFC 9457 problem document. `code` is stable and machine-readable; "
        "some codes add members of their own (listed here, each naming its codes).",
        "required": ["type", "title", "status", "detail", "code"],
        "properties": {
            "type": {
                "type": "string",
                "format": "uri",
                "description": "A URI naming the problem (its last segment is `code`).",
                "example": PROBLEM_TYPE + "insufficient_points",
            },
            "title": {
                "type": "string",
                "description": "What kind of problem this is.",
                "example": "Not enough points",
            },
            "status": {
                "type": "integer",
                "description": "The HTTP status code.",
                "example": 409,
            },
            "detail": {
                "type": "string",
                "description": "What went wrong this time, for people.",
                "example": "The item costs 300 points.",
            },
            "code": {
                "type": "string",
                "description": "The machine code; each operation lists those it answers.",
                "example": "insufficient_points",
            },
            "errors": {
                "type": "object",
                "additionalProperties": True,
                "description": "Of a validation failure: field (or query parameter, or "
                "header) -> messages; nested for nested fields.",
                "example": {"points_price": ["Must be greater than or equal to 1."]},
            },
            **extras,
        },
        "example": _problem_example(409, "insufficient_points"),
    }


IDEMPOTENCY_KEY = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "description": "Names this request for its retries (1 to 200 printable characters, e.g. "
    "a UUID): the same key with the same body answers the first response again and moves "
    "nothing; with another body it is 422 `idempotency_key_reused`; while the first is in "
    "flight, 409 `idempotency_in_flight`. Without it the request is not deduplicated.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
    "example": "5f0c7a52-9d1e-4b7a-9f55-0d2f2b8f6a11",
}


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield ref
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _prune(document: dict) -> None:
    """Drop the components nothing refers to (from the paths, transitively)."""
    components = document["components"]
    reached: set[str] = set()
    todo = list(_refs(document["paths"]))
    while todo:
        ref = todo.pop()
        if ref in reached or not ref.startswith("#/components/"):
            continue
        reached.add(ref)
        _, _, section, name = ref.split("/", 3)
        target = components.get(section, {}).get(name)
        if target is not None:
            todo.extend(_refs(target))
    for section in list(components):
        if section == "securitySchemes":
            continue
        kept = {
            name: value
            for name, value in components[section].items()
            if f"#/components/{section}/{name}" in reached
        }
        if kept:
            components[section] = kept
        else:
            del components[section]


def complete(raw: dict, *, servers: list[dict]) -> dict:
    """The document as served: `raw` (flask-smorest's) completed (see the module doc)."""
    document = deepcopy(raw)
    components = document.setdefault("components", {})
    components.pop("responses", None)  # flask-smorest's stock error responses
    used: set[tuple[int, str]] = set()
    for path, method, op in operations(document):
        used |= _complete_operation(path, method, op, document["paths"][path])
    components.setdefault("schemas", {})["Problem"] = _problem_schema(used)
    components.setdefault("parameters", {})["IdempotencyKey"] = deepcopy(IDEMPOTENCY_KEY)
    _fill_examples(document)
    _prune(document)
    tags_used = {tag for _p, _m, op in operations(document) for tag in op.get("tags", [])}
    document["tags"] = [
        {"name": a.tag, "description": a.description}
        for a in (*AUDIENCES, OTHER)
        if a.tag in tags_used
    ]
    document["info"] = {
        **document.get("info", {}),
        "description": INFO_DESCRIPTION,
        "contact": CONTACT,
        "license": LICENSE,
    }
    document["servers"] = servers
    ordered = {
        key: document[key]
        for key in ("openapi", "info", "servers", "tags", "paths", "components")
        if key in document
    }
    return ordered | {k: v for k, v in document.items() if k not in ordered}
