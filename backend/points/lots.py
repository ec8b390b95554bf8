"""A resident's points as lots, computed from the ledger alone (no bookkeeping of its
own that could drift): replay the postings of the resident's points account in order.

- A positive posting (a conversion, the auto-conversion of accrual) opens a lot that
  expires at the end of the month (Asia/Shanghai) the validity rule in force at its
  credit says (`backend.points.validity`).
- A negative posting (an order's hold, an expiry, a closure) consumes the lots alive
  that expire first (among equals, the one credited first). While the validity rule
  never shortens, that is simply the oldest points first; should a shorter rule ever
  be published, points closest to expiring are still spent first.
- A refund (`order_refund`) gives back exactly the slices of lots its order's hold
  consumed (the hold and the refund reference the same order), with their original
  expiry dates, not a fresh lot.

The lots alive always add up to the account's balance. One indexed read of the
account's postings (`ix_postings_account_id_id`) per resident; a few thousand postings
replay in milliseconds."""

from __future__ import annotations

import functools
import heapq
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select

from backend.db import db, in_values, utcnow
from backend.ledger import Account, AccountKind, JournalEntry, Posting
from backend.points.validity import Schedule, expires_at, expires_on, expiry_month, schedule

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Asia/Shanghai has kept UTC+8 without summer time since September 1991: a fixed offset
# gives the same local month at a fraction of the zone lookup's cost
CST = timezone(timedelta(hours=8))
FIXED_SINCE = datetime(1992, 1, 1, tzinfo=CST)
EXPIRY_KIND = "points_expiry"
REFUND_KIND = "order_refund"
HOLD_KIND = "order_hold"


@dataclass(eq=False)
class Lot:
    posting_id: int  # the posting that opened it
    credited_at: datetime
    expires_at: datetime
    amount: int
    left: int
    queued: bool = False

    @property
    def expires_on(self) -> date:
        return _expires_on(self.expires_at)

    @property
    def month(self) -> str:
        return expiry_month(self.expires_at)


# a few distinct expiry instants (month ends) among thousands of lots
_expires_on = functools.lru_cache(maxsize=4096)(expires_on)


@dataclass
class Book:
    """The replayed account: every lot, what is left of each, and the expiry entries
    already posted per expiry month (for their idempotency keys)."""

    balance: int = 0
    lots: list[Lot] = field(default_factory=list)
    expiries: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _heap: list = field(default_factory=list, repr=False)
    _held: dict[str, list[tuple[Lot, int]]] = field(default_factory=dict, repr=False)

    def alive(self) -> list[Lot]:
        """Lots with points left, in the order they are spent (first to expire first)."""
        return sorted((lot for lot in self.lots if lot.left > 0), key=_order)

    def due(self, now: datetime) -> list[Lot]:
        """Lots alive whose expiry has come."""
        return [lot for lot in self.alive() if lot.expires_at <= now]

    def upcoming(self, now: datetime) -> list[dict]:
        """Points alive by expiry date, soonest first: `[{on, points}]` (an overdue date
        is points the expiry job has not reached yet)."""
        out: dict[date, int] = defaultdict(int)
        for lot in self.alive():
            out[lot.expires_on] += lot.left
        return [{"on": on, "points": points} for on, points in sorted(out.items())]

    # -- the replay --------------------------------------------------------------------
    def _queue(self, lot: Lot) -> None:
        if not lot.queued and lot.left > 0:
            lot.queued = True
            heapq.heappush(self._heap, (*_order(lot), lot))

    def _open(self, posting_id: int, at: datetime, amount: int, sched: Schedule) -> None:
        lot = Lot(posting_id, at, _expiry(at, sched), amount, amount)
        self.lots.append(lot)
        self._queue(lot)

    def _consume(self, amount: int) -> list[tuple[Lot, int]]:
        taken: list[tuple[Lot, int]] = []
        while amount > 0 and self._heap:
            lot = self._heap[0][-1]
            if lot.left == 0:
                heapq.heappop(self._heap)
                lot.queued = False
                continue
            take = min(lot.left, amount)
            lot.left -= take
            amount -= take
            taken.append((lot, take))
        return taken

    def apply(self, row, sched: Schedule) -> None:
        """One posting of the account (id, amount, created_at, kind, ref_type, ref_id)."""
        self.balance += row.amount
        if row.amount > 0:
            slices = self._held.pop(row.ref_id, None) if row.kind == REFUND_KIND else None
            if slices is None:
                self._open(row.id, row.created_at, row.amount, sched)
                return
            back = 0
            for lot, amount in slices:
                give = min(amount, row.amount - back)
                lot.left += give
                back += give
                self._queue(lot)
            if back < row.amount:  # more came back than was held: a lot of its own
                self._open(row.id, row.created_at, row.amount - back, sched)
            return
        slices = self._consume(-row.amount)
        if row.kind == HOLD_KIND and row.ref_type == "order":
            self._held[row.ref_id] = slices
        elif row.kind == EXPIRY_KIND and row.ref_id:
            self.expiries[row.ref_id] += 1


def _expiry(at: datetime, sched: Schedule) -> datetime:
    """`sched.expires_at(at)`: it depends only on the credit's Asia/Shanghai month and the
    rule's months, so it is computed once per (month, months), not once per lot (a
    long-history resident has thousands of lots; the time-zone arithmetic dominated
    their replay)."""
    local = at.astimezone(CST if at >= FIXED_SINCE else SHANGHAI)
    return _month_expiry(local.year, local.month, sched.rule_at(at).months)


@functools.lru_cache(maxsize=4096)
def _month_expiry(year: int, month: int, months: int) -> datetime:
    return expires_at(datetime(year, month, 1, tzinfo=SHANGHAI), months)


def _order(lot: Lot) -> tuple[datetime, int]:
    return (lot.expires_at, lot.posting_id)


def _postings(account_ids: list[int]):
    return db.session.execute(
        select(
            Posting.account_id,
            Posting.id,
            Posting.amount,
            Posting.created_at,
            JournalEntry.kind,
            JournalEntry.ref_type,
            JournalEntry.ref_id,
        )
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .where(in_values(Posting.account_id, account_ids))
        .order_by(Posting.account_id, Posting.id)
    )


def books(user_ids: list[int], sched: Schedule | None = None) -> dict[int, Book]:
    """The replayed points account of each resident (an empty book for one without)."""
    sched = sched or schedule()
    accounts = dict(
        db.session.execute(
            select(Account.id, Account.owner_id).where(
                Account.kind == AccountKind.RESIDENT_POINTS.value,
                in_values(Account.owner_id, sorted(set(user_ids))),
            )
        ).all()
    )
    out = {u: Book() for u in user_ids}
    if accounts:
        for row in _postings(sorted(accounts)):
            out[accounts[row.account_id]].apply(row, sched)
    return out


def book(user_id: int, sched: Schedule | None = None) -> Book:
    return books([user_id], sched)[user_id]


def expiring(user_id: int, now: datetime | None = None) -> dict:
    """The resident's points alive and when they expire, soonest first."""
    now = now or utcnow()
    b = book(user_id)
    return {"points": b.balance, "as_of": now, "expiring": b.upcoming(now)}


def next_expiry(user_id: int, now: datetime) -> dict | None:
    """`{points, on}` of the next expiry date, or None without points."""
    upcoming = book(user_id).upcoming(now)
    return upcoming[0] if upcoming else None
