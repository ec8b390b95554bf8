"""the ledger's rules in the database: balanced entries checked at commit, append-only
postings and entries, balances that change only with their postings

Revision ID: 3c8d5e7a9b21
Revises: c4a8e1f20b37
Create Date: 2026-11-25 09:00:00

PostgreSQL (everything enforced by the engine, whoever writes):
- `postings` and `journal_entries` refuse UPDATE, DELETE and TRUNCATE (statement-level
  BEFORE triggers: one call per statement, whatever the row count);
- balances move only with their postings. A statement-level AFTER INSERT trigger on
  `postings` (transition table `new_postings`) checks, set-based, that each new posting
  continues its account's chain (balance_after = the previous one + amount; the first
  new posting of an account continues from `accounts.balance`, which is the account's
  latest balance_after: it opens at 0 and only this trigger changes it), that no owned
  account dips below zero inside the statement, and moves each account's balance to its
  newest balance_after in ONE UPDATE per statement (no per-row update chains on the
  system accounts). The head is compared to the locked account row, not read from the
  postings: two writers racing on one account cannot both extend the same head, the
  second one's UPDATE re-reads the row and fails. A BEFORE UPDATE trigger on `accounts`
  refuses any other change of `balance` (and any change of id, kind, unit or owner);
  an account opens with balance 0. The CHECK `ck_accounts_nonnegative` still holds;
- every journal entry balances per unit (the unit is on `accounts`) and has postings,
  checked at COMMIT, by ONE deferred constraint trigger per transaction rather than one
  call per posting. The statement-level triggers write into a session temp table
  `pg_temp.ledger_touched_entries` (ON COMMIT DELETE ROWS, made on first use): the
  entries trigger a row (entry, no unit, 0, 0 postings) per new entry; the postings
  trigger the sums of its statement per (entry, unit), with the units that the
  balance UPDATE returns (no second lookup); and the first of them in a transaction a
  marker row (entry_id NULL) on which the DEFERRABLE INITIALLY DEFERRED constraint
  trigger fires. At commit one aggregate over that table refuses any entry whose
  postings of this transaction do not sum to zero per unit, or a new entry without
  any. That is the whole entry: postings are append-only and every entry committed
  before balanced (this check refused it otherwise), so its earlier postings sum to
  zero per unit. A posting added later to a committed entry therefore unbalances it
  and is refused. No index probe into `postings` at commit.
  The memo `ledger.check_queued` is a transaction-local setting: a rolled-back savepoint
  reverts it together with the rows and the queued event; a check run early (SET
  CONSTRAINTS ALL IMMEDIATE) clears the memo, so later postings queue another check of
  the transaction's whole sums. A transaction that touched the ledger cannot be
  PREPAREd (temp table); the role needs TEMP on the database (the default).
Only a superuser or the tables' owner gets past these (`session_replication_role =
replica`, `ALTER TABLE ... DISABLE TRIGGER`, DROP TRIGGER); the tests' truncation does
the former, see tests/ledger_guards.py.

SQLite (FOR EACH ROW triggers only: no statement-level, no deferred ones):
- postings and journal entries refuse UPDATE and DELETE (SQLite has no TRUNCATE);
- each posting must continue its account's balance (balance_after = balance + amount,
  BEFORE INSERT) and moves the balance itself (AFTER INSERT, per row: SQLite has no
  MVCC update chains to fear); writers are serialised (BEGIN IMMEDIATE), so the read
  of the balance cannot race; the CHECK refuses every step below zero;
- `balance` may only be set to the account's latest posting's balance_after (which the
  posting trigger does); accounts open at 0 and never change id, kind, unit or owner;
- NOT enforced on SQLite (it would need a commit-time check): that an entry balances
  per unit, that an entry has postings at all, and so that no posting is added to a
  committed entry. `backend.ledger.post()`/`post_many()` refuse the first two before
  writing; an unbalanced entry written around them shows in the unit sums of
  `backend.ledger.invariants` (the nightly reconciliation); an entry without postings
  moves nothing and nothing flags it.
"""

