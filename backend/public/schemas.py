"""Marshmallow schemas of public disclosure."""

from __future__ import annotations

import marshmallow as ma

from backend.http import LocalDateTime


class PublicStatsOut(ma.Schema):
    as_of = LocalDateTime(required=True)
    residents_participating = ma.fields.Integer(required=True)
    reductions_credited_g = ma.fields.Integer(required=True)
    points_issued = ma.fields.Integer(required=True)
    points_redeemed = ma.fields.Integer(required=True)
    points_converted_back = ma.fields.Integer(required=True)
    reductions_converted_back_g = ma.fields.Integer(required=True)
