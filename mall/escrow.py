"""Order escrow (flow 3 of the ledger), written once: a hold takes the resident's points
into the merchant's escrow when an order is placed; a refund gives them back when it is
cancelled or expires; a release pays them to the merchant when its code is redeemed.

One `ORDER_ESCROW` account per merchant (owner = the merchant's organisation id), so
orders at different merchants never wait on one escrow row. Each move is keyed by the
order and its step (`order:{id}:hold|refund|redeem`): it posts at most once."""

from __future__ import annotations

from typing import Protocol

from backend.ledger import Account, AccountKind, Leg, account_for, post
from backend.ledger.posting import post_on_locked


class OrderRef(Protocol):
    id: int
    user_id: int
    merchant_id: int
    points: int


def escrow(merchant_id: int) -> Account:
    return account_for(AccountKind.ORDER_ESCROW, merchant_id)


def _move(
    order: OrderRef,
    step: str,
    kind: str,
    source: Account,
    target: Account,
    *,
    actor: str,
    memo: str,
) -> int:
    entry, _ = post(
        kind=kind,
        idempotency_key=f"order:{order.id}:{step}",
        legs=[Leg(source, -order.points), Leg(target, order.points)],
        ref_type="order",
        ref_id=order.id,
        actor=actor,
        memo=memo,
    )
    return entry.id


def hold(order: OrderRef, *, actor: str, memo: str) -> None:
    """Resident points -> the merchant's escrow (raises InsufficientBalance)."""
    resident = account_for(AccountKind.RESIDENT_POINTS, order.user_id)
    _move(order, "hold", "order_hold", resident, escrow(order.merchant_id), actor=actor, memo=memo)


def hold_on_locked(
    order: OrderRef, resident: int, escrow_account: int, locked: dict, *, actor: str, memo: str
) -> int:
    """`hold` on the resident's points and the merchant's escrow (account ids) which the
    caller locked with `backend.ledger.posting.lock_rows` (the order's hot path: one
    statement); raises InsufficientBalance; returns the journal entry's id."""
    entry_id, _ = post_on_locked(
        kind="order_hold",
        idempotency_key=f"order:{order.id}:hold",
        deltas={resident: -order.points, escrow_account: order.points},
        locked=locked,
        ref_type="order",
        ref_id=order.id,
        actor=actor,
        memo=memo,
    )
    return entry_id


def refund(order: OrderRef, *, actor: str, memo: str) -> None:
    """The merchant's escrow -> resident points (a cancelled or expired order)."""
    resident = account_for(AccountKind.RESIDENT_POINTS, order.user_id)
    _move(
        order, "refund", "order_refund", escrow(order.merchant_id), resident, actor=actor, memo=memo
    )


def release(order: OrderRef, *, actor: str, memo: str) -> int:
    """The merchant's escrow -> the merchant's points (a redeemed order); returns the
    journal entry's id."""
    merchant = account_for(AccountKind.MERCHANT_POINTS, order.merchant_id)
    return _move(
        order, "redeem", "order_redeem", escrow(order.merchant_id), merchant, actor=actor, memo=memo
    )
