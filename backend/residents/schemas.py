from __future__ import annotations

import marshmallow as ma
from marshmallow import validate as v

from backend.http import LocalDateTime, PageArgs, ex


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


def _ex(value) -> dict:
    return {"example": value}


class ReportQuery(ma.Schema):
    year = ma.fields.Integer(
        required=True, validate=v.Range(min=2000, max=2100), metadata=_ex(2026)
    )


class ScenarioTotalOut(ma.Schema):
    scenario_code = ma.fields.String(
        allow_none=True,
        metadata={"description": "Null for a credit naming no scenario.", **_ex("SIP-S-METRO")},
    )
    credited_g = ma.fields.Integer(required=True, metadata=_ex(41200))


class MonthTotalOut(ma.Schema):
    month = ma.fields.String(required=True, metadata=_ex("2026-11"))
    credited_g = ma.fields.Integer(required=True, metadata=_ex(18400))


class ReportReductionsOut(ma.Schema):
    credited_g = ma.fields.Integer(
        required=True,
        metadata={
            "description": "The accrual credits of the year's activity days (Asia/Shanghai): "
            "the sum of the resident's ledger postings.",
            **_ex(52900),
        },
    )
    by_scenario = ma.fields.List(ma.fields.Nested(ScenarioTotalOut), required=True)
    by_month = ma.fields.List(
        ma.fields.Nested(MonthTotalOut), required=True, metadata={"description": "12 months."}
    )


class ModeOut(ma.Schema):
    activity_type = ma.fields.String(required=True, metadata=_ex("metro"))
    name_zh = ma.fields.String(required=True, metadata=_ex("地铁"))
    name_en = ma.fields.String(required=True, metadata=_ex("Metro"))
    trips = ma.fields.Integer(required=True, metadata=_ex(96))
    km = ma.fields.Float(required=True, metadata=_ex(1108.4))
    km_estimated = ma.fields.Float(
        required=True,
        metadata={
            "description": "The part of `km` estimated from the grams and the methodology's "
            "factor, for trips whose raw details are erased.",
            **_ex(0.0),
        },
    )
    reduction_g = ma.fields.Integer(required=True, metadata=_ex(51762))
    credited_g = ma.fields.Integer(required=True, metadata=_ex(41200))


class ReportTripsOut(ma.Schema):
    count = ma.fields.Integer(required=True, metadata=_ex(131))
    by_mode = ma.fields.List(ma.fields.Nested(ModeOut), required=True)


class ComparisonOut(ma.Schema):
    methodology = ma.fields.String(required=True, metadata=_ex("SIP-M-TRANSIT"))
    methodology_version = ma.fields.String(required=True, metadata=_ex("1.0"))
    credited_g = ma.fields.Integer(required=True, metadata=_ex(52900))
    factor = ma.fields.String(
        required=True,
        metadata={"description": "The factor compared with.", **_ex("baseline_g_per_km")},
    )
    factor_g_per_km = ma.fields.Float(required=True, metadata=_ex(60.0))
    car_km = ma.fields.Float(
        required=True,
        metadata={"description": "credited_g / factor_g_per_km.", **_ex(881.7)},
    )
    text_zh = ma.fields.String(
        required=True,
        metadata=_ex(
            "相当于少开 881.7 公里汽车（按 SIP-M-TRANSIT 1.0 的基准排放因子 60.0 克/公里计）"
        ),
    )
    text_en = ma.fields.String(
        required=True,
        metadata=_ex(
            "what a car emits over 881.7 km (at the baseline factor of SIP-M-TRANSIT 1.0: "
            "60.0 g/km)"
        ),
    )
    source = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "The methodology's published source of its factors.",
            **_ex("《深圳市低碳公共出行碳普惠方法学（试行）》 2021"),
        },
    )


class ReportPointsOut(ma.Schema):
    earned = ma.fields.Integer(required=True, metadata=_ex(52900))
    spent = ma.fields.Integer(
        required=True,
        metadata={"description": "Points held for orders, less refunds.", **_ex(1200)},
    )
    expired = ma.fields.Integer(required=True, metadata=_ex(0))
    cancelled_at_closure = ma.fields.Integer(required=True, metadata=_ex(0))
    balance_end = ma.fields.Integer(
        required=True,
        metadata={"description": "The balance at the end of the year (or now).", **_ex(51700)},
    )


class RankOut(ma.Schema):
    band = ma.fields.String(
        required=True,
        metadata={
            "description": "top_1, top_5, top_10, top_25, top_50, bottom_50 or not_ranked: "
            "by the grams credited for the year, among the residents credited that year.",
            **_ex("top_10"),
        },
    )
    text_zh = ma.fields.String(required=True, metadata=_ex("参与居民中前 10%"))
    text_en = ma.fields.String(required=True, metadata=_ex("top 10 % of participants"))


class ReportOut(ma.Schema):
    year = ma.fields.Integer(required=True, metadata=_ex(2026))
    as_of = LocalDateTime(required=True, metadata=_ex("2026-12-01T21:00:00+08:00"))
    reductions = ma.fields.Nested(ReportReductionsOut, required=True)
    trips = ma.fields.Nested(ReportTripsOut, required=True)
    comparisons = ma.fields.List(ma.fields.Nested(ComparisonOut), required=True)
    points = ma.fields.Nested(ReportPointsOut, required=True)
    reductions_balance_end_g = ma.fields.Integer(
        required=True,
        metadata={"description": "Unconverted grams at the end of the year.", **_ex(0)},
    )
    rank = ma.fields.Nested(RankOut, required=True)