from alembic import op

revision = "3c8d5e7a9b21"
down_revision = "c4a8e1f20b37"
branch_labels = None
depends_on = None

# kinds that may go negative: the same list as the CHECK ck_accounts_nonnegative
SOURCES = "('scenario_issuance', 'project_issuance', 'points_mint')"

PG_UPGRADE = [
    # -- append-only ----------------------------------------------------------------
    """
    CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION '% on % refused: the ledger is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
    END $$
    """,
    """
    CREATE TRIGGER postings_append_only
      BEFORE UPDATE OR DELETE OR TRUNCATE ON postings
      FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()
    """,
    """
    CREATE TRIGGER journal_entries_append_only
      BEFORE UPDATE OR DELETE OR TRUNCATE ON journal_entries
      FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()
    """,
    # -- balanced entries, checked at commit ------------------------------------------
    """
    CREATE FUNCTION ledger_check_entries() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      bad record;
    BEGIN
      SELECT entry_id, unit, sum(total) AS total INTO bad
      FROM pg_temp.ledger_touched_entries
      WHERE unit IS NOT NULL
      GROUP BY entry_id, unit
      HAVING sum(total) <> 0
      LIMIT 1;
      IF FOUND THEN
        RAISE EXCEPTION 'journal entry % does not balance: its % postings sum to %',
          bad.entry_id, bad.unit, bad.total USING ERRCODE = 'check_violation';
      END IF;
      SELECT entry_id INTO bad
      FROM pg_temp.ledger_touched_entries
      WHERE entry_id IS NOT NULL
      GROUP BY entry_id
      HAVING max(n) = 0
      LIMIT 1;
      IF FOUND THEN
        RAISE EXCEPTION 'journal entry % has no postings', bad.entry_id
          USING ERRCODE = 'check_violation';
      END IF;
      -- a later statement of this transaction queues another check (of everything)
      PERFORM set_config('ledger.check_queued', '', true);
      RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION ledger_queue_entry_check() RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
      IF current_setting('ledger.check_queued', true) = 'on' THEN
        RETURN;
      END IF;
      IF to_regclass('pg_temp.ledger_touched_entries') IS NULL THEN
        CREATE TEMP TABLE ledger_touched_entries (
          entry_id bigint, unit text, total bigint, n bigint
        ) ON COMMIT DELETE ROWS;
        -- fires for the marker row (entry_id NULL) only: one event per transaction
        CREATE CONSTRAINT TRIGGER ledger_entries_balance
          AFTER INSERT ON pg_temp.ledger_touched_entries
          DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
          WHEN (NEW.entry_id IS NULL) EXECUTE FUNCTION ledger_check_entries();
      END IF;
      INSERT INTO pg_temp.ledger_touched_entries VALUES (NULL, NULL, 0, 0);
      PERFORM set_config('ledger.check_queued', 'on', true);
    END $$
    """,
    """
    CREATE FUNCTION ledger_entries_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM ledger_queue_entry_check();
      INSERT INTO pg_temp.ledger_touched_entries SELECT id, NULL, 0, 0 FROM new_entries;
      RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER journal_entries_inserted
      AFTER INSERT ON journal_entries REFERENCING NEW TABLE AS new_entries
      FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_inserted()
    """,
    # -- balances move with their postings, and only so ---------------------------------
    f"""
    CREATE FUNCTION ledger_postings_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      bad record;
      brk record;
    BEGIN
      PERFORM ledger_queue_entry_check();
      PERFORM set_config('ledger.applying', 'on', true);
      -- per account: where the new postings start from, where they end, their lowest
      -- point, whether each continues the one before; then one UPDATE moves every
      -- balance whose chain holds and starts at the (locked, current) balance. Any
      -- account left out refuses the statement below.
      WITH chain AS (
        SELECT account_id, id, amount, balance_after,
               lag(balance_after) OVER w AS prev,
               lead(id) OVER w AS next_id
        FROM new_postings
        WINDOW w AS (PARTITION BY account_id ORDER BY id)
      ), heads AS (
        SELECT account_id,
               min(balance_after - amount) FILTER (WHERE prev IS NULL) AS start,
               min(balance_after) FILTER (WHERE next_id IS NULL) AS final,
               min(balance_after) AS lowest,
               bool_and(prev IS NULL OR balance_after = prev + amount) AS chained
        FROM chain GROUP BY account_id
      ), applied AS (
        UPDATE accounts a SET balance = h.final
        FROM heads h
        WHERE a.id = h.account_id AND a.balance = h.start AND h.chained
          AND (h.lowest >= 0 OR a.kind IN {SOURCES})
        RETURNING a.id, a.unit
      ), sums AS (
        -- what this statement adds to each entry, per unit, for the commit check
        INSERT INTO pg_temp.ledger_touched_entries
        SELECT p.entry_id, ap.unit, sum(p.amount), count(*)
        FROM new_postings p JOIN applied ap ON ap.id = p.account_id
        GROUP BY p.entry_id, ap.unit
      )
      SELECT h.account_id, h.start, h.lowest, h.chained, a.balance, a.kind INTO bad
      FROM heads h JOIN accounts a ON a.id = h.account_id
      WHERE h.account_id NOT IN (SELECT id FROM applied)
      LIMIT 1;
      IF NOT FOUND THEN
        PERFORM set_config('ledger.applying', '', true);
        RETURN NULL;
      END IF;
      -- refused: say why
      IF NOT bad.chained THEN
        SELECT c.id, c.amount, c.balance_after, c.prev INTO brk FROM (
          SELECT id, amount, balance_after,
                 lag(balance_after) OVER (ORDER BY id) AS prev
          FROM new_postings WHERE account_id = bad.account_id) c
        WHERE c.prev IS NOT NULL AND c.balance_after <> c.prev + c.amount
        LIMIT 1;
        RAISE EXCEPTION 'posting %: balance_after is not balance + amount (% <> % + %, '
          'account %)', brk.id, brk.balance_after, brk.prev, brk.amount, bad.account_id
          USING ERRCODE = 'check_violation';
      ELSIF bad.start <> bad.balance THEN
        RAISE EXCEPTION 'account %: balance_after is not balance + amount: the new postings '
          'start from %, the balance is %', bad.account_id, bad.start, bad.balance
          USING ERRCODE = 'check_violation';
      ELSIF bad.lowest < 0 AND bad.kind NOT IN {SOURCES} THEN
        RAISE EXCEPTION 'account % (%) may not go negative: a posting takes it to %',
          bad.account_id, bad.kind, bad.lowest USING ERRCODE = 'check_violation';
      END IF;
      RAISE EXCEPTION 'account %: its balance changed under this statement', bad.account_id
        USING ERRCODE = 'serialization_failure';
    END $$
    """,
    """
    CREATE TRIGGER postings_inserted
      AFTER INSERT ON postings REFERENCING NEW TABLE AS new_postings
      FOR EACH STATEMENT EXECUTE FUNCTION ledger_postings_inserted()
    """,
    """
    CREATE FUNCTION ledger_refuse_account_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'INSERT' THEN
        RAISE EXCEPTION 'account opened with balance %: accounts open at 0', NEW.balance
          USING ERRCODE = 'restrict_violation';
      END IF;
      RAISE EXCEPTION 'account % refused: its balance moves only with its postings, and its '
        'kind, unit and owner never change', OLD.id USING ERRCODE = 'restrict_violation';
    END $$
    """,
    """
    CREATE TRIGGER accounts_open_at_zero
      BEFORE INSERT ON accounts FOR EACH ROW WHEN (NEW.balance <> 0)
      EXECUTE FUNCTION ledger_refuse_account_change()
    """,
    # pg_trigger_depth() = 0 is a statement from the client: ledger_postings_inserted()
    # runs its UPDATE at depth 1 with ledger.applying on
    """
    CREATE TRIGGER accounts_guard
      BEFORE UPDATE ON accounts FOR EACH ROW
      WHEN ((NEW.balance IS DISTINCT FROM OLD.balance
             AND (pg_trigger_depth() = 0
                  OR current_setting('ledger.applying', true) IS DISTINCT FROM 'on'))
            OR NEW.id IS DISTINCT FROM OLD.id OR NEW.kind IS DISTINCT FROM OLD.kind
            OR NEW.unit IS DISTINCT FROM OLD.unit OR NEW.owner_id IS DISTINCT FROM OLD.owner_id)
      EXECUTE FUNCTION ledger_refuse_account_change()
    """,
]

