"""Posting balanced journal entries.

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
   anything is written (and the database's CHECK refuses it regardless);
5. the postings carry the running balance (`balance_after`); the application never
   writes `accounts.balance`: the database moves it when the postings are inserted, and
   refuses postings that do not continue the account's balance, an entry that does not
   balance per unit (at commit), and any change to a posting or an entry (see the
   migration `3c8d5e7a9b21` for what PostgreSQL and SQLite each enforce). The session's
   account objects are given the new balances as loaded values, so they stay true
   without a reload.

`post()` posts one entry; `post_many()` posts a list in one round of locks and bulk
statements (accrual uses it: thousands of resident-days per chunk). The hot path of an
order uses `lock_rows()` (the accounts locked in the same global order by ONE statement,
as Core rows) and `post_on_locked()` (rules 2 and 4 checked on those rows, then the entry
and its postings written by ONE statement on PostgreSQL, `ON CONFLICT` on the key for
rule 1): no ORM objects, no reload, two round trips.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import bindparam, case, insert, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm.attributes import set_committed_value

from backend.db import BigId, UTCDateTime, bulk_insert, db, in_values, utcnow
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


class AccountFrozen(Conflict):
    """Value may not leave a frozen account (Art. 24); it may still come in."""

    code, title = "account_frozen", "The account is frozen"

    def __init__(self, account: Account):
        super().__init__(f"account {account.id} ({account.kind}) is frozen: nothing may leave it")
        self.account_id = account.id
        self.account_kind = account.kind


class UnbalancedEntry(ValueError):
    pass


@dataclass(frozen=True)
class Leg:
    account: Account
    amount: int


@dataclass
class EntryRequest:
    kind: str
    idempotency_key: str
    legs: list[Leg]
    ref_type: str | None = None
    ref_id: str | int | None = None
    actor: str | None = None
    memo: str | None = None
    deltas: dict[int, int] = field(default_factory=dict, repr=False)


def _net(legs: list[Leg], key: str, accounts: dict[int, Account]) -> dict[int, int]:
    """Net amount per account id; raises UnbalancedEntry unless it balances per unit."""
    deltas: dict[int, int] = defaultdict(int)
    for leg in legs:
        if type(leg.amount) is not int or leg.amount == 0:
            raise UnbalancedEntry(f"leg amount must be a non-zero int, got {leg.amount!r}")
        deltas[leg.account.id] += leg.amount
        accounts[leg.account.id] = leg.account
    _refuse_unbalanced(deltas, accounts, key)
    return {a: d for a, d in deltas.items() if d != 0}


def _refuse_unbalanced(deltas: dict[int, int], accounts: dict, key: str) -> None:
    """Raises UnbalancedEntry unless the amounts (account id -> amount) sum to zero per
    unit; `accounts` maps the ids to anything with a `unit`."""
    per_unit: dict[str, int] = defaultdict(int)
    for account_id, delta in deltas.items():
        per_unit[accounts[account_id].unit] += delta
    if any(per_unit.values()) or not deltas:
        raise UnbalancedEntry(f"entry {key} does not balance: {dict(per_unit)}")


def _refuse_moves(deltas: dict[int, int], locked: dict) -> None:
    """Nothing out of a frozen account, no owned account below zero: checked on the
    locked rows (ORM accounts or Core rows) before anything is written."""
    for account_id, delta in deltas.items():
        account = locked[account_id]
        if delta < 0 and account.frozen:
            raise AccountFrozen(account)
        if account.balance + delta < 0 and not account.may_go_negative:
            raise InsufficientBalance(account, -(account.balance + delta))


def _lock(accounts: dict[int, Account]) -> dict[int, Account]:
    """Lock the accounts in the global order; returns them refreshed, by id."""
    system_ids = sorted(i for i, a in accounts.items() if a.kind in SYSTEM_KINDS)
    owned_ids = sorted(i for i, a in accounts.items() if a.kind not in SYSTEM_KINDS)
    locked: dict[int, Account] = {}
    for ids in (system_ids, owned_ids):
        if ids:
            for account in db.session.execute(
                select(Account)
                .where(in_values(Account.id, ids))
                .order_by(Account.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            ).scalars():
                locked[account.id] = account
    return locked


def lock(accounts: list[Account]) -> None:
    """Lock accounts in the global order ahead of a post, e.g. the points mint before
    reading the conversion rate, so the rate can't change under the caller."""
    _lock({a.id: a for a in accounts})


