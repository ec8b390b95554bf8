"""The books, proved with set-based SQL (cheap on millions of postings):
every unit sums to zero over all accounts; each materialised balance equals the sum of
its postings; no account that may not go negative is negative."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from backend.db import db
from backend.ledger.models import Account, Posting


@dataclass
class Report:
    unit_sums: dict[str, int] = field(default_factory=dict)
    posting_sums: dict[str, int] = field(default_factory=dict)
    negative_accounts: list[dict] = field(default_factory=list)
    balance_mismatches: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            not any(self.unit_sums.values())
            and not any(self.posting_sums.values())
            and not self.negative_accounts
            and not self.balance_mismatches
        )


def check(limit: int = 100) -> Report:
    report = Report(unit_sums={"g": 0, "pt": 0}, posting_sums={"g": 0, "pt": 0})
    for unit, total in db.session.execute(
        select(Account.unit, func.coalesce(func.sum(Account.balance), 0)).group_by(Account.unit)
    ):
        report.unit_sums[unit] = int(total)
    for unit, total in db.session.execute(
        select(Account.unit, func.coalesce(func.sum(Posting.amount), 0))
        .join(Posting, Posting.account_id == Account.id)
        .group_by(Account.unit)
    ):
        report.posting_sums[unit] = int(total)
    negatives = db.session.execute(
        select(Account.id, Account.kind, Account.owner_id, Account.balance)
        .where(Account.balance < 0, Account.may_go_negative.is_(False))
        .limit(limit)
    )
    report.negative_accounts = [dict(r._mapping) for r in negatives]
    sums = (
        select(Posting.account_id, func.sum(Posting.amount).label("total"))
        .group_by(Posting.account_id)
        .subquery()
    )
    mismatches = db.session.execute(
        select(Account.id, Account.kind, Account.balance, func.coalesce(sums.c.total, 0))
        .outerjoin(sums, sums.c.account_id == Account.id)
        .where(Account.balance != func.coalesce(sums.c.total, 0))
        .limit(limit)
    )
    report.balance_mismatches = [
        {"id": r[0], "kind": r[1], "balance": int(r[2]), "postings_sum": int(r[3])}
        for r in mismatches
    ]
    return report
