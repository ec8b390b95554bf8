"""Switching the ledger's database guards off for one transaction, as only a superuser
could: the tests' truncation, and the tests that tamper with the books on purpose to
show that the invariants and the reconciliation notice.

PostgreSQL: `SET LOCAL session_replication_role = replica` (superuser only; we are
superuser in tests) skips every ordinary trigger, the ledger's included, until the end
of the transaction. SQLite has no such switch: the guard triggers are dropped and
re-created inside the same transaction (SQLite's DDL is transactional): every guard,
the ledger's and the others' (serial blocks, the audit log).

Nothing outside the tests may do this: no code path of the application deletes or
edits postings, entries or balances."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text


@contextmanager
def guards_off(session) -> Iterator[None]:
    """Within the session's current transaction; the caller commits (or rolls back)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL session_replication_role = replica"))
        yield
        return
    triggers = session.execute(
        text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
    ).all()
    conn = session.connection()
    for name, _ in triggers:
        conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
    yield
    for _, sql in triggers:
        conn.exec_driver_sql(sql)
