from __future__ import annotations

import marshmallow as ma
from marshmallow import validate as v

from backend.http import LocalDateTime


class ExpiringNextOut(ma.Schema):
    points = ma.fields.Integer(required=True, metadata={"example": 1200})
    on = ma.fields.Date(
        required=True,
        metadata={
            "description": "The last day (Asia/Shanghai) these points are alive.",
            "example": "2036-03-31",
        },
    )


class MeOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    phone = ma.fields.String(required=True)
    display_name = ma.fields.String(allow_none=True)
    auto_convert = ma.fields.Boolean(required=True)
    reductions_g = ma.fields.Integer(required=True)
    points = ma.fields.Integer(required=True)
    points_expiring_next = ma.fields.Nested(
        ExpiringNextOut,
        allow_none=True,
        required=True,
        metadata={
            "description": "The next expiry date of the resident's points and how many "
            "expire then (`GET /api/v1/me/points/expiring` lists them all); null without "
            "points."
        },
    )


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


class NotificationOut(ma.Schema):
    id = ma.fields.Integer(required=True, metadata={"example": 31})
    kind = ma.fields.String(
        required=True,
        metadata={
            "description": "credit, order_refunded, order_expired, consent_granted, "
            "consent_withdrawn, points_expiring, points_expired",
            "example": "points_expiring",
        },
    )
    text_zh = ma.fields.String(
        required=True, metadata={"example": "您有 1200 积分将于 2036-03-31 到期，请及时使用。"}
    )
    text_en = ma.fields.String(
        required=True,
        metadata={"example": "1200 of your points expire on 2036-03-31: use them before then."},
    )
    data = ma.fields.Dict(
        allow_none=True,
        metadata={
            "description": "The figures the text tells of.",
            "example": {"points": 1200, "on": "2036-03-31"},
        },
    )
    created_at = LocalDateTime(required=True, metadata={"example": "2036-03-01T09:00:00+08:00"})
    sent_at = LocalDateTime(
        allow_none=True,
        metadata={"description": "When a push service sent it; null until then.", "example": None},
    )
