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


class HistoryQuery(ma.Schema):
    limit = ma.fields.Integer(load_default=50, validate=v.Range(min=1, max=500))
    cursor = ma.fields.String(load_default=None, validate=v.Length(max=200))


class TripLineOut(ma.Schema):
    activity_id = ma.fields.Integer(required=True, metadata={"example": 812})
    scenario_code = ma.fields.String(required=True, metadata={"example": "SIP-S-METRO"})
    activity_type = ma.fields.String(required=True, metadata={"example": "metro"})
    day = ma.fields.Date(required=True, metadata={"example": "2026-11-30"})
    started_at = LocalDateTime(
        allow_none=True,
        metadata={"description": "Null once erased.", "example": "2026-11-30T08:10:00+08:00"},
    )
    reduction_g = ma.fields.Integer(required=True, metadata={"example": 574})
    credited_g = ma.fields.Integer(
        allow_none=True,
        metadata={
            "description": "Null until accrued; then what the daily cap left.",
            "example": 574,
        },
    )
    flags = ma.fields.List(ma.fields.String(), metadata={"example": []})
    computation = ma.fields.Dict(
        required=True,
        metadata={
            "description": "How the grams were computed: the measure (null once the raw "
            "details are erased), the methodology's factors, what a kilometre (or kWh) "
            "saves, the methodology and version, and the sum written out.",
            "example": {
                "formula": "transit",
                "distance_m": 12300,
                "km": 12.3,
                "baseline_g_per_km": 60,
                "mode_g_per_km": 13.3,
                "g_per_km": 46.7,
                "methodology": "SIP-M-TRANSIT",
                "methodology_version": "1.0",
                "expression": "12.3 km × (60 − 13.3) g/km = 574 g (rounded down)",
            },
        },
    )


class CreditLineOut(ma.Schema):
    day = ma.fields.Date(required=True, metadata={"example": "2026-11-30"})
    scenario_code = ma.fields.String(required=True, metadata={"example": "SIP-S-METRO"})
    trips = ma.fields.Integer(required=True, metadata={"example": 8})
    reduction_g = ma.fields.Integer(
        required=True, metadata={"description": "What the trips avoided.", "example": 3736}
    )
    credited_g = ma.fields.Integer(required=True, metadata={"example": 3000})
    cut_by_cap_g = ma.fields.Integer(
        required=True, metadata={"description": "What the daily cap cut.", "example": 736}
    )
    daily_cap_g = ma.fields.Integer(required=True, metadata={"example": 3000})


class OrderLineOut(ma.Schema):
    id = ma.fields.Integer(required=True, metadata={"example": 57})
    item_title = ma.fields.String(required=True, metadata={"example": "Reusable cup"})
    merchant = ma.fields.String(allow_none=True, metadata={"example": "Green Grocer"})
    status = ma.fields.String(required=True, metadata={"example": "cancelled"})
    points = ma.fields.Integer(required=True, metadata={"example": 120})


class ConversionLineOut(ma.Schema):
    automatic = ma.fields.Boolean(
        required=True,
        metadata={
            "description": "Accrual's auto-conversion (not the resident's own).",
            "example": True,
        },
    )


class HistoryLineOut(ma.Schema):
    id = ma.fields.String(required=True, metadata={"example": "entry-3312"})
    type = ma.fields.String(
        required=True,
        metadata={
            "description": "trip, credit, conversion, order (points spent), refund, "
            "redemption, expiry, closure, other",
            "example": "credit",
        },
    )
    at = LocalDateTime(required=True, metadata={"example": "2026-12-01T00:01:00+08:00"})
    text_zh = ma.fields.String(
        required=True,
        metadata={
            "example": "2026-11-30 SIP-S-METRO 减排量入账 3000 克"
            "（每日上限 3000 克，削减 736 克）。"
        },
    )
    text_en = ma.fields.String(
        required=True,
        metadata={
            "example": "3000 g CO2e credited for 2026-11-30 (SIP-S-METRO); the daily cap "
            "of 3000 g cut 736 g."
        },
    )
    reductions_g = ma.fields.Integer(
        allow_none=True,
        metadata={"description": "The change of the resident's reductions.", "example": 3000},
    )
    points = ma.fields.Integer(
        allow_none=True,
        metadata={"description": "The change of the resident's points.", "example": None},
    )
    entry_id = ma.fields.Integer(
        allow_none=True, metadata={"description": "The journal entry.", "example": 3312}
    )
    trip = ma.fields.Nested(TripLineOut, allow_none=True)
    credit = ma.fields.Nested(CreditLineOut, allow_none=True)
    order = ma.fields.Nested(OrderLineOut, allow_none=True)
    conversion = ma.fields.Nested(ConversionLineOut, allow_none=True)