def _existing(keys: list[str]) -> dict[str, JournalEntry]:
    found: dict[str, JournalEntry] = {}
    for start in range(0, len(keys), 5000):
        for entry in db.session.execute(
            select(JournalEntry).where(
                in_values(JournalEntry.idempotency_key, keys[start : start + 5000])
            )
        ).scalars():
            found[entry.idempotency_key] = entry
    return found


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
    existing = _existing([idempotency_key]).get(idempotency_key)
    if existing is not None:
        return existing, False
    accounts: dict[int, Account] = {}
    deltas = _net(legs, idempotency_key, accounts)
    locked = _lock(accounts)
    existing = _existing([idempotency_key]).get(idempotency_key)
    if existing is not None:
        return existing, False
    _refuse_moves(deltas, locked)

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
    postings, after = [], {}
    for account_id in sorted(deltas):
        after[account_id] = locked[account_id].balance + deltas[account_id]
        postings.append(
            Posting(
                entry_id=entry.id,
                account_id=account_id,
                amount=deltas[account_id],
                balance_after=after[account_id],
                created_at=now,
            )
        )
    db.session.add_all(postings)
    db.session.flush()
    _loaded_balances(locked, after)
    return entry, True


def _loaded_balances(locked: dict[int, Account], balances: dict[int, int]) -> None:
    """The balances the database has just set (its trigger refuses any other outcome),
    given to the session's objects as loaded values: no UPDATE, no reload."""
    for account_id, balance in balances.items():
        set_committed_value(locked[account_id], "balance", balance)


def post_many(requests: list[EntryRequest]) -> dict[str, int]:
    """Post many entries with one round of locks and bulk statements, all or nothing.
    Returns idempotency key -> entry id (existing entries included, unchanged)."""
    if not requests:
        return {}
    accounts: dict[int, Account] = {}
    keys = [r.idempotency_key for r in requests]
    if len(set(keys)) != len(keys):
        raise UnbalancedEntry("post_many got the same idempotency key twice")
    for r in requests:
        r.deltas = _net(r.legs, r.idempotency_key, accounts)
    locked = _lock(accounts)
    done = {k: e.id for k, e in _existing(keys).items()}
    todo = [r for r in requests if r.idempotency_key not in done]
    if not todo:
        return done
    balances = {i: a.balance for i, a in locked.items()}
    after: list[dict[int, int]] = []
    for r in todo:
        snapshot = {}
        for account_id in sorted(r.deltas):
            new = balances[account_id] + r.deltas[account_id]
            account = locked[account_id]
            if r.deltas[account_id] < 0 and account.frozen:
                raise AccountFrozen(account)
            if new < 0 and not account.may_go_negative:
                raise InsufficientBalance(account, -new)
            balances[account_id] = new
            snapshot[account_id] = new
        after.append(snapshot)

    now = utcnow()
    rows = [
        {
            "idempotency_key": r.idempotency_key,
            "kind": r.kind,
            "ref_type": r.ref_type,
            "ref_id": None if r.ref_id is None else str(r.ref_id),
            "actor": r.actor,
            "memo": r.memo,
            "created_at": now,
        }
        for r in todo
    ]
    ids = dict(bulk_insert(JournalEntry, rows, returning=("idempotency_key", "id")))
    postings = []
    for r, snapshot in zip(todo, after, strict=True):
        entry_id = done[r.idempotency_key] = ids[r.idempotency_key]
        for account_id, delta in sorted(r.deltas.items()):
            postings.append(
                {
                    "entry_id": entry_id,
                    "account_id": account_id,
                    "amount": delta,
                    "balance_after": snapshot[account_id],
                    "created_at": now,
                }
            )
    bulk_insert(Posting, postings)
    _loaded_balances(locked, {i: b for i, b in balances.items() if b != locked[i].balance})
    return done


# -- one entry on rows the caller locked: the hot path (an order's hold) ----------------


