"""Set-based ledger writing (PostgreSQL): many balanced entries posted by a handful of
SQL statements, from entries and legs staged in session temp tables, with no Python
loop per entry or posting. For jobs that post thousands of entries per transaction
(accrual); `posting.post_many` is the portable path and the reference for the rules.

The caller fills two staging tables (made by `stage()`, emptied at commit):
- `pg_temp.ledger_stage_entries (seq, idempotency_key, kind, ref_type, ref_id, actor,
  memo)`: one row per entry, `seq` its place in the posting order;
- `pg_temp.ledger_stage_legs (entry_seq, account_id, amount)`: its legs, at most one per
  account per entry.
then calls `post_staged(now)`, which applies the rules of `posting.py`, in order:
1. an entry whose idempotency key exists already is left as it is (its legs move
   nothing) and keeps its id;
2. every leg is a non-zero integer (the column type and the posting CHECK) and every
   entry balances per unit (checked here, before anything is written, and again by the
   database at commit);
3. the accounts are locked (`SELECT ... FOR UPDATE`) in the global order: system
   accounts first, then owned accounts, each by ascending id;
4. nothing leaves a frozen account (`AccountFrozen`), and no owned account goes below
   zero at any posting (`InsufficientBalance`), before anything is written;
5. the postings carry the running balance (`balance_after`, a window sum from the
   locked balance, in entry order) and get ascending ids in that order, so each
   account's chain continues; the database's triggers (migration `3c8d5e7a9b21`) check
   the chains, move the balances and check every entry balances at commit, as for any
   other writer. Nothing here goes around them.
The staged entries get their ids (`entry_id`), for the caller to join on.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text

from backend.db import db
from backend.ledger.accounts import SOURCES, SYSTEM_KINDS
from backend.ledger.models import Account
from backend.ledger.posting import AccountFrozen, InsufficientBalance, UnbalancedEntry

_SYSTEM = "(" + ", ".join(f"'{k}'" for k in sorted(SYSTEM_KINDS)) + ")"
_SOURCES = "(" + ", ".join(f"'{k.value}'" for k in sorted(SOURCES)) + ")"


def stage() -> None:
    """Make (once per connection) and empty the staging tables."""
    db.session.execute(
        text(
            "CREATE TEMP TABLE IF NOT EXISTS ledger_stage_entries ("
            " seq bigint PRIMARY KEY, idempotency_key text NOT NULL UNIQUE,"
            " kind text NOT NULL, ref_type text, ref_id text, actor text, memo text,"
            " entry_id bigint, existed boolean NOT NULL DEFAULT false"
            ") ON COMMIT DELETE ROWS;"
            "CREATE TEMP TABLE IF NOT EXISTS ledger_stage_legs ("
            " entry_seq bigint NOT NULL, account_id bigint NOT NULL, amount bigint NOT NULL,"
            " PRIMARY KEY (entry_seq, account_id)"
            ") ON COMMIT DELETE ROWS;"
            "DELETE FROM ledger_stage_entries; DELETE FROM ledger_stage_legs"
        )
    )


def lock_accounts(account_ids_sql: str, params: dict | None = None) -> None:
    """Lock the accounts whose ids `account_ids_sql` (a SELECT of one id column)
    returns, in the global order: system accounts, then owned ones, each by id."""
    for system in (True, False):
        db.session.execute(
            text(
                "SELECT a.id FROM accounts a"  # noqa: S608 (our own SQL text)
                f" WHERE a.id IN ({account_ids_sql})"
                f" AND {'' if system else 'NOT '}a.kind IN {_SYSTEM}"
                " ORDER BY a.id FOR UPDATE"
            ),
            params or {},
        )


def post_staged(now: datetime) -> int:
    """Post the staged entries (see the module docstring); returns how many were new.
    Raises before writing anything when a rule is broken."""
    s = db.session
    s.execute(
        text(
            "UPDATE ledger_stage_entries e SET entry_id = j.id, existed = true"
            " FROM journal_entries j WHERE j.idempotency_key = e.idempotency_key"
        )
    )
    bad = s.execute(
        text(
            "SELECT e.idempotency_key, a.unit, sum(l.amount) AS total, count(*) AS n,"
            " bool_or(l.amount = 0) AS zero"
            " FROM ledger_stage_entries e"
            " LEFT JOIN ledger_stage_legs l ON l.entry_seq = e.seq"
            " LEFT JOIN accounts a ON a.id = l.account_id"
            " WHERE NOT e.existed GROUP BY e.idempotency_key, a.unit"
            " HAVING a.unit IS NULL OR sum(l.amount) <> 0 OR bool_or(l.amount = 0)"
            " LIMIT 1"
        )
    ).first()
    if bad is not None:
        raise UnbalancedEntry(f"entry {bad.idempotency_key} does not balance: {bad}")
    lock_accounts(
        "SELECT l.account_id FROM ledger_stage_legs l"
        " JOIN ledger_stage_entries e ON e.seq = l.entry_seq WHERE NOT e.existed"
    )
    frozen = s.execute(
        text(
            "SELECT a.id FROM ledger_stage_legs l"
            " JOIN ledger_stage_entries e ON e.seq = l.entry_seq"
            " JOIN accounts a ON a.id = l.account_id"
            " WHERE NOT e.existed AND l.amount < 0 AND a.frozen LIMIT 1"
        )
    ).scalar()
    if frozen is not None:
        raise AccountFrozen(s.get(Account, frozen))
    short = s.execute(
        text(
            "SELECT account_id, min(after) AS lowest FROM ("  # noqa: S608 (constants only)
            " SELECT l.account_id, a.balance + sum(l.amount) OVER ("
            "   PARTITION BY l.account_id ORDER BY l.entry_seq) AS after"
            " FROM ledger_stage_legs l"
            " JOIN ledger_stage_entries e ON e.seq = l.entry_seq"
            " JOIN accounts a ON a.id = l.account_id"
            f" WHERE NOT e.existed AND NOT a.may_go_negative AND a.kind NOT IN {_SOURCES}"
            ") r GROUP BY account_id HAVING min(after) < 0 LIMIT 1"
        )
    ).first()
    if short is not None:
        raise InsufficientBalance(s.get(Account, short.account_id), -short.lowest)
    created = s.execute(
        text(
            "UPDATE ledger_stage_entries"
            " SET entry_id = nextval(pg_get_serial_sequence('journal_entries', 'id'))"
            " WHERE NOT existed"
        )
    ).rowcount
    if not created:
        return 0
    s.execute(
        text(
            "INSERT INTO journal_entries"
            " (id, idempotency_key, kind, ref_type, ref_id, actor, memo, created_at)"
            " SELECT entry_id, idempotency_key, kind, ref_type, ref_id, actor, memo, :now"
            " FROM ledger_stage_entries WHERE NOT existed ORDER BY seq"
        ),
        {"now": now},
    )
    # The posting ids: as many fresh sequence values as postings, numbered in ascending
    # order and matched to the postings in posting order (whatever order the sequence
    # hands them out in), so each account's chain runs in id order.
    s.execute(
        text(
            "WITH legs AS ("
            " SELECT e.entry_id, l.account_id, l.amount,"
            "  a.balance + sum(l.amount) OVER ("
            "   PARTITION BY l.account_id ORDER BY l.entry_seq) AS balance_after,"
            "  row_number() OVER (ORDER BY l.entry_seq, l.account_id) AS rn"
            " FROM ledger_stage_legs l"
            " JOIN ledger_stage_entries e ON e.seq = l.entry_seq"
            " JOIN accounts a ON a.id = l.account_id"
            " WHERE NOT e.existed"
            "), fresh AS ("
            " SELECT nextval(pg_get_serial_sequence('postings', 'id')) AS id"
            " FROM generate_series(1, (SELECT count(*) FROM legs))"
            "), ids AS (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM fresh)"
            " INSERT INTO postings (id, entry_id, account_id, amount, balance_after, created_at)"
            " SELECT ids.id, legs.entry_id, legs.account_id, legs.amount, legs.balance_after,"
            " :now FROM legs JOIN ids USING (rn) ORDER BY ids.id"
        ),
        {"now": now},
    )
    _expire_balances()
    return created


def _expire_balances() -> None:
    """The database moved balances: the session's account objects reload theirs."""
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, Account):
            db.session.expire(obj, ["balance"])
