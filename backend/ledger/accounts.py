"""Account kinds and finding (or opening) the account of an owner."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import select

from backend.auth.models import User
from backend.db import bulk_insert, db, in_values, insert_ignore, utcnow
from backend.ledger.models import Account
from backend.registry.models import Organization


class AccountKind(StrEnum):
    # owned: never negative
    RESIDENT_REDUCTIONS = "resident_reductions"  # g, owner = user id
    RESIDENT_POINTS = "resident_points"  # pt, owner = user id
    MERCHANT_POINTS = "merchant_points"  # pt, owner = organization id
    ORG_REDUCTIONS = "org_reductions"  # g, owner = organization id
    ORG_RESERVED = "org_reserved"  # g, owner = organization id: held for a transfer or use
    # system, never negative
    POINTS_BACKING = "points_backing"  # g: the reductions standing behind points
    ORDER_ESCROW = "order_escrow"  # pt: points held for pending orders
    RETIRED = "retired"  # g sink
    CANCELLED = "cancelled"  # g sink
    # system sources: may go negative
    SCENARIO_ISSUANCE = "scenario_issuance"  # g, owner = scenario id
    PROJECT_ISSUANCE = "project_issuance"  # g, owner = project id
    POINTS_MINT = "points_mint"  # pt: source and sink of points


UNITS = {
    AccountKind.RESIDENT_REDUCTIONS: "g",
    AccountKind.RESIDENT_POINTS: "pt",
    AccountKind.MERCHANT_POINTS: "pt",
    AccountKind.ORG_REDUCTIONS: "g",
    AccountKind.ORG_RESERVED: "g",
    AccountKind.POINTS_BACKING: "g",
    AccountKind.ORDER_ESCROW: "pt",
    AccountKind.RETIRED: "g",
    AccountKind.CANCELLED: "g",
    AccountKind.SCENARIO_ISSUANCE: "g",
    AccountKind.PROJECT_ISSUANCE: "g",
    AccountKind.POINTS_MINT: "pt",
}
SOURCES = {AccountKind.SCENARIO_ISSUANCE, AccountKind.PROJECT_ISSUANCE, AccountKind.POINTS_MINT}
# Owned accounts, by what owns them: these are frozen with their owner (Art. 24).
OWNED_BY_USER = (AccountKind.RESIDENT_REDUCTIONS, AccountKind.RESIDENT_POINTS)
OWNED_BY_ORG = (AccountKind.MERCHANT_POINTS, AccountKind.ORG_REDUCTIONS, AccountKind.ORG_RESERVED)
# Platform accounts: locked before owned accounts (see posting.py).
SYSTEM_KINDS = {
    k.value
    for k in (
        AccountKind.POINTS_BACKING,
        AccountKind.ORDER_ESCROW,
        AccountKind.RETIRED,
        AccountKind.CANCELLED,
        AccountKind.SCENARIO_ISSUANCE,
        AccountKind.PROJECT_ISSUANCE,
        AccountKind.POINTS_MINT,
    )
}


def account_for(kind: AccountKind, owner_id: int = 0) -> Account:
    """The account of `kind` for `owner_id` (0 for platform-wide system accounts),
    opened on first use; safe when two transactions open it at once."""
    kind = AccountKind(kind)
    stmt = select(Account).where(Account.kind == kind.value, Account.owner_id == owner_id)
    found = db.session.execute(stmt).scalar_one_or_none()
    if found is not None:
        return found
    insert_ignore(
        Account,
        {
            "kind": kind.value,
            "unit": UNITS[kind],
            "owner_id": owner_id,
            "may_go_negative": kind in SOURCES,
            "balance": 0,
            "frozen": owner_id in frozen_owners(kind, [owner_id]),
        },
        ("kind", "owner_id"),
    )
    return db.session.execute(stmt).scalar_one()


def frozen_owners(kind: AccountKind, owner_ids: list[int]) -> set[int]:
    """Which of `owner_ids` are frozen, for accounts of `kind` (a new account of a
    frozen owner opens frozen). The owner rows are read FOR SHARE: a freeze running at
    the same time finishes first, so no account slips out unfrozen."""
    if kind in OWNED_BY_USER:
        table, frozen = User, User.frozen.is_(True)
    elif kind in OWNED_BY_ORG:
        table, frozen = Organization, Organization.status == "frozen"
    else:
        return set()
    rows = db.session.execute(
        select(table.id, frozen.label("frozen"))
        .where(in_values(table.id, sorted(set(owner_ids))))
        .order_by(table.id)
        .with_for_update(read=True)
    )
    return {r.id for r in rows if r.frozen}


def balance_of(kind: AccountKind, owner_id: int = 0) -> int:
    """The balance, without opening an account that does not exist yet."""
    stmt = select(Account.balance).where(
        Account.kind == AccountKind(kind).value, Account.owner_id == owner_id
    )
    return db.session.execute(stmt).scalar_one_or_none() or 0


def accounts_for(kind: AccountKind, owner_ids: list[int]) -> dict[int, Account]:
    """The accounts of `kind` for many owners at once, opening the missing ones."""
    kind = AccountKind(kind)
    owners = sorted(set(owner_ids))
    found: dict[int, Account] = {}

    def load(chunk):
        for account in db.session.execute(
            select(Account).where(Account.kind == kind.value, in_values(Account.owner_id, chunk))
        ).scalars():
            found[account.owner_id] = account

    for start in range(0, len(owners), 5000):
        load(owners[start : start + 5000])
    missing = [o for o in owners if o not in found]
    if missing:
        frozen = set()
        for start in range(0, len(missing), 5000):
            frozen |= frozen_owners(kind, missing[start : start + 5000])
        rows = [
            {
                "kind": kind.value,
                "unit": UNITS[kind],
                "owner_id": owner,
                "may_go_negative": kind in SOURCES,
                "balance": 0,
                "frozen": owner in frozen,
                "created_at": utcnow(),
            }
            for owner in missing
        ]
        bulk_insert(Account, rows, on_conflict=("kind", "owner_id"))
        for start in range(0, len(missing), 5000):
            load(missing[start : start + 5000])
    return found