_ACCOUNTS = Account.__table__
_LOCK_ROWS = (
    select(
        _ACCOUNTS.c.id,
        _ACCOUNTS.c.kind,
        _ACCOUNTS.c.unit,
        _ACCOUNTS.c.balance,
        _ACCOUNTS.c.frozen,
        _ACCOUNTS.c.may_go_negative,
    )
    .where(_ACCOUNTS.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(case((_ACCOUNTS.c.kind.in_(sorted(SYSTEM_KINDS)), 0), else_=1), _ACCOUNTS.c.id)
    .with_for_update()
)


def lock_rows(account_ids: list[int]) -> dict:
    """Lock the accounts in the global order (system kinds first, then owned, each by
    ascending id) with ONE `SELECT ... ORDER BY ... FOR UPDATE` (rows are locked in the
    order they are sorted); returns their Core rows (id, kind, unit, balance, frozen,
    may_go_negative) by id. Nothing enters the session."""
    rows = db.session.connection().execute(_LOCK_ROWS, {"ids": sorted(set(account_ids))})
    return {row.id: row for row in rows}


_POST_ONE_PG = text(
    """
    WITH e AS (
      INSERT INTO journal_entries (idempotency_key, kind, ref_type, ref_id, actor, memo,
                                   created_at)
      VALUES (:key, :kind, :ref_type, :ref_id, :actor, :memo, :now)
      ON CONFLICT (idempotency_key) DO NOTHING
      RETURNING id
    ), p AS (
      INSERT INTO postings (entry_id, account_id, amount, balance_after, created_at)
      SELECT e.id, v.account_id, v.amount, v.balance_after, :now
      FROM e CROSS JOIN unnest(:accounts, :amounts, :afters)
        AS v(account_id, amount, balance_after)
      ORDER BY v.account_id
      RETURNING entry_id
    )
    SELECT (SELECT id FROM e) AS id
    """
).bindparams(
    bindparam("now", type_=UTCDateTime()),
    bindparam("accounts", type_=ARRAY(BigId)),
    bindparam("amounts", type_=ARRAY(BigId)),
    bindparam("afters", type_=ARRAY(BigId)),
)


def post_on_locked(
    *,
    kind: str,
    idempotency_key: str,
    deltas: dict[int, int],
    locked: dict,
    ref_type: str | None = None,
    ref_id: str | int | None = None,
    actor: str | None = None,
    memo: str | None = None,
) -> tuple[int, bool]:
    """Post one entry (account id -> amount) on accounts this transaction has locked with
    `lock_rows()`; returns (entry id, created). The rules of `post()`: integers, non-zero,
    balanced per unit; nothing out of a frozen account, no owned account below zero
    (checked on the locked rows before anything is written); an entry whose key exists
    is returned as it is. On PostgreSQL the entry and its postings are ONE statement (a
    data-modifying CTE); the database's triggers check the chain of every balance and
    the entry's balance at commit, as for every writer."""
    for delta in deltas.values():
        if type(delta) is not int or delta == 0:
            raise UnbalancedEntry(f"leg amount must be a non-zero int, got {delta!r}")
    _refuse_unbalanced(deltas, locked, idempotency_key)
    _refuse_moves(deltas, locked)
    ids = sorted(deltas)
    now = utcnow()
    entry = {
        "kind": kind,
        "ref_type": ref_type,
        "ref_id": None if ref_id is None else str(ref_id),
        "actor": actor,
        "memo": memo,
    }
    if db.session.get_bind().dialect.name == "postgresql":
        entry_id = (
            db.session.connection()
            .execute(
                _POST_ONE_PG,
                {
                    **entry,
                    "key": idempotency_key,
                    "now": now,
                    "accounts": ids,
                    "amounts": [deltas[i] for i in ids],
                    "afters": [locked[i].balance + deltas[i] for i in ids],
                },
            )
            .scalar_one()
        )
        if entry_id is not None:
            return entry_id, True
    else:  # SQLite: no data-modifying CTE; writers are serialised
        entry_id = None
        if idempotency_key not in _existing_ids([idempotency_key]):
            entry_id = db.session.execute(
                insert(JournalEntry.__table__)
                .values(idempotency_key=idempotency_key, created_at=now, **entry)
                .returning(JournalEntry.__table__.c.id)
            ).scalar_one()
            db.session.execute(
                insert(Posting.__table__),
                [
                    {
                        "entry_id": entry_id,
                        "account_id": i,
                        "amount": deltas[i],
                        "balance_after": locked[i].balance + deltas[i],
                        "created_at": now,
                    }
                    for i in ids
                ],
            )
            return entry_id, True
    return _existing_ids([idempotency_key])[idempotency_key], False


def _existing_ids(keys: list[str]) -> dict[str, int]:
    table = JournalEntry.__table__
    return dict(
        db.session.execute(
            select(table.c.idempotency_key, table.c.id).where(
                in_values(table.c.idempotency_key, keys)
            )
        ).all()
    )
