"""Marshmallow schemas of the reconciliation report."""

from __future__ import annotations

import marshmallow as ma

from backend.http import LocalDateTime


class UnitSum(ma.Schema):
    sum = ma.fields.Integer(required=True)
    postings_sum = ma.fields.Integer()


class ReconciliationOut(ma.Schema):
    as_of = LocalDateTime(required=True)
    units = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Nested(UnitSum))
    points_outstanding = ma.fields.Integer(required=True)
    points_backing_g = ma.fields.Integer(required=True)
    points_per_kg = ma.fields.Integer(allow_none=True, required=True)
    points_backed = ma.fields.Boolean()
    negative_accounts = ma.fields.List(ma.fields.Dict(), required=True)
    balance_mismatches = ma.fields.List(ma.fields.Dict(), required=True)
    escrow_mismatches = ma.fields.List(ma.fields.Dict())
    merchant_mismatches = ma.fields.List(ma.fields.Dict())
    order_offenders = ma.fields.List(ma.fields.Dict())
    orphan_order_entries = ma.fields.List(ma.fields.Dict())
    settlement_offenders = ma.fields.List(ma.fields.Dict())
    block_mismatches = ma.fields.List(ma.fields.Dict())
    block_state_offenders = ma.fields.List(ma.fields.Dict())
    issued_mismatches = ma.fields.List(ma.fields.Dict())
    reservation_offenders = ma.fields.List(ma.fields.Dict())
    overlapping_blocks = ma.fields.List(ma.fields.Dict())
    orders_pending = ma.fields.Integer()
    orders_fulfilled = ma.fields.Integer(required=True)
    orders_settled = ma.fields.Integer(required=True)
    checks = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Boolean())
    ok = ma.fields.Boolean(required=True)


class StoredReportOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    day = ma.fields.Date(required=True)
    as_of = LocalDateTime(required=True)
    ok = ma.fields.Boolean(required=True)


class StoredReportFullOut(StoredReportOut):
    report = ma.fields.Dict(required=True)
