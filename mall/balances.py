"""A merchant's balances: points redeemed and not yet settled, reductions settled back,
and the points held in escrow for its pending orders."""

from __future__ import annotations

from backend.ledger import AccountKind, balance_of


def of_merchant(merchant_id: int) -> dict:
    return {
        "points": balance_of(AccountKind.MERCHANT_POINTS, merchant_id),
        "reductions_g": balance_of(AccountKind.ORG_REDUCTIONS, merchant_id),
        "escrow_points": balance_of(AccountKind.ORDER_ESCROW, merchant_id),
    }
