"""Marshmallow schemas of public disclosure."""

from __future__ import annotations

import marshmallow as ma

from backend.http import LocalDateTime, ex


class PublicStatsOut(ma.Schema):
    as_of = LocalDateTime(required=True)
    residents_participating = ma.fields.Integer(
        required=True, metadata=ex(1280, "Residents with an active consent.")
    )
    reductions_credited_g = ma.fields.Integer(required=True)
    points_issued = ma.fields.Integer(required=True, metadata=ex(5200000))
    points_redeemed = ma.fields.Integer(required=True, metadata=ex(1800000))
    points_converted_back = ma.fields.Integer(
        required=True, metadata=ex(900000, "Points merchants settled back into reductions.")
    )
    reductions_converted_back_g = ma.fields.Integer(required=True)


class ScenarioSeriesOut(ma.Schema):
    scenario_code = ma.fields.String(required=True, metadata=ex("SIP-S-METRO"))
    scenario_title = ma.fields.String(required=True, metadata=ex("苏州工业园区地铁出行（演示）"))
    values = ma.fields.List(
        ma.fields.Integer(), required=True, metadata=ex([41200, 52900], "Grams, one per month.")
    )


class MonthlyQuery(ma.Schema):
    months = ma.fields.Integer(
        load_default=12,
        validate=ma.validate.Range(min=1, max=60),
        metadata=ex(12, "How many months, up to this one."),
    )


class MonthlyOut(ma.Schema):
    months = ma.fields.List(
        ma.fields.String(),
        required=True,
        metadata=ex(["2026-10", "2026-11"], "YYYY-MM, Asia/Shanghai"),
    )
    reductions_credited_g = ma.fields.List(ma.fields.Nested(ScenarioSeriesOut), required=True)
    points_issued = ma.fields.List(ma.fields.Integer(), required=True, metadata=ex([40000, 51000]))
    points_redeemed = ma.fields.List(
        ma.fields.Integer(), required=True, metadata=ex([12000, 15000])
    )
    reductions_retired_g = ma.fields.List(
        ma.fields.Integer(), required=True, metadata=ex([0, 1234567])
    )
    reductions_cancelled_g = ma.fields.List(
        ma.fields.Integer(), required=True, metadata=ex([0, 500000])
    )


class PublicScenarioTotalOut(ma.Schema):
    scenario_code = ma.fields.String(required=True, metadata=ex("SIP-S-METRO"))
    scenario_title = ma.fields.String(required=True, metadata=ex("苏州工业园区地铁出行（演示）"))
    status = ma.fields.String(required=True, metadata=ex("registered"))
    reductions_credited_g = ma.fields.Integer(required=True, metadata=ex(94100))


class ScenarioTotalsOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(PublicScenarioTotalOut), required=True)
