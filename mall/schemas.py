"""Marshmallow schemas of the mall, merchants and settlements."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate as v

from backend.http import ID, LocalDateTime, PageArgs, ex
from mall.models import ORDER_STATUSES, SETTLEMENT_STATUSES
from mall.qr import display

MAX_POINTS = 10**9
MAX_STOCK = 10**9
STOCK = ex(20, "Units left to sell (null: unlimited).")
ORDER_STATUS = ex("pending", ", ".join(ORDER_STATUSES))
CODE = "7KQ2-M9XD-4HPT-W3RC"


def _sane_time(value) -> None:
    """Years 2000-2200 only: far dates overflow when shifted to +08:00 or compared."""
    if not 2000 <= value.year <= 2200:
        raise ma.ValidationError("Must be between the years 2000 and 2200.")


class _ItemFields(ma.Schema):
    title = ma.fields.String(validate=v.Length(min=1, max=200))
    description = ma.fields.String(allow_none=True, validate=v.Length(max=2000))
    points_price = ma.fields.Integer(strict=True, validate=v.Range(min=1, max=MAX_POINTS))
    stock = ma.fields.Integer(
        strict=True, allow_none=True, validate=v.Range(min=0, max=MAX_STOCK), metadata=STOCK
    )
    per_resident_limit = ma.fields.Integer(
        strict=True, allow_none=True, validate=v.Range(min=1, max=MAX_STOCK)
    )
    valid_from = ma.fields.AwareDateTime(allow_none=True, validate=_sane_time)
    valid_until = ma.fields.AwareDateTime(allow_none=True, validate=_sane_time)
    active = ma.fields.Boolean()

    @ma.validates_schema
    def _window(self, data, **kwargs):
        start, end = data.get("valid_from"), data.get("valid_until")
        if start is not None and end is not None and start >= end:
            raise ma.ValidationError("Must be later than valid_from.", "valid_until")


class ItemIn(_ItemFields):
    title = ma.fields.String(required=True, validate=v.Length(min=1, max=200))
    points_price = ma.fields.Integer(
        required=True, strict=True, validate=v.Range(min=1, max=MAX_POINTS)
    )


class ItemPatch(_ItemFields):
    @ma.validates_schema
    def _not_empty(self, data, **kwargs):
        if not data:
            raise ma.ValidationError("Change at least one field.", "_schema")


class MerchantRef(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()


class ItemOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    merchant = ma.fields.Nested(MerchantRef, required=True)
    title = ma.fields.String(required=True)
    description = ma.fields.String(allow_none=True)
    points_price = ma.fields.Integer(required=True)
    stock_left = ma.fields.Integer(
        attribute="stock", allow_none=True, required=True, metadata=STOCK
    )
    per_resident_limit = ma.fields.Integer(allow_none=True, required=True)
    valid_from = LocalDateTime(allow_none=True)
    valid_until = LocalDateTime(allow_none=True)


class MerchantItemOut(ItemOut):
    active = ma.fields.Boolean(required=True)
    created_at = LocalDateTime()
    updated_at = LocalDateTime()


class ItemQuery(PageArgs):
    merchant_id = ma.fields.Integer(validate=ID)


class MerchantItemQuery(PageArgs):
    active = ma.fields.Boolean()


class OrderIn(ma.Schema):
    item_id = ma.fields.Integer(required=True, strict=True, validate=ID)


class OrderOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True, metadata=ORDER_STATUS)
    item_id = ma.fields.Integer(required=True)
    item_title = ma.fields.Function(
        lambda o: o.item.title, metadata=ex("可重复使用咖啡杯", type="string")
    )
    merchant_id = ma.fields.Integer()
    points = ma.fields.Integer(required=True)
    redemption_code = ma.fields.Function(
        lambda o: display(o.redemption_code),
        required=True,
        metadata=ex(CODE, "Shown at the till (also as `qr.png`); one use.", type="string"),
    )
    expires_at = LocalDateTime(required=True)
    created_at = LocalDateTime()
    fulfilled_at = LocalDateTime(allow_none=True)
    closed_at = LocalDateTime(allow_none=True)


class MerchantOrderOut(ma.Schema):
    """What a merchant sees of an order: never the code or the resident."""

    id = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True, metadata=ORDER_STATUS)
    item_id = ma.fields.Integer(required=True)
    item_title = ma.fields.Function(
        lambda o: o.item.title, metadata=ex("可重复使用咖啡杯", type="string")
    )
    points = ma.fields.Integer(required=True)
    created_at = LocalDateTime()
    fulfilled_at = LocalDateTime(allow_none=True)
    settlement_id = ma.fields.Integer(allow_none=True)


class StaffOrderOut(MerchantOrderOut):
    """What staff see of an order: its state and times, never the code or the resident."""

    merchant_id = ma.fields.Integer(required=True)
    expires_at = LocalDateTime(required=True)
    closed_at = LocalDateTime(allow_none=True)


class ExpiryIn(ma.Schema):
    expires_at = ma.fields.AwareDateTime(
        required=True,
        validate=_sane_time,
        metadata=ex(
            "2026-05-01T08:30:00+08:00",
            "The new expiry, with an offset; earlier than the order's. Now or past: it "
            "expires at once.",
        ),
    )


class OrderQuery(PageArgs):
    status = ma.fields.String(validate=v.OneOf(ORDER_STATUSES))


class RedemptionIn(ma.Schema):
    code = ma.fields.String(
        required=True,
        validate=v.Length(min=1, max=64),
        metadata=ex(
            CODE, "The order's code, typed (dashes, spaces and case do not matter) or scanned."
        ),
    )


class RedemptionOut(ma.Schema):
    order_id = ma.fields.Integer(required=True)
    item_id = ma.fields.Integer(required=True)
    points = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True, metadata=ex("fulfilled"))
    fulfilled_at = LocalDateTime()


class BalanceOut(ma.Schema):
    points = ma.fields.Integer(required=True)
    reductions_g = ma.fields.Integer(required=True)
    escrow_points = ma.fields.Integer(
        required=True, metadata=ex(600, "Points held for the merchant's pending orders.")
    )


class SettlementOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    merchant_id = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True, metadata=ex("settled", ", ".join(SETTLEMENT_STATUSES)))
    orders = ma.fields.Integer(required=True, metadata=ex(4, "How many orders it settles."))
    points = ma.fields.Integer(required=True)
    points_converted = ma.fields.Integer(allow_none=True, metadata=ex(1200))
    reductions_g = ma.fields.Integer(allow_none=True)
    rate_version = ma.fields.Integer(
        allow_none=True, metadata=ex(1, "The conversion rule it was posted at.")
    )
    error = ma.fields.String(allow_none=True, metadata=ex(None, "Why it failed."))
    attempts = ma.fields.Integer(metadata=ex(1))
    created_at = LocalDateTime()
    approved_at = LocalDateTime(allow_none=True)
    settled_at = LocalDateTime(allow_none=True)


class SettlementQuery(PageArgs):
    status = ma.fields.String(validate=v.OneOf(SETTLEMENT_STATUSES))


class AdminSettlementQuery(SettlementQuery):
    merchant_id = ma.fields.Integer(validate=ID)
