"""HTTP resources of the mall (residents), merchants (their staff) and staff's
settlements. HTTP in and out only: the rules are in mall/*."""

from __future__ import annotations

from flask import Response

from backend.auth.guards import current_principal, require
from backend.auth.roles import ADMIN, AUDITOR, FINANCE
from backend.http import Blueprint, page_schema
from backend.idempotency import idempotent
from mall import balances, items, orders, redemption, settlement
from mall import schemas as s
from mall.models import Item, Order, SettlementBatch
from mall.qr import qr_png

mall = Blueprint("mall", __name__, url_prefix="/api/v1/mall", description="Points mall")
merchant = Blueprint(
    "merchant", __name__, url_prefix="/api/v1/merchant", description="Merchants' staff"
)
staff = Blueprint(
    "staff_settlements", __name__, url_prefix="/api/v1/admin", description="Staff: settlements"
)

blueprints = [mall, merchant, staff]

ItemPage = page_schema(s.ItemOut, "ItemPage")
MerchantItemPage = page_schema(s.MerchantItemOut, "MerchantItemPage")
OrderPage = page_schema(s.OrderOut, "OrderPage")
MerchantOrderPage = page_schema(s.MerchantOrderOut, "MerchantOrderPage")
SettlementPage = page_schema(s.SettlementOut, "SettlementPage")