class ExportOut(ma.Schema):
    format = ma.fields.String(required=True, metadata=_ex("sip-carbon-points/resident-export/1"))
    exported_at = ma.fields.String(required=True, metadata=_ex("2026-12-01T21:00:00+08:00"))
    profile = ma.fields.Dict(
        required=True,
        metadata=_ex(
            {
                "id": 7,
                "phone": "139****0001",
                "display_name": "Lin",
                "auto_convert": True,
                "active": True,
                "frozen": False,
                "created_at": "2026-03-02T10:00:00+08:00",
                "reductions_g": 0,
                "points": 5230,
            }
        ),
    )
    consents = ma.fields.List(
        ma.fields.Dict(),
        required=True,
        metadata=_ex(
            [
                {
                    "id": 3,
                    "scenario_code": "SIP-S-METRO",
                    "operator": "苏州工业园区示范轨道运营有限公司（演示）",
                    "user_ref": "metro-8812",
                    "purposes": ["carbon_reduction_accounting"],
                    "granted_at": "2026-03-02T10:05:00+08:00",
                    "withdrawn_at": None,
                }
            ]
        ),
    )
    activities = ma.fields.List(
        ma.fields.Dict(),
        required=True,
        metadata={
            "description": "Every activity; raw details (times, measures) while they are kept.",
            **_ex(
                [
                    {
                        "id": 812,
                        "scenario_code": "SIP-S-METRO",
                        "external_id": "trip-0001",
                        "activity_type": "metro",
                        "day": "2026-11-30",
                        "started_at": "2026-11-30T08:10:00+08:00",
                        "ended_at": "2026-11-30T08:40:00+08:00",
                        "measures": {"distance_m": 12300},
                        "reduction_g": 574,
                        "credited_g": 574,
                        "methodology": "SIP-M-TRANSIT",
                        "methodology_version": "1.0",
                        "erased_at": None,
                    }
                ]
            ),
        },
    )
    ledger = ma.fields.List(
        ma.fields.Dict(),
        required=True,
        metadata={
            "description": "Every posting of the resident's reductions (g) and points (pt).",
            **_ex(
                [
                    {
                        "id": 9001,
                        "entry_id": 4410,
                        "unit": "pt",
                        "kind": "conversion",
                        "amount": 574,
                        "balance_after": 5230,
                        "created_at": "2026-12-01T00:01:00+08:00",
                        "ref_type": "activity_day",
                        "ref_id": "SIP-S-METRO:2026-11-30",
                        "memo": "auto-convert",
                    }
                ]
            ),
        },
    )
    orders = ma.fields.List(
        ma.fields.Dict(),
        required=True,
        metadata=_ex(
            [
                {
                    "id": 57,
                    "item_title": "Reusable cup",
                    "merchant": "Green Grocer",
                    "points": 120,
                    "status": "fulfilled",
                    "created_at": "2026-11-20T12:00:00+08:00",
                }
            ]
        ),
    )
    notifications = ma.fields.List(
        ma.fields.Dict(),
        required=True,
        metadata=_ex([{"id": 31, "kind": "credit", "text_en": "574 g CO2e credited."}]),
    )
    points_expiring = ma.fields.List(
        ma.fields.Dict(), required=True, metadata=_ex([{"on": "2036-11-30", "points": 5230}])
    )
    sanctions = ma.fields.List(ma.fields.Dict(), required=True, metadata=_ex([]))


class ClosureIn(ma.Schema):
    password = ma.fields.String(
        required=True,
        validate=v.Length(min=1, max=128),
        metadata={"description": "The account's password, to confirm.", **_ex("my-password-1")},
    )


class ClosureOut(ma.Schema):
    user_id = ma.fields.Integer(
        required=True,
        metadata={
            "description": "The id the ledger keeps the amounts under, now anonymous.",
            **_ex(7),
        },
    )
    closed_at = LocalDateTime(required=True, metadata=_ex("2026-12-01T21:00:00+08:00"))
    consents_withdrawn = ma.fields.Integer(required=True, metadata=_ex(2))
    orders_cancelled = ma.fields.List(
        ma.fields.Integer(),
        required=True,
        metadata={"description": "Pending orders cancelled and refunded.", **_ex([58])},
    )
    entry_id = ma.fields.Integer(
        allow_none=True,
        metadata={"description": "The closure's journal entry (null: nothing left).", **_ex(4420)},
    )
    points_cancelled = ma.fields.Integer(
        required=True,
        metadata={"description": "Points returned to the points mint.", **_ex(5230)},
    )
    points_backing_cancelled_g = ma.fields.Integer(
        required=True,
        metadata={
            "description": "The grams that backed them, moved to the cancelled sink.",
            **_ex(5230),
        },
    )
    reductions_cancelled_g = ma.fields.Integer(
        required=True,
        metadata={"description": "Unconverted grams moved to the cancelled sink.", **_ex(0)},
    )
    points_left = ma.fields.Integer(
        required=True,
        metadata={
            "description": "Points below one conversion block, left backed on the closed "
            "account (0 at the default rate).",
            **_ex(0),
        },
    )
    activities_erased = ma.fields.Integer(required=True, metadata=_ex(131))
    notifications_deleted = ma.fields.Integer(required=True, metadata=_ex(40))
