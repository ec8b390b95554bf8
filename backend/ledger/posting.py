"""Posting a balanced journal entry.

The rules, in order:
1. an entry whose idempotency key exists already is returned as it is: nothing moves;
2. legs must be integers, non-zero, and sum to zero per unit;
3. the accounts are locked (`SELECT ... FOR UPDATE`) in one global order: platform
   (system) accounts first, then owned accounts, each by ascending id. Two entries
   touching the same accounts never deadlock, and a transaction that posts several
   entries stays safe as long as its first entry touches the system accounts the later
   ones need (accrual posts its auto-conversion in the same entry for that reason).
   The key is looked up again under the locks, so a racing duplicate sees the first
   entry;
4. a leg that would take an owned account below zero refuses the whole entry before
   anything is written (and the database's CHECK refuses it regardless).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select

from backend.db import db, utcnow
from backend.errors import Conflict
from backend.ledger.accounts import SYSTEM_KINDS
from backend.ledger.models import Account, JournalEntry, Posting


class InsufficientBalance(Conflict):
    code, title = "insufficient_balance", "Insufficient balance"

    def __init__(self, account: Account, needed: int):
        super().__init__(f"account {account.id} ({account.kind}) lacks {needed}")
        self.account_id = account.id
        self.account_kind = account.kind
        self.needed = needed


class UnbalancedEntry(ValueError):
    pass


@dataclass(frozen=True)
class Leg:
    account: Account
    amount: int


def _find(key: str) -> JournalEntry | None:
    return db.session.execute(
        select(JournalEntry).where(JournalEntry.idempotency_key == key)
    ).scalar_one_or_none()


def post(
    *,
    kind: str,
    idempotency_key: str,
    legs: list[Leg],
    ref_type: str | None = None,
    ref_id: str | int | None = None,
    actor: str | None = None,
    memo: str | None = None,
) -> tuple[JournalEntry, bool]:
    """Post one entry; returns (entry, created). `created` is False for a replay."""
    existing = _find(idempotency_key)
    if existing is not None:
        return existing, False

    deltas: dict[int, int] = defaultdict(int)
    units: dict[int, str] = {}
    accounts: dict[int, Account] = {}
    for leg in legs:
        if type(leg.amount) is not int or leg.amount == 0:
            raise UnbalancedEntry(f"leg amount must be a non-zero int, got {leg.amount!r}")
        deltas[leg.account.id] += leg.amount
        units[leg.account.id] = leg.account.unit
        accounts[leg.account.id] = leg.account
    per_unit: dict[str, int] = defaultdict(int)
    for account_id, delta in deltas.items():
        per_unit[units[account_id]] += delta
    if any(per_unit.values()) or not deltas:
        raise UnbalancedEntry(f"entry {idempotency_key} does not balance: {dict(per_unit)}")

    system_ids = sorted(i for i, a in accounts.items() if a.kind in SYSTEM_KINDS)
    owned_ids = sorted(i for i, a in accounts.items() if a.kind not in SYSTEM_KINDS)
    locked = []
    for ids in (system_ids, owned_ids):
        if ids:
            locked += (
                db.session.execute(
                    select(Account)
                    .where(Account.id.in_(ids))
                    .order_by(Account.id)
                    .with_for_update()
                    .execution_options(populate_existing=True)
                )
                .scalars()
                .all()
            )
    existing = _find(idempotency_key)
    if existing is not None:
        return existing, False

    for account in locked:
        new_balance = account.balance + deltas[account.id]
        if new_balance < 0 and not account.may_go_negative:
            raise InsufficientBalance(account, -new_balance)

    now = utcnow()
    entry = JournalEntry(
        idempotency_key=idempotency_key,
        kind=kind,
        ref_type=ref_type,
        ref_id=None if ref_id is None else str(ref_id),
        actor=actor,
        memo=memo,
        created_at=now,
    )
    db.session.add(entry)
    db.session.flush()
    postings = []
    for account in locked:
        delta = deltas[account.id]
        if delta == 0:
            continue
        account.balance = account.balance + delta
        postings.append(
            Posting(
                entry_id=entry.id,
                account_id=account.id,
                amount=delta,
                balance_after=account.balance,
                created_at=now,
            )
        )
    db.session.add_all(postings)
    db.session.flush()
    return entry, True