PG_DOWNGRADE = [
    "DROP TRIGGER accounts_guard ON accounts",
    "DROP TRIGGER accounts_open_at_zero ON accounts",
    "DROP FUNCTION ledger_refuse_account_change()",
    "DROP TRIGGER postings_inserted ON postings",
    "DROP FUNCTION ledger_postings_inserted()",
    "DROP TRIGGER journal_entries_inserted ON journal_entries",
    "DROP FUNCTION ledger_entries_inserted()",
    "DROP FUNCTION ledger_queue_entry_check()",
    # CASCADE: the constraint trigger on each open session's temp table depends on it
    "DROP FUNCTION ledger_check_entries() CASCADE",
    "DROP TRIGGER journal_entries_append_only ON journal_entries",
    "DROP TRIGGER postings_append_only ON postings",
    "DROP FUNCTION ledger_refuse_change()",
]

SQLITE_UPGRADE = [
    *(
        f"""
        CREATE TRIGGER {table}_no_{op_name} BEFORE {op_name.upper()} ON {table}
        BEGIN SELECT RAISE(ABORT, '{op_name.upper()} on {table} refused: the ledger is append-only'); END
        """
        for table in ("postings", "journal_entries")
        for op_name in ("update", "delete")
    ),
    """
    CREATE TRIGGER postings_chain BEFORE INSERT ON postings
    WHEN NEW.balance_after IS NOT
         (SELECT balance FROM accounts WHERE id = NEW.account_id) + NEW.amount
    BEGIN SELECT RAISE(ABORT, 'posting refused: balance_after is not balance + amount'); END
    """,
    """
    CREATE TRIGGER postings_apply AFTER INSERT ON postings
    BEGIN UPDATE accounts SET balance = NEW.balance_after WHERE id = NEW.account_id; END
    """,
    """
    CREATE TRIGGER accounts_open_at_zero BEFORE INSERT ON accounts
    WHEN NEW.balance <> 0
    BEGIN SELECT RAISE(ABORT, 'account refused: accounts open at 0'); END
    """,
    """
    CREATE TRIGGER accounts_balance_guard BEFORE UPDATE OF balance ON accounts
    WHEN NEW.balance IS NOT OLD.balance AND NEW.balance IS NOT
         (SELECT balance_after FROM postings WHERE account_id = NEW.id ORDER BY id DESC LIMIT 1)
    BEGIN SELECT RAISE(ABORT, 'account refused: its balance moves only with its postings'); END
    """,
    """
    CREATE TRIGGER accounts_identity_guard BEFORE UPDATE OF id, kind, unit, owner_id
    ON accounts
    WHEN NEW.id IS NOT OLD.id OR NEW.kind IS NOT OLD.kind OR NEW.unit IS NOT OLD.unit
         OR NEW.owner_id IS NOT OLD.owner_id
    BEGIN SELECT RAISE(ABORT, 'account refused: kind, unit and owner never change'); END
    """,
]

SQLITE_DOWNGRADE = [
    f"DROP TRIGGER {name}"
    for name in (
        "accounts_identity_guard",
        "accounts_balance_guard",
        "accounts_open_at_zero",
        "postings_apply",
        "postings_chain",
        "journal_entries_no_delete",
        "journal_entries_no_update",
        "postings_no_delete",
        "postings_no_update",
    )
]


def _run(statements):
    for sql in statements:
        op.execute(sql)


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        _run(PG_UPGRADE)
    else:
        _run(SQLITE_UPGRADE)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        _run(PG_DOWNGRADE)
    else:
        _run(SQLITE_DOWNGRADE)
