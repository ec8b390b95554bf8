"""flask-smorest subclassed once: the Api (problem+json errors, the completed OpenAPI
document), the Blueprint, and the cursor page every list answers with
(`{"items": [...], "next_cursor": ...}`).

flask-smorest's own `Page` paginates by offset with a header; the contract asks for
an opaque cursor in the body, so lists use `CursorPage` (keyset on a unique column,
newest first, stable while new rows arrive).

Conventions for a route (follow them and the OpenAPI document of the route is complete;
`tests/test_openapi_complete.py` checks every operation and every schema):
1. A `Blueprint` of this module, its `url_prefix` under one audience of
   `backend.apidoc.AUDIENCES` (`/api/v1/auth`, `/me`, `/mall`, `/merchant`, `/operator`,
   `/org`, `/admin`, `/public`): the audience is the operation's tag and the first part
   of its `operationId` (`<audience>_<view function name>`, so two views of one
   audience need two names). A new audience is a new row there.
2. The view's docstring: its first sentence is the summary, all of it the description.
3. A route that needs a token: `@require(...)` (`backend.auth.guards`) right under the
   route, roles named for staff. Security, who may call it, 401 and 403 follow.
4. Bodies and query strings: `@blp.arguments(Schema)` / `(Schema, location="query")`
   (or `@blp.doc(requestBody=...)` for a body parsed by hand). The document then lists
   400 `malformed_json`, 413, 415 and 422 `validation_failed`. A query parameter the
   operation does not declare is 400 `unknown_parameter` for every operation
   (`backend.hardening`).
5. Answers: `@blp.response(status, Schema)`; `@blp.alt_response` for another success.
   Every field of a schema has an example: `metadata={"example": ...}` (and a
   `description` where the name is not enough), unless a convention of
   `backend.apidoc` gives one (an enum, a date-time, `id`, `*_id`, `*_g`, `*_at`...).
6. Errors: `@blp.problems(status, "code", ...)` names every code the rules behind the
   view may raise (the guard's, the parser's, the cursor's, idempotency's and the
   database's are added for you; `@blp.alt_response(409, description="a, b")`, the
   older way, is read too). A code is an `ApiError` subclass setting `code` (and
   `extras`, the members it adds), entered in `backend.errors.PROBLEMS` when defined.
   The fuzzing test fails on an answer whose code its operation does not list.
7. Lists: `PageArgs` (or a subclass) as query arguments, a `page_schema(...)` answer,
   and `@blp.cursor_page(Model.id)` right above the view: 400 `bad_cursor` follows.
8. Money-moving POSTs: `@idempotent` (`backend.idempotency`) under the guard: the
   `Idempotency-Key` header parameter and its 409 and 422 follow. A rate limit
   (`@limiter.limit`) adds 429 `rate_limited`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from copy import deepcopy
from datetime import UTC, timedelta, timezone

import marshmallow as ma
from flask import request
from flask_smorest import Api as _Api
from flask_smorest import Blueprint as _Blueprint
from marshmallow.utils import missing
from sqlalchemy import Select
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import NotFound as NotFoundError
from werkzeug.routing import IntegerConverter, UnicodeConverter, ValidationError

from backend import apidoc
from backend.db import db, nul_fields, storable
from backend.errors import ApiError, from_http_exception
from backend.hardening import loads

# China Standard Time. Not the Asia/Shanghai zone: for old dates that gives local mean
# time (+08:05:43) or the summer time of 1986-91 (+09:00), and responses are +08:00.
CHINA = timezone(timedelta(hours=8), "CST")
MAX_ID = 2**63 - 1  # ids are 64-bit in the database
# The Content-Security-Policy of the HTML pages: everything from this site only, no inline
# script, no framing.
HTML_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# An id argument: a larger one is refused (422), never a 500.
ID = ma.validate.Range(min=1, max=MAX_ID)


def ex(example, description: str | None = None, **more) -> dict:
    """A field's `metadata` for the OpenAPI document: its example, and a description
    where the name is not enough (`more`: other JSON Schema keywords, e.g. the `type` of
    a `Function` field)."""
    out = {"example": example, **more}
    if description:
        out["description"] = description
    return out


class LocalDateTime(ma.fields.DateTime):
    """Times in responses: ISO 8601 with the +08:00 offset (China Standard Time)."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(CHINA).isoformat()


