"""Drilling into a reconciliation report that is not ok: which accounts, orders and
settlement batches its checks name, and what the ledger holds for each (an account's
latest postings, an order's journal entries). Staff read these; nothing here writes."""

from __future__ import annotations

from sqlalchemy import func, select

from backend.db import db
from backend.errors import NotFound
from backend.ledger.models import Account, JournalEntry, Posting
from mall.models import Order

# For each list of offenders in a report: which of its fields names what, for a link.
# ("account", field) an account id; ("order", field) an order id; ("settlement", field)
# a batch id; ("owned", kind, field) the account of that kind owned by the field's id.
TARGETS: dict[str, tuple] = {
    "negative_accounts": ("account", "id"),
    "balance_mismatches": ("account", "id"),
    "block_mismatches": ("account", "account_id"),
    "escrow_mismatches": ("owned", "order_escrow", "merchant_id"),
    "merchant_mismatches": ("owned", "merchant_points", "merchant_id"),
    "order_offenders": ("order", "id"),
    "orphan_order_entries": ("order", "ref_id"),
    "settlement_offenders": ("settlement", "id"),
    "reservation_offenders": ("owned", "org_reserved", "org_id"),
}
OTHER_LISTS = ("block_state_offenders", "issued_mismatches", "overlapping_blocks")


class AccountNotFound(NotFound):
    code, title = "account_not_found", "No such account"


def offenders(report: dict) -> list[dict]:
    """The report's non-empty lists of offenders, each row with what it points at:
    `{"name", "rows": [{"fields": {...}, "target": (...) | None}]}`."""
    out = []
    for name in (*TARGETS, *OTHER_LISTS):
        rows = report.get(name) or []
        if not rows:
            continue
        spec = TARGETS.get(name)
        listed = []
        for row in rows:
            target = None
            if spec is not None:
                value = row.get(spec[-1])
                if value is not None and str(value).isdigit():
                    target = (*spec[:-1], int(value))
            listed.append({"fields": row, "target": target})
        out.append({"name": name, "rows": listed})
    return out


def account_of(kind: str, owner_id: int) -> Account:
    found = db.session.execute(
        select(Account).where(Account.kind == kind, Account.owner_id == owner_id)
    ).scalar_one_or_none()
    if found is None:
        raise AccountNotFound(f"No {kind} account of owner {owner_id}.")
    return found


def account(account_id: int, limit: int = 50) -> dict:
    """An account, its latest postings (newest first, with their entries) and the sum
    of all its postings beside its materialised balance."""
    found = db.session.get(Account, account_id)
    if found is None:
        raise AccountNotFound("No such account.")
    postings = db.session.execute(
        select(Posting, JournalEntry)
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .where(Posting.account_id == account_id)
        .order_by(Posting.id.desc())
        .limit(limit)
    ).all()
    total = db.session.execute(
        select(func.coalesce(func.sum(Posting.amount), 0)).where(Posting.account_id == account_id)
    ).scalar_one()
    return {
        "account": found,
        "postings_sum": int(total),
        "postings": [{"posting": p, "entry": e} for p, e in postings],
    }


def order(order_id: int) -> dict:
    """An order and every journal entry that names it (its hold, redemption or refund)."""
    found = db.session.get(Order, order_id)
    entries = list(
        db.session.execute(
            select(JournalEntry)
            .where(JournalEntry.ref_type == "order", JournalEntry.ref_id == str(order_id))
            .order_by(JournalEntry.id)
        ).scalars()
    )
    if found is None and not entries:
        raise NotFound("No such order.", code="order_not_found")
    return {"order": found, "entries": entries}
