"""Marshmallow schemas of conversions."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate as v


class ConversionIn(ma.Schema):
    reductions_g = ma.fields.Integer(
        required=True, strict=True, validate=v.Range(min=1, max=10**12)
    )


class ConversionOut(ma.Schema):
    reductions_g = ma.fields.Integer(required=True)
    points = ma.fields.Integer(required=True)
    entry_id = ma.fields.Integer()
