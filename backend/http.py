"""flask-smorest subclassed once: the Api (problem+json errors), the Blueprint, and the
cursor page every list answers with (`{"items": [...], "next_cursor": ...}`).

flask-smorest's own `Page` paginates by offset with a header; the contract asks for
an opaque cursor in the body, so lists use `CursorPage` (keyset on a unique column,
newest first, stable while new rows arrive).
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from datetime import UTC, timedelta, timezone

import marshmallow as ma
from flask_smorest import Api as _Api
from flask_smorest import Blueprint as _Blueprint
from marshmallow.utils import missing
from sqlalchemy import Select
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.routing import IntegerConverter, UnicodeConverter, ValidationError

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


class Api(_Api):
    ERROR_SCHEMA = ProblemSchema

    def init_app(self, app, *, spec_kwargs=None):
        # Before any route is added: rules bind their converters when they are added.
        app.url_map.converters.update(int=IdConverter, string=TextConverter, default=TextConverter)
        super().init_app(app, spec_kwargs=spec_kwargs)

    def handle_http_exception(self, error):
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
    """Project blueprint: arguments parsed by `Parser`; lists as cursor pages."""

    ARGUMENTS_PARSER = Parser()

    @staticmethod
    def cursor_page(key, *, scalars: bool = True):
        """The view returns a `Select` (built by the rules); this answers one keyset page
        of it over `key`, newest first. Put it right above the view function."""

        def decorator(fn):
            @functools.wraps(fn)
            def wrapper(args, *a, **kw):
                return cursor_page(fn(args, *a, **kw), key, args, scalars=scalars)

            return wrapper

        return decorator


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
