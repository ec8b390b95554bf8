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
    scenario_code = ma.fields.String(required=True)
    scenario_title = ma.fields.String(required=True)
    values = ma.fields.List(ma.fields.Integer(), required=True)


class MonthlyQuery(ma.Schema):
    months = ma.fields.Integer(load_default=12, validate=ma.validate.Range(min=1, max=60))


class MonthlyOut(ma.Schema):
    months = ma.fields.List(
        ma.fields.String(), required=True, metadata={"description": "YYYY-MM, Asia/Shanghai"}
    )
    reductions_credited_g = ma.fields.List(ma.fields.Nested(ScenarioSeriesOut), required=True)
    points_issued = ma.fields.List(ma.fields.Integer(), required=True)
    points_redeemed = ma.fields.List(ma.fields.Integer(), required=True)
    reductions_retired_g = ma.fields.List(ma.fields.Integer(), required=True)
    reductions_cancelled_g = ma.fields.List(ma.fields.Integer(), required=True)


class ScenarioTotalOut(ma.Schema):
    scenario_code = ma.fields.String(required=True)
    scenario_title = ma.fields.String(required=True)
    status = ma.fields.String(required=True)
    reductions_credited_g = ma.fields.Integer(required=True)


class ScenarioTotalsOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(ScenarioTotalOut), required=True)
