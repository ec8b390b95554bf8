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
