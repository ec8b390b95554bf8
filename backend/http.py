"""flask-smorest subclassed once: the Api (problem+json errors), the Blueprint, and the
cursor page every list answers with (`{"items": [...], "next_cursor": ...}`).

flask-smorest's own `Page` paginates by offset with a header; the contract asks for
an opaque cursor in the body, so lists use `CursorPage` (keyset on a unique column,
newest first, stable while new rows arrive).
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC
from zoneinfo import ZoneInfo

import marshmallow as ma
from flask_smorest import Api as _Api
from flask_smorest import Blueprint as _Blueprint
from sqlalchemy import Select

from backend.db import db
from backend.errors import ApiError, from_http_exception

SHANGHAI = ZoneInfo("Asia/Shanghai")


class LocalDateTime(ma.fields.DateTime):
    """Times in responses: ISO 8601 with the +08:00 offset (Asia/Shanghai)."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(SHANGHAI).isoformat()


class ProblemSchema(ma.Schema):
    type = ma.fields.String()
    title = ma.fields.String()
    status = ma.fields.Integer()
    detail = ma.fields.String()
    code = ma.fields.String()
    errors = ma.fields.Dict()


class Api(_Api):
    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error):
        return from_http_exception(error)


class Blueprint(_Blueprint):
    """Project blueprint: documents problem responses with the right media type."""


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
    if value < 0 or value > 2**63:
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
