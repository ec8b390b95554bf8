"""Marshmallow schemas of the reconciliation report."""

from __future__ import annotations

import marshmallow as ma

from backend.http import LocalDateTime, ex

NONE = ex([], "The offending rows; empty when the books are right.")


class UnitSum(ma.Schema):
    sum = ma.fields.Integer(required=True, metadata=ex(0, "The sum of every balance (0)."))
    postings_sum = ma.fields.Integer(metadata=ex(0, "The sum of every posting (0)."))


class ReconciliationOut(ma.Schema):
    as_of = LocalDateTime(required=True)
    mode = ma.fields.String(
        metadata=ex(
            "incremental",
            "`full`: every posting summed; `incremental`: what moved since `from_mark`.",
        )
    )
    from_mark = ma.fields.Integer(
        allow_none=True,
        metadata=ex(445120, "The posting id the incremental check started after (null: full)."),
    )
    from_report = ma.fields.Integer(
        allow_none=True, metadata=ex(12, "The stored report it started from (null: full).")
    )
    mark = ma.fields.Integer(metadata=ex(446004, "The highest posting id this report saw."))
    full_as_of = LocalDateTime(
        metadata=ex("2026-11-30T02:00:00+08:00", "When every posting was last summed.")
    )
    units = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Nested(UnitSum),
        metadata=ex({"g": {"sum": 0, "postings_sum": 0}, "pt": {"sum": 0, "postings_sum": 0}}),
    )
    points_outstanding = ma.fields.Integer(
        required=True, metadata=ex(5200, "Points held by residents, merchants and escrow.")
    )
    points_backing_g = ma.fields.Integer(required=True)
    points_per_kg = ma.fields.Integer(allow_none=True, required=True, metadata=ex(1000))
    points_backed = ma.fields.Boolean(metadata=ex(True))
    negative_accounts = ma.fields.List(ma.fields.Dict(), required=True, metadata=NONE)
    balance_mismatches = ma.fields.List(ma.fields.Dict(), required=True, metadata=NONE)
    escrow_mismatches = ma.fields.List(ma.fields.Dict(), metadata=NONE)
    merchant_mismatches = ma.fields.List(ma.fields.Dict(), metadata=NONE)
    order_offenders = ma.fields.List(ma.fields.Dict(), metadata=NONE)
    orphan_order_entries = ma.fields.List(ma.fields.Dict(), metadata=NONE)
    settlement_offenders = ma.fields.List(ma.fields.Dict(), metadata=NONE)
    block_mismatches = ma.fields.List(ma.fields.Dict(), metadata=NONE)
    block_state_offenders = ma.fields.List(ma.fields.Dict(), metadata=NONE)
    issued_mismatches = ma.fields.List(ma.fields.Dict(), metadata=NONE)
    reservation_offenders = ma.fields.List(ma.fields.Dict(), metadata=NONE)
    overlapping_blocks = ma.fields.List(ma.fields.Dict(), metadata=NONE)
    orders_pending = ma.fields.Integer(metadata=ex(2))
    orders_fulfilled = ma.fields.Integer(required=True, metadata=ex(5))
    orders_settled = ma.fields.Integer(required=True, metadata=ex(4))
    checks = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Boolean(),
        metadata=ex({"units_balance": True, "points_backed": True}, "Each check: passed?"),
    )
    ok = ma.fields.Boolean(required=True)


class StoredReportOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    day = ma.fields.Date(required=True)
    as_of = LocalDateTime(required=True)
    ok = ma.fields.Boolean(required=True)


class StoredReportFullOut(StoredReportOut):
    report = ma.fields.Dict(
        required=True, metadata=ex({"ok": True, "points_outstanding": 0}, "The whole report.")
    )
