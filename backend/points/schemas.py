"""Marshmallow schemas of conversions."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate as v

from backend.http import LocalDateTime


class ConversionIn(ma.Schema):
    reductions_g = ma.fields.Integer(
        required=True, strict=True, validate=v.Range(min=1, max=10**12)
    )


class ConversionOut(ma.Schema):
    reductions_g = ma.fields.Integer(required=True)
    points = ma.fields.Integer(required=True)
    entry_id = ma.fields.Integer()


def _ex(value) -> dict:
    return {"example": value}


class ExpiringLineOut(ma.Schema):
    on = ma.fields.Date(
        required=True,
        metadata={
            "description": "The last day (Asia/Shanghai) these points are alive; a date "
            "already past is points the expiry job has not reached yet.",
            **_ex("2036-03-31"),
        },
    )
    points = ma.fields.Integer(required=True, metadata=_ex(1200))


class ExpiringOut(ma.Schema):
    points = ma.fields.Integer(
        required=True, metadata={"description": "The points balance.", **_ex(3500)}
    )
    as_of = LocalDateTime(required=True, metadata=_ex("2026-12-01T21:00:00+08:00"))
    expiring = ma.fields.List(
        ma.fields.Nested(ExpiringLineOut),
        required=True,
        metadata={
            "description": "Points alive by expiry date, soonest first; they add up to "
            "`points`. Spending takes the points that expire first."
        },
    )


class PointsRuleOut(ma.Schema):
    id = ma.fields.Integer(
        allow_none=True,
        metadata={"description": "Null for the default rule not yet stored.", **_ex(2)},
    )
    months = ma.fields.Integer(
        required=True,
        metadata={
            "description": "Points credited under this rule expire at the end of the month "
            "(Asia/Shanghai) this many months after the month of their credit.",
            **_ex(120),
        },
    )
    effective_from = LocalDateTime(
        required=True,
        metadata={
            "description": "Applies to points credited from this time on (until the next rule's).",
            **_ex("2027-01-01T00:00:00+08:00"),
        },
    )
    note = ma.fields.String(
        required=True, metadata=_ex("积分有效期十年。Points are valid for ten years.")
    )
    in_force = ma.fields.Boolean(required=True, metadata=_ex(True))
    scheduled = ma.fields.Boolean(
        required=True, metadata={"description": "Takes effect later.", **_ex(False)}
    )


class PointsRulesOut(ma.Schema):
    current = ma.fields.Nested(PointsRuleOut, required=True)
    rules = ma.fields.List(
        ma.fields.Nested(PointsRuleOut), required=True, metadata={"description": "Oldest first."}
    )


class PointsRuleIn(ma.Schema):
    months = ma.fields.Integer(
        required=True, strict=True, validate=v.Range(min=1, max=1200), metadata=_ex(60)
    )
    effective_from = ma.fields.AwareDateTime(
        load_default=None,
        metadata={
            "description": "When it takes effect (default: now); never in the past.",
            **_ex("2027-01-01T00:00:00+08:00"),
        },
    )
    note = ma.fields.String(
        required=True,
        validate=v.Length(min=1, max=1000),
        metadata={
            "description": "The public note residents read.",
            **_ex(
                "自2027年起入账的积分有效期五年。Points credited from 2027 on are valid five years."
            ),
        },
    )
