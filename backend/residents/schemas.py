from __future__ import annotations

import marshmallow as ma
from marshmallow import validate as v

from backend.http import LocalDateTime


class MeOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    phone = ma.fields.String(required=True)
    display_name = ma.fields.String(allow_none=True)
    auto_convert = ma.fields.Boolean(required=True)
    reductions_g = ma.fields.Integer(required=True)
    points = ma.fields.Integer(required=True)


class MePatch(ma.Schema):
    display_name = ma.fields.String(validate=v.Length(min=1, max=64), allow_none=True)
    auto_convert = ma.fields.Boolean()


class LedgerQuery(ma.Schema):
    unit = ma.fields.String(load_default="g", validate=v.OneOf(("g", "pt")))
    limit = ma.fields.Integer(load_default=50, validate=v.Range(min=1, max=500))
    cursor = ma.fields.String(load_default=None, validate=v.Length(max=200))


class PostingOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    entry_id = ma.fields.Integer(required=True)
    kind = ma.fields.String(required=True)
    amount = ma.fields.Integer(required=True)
    balance_after = ma.fields.Integer(required=True)
    created_at = LocalDateTime(required=True)
    memo = ma.fields.String(allow_none=True)
