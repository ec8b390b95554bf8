"""The merchant page (/merchant) for a merchant's till logins (the same session
mechanism as the console): the till verifies a redemption code typed or scanned with
the phone's camera (the vendored qr-scanner), and shows the merchant's items with their
stock, its orders, its balance and its settlement batches. HTTP in and out only: the
rules are the mall's (`mall.redemption`, `items`, `orders`, `balances`, `settlement`)."""

from __future__ import annotations

from flask import Blueprint, redirect, request

from backend.errors import ApiError, Invalid
from backend.http import HTML_CSP
from backend.web import guards
from backend.web.guards import current_principal, page
from mall import balances, items, orders, redemption, settlement
from mall.models import Item, Order, SettlementBatch
from mall.schemas import ORDER_STATUSES, RedemptionIn

blp = guards.install(Blueprint("till", __name__, url_prefix="/merchant"))
blueprints = [blp]

MERCHANT = "merchant"
# The till's scanner decodes in a Web Worker it starts from a blob: URL (see the vendor
# README): the one thing this page allows beyond the other pages' policy.
TILL_CSP = HTML_CSP + "; worker-src blob:"


def _org() -> int:
    return int(current_principal().organization_id)


def _till(*, status: int = 200, **context):
    template = "merchant/_result.html" if guards.is_htmx() else "merchant/till.html"
    return guards.render(
        template,
        status=status,
        csp=TILL_CSP,
        section="merchant",
        balance=balances.of_merchant(_org()),
        **context,
    )


@blp.get("")
@blp.get("/")
@page(MERCHANT)
def till():
    return _till()


@blp.post("/redeem")
@page(MERCHANT)
def redeem():
    code = request.form.get("code", "").strip()
    try:
        data = guards.load_form(RedemptionIn, {"code": code} if code else {})
        p = current_principal()
        done = redemption.redeem(_org(), data["code"], staff_user_id=int(p.id), actor=p.actor)
        item = items.get_own(_org(), done.item_id)
    except ApiError as err:
        guards.rollback()
        return _till(status=err.status, error=err, code=code)
    return _till(redeemed=done, item=item)


@blp.get("/items")
@page(MERCHANT)
def item_list():
    listing = guards.listing(items.merchant_query(_org()), Item.id, limit=100)
    return guards.render("merchant/items.html", section="merchant", page=listing)


@blp.get("/orders")
@page(MERCHANT)
def order_list():
    status = request.args.get("status") or None
    if status is not None and status not in ORDER_STATUSES:
        raise Invalid(errors={"status": [f"One of {', '.join(ORDER_STATUSES)}."]})
    listing = guards.listing(orders.merchant_query(_org(), status), Order.id)
    return guards.render("merchant/orders.html", section="merchant", page=listing, which=status)


def _settlements(*, status: int = 200, **context):
    listing = guards.listing(settlement.query(_org()), SettlementBatch.id)
    return guards.render(
        "merchant/settlements.html",
        status=status,
        section="merchant",
        page=listing,
        balance=balances.of_merchant(_org()),
        **context,
    )


@blp.get("/settlements")
@page(MERCHANT)
def settlement_list():
    applied = request.args.get("applied") == "1"
    return _settlements(message="结算申请已提交 · Settlement applied for." if applied else None)


@blp.post("/settlements")
@page(MERCHANT)
def apply_settlement():
    try:
        settlement.apply(_org(), actor=current_principal().actor)
    except ApiError as err:
        guards.rollback()
        return _settlements(status=err.status, error=err)
    return redirect("/merchant/settlements?applied=1", 303)
