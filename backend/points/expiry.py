"""Expiring points (the periodic job `expire_points`) and reminding residents of points
about to expire (`remind_expiring`).

For each resident whose lots (`backend.points.lots`, replayed from the ledger) have
reached their expiry, one journal entry (kind `points_expiry`):
- the resident's points -> the points mint (the points leave circulation), and
- the grams that backed them: points backing -> the CANCELLED sink of owner 1
  (`personal_cancelled()`: personal reductions cancelled by expiry or account closure,
  unserialised; owner 0 is the registry's serialised cancellations, which
  reconciliation matches against serial blocks),
so points outstanding stay exactly backed and reconciliation keeps holding. The grams
follow the rate (`Rate.points_to_grams`, whole conversion blocks: at the default 1000
points per kg one point is one gram); a remainder smaller than one block stays due and
goes with the next expiry.

Exactly once: a chunk locks its residents' user rows (FOR KEY SHARE: rows before
accounts, so a closure or a freeze of one of them finishes first), then the mint, the
backing, the sink and its residents' points accounts (in the ledger's global order)
before replaying, so the replay sees every
posting that can touch them; what an earlier run expired is in the replay, so a re-run,
or a run after a killed one, finds nothing due twice. The entry's key names the
resident and the expiry month (`points-expiry:{user}:{YYYY-MM}`; a further one for the
same month, after a refund brought back points already due, gets `:2`, `:3`...).
Frozen residents are skipped (nothing leaves a frozen account); their points expire,
with their original dates, once they are unfrozen. Callers (the job) commit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from backend.auth.models import User
from backend.db import db, in_values, utcnow
from backend.ledger import Account, AccountKind, account_for, lock
from backend.ledger.accounts import accounts_for
from backend.ledger.posting import EntryRequest, Leg, post_many
from backend.points import lots as lots_rules
from backend.points import validity
from backend.registry.rate import NoRate, current_rate
from backend.residents import notifications
from jobs import job

# Owner 1 of the CANCELLED kind: personal reductions cancelled by expiry or closure.
PERSONAL_CANCELLED_OWNER = 1
REMIND_DAYS = 30


def personal_cancelled() -> Account:
    return account_for(AccountKind.CANCELLED, PERSONAL_CANCELLED_OWNER)


@dataclass
class ExpiryResult:
    residents: int = 0
    entries: int = 0
    points: int = 0
    grams: int = 0
    last_user: int = 0
    entry_ids: list[int] = field(default_factory=list)


def _candidates(after_user: int, limit: int, horizon: datetime) -> list[int]:
    """Residents with points whose points account is older than `horizon`, the latest
    credit time that can have reached its expiry (no lot of a younger account can be
    due), above `after_user`, not frozen."""
    return list(
        db.session.execute(
            select(Account.owner_id)
            .where(
                Account.kind == AccountKind.RESIDENT_POINTS.value,
                Account.balance > 0,
                Account.frozen.is_(False),
                Account.owner_id > after_user,
                Account.created_at < horizon,
            )
            .order_by(Account.owner_id)
            .limit(limit)
        ).scalars()
    )


def due_horizon(sched: validity.Schedule, now: datetime) -> datetime:
    """The latest credit time whose lot may be due at `now`, over every rule: a credit
    of month m under a rule of n months is due once the month m + n + 1 starts."""
    local = now.astimezone(validity.SHANGHAI)
    latest = validity.BEGINNING
    for rule, end in sched.windows():
        cutoff = validity.month_start(local.year, local.month - 1 - rule.months)
        if end is not None:
            cutoff = min(cutoff, end)
        latest = max(latest, cutoff)
    return latest


def key_for(user_id: int, month: str, already: int) -> str:
    base = f"points-expiry:{user_id}:{month}"
    return base if already == 0 else f"{base}:{already + 1}"


def expire_chunk(
    now: datetime, *, after_user: int = 0, limit: int = 500, horizon_days: int = 0
) -> ExpiryResult:
    """Expire what is due at `now` for up to `limit` residents above `after_user`. The
    caller commits, then calls again from `last_user` until `residents` is 0."""
    out = ExpiryResult(last_user=after_user)
    sched = validity.schedule()
    users = _candidates(after_user, limit, due_horizon(sched, now))
    if not users:
        return out
    out.residents = len(users)
    out.last_user = users[-1]
    try:
        rate = current_rate()
    except NoRate:
        return out  # no points were ever converted
    # Rows before accounts (ARCHITECTURE.md "Lock order"): the residents' rows FOR KEY
    # SHARE, as the notifications' foreign key takes them below, but first. Taken only
    # there, after the accounts (or an account opened here), it deadlocked with a
    # closure or a freeze holding a resident's row FOR UPDATE and waiting for them.
    db.session.execute(
        select(User.id)
        .where(in_values(User.id, users))
        .order_by(User.id)
        .with_for_update(read=True, key_share=True)
    ).all()
    mint = account_for(AccountKind.POINTS_MINT)
    backing = account_for(AccountKind.POINTS_BACKING)
    sink = personal_cancelled()
    residents = accounts_for(AccountKind.RESIDENT_POINTS, users)
    lock([mint, backing, sink, *residents.values()])  # global order; held to commit
    requests: list[EntryRequest] = []
    told: list[tuple[int, int, str, str]] = []
    for user_id, book in lots_rules.books(users, sched).items():
        account = residents[user_id]
        if account.frozen:
            continue
        due = book.due(now)
        if not due:
            continue
        points, grams = rate.points_to_grams(sum(lot.left for lot in due))
        if points == 0:
            continue
        month = max(lot.month for lot in due)
        key = key_for(user_id, month, book.expiries.get(month, 0))
        requests.append(
            EntryRequest(
                kind=lots_rules.EXPIRY_KIND,
                idempotency_key=key,
                legs=[
                    Leg(account, -points),
                    Leg(mint, points),
                    Leg(backing, -grams),
                    Leg(sink, grams),
                ],
                ref_type="points_expiry",
                ref_id=month,
                actor="job:points_expiry",
                memo=f"{points} pt expired (due by the end of {month}); {grams} g backing "
                "cancelled",
            )
        )
        told.append((user_id, points, month, key))
        out.points += points
        out.grams += grams
    if not requests:
        return out
    ids = post_many(requests)
    out.entries = len(requests)
    out.entry_ids = [ids[key] for *_, key in told]
    notifications.add(
        [
            notifications.points_expired(user_id, points, month, ids[key])
            for user_id, points, month, key in told
        ]
    )
    return out


def _now(now: str | None) -> datetime:
    return datetime.fromisoformat(now) if now else utcnow()


@job(queue="maintenance", timeout=3600)
def expire_points(now: str | None = None, chunk: int = 500, max_chunks: int = 100_000) -> dict:
    """Expire every resident's points whose time has come (a chunk of residents per
    transaction). `now` (ISO 8601) is for tests and back-runs; default: the clock."""
    at = _now(now)
    validity.ensure_seeded("job:points_expiry")  # the rule applied is on record
    db.session.commit()
    totals = {"residents": 0, "entries": 0, "points": 0, "grams": 0}
    after = 0
    for _ in range(max_chunks):
        res = expire_chunk(at, after_user=after, limit=chunk)
        db.session.commit()
        if res.residents == 0:
            break
        after = res.last_user
        for k in totals:
            totals[k] += getattr(res, k)
    return totals


def remind_chunk(now: datetime, *, after_user: int = 0, limit: int = 500) -> tuple[int, int]:
    """Remind residents above `after_user` of points expiring within 30 days (once per
    expiry date). Returns (residents looked at, last user id)."""
    sched = validity.schedule()
    users = _candidates(after_user, limit, due_horizon(sched, now + timedelta(days=REMIND_DAYS)))
    if not users:
        return 0, after_user
    soon = now + timedelta(days=REMIND_DAYS)
    rows = []
    for user_id, book in lots_rules.books(users, sched).items():
        by_day: dict = {}
        for lot in book.alive():
            if now < lot.expires_at <= soon:
                by_day[lot.expires_on] = by_day.get(lot.expires_on, 0) + lot.left
        rows += [notifications.points_expiring(user_id, p, on) for on, p in by_day.items()]
    notifications.add(rows)
    return len(users), users[-1]


@job(queue="maintenance", timeout=3600)
def remind_expiring(now: str | None = None, chunk: int = 500) -> dict:
    """Tell residents of points expiring within 30 days (once per expiry date)."""
    at = _now(now)
    looked = 0
    after = 0
    while True:
        n, after = remind_chunk(at, after_user=after, limit=chunk)
        db.session.commit()
        if n == 0:
            return {"residents": looked}
        looked += n