class ProblemSchema(ma.Schema):
    type = ma.fields.String()
    title = ma.fields.String()
    status = ma.fields.Integer()
    detail = ma.fields.String()
    code = ma.fields.String()
    errors = ma.fields.Dict()


class IdConverter(IntegerConverter):
    """`<int:...>` in paths stops at MAX_ID: a larger number matches no route (404)
    instead of overflowing the database's 64-bit id (a 500)."""

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_ID, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


class TextConverter(UnicodeConverter):
    """`<string:...>` (the default) in paths: a part holding a NUL character matches no
    route (404); no text column of PostgreSQL can hold one."""

    def to_python(self, value: str) -> str:
        if not storable(value):
            raise ValidationError()
        return value


def annotate(fn, doc: dict):
    """Add `doc` to what the OpenAPI document says of the view `fn` (its operation);
    lists under the same key add up. Returns `fn`."""
    fn._apidoc = deepcopy(getattr(fn, "_apidoc", {}))
    manual = fn._apidoc.setdefault("manual_doc", {})
    for key, value in doc.items():
        if isinstance(value, list) and isinstance(manual.get(key), list):
            manual[key] = manual[key] + [v for v in value if v not in manual[key]]
        else:
            manual[key] = deepcopy(value)
    return fn


class Api(_Api):
    ERROR_SCHEMA = ProblemSchema
    DEFAULT_ERROR_RESPONSE_NAME = None  # every error is listed by status (backend.apidoc)

    def init_app(self, app, *, spec_kwargs=None):
        # Before any route is added: rules bind their converters when they are added.
        app.url_map.converters.update(int=IdConverter, string=TextConverter, default=TextConverter)
        super().init_app(app, spec_kwargs=spec_kwargs)
        raw = self.spec.to_dict
        public_url = app.config.get("PUBLIC_BASE_URL")
        servers = [{"url": "/", "description": "The server this document came from"}]
        if public_url:
            servers.insert(0, {"url": public_url.rstrip("/") or "/", "description": "Public"})
        servers.append(
            {"url": "http://127.0.0.1:5000", "description": "The embedded default (serve.sh)"}
        )
        cache: dict = {}

        def completed() -> dict:
            # The document is complete once every blueprint is registered; a later
            # registration starts it again.
            if cache.get("paths") is not self.spec._paths or cache.get("n") != len(
                self.spec._paths
            ):
                cache.update(
                    doc=apidoc.complete(raw(), servers=servers),
                    paths=self.spec._paths,
                    n=len(self.spec._paths),
                )
            return deepcopy(cache["doc"])

        self.spec.to_dict = completed

    def handle_http_exception(self, error):
        # An id beyond MAX_ID matches no route, but werkzeug answers 405 when the path
        # has routes for other methods (it checks the method before the converter).
        if error.code == 405 and any(
            part.isdigit() and int(part) > MAX_ID for part in request.path.split("/")
        ):
            error = NotFoundError()
        return from_http_exception(error)


