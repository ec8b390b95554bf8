from __future__ import annotations

import marshmallow as ma
from marshmallow import validate as v

from backend.http import LocalDateTime, PageArgs, ex


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


class LedgerQuery(PageArgs):
    unit = ma.fields.String(
        load_default=None,
        validate=v.OneOf(("g", "pt")),
        metadata=ex(
            "pt",
            "`g`: the reductions account (grams CO2e); `pt`: the points account. Absent: "
            "both, each posting saying its `unit`.",
        ),
    )


class PostingOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    entry_id = ma.fields.Integer(required=True)
    kind = ma.fields.String(required=True, metadata=ex("accrual", "What moved it."))
    unit = ma.fields.String(required=True, metadata=ex("pt", "`g` (grams CO2e) or `pt` (points)."))
    amount = ma.fields.Integer(
        required=True, metadata=ex(467, "In the posting's unit; negative when it left.")
    )
    balance_after = ma.fields.Integer(
        required=True, metadata=ex(1401, "The account's balance after this posting.")
    )
    created_at = LocalDateTime(required=True)
    memo = ma.fields.String(allow_none=True)
