"""Closing a resident's account (PIPL Art. 47: deletion), in one transaction, confirmed
with the password:

1. consents are withdrawn (and the operator's user references erased from them);
2. pending orders are cancelled and refunded (points and stock back);
3. one journal entry (kind `account_closure`) empties the accounts: the remaining
   points go to the points mint and the grams that backed them from the points backing
   to the CANCELLED sink of owner 1 (personal reductions cancelled by expiry or
   closure), and the unconverted grams to that sink too; points outstanding stay
   exactly backed. At a rate whose conversion block is more than one point, a
   remainder smaller than one block has no whole grams behind it alone and stays on
   the closed account, still backed (`points_left`; none at the default rate);
4. the phone hash, masked phone, display name and password are erased, and the raw
   details (times, measures) of every activity; the notifications are deleted;
5. every session ends (refresh tokens revoked, the token generation bumped); the login
   is disabled.
The user row stays as the ledger's anonymous id: the amounts keep it. Registering
again with the same phone starts a new, empty account. The closure is audited with
its figures only.

Races: the accrual lock is held (no chunk credits the resident meanwhile, every later
one sees the account closed and credits nothing) and the resident's upload lock, so an
upload either finished before or finds the consents withdrawn. Callers commit."""

from __future__ import annotations

from sqlalchemy import func, select, update

from backend.activity import accrual, erasure, overlap
from backend.activity.models import Activity, Consent
from backend.audit import log as audit
from backend.auth import revocation
from backend.auth.models import User
from backend.auth.passwords import verify_password
from backend.db import db, utcnow
from backend.errors import Forbidden, NotFound
from backend.ledger import AccountKind, Leg, account_for, lock, post
from backend.points.expiry import personal_cancelled
from backend.registry.rate import NoRate, current_rate
from backend.residents import notifications
from mall import escrow, orders
from mall.models import Item, Order

UNUSABLE_HASH = "!closed"  # not an argon2 hash: no password matches it


class WrongPassword(Forbidden):
    code, title = "wrong_password", "The password does not match"


def _lock_resident(user_id: int) -> User:
    user = db.session.execute(
        select(User)
        .where(User.id == user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if user is None or user.kind != "resident" or user.closed_at is not None:
        raise NotFound("No such resident.", code="resident_not_found")
    return user


def _withdraw_consents(user_id: int, now) -> int:
    ids = db.session.execute(
        select(Consent.id).where(Consent.user_id == user_id).order_by(Consent.id)
    ).scalars()
    count = 0
    for consent_id in ids:
        db.session.execute(
            update(Consent)
            .where(Consent.id == consent_id)
            .values(
                withdrawn_at=func.coalesce(Consent.withdrawn_at, now),
                user_ref=f"erased:{consent_id}",
            )
            .execution_options(synchronize_session=False)
        )
        count += 1
    return count


def _lock_all(user_id: int) -> None:
    """Every lock the closure needs, up front, in the house's order (order rows, item
    rows, then accounts: system ones, then owned, each by id), so it never deadlocks
    with orders, redemptions, expiries or conversions."""
    pending = db.session.execute(
        select(Order.id, Order.item_id, Order.merchant_id)
        .where(Order.user_id == user_id, Order.status == "pending")
        .order_by(Order.id)
        .with_for_update()
    ).all()
    items = sorted({p.item_id for p in pending})
    if items:
        db.session.execute(
            select(Item.id).where(Item.id.in_(items)).order_by(Item.id).with_for_update()
        ).all()
    lock(
        [
            account_for(AccountKind.POINTS_MINT),
            account_for(AccountKind.POINTS_BACKING),
            personal_cancelled(),
            *(escrow.escrow(m) for m in sorted({p.merchant_id for p in pending})),
            account_for(AccountKind.RESIDENT_POINTS, user_id),
            account_for(AccountKind.RESIDENT_REDUCTIONS, user_id),
        ]
    )


def _empty_accounts(user_id: int, actor: str) -> dict:
    points_acct = account_for(AccountKind.RESIDENT_POINTS, user_id)
    grams_acct = account_for(AccountKind.RESIDENT_REDUCTIONS, user_id)
    mint = account_for(AccountKind.POINTS_MINT)
    backing = account_for(AccountKind.POINTS_BACKING)
    sink = personal_cancelled()
    lock([mint, backing, sink, points_acct, grams_acct])  # held already: fresh balances
    points, grams = points_acct.balance, grams_acct.balance
    taken, backing_g = 0, 0
    if points:
        try:
            taken, backing_g = current_rate().points_to_grams(points)
        except NoRate:  # no points without a rate; nothing to take
            taken = 0
    legs = []
    if taken:
        legs += [Leg(points_acct, -taken), Leg(mint, taken), Leg(backing, -backing_g)]
    if grams:
        legs.append(Leg(grams_acct, -grams))
    if backing_g + grams:
        legs.append(Leg(sink, backing_g + grams))
    entry_id = None
    if legs:
        entry, _ = post(
            kind="account_closure",
            idempotency_key=f"account-closure:{user_id}",
            legs=legs,
            ref_type="user",
            ref_id=user_id,
            actor=actor,
            memo=f"account closed: {taken} pt and {backing_g} g backing, {grams} g "
            "reductions cancelled",
        )
        entry_id = entry.id
    return {
        "entry_id": entry_id,
        "points_cancelled": taken,
        "points_backing_cancelled_g": backing_g,
        "reductions_cancelled_g": grams,
        "points_left": points - taken,
    }


def close(user_id: int, password: str, *, actor: str) -> dict:
    """Close the resident's account (see the module's docstring); the answer announces
    what was cancelled."""
    user = _lock_resident(user_id)
    if not verify_password(user.password_hash, password):
        raise WrongPassword("The password does not match; nothing was closed.")
    now = utcnow()
    accrual.hold_lock()
    overlap.lock_residents([user_id])
    consents = _withdraw_consents(user_id, now)
    _lock_all(user_id)
    cancelled = orders.cancel_all_pending(user_id=user_id, actor=actor)
    emptied = _empty_accounts(user_id, actor)
    erased = db.session.scalar(
        select(func.count()).select_from(Activity).where(Activity.user_id == user_id)
    )
    erasure.delete_raw_details([user_id])
    deleted = notifications.erase(user_id)
    user.phone_hash = None
    user.phone_masked = None
    user.display_name = None
    user.password_hash = UNUSABLE_HASH
    user.auto_convert = False
    user.active = False
    user.closed_at = now
    db.session.flush()
    revocation.revoke_sessions(user_id)
    result = {
        "user_id": user_id,
        "closed_at": now,
        "consents_withdrawn": consents,
        "orders_cancelled": cancelled,
        **emptied,
        "activities_erased": erased,
        "notifications_deleted": deleted,
    }
    audit.record(
        "resident.close",
        "user",
        user_id,
        after={**result, "closed_at": now.isoformat()},
    )
    return result
