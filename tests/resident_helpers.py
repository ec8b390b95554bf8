"""Helpers for the residents' tests: a movable clock for the ledger's postings (points
credited, spent and refunded at chosen times, as they would be over the years), and
running the points jobs at a chosen time."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

SH = ZoneInfo("Asia/Shanghai")


def day_9am(days_ago: int = 1) -> datetime:
    """9:00 Shanghai time, `days_ago` days before today."""
    now = datetime.now(SH)
    return now.replace(hour=9, minute=0, second=0, microsecond=0) - timedelta(days=days_ago)


def at(text: str) -> datetime:
    """A time written in Asia/Shanghai: `at("2030-01-15 12:00")`."""
    return datetime.fromisoformat(text).replace(tzinfo=SH)


class Clock:
    """Moves the time the ledger stamps on postings (`backend.ledger.posting.utcnow`);
    everything else keeps the real clock."""

    def __init__(self, monkeypatch):
        self.now: datetime | None = None
        import backend.ledger.posting as posting

        real = posting.utcnow
        monkeypatch.setattr(posting, "utcnow", lambda: self.now or real())

    def set(self, text: str) -> datetime:
        self.now = at(text)
        return self.now


def expire(app, when: str) -> dict:
    from backend.points.expiry import expire_points
    from jobs.runner import run

    with app.app_context():
        return run(expire_points, now=at(when).isoformat())


def remind(app, when: str) -> dict:
    from backend.points.expiry import remind_expiring
    from jobs.runner import run

    with app.app_context():
        return run(remind_expiring, now=at(when).isoformat())


def upcoming(app, user_id: int) -> list[tuple[str, int]]:
    """The resident's points alive by expiry date, as (date, points)."""
    from backend.db import db
    from backend.points.lots import book

    with app.app_context():
        out = [(x["on"].isoformat(), x["points"]) for x in book(user_id).upcoming(None)]
        db.session.rollback()
        return out


def entries_of_kind(app, kind: str, user_id: int | None = None) -> list[tuple[str, int]]:
    """(idempotency key, the resident's points amount) of every entry of `kind`."""
    from sqlalchemy import select

    from backend.db import db
    from backend.ledger import Account, AccountKind, JournalEntry, Posting

    with app.app_context():
        stmt = (
            select(JournalEntry.idempotency_key, Posting.amount)
            .join(Posting, Posting.entry_id == JournalEntry.id)
            .join(Account, Account.id == Posting.account_id)
            .where(JournalEntry.kind == kind, Account.kind == AccountKind.RESIDENT_POINTS.value)
            .order_by(JournalEntry.id)
        )
        if user_id is not None:
            stmt = stmt.where(Account.owner_id == user_id)
        out = [(k, a) for k, a in db.session.execute(stmt)]
        db.session.rollback()
        return out


def accounts_opened_by(app, text: str) -> None:
    """Accounts opened later than `text` (Asia/Shanghai) are dated back to it: with the
    clock moved back, postings would otherwise predate their account (which the expiry
    job's cheap filter, "no lot of an account younger than the horizon is due", relies
    on never happening)."""
    from sqlalchemy import update

    from backend.db import db
    from backend.ledger import Account

    with app.app_context():
        db.session.execute(
            update(Account).where(Account.created_at > at(text)).values(created_at=at(text))
        )
        db.session.commit()