PNG = {
    200: {
        "description": "A PNG image",
        "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def _me() -> int:
    return int(current_principal().id)


def _org() -> int:
    return int(current_principal().organization_id)


def _actor() -> str:
    return current_principal().actor


# --- residents and the public ------------------------------------------------------


@mall.route("/items", methods=["GET"])
@mall.arguments(s.ItemQuery, location="query")
@mall.response(200, ItemPage)
@mall.cursor_page(Item.id)
def list_items(args):
    """Items on sale now (anyone): active and inside their valid window."""
    return items.on_sale_query(args.get("merchant_id"))


@mall.route("/items/<int:item_id>", methods=["GET"])
@mall.response(200, s.ItemOut)
@mall.problems(404, "item_not_found")
def get_item(item_id):
    """One item on sale."""
    return items.get_on_sale(item_id)


@mall.route("/orders", methods=["POST"])
@require("resident")
@idempotent
@mall.arguments(s.OrderIn)
@mall.response(201, s.OrderOut)
@mall.problems(
    409,
    "insufficient_points",
    "out_of_stock",
    "limit_reached",
    "item_inactive",
    "item_not_on_sale",
    "merchant_frozen",
    "account_frozen",
)
@mall.problems(404, "item_not_found")
def place_order(body):
    """Order one unit (send an `Idempotency-Key`): the points are held in escrow until
    the merchant redeems the code, the order is cancelled or it expires."""
    return orders.place(_me(), body["item_id"], actor=_actor())


@mall.route("/orders", methods=["GET"])
@require("resident")
@mall.arguments(s.OrderQuery, location="query")
@mall.response(200, OrderPage)
@mall.cursor_page(Order.id)
def list_orders(args):
    """The resident's own orders, newest first."""
    return orders.resident_query(_me(), args.get("status"))


@mall.route("/orders/<int:order_id>", methods=["GET"])
@require("resident")
@mall.response(200, s.OrderOut)
@mall.problems(404, "order_not_found")
def get_order(order_id):
    """One of the resident's own orders."""
    return orders.get_own(_me(), order_id)


@mall.route("/orders/<int:order_id>/cancel", methods=["POST"])
@require("resident")
@mall.response(200, s.OrderOut)
@mall.problems(409, "already_redeemed", "order_cancelled", "order_expired")
@mall.problems(404, "order_not_found")
@mall.problems(409, "not_pending", "account_frozen")
def cancel_order(order_id):
    """Cancel a pending order: the points and the unit of stock come back."""
    return orders.cancel(_me(), order_id, actor=_actor())


@mall.route("/orders/<int:order_id>/qr.png", methods=["GET"])
@mall.doc(responses=PNG)
@require("resident")
@mall.problems(404, "order_not_found")
def order_qr(order_id):
    """The redemption code as a QR code (PNG) to show at the till."""
    order = orders.get_own(_me(), order_id)
    resp = Response(qr_png(order.redemption_code), mimetype="image/png")
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


# --- merchants' staff ------------------------------------------------------------


@merchant.route("/items", methods=["POST"])
@require("merchant")
@merchant.arguments(s.ItemIn)
@merchant.response(201, s.MerchantItemOut)
def create_item(body):
    """List an item: price in points, stock (null: unlimited), per-resident limit,
    optional valid window, active or not."""
    item = items.create(_org(), body)
    return items.get_own(_org(), item.id)


@merchant.route("/items", methods=["GET"])
@require("merchant")
@merchant.arguments(s.MerchantItemQuery, location="query")
@merchant.response(200, MerchantItemPage)
@merchant.cursor_page(Item.id)
def list_own_items(args):
    """The merchant's own items, active or not."""
    return items.merchant_query(_org(), args.get("active"))


@merchant.route("/items/<int:item_id>", methods=["GET"])
@require("merchant")
@merchant.response(200, s.MerchantItemOut)
@merchant.problems(404, "item_not_found")
def get_own_item(item_id):
    """One of the merchant's own items."""
    return items.get_own(_org(), item_id)


@merchant.route("/items/<int:item_id>", methods=["PATCH"])
@require("merchant")
@merchant.arguments(s.ItemPatch)
@merchant.response(200, s.MerchantItemOut)
@merchant.problems(404, "item_not_found")
def update_item(body, item_id):
    """Change an item (e.g. restock, deactivate, reprice; orders taken keep their price)."""
    items.update(_org(), item_id, body)
    return items.get_own(_org(), item_id)


@merchant.route("/orders", methods=["GET"])
@require("merchant")
@merchant.arguments(s.OrderQuery, location="query")
@merchant.response(200, MerchantOrderPage)
@merchant.cursor_page(Order.id)
def list_merchant_orders(args):
    """Orders of the merchant's items (no codes, no residents)."""
    return orders.merchant_query(_org(), args.get("status"))


@merchant.route("/redemptions", methods=["POST"])
@require("merchant")
@merchant.arguments(s.RedemptionIn)
@merchant.response(200, s.RedemptionOut)
@merchant.problems(404, "code_not_found")
@merchant.problems(409, "already_redeemed", "order_cancelled", "order_expired")
@merchant.problems(409, "not_pending", "account_frozen")
def redeem(body):
    """Redeem a code typed or scanned at the till: the order is fulfilled and its
    points move to the merchant."""
    p = current_principal()
    done = redemption.redeem(_org(), body["code"], staff_user_id=int(p.id), actor=p.actor)
    return done


@merchant.route("/balance", methods=["GET"])
@require("merchant")
@merchant.response(200, s.BalanceOut)
def balance():
    """The merchant's points (redeemed, not yet settled), reductions, and the points
    held for its pending orders."""
    return balances.of_merchant(_org())


@merchant.route("/settlements", methods=["POST"])
@require("merchant")
@idempotent
@merchant.response(201, s.SettlementOut)
@merchant.problems(409, "nothing_to_settle")
@merchant.problems(409, "no_conversion_rule")
def apply_settlement():
    """Apply to convert the points of every fulfilled, unsettled order back into
    reductions (send an `Idempotency-Key`)."""
    return settlement.apply(_org(), actor=_actor())


@merchant.route("/settlements", methods=["GET"])
@require("merchant")
@merchant.arguments(s.SettlementQuery, location="query")
@merchant.response(200, SettlementPage)
@merchant.cursor_page(SettlementBatch.id)
def list_own_settlements(args):
    """The merchant's settlement batches."""
    return settlement.query(_org(), args.get("status"))


@merchant.route("/settlements/<int:batch_id>", methods=["GET"])
@require("merchant")
@merchant.response(200, s.SettlementOut)
@merchant.problems(404, "settlement_not_found")
def get_own_settlement(batch_id):
    """One of the merchant's settlement batches."""
    return settlement.get_own(_org(), batch_id)


# --- staff ------------------------------------------------------------------------


@staff.route("/settlements", methods=["GET"])
@require("staff", roles=(FINANCE, AUDITOR))
@staff.arguments(s.AdminSettlementQuery, location="query")
@staff.response(200, SettlementPage)
@staff.cursor_page(SettlementBatch.id)
def list_settlements(args):
    """Settlement batches, by status or merchant."""
    return settlement.query(args.get("merchant_id"), args.get("status"))


@staff.route("/settlements/<int:batch_id>", methods=["GET"])
@require("staff", roles=(FINANCE, AUDITOR))
@staff.response(200, s.SettlementOut)
@staff.problems(404, "settlement_not_found")
def get_settlement(batch_id):
    """One settlement batch."""
    return settlement.get(batch_id)


@staff.route("/settlements/<int:batch_id>/approve", methods=["POST"])
@require("staff", roles=(FINANCE,))
@idempotent
@staff.response(202, s.SettlementOut)
@staff.problems(409, "already_approved")
@staff.problems(404, "settlement_not_found")
@staff.problems(409, "settlement_cancelled")
def approve_settlement(batch_id):
    """Approve a pending batch (staff with the `finance` role); a job posts
    it and it ends `settled`. Approving it again moves nothing (409 already_approved)."""
    return settlement.approve(batch_id, actor=_actor())


@staff.route("/settlements/<int:batch_id>/retry", methods=["POST"])
@require("staff", roles=(FINANCE,))
@idempotent
@staff.response(202, s.SettlementOut)
@staff.problems(409, "not_failed")
@staff.problems(404, "settlement_not_found")
def retry_settlement(batch_id):
    """Post a failed batch again once its cause is fixed (failed -> approved)."""
    return settlement.retry(batch_id, actor=_actor())


@staff.route("/orders/<int:order_id>/expiry", methods=["POST"])
@require("staff", roles=(ADMIN,))
@staff.arguments(s.ExpiryIn)
@staff.response(200, s.StaffOrderOut)
@staff.problems(404, "order_not_found")
@staff.problems(409, "already_redeemed", "order_cancelled", "order_expired", "not_pending")
def bring_order_expiry_forward(body, order_id):
    """Bring a pending order's expiry forward (support, and the smoke run's expiry step):
    it expires at that time like any other order, points and stock back; a time now or
    past expires it at once. Never later than it was. Audited."""
    orders.bring_expiry_forward(order_id, body["expires_at"])
    return orders.get(order_id)