class Parser(FlaskParser):
    """Refuses NUL characters in any argument (422): no text column of PostgreSQL can
    hold one, so letting one through turns bad input into a 500. JSON nested too deep
    is malformed (`backend.hardening.loads`); a PATCH that changes nothing is 422."""

    def _raw_load_json(self, req):
        if not is_json_request(req):
            return missing
        data = req.get_data(cache=True)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise json.JSONDecodeError(f"Bytes decoding error: {exc.reason}", "<body>", 0) from exc
        return loads(text)

    def pre_load(self, location_data, *, schema, req, location):
        if location == "json" and req.method == "PATCH" and not location_data:
            raise ma.ValidationError({"_schema": ["Nothing to change: name a field."]})
        bad = sorted(set(nul_fields(location_data)))
        if bad:
            raise ma.ValidationError(
                {field: ["NUL characters and invalid Unicode are not allowed."] for field in bad}
            )
        return location_data


class Blueprint(_Blueprint):
    """Project blueprint: arguments parsed by `Parser`; lists as cursor pages; the codes
    a view may answer named with `problems` (see the conventions above)."""

    ARGUMENTS_PARSER = Parser()

    @staticmethod
    def problems(status: int, *codes: str):
        """Name the problem codes of `status` the rules behind this view may raise."""
        if not codes:
            raise ValueError("name at least one code")

        def decorator(fn):
            return annotate(fn, {apidoc.PROBLEM_MARKS: [[status, c] for c in codes]})

        return decorator

    @staticmethod
    def cursor_page(key, *, scalars: bool = True):
        """The view returns a `Select` (built by the rules); this answers one keyset page
        of it over `key`, newest first. Put it right above the view function."""

        def decorator(fn):
            @functools.wraps(fn)
            def wrapper(args, *a, **kw):
                return cursor_page(fn(args, *a, **kw), key, args, scalars=scalars)

            return annotate(wrapper, {apidoc.PAGED: True})

        return decorator

    def register_views_in_doc(self, api, app, spec, *, name, parameters):
        # What only the app knows of a view: its endpoint (the operationId) and whether a
        # rate limit guards it.
        limiters = app.extensions.get("limiter") or ()
        marked = set().union(*(getattr(x, "_marked_for_limiting", set()) for x in limiters))
        for endpoint, info in self._docs.items():
            view = app.view_functions.get(f"{name}.{endpoint}")
            limited = view is not None and f"{view.__module__}.{view.__name__}" in marked
            for method, doc in info.items():
                if method == "parameters" or not isinstance(doc, dict):
                    continue
                manual = doc.setdefault("manual_doc", {})
                manual[apidoc.ENDPOINT] = endpoint
                if limited:
                    manual[apidoc.RATE_LIMITED] = True
        super().register_views_in_doc(api, app, spec, name=name, parameters=parameters)


class PageArgs(ma.Schema):
    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=500))
    cursor = ma.fields.String(load_default=None, validate=ma.validate.Length(max=200))


class BadCursor(ApiError):
    status, code, title = 400, "bad_cursor", "Bad cursor"


def page_schema(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    return ma.Schema.from_dict(
        {
            "items": ma.fields.List(ma.fields.Nested(item_schema), required=True),
            "next_cursor": ma.fields.String(allow_none=True, required=True),
        },
        name=name,
    )


def _encode(value: int) -> str:
    return base64.urlsafe_b64encode(str(value).encode()).decode().rstrip("=")


def _decode(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        value = int(raw)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadCursor("The cursor is not one this API gave out.") from exc
    if value < 0 or value > MAX_ID:
        raise BadCursor("The cursor is not one this API gave out.")
    return value


def cursor_page(stmt: Select, key, args: dict, *, scalars: bool = True) -> dict:
    """Keyset page over `key` (a unique, increasing column), newest first."""
    limit = args.get("limit", 50)
    cursor = args.get("cursor")
    if cursor:
        stmt = stmt.where(key < _decode(cursor))
    stmt = stmt.order_by(key.desc()).limit(limit + 1)
    result = db.session.execute(stmt)
    rows = list(result.scalars() if scalars else result)
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more:
        last = rows[-1]
        last_key = getattr(last, key.key) if scalars else last._mapping[key.key]
        next_cursor = _encode(last_key)
    return {"items": rows, "next_cursor": next_cursor}
