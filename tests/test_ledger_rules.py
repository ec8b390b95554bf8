"""The ledger's rules enforced by the database itself (migration `3c8d5e7a9b21`): each
violation is tried with raw SQL, as a careless script would, and refused.

PostgreSQL enforces all of them. The tests marked `sqlite` run again on SQLite, which
enforces what its row triggers can: append-only postings and entries, the balance chain
and its application, no direct balance change. SQLite does NOT check at commit that an
entry balances or has postings (no deferred triggers)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from backend.db import db
from backend.ledger import Account, AccountKind, JournalEntry, Leg, Posting, account_for, post
from backend.ledger import invariants as books
from backend.ledger.posting import EntryRequest, post_many


def _accounts() -> dict[str, int]:
    """A source, two residents' reductions and a resident's points, committed."""
    ids = {
        "source": account_for(AccountKind.SCENARIO_ISSUANCE, 1).id,
        "alice": account_for(AccountKind.RESIDENT_REDUCTIONS, 1).id,
        "bob": account_for(AccountKind.RESIDENT_REDUCTIONS, 2).id,
        "points": account_for(AccountKind.RESIDENT_POINTS, 1).id,
    }
    db.session.commit()
    return ids


def _entry(key: str, session=None) -> int:
    return (
        (session or db.session)
        .execute(
            text(
                "INSERT INTO journal_entries (idempotency_key, kind, created_at)"
                " VALUES (:k, 'script', CURRENT_TIMESTAMP) RETURNING id"
            ),
            {"k": key},
        )
        .scalar_one()
    )


def _postings(entry_id: int, *legs: tuple[int, int, int], session=None) -> None:
    """One INSERT statement of (account id, amount, balance_after) rows."""
    values = ", ".join(f"(:e, :a{i}, :m{i}, :b{i}, CURRENT_TIMESTAMP)" for i in range(len(legs)))
    params = {"e": entry_id}
    for i, (account, amount, after) in enumerate(legs):
        params |= {f"a{i}": account, f"m{i}": amount, f"b{i}": after}
    (session or db.session).execute(
        text(
            "INSERT INTO postings (entry_id, account_id, amount, balance_after, created_at)"
            f" VALUES {values}"
        ),
        params,
    )


def _balances(ids: dict[str, int]) -> dict[str, int]:
    db.session.rollback()
    return {
        name: db.session.execute(select(Account.balance).where(Account.id == i)).scalar_one()
        for name, i in ids.items()
    }


def _fund_alice(ids: dict[str, int], grams: int = 100) -> int:
    entry = _entry("fund")
    _postings(entry, (ids["source"], -grams, -grams), (ids["alice"], grams, grams))
    db.session.commit()
    return entry


def _refused_at_commit(match: str) -> None:
    with pytest.raises(IntegrityError, match=match):
        db.session.commit()
    db.session.rollback()


# -- the happy path, raw ----------------------------------------------------------------


@pytest.mark.sqlite
def test_a_balanced_entry_written_raw_moves_the_balances(ctx):
    ids = _accounts()
    _fund_alice(ids, 100)
    entry = _entry("move")
    # one statement, two postings on alice: the chain runs through both
    _postings(
        entry,
        (ids["alice"], -30, 70),
        (ids["alice"], -20, 50),
        (ids["bob"], 50, 50),
    )
    db.session.commit()
    assert _balances(ids) == {"source": -100, "alice": 50, "bob": 50, "points": 0}
    assert books().ok


# -- entries balance per unit, at commit (PostgreSQL) ----------------------------------


def test_an_unbalanced_entry_is_refused_at_commit(ctx):
    ids = _accounts()
    _fund_alice(ids, 100)
    entry = _entry("unbalanced")
    _postings(entry, (ids["alice"], -30, 70), (ids["bob"], 20, 20))  # chains hold
    _refused_at_commit(f"journal entry {entry} does not balance: its g postings sum to -10")
    assert _balances(ids) == {"source": -100, "alice": 100, "bob": 0, "points": 0}
    assert db.session.scalar(select(func.count()).select_from(JournalEntry)) == 1
    assert books().ok


def test_an_entry_with_one_posting_is_refused(ctx):
    ids = _accounts()
    entry = _entry("lonely")
    _postings(entry, (ids["source"], -5, -5))
    _refused_at_commit("does not balance")
    assert _balances(ids)["source"] == 0


def test_an_entry_without_postings_is_refused(ctx):
    _entry("empty")
    _refused_at_commit("has no postings")
    assert db.session.scalar(select(func.count()).select_from(JournalEntry)) == 0


def test_grams_do_not_balance_points(ctx):
    ids = _accounts()
    _fund_alice(ids, 100)
    entry = _entry("g-for-pt")
    _postings(entry, (ids["alice"], -10, 90), (ids["points"], 10, 10))
    _refused_at_commit("does not balance: its (g|pt) postings sum to")


def test_a_posting_added_to_a_committed_entry_unbalances_it_and_is_refused(ctx):
    ids = _accounts()
    entry = _fund_alice(ids, 100)
    _postings(entry, (ids["alice"], 5, 105))  # continues the chain; the entry does not
    _refused_at_commit(f"journal entry {entry} does not balance")
    assert _balances(ids)["alice"] == 100
    assert books().ok


def test_the_commit_check_survives_savepoints_and_an_early_check(ctx):
    """A rolled-back savepoint takes its postings and their pending check with it; a
    check run early (SET CONSTRAINTS ALL IMMEDIATE) does not exempt later postings."""
    ids = _accounts()
    _fund_alice(ids, 100)
    e1 = _entry("kept")
    _postings(e1, (ids["alice"], -10, 90), (ids["bob"], 10, 10))
    savepoint = db.session.begin_nested()
    e2 = _entry("dropped")
    _postings(e2, (ids["alice"], -10, 80))  # unbalanced, then rolled back
    savepoint.rollback()
    db.session.commit()
    assert _balances(ids)["alice"] == 90

    e3 = _entry("checked-early")
    _postings(e3, (ids["alice"], -10, 80), (ids["bob"], 10, 20))
    db.session.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))  # checked now: balanced
    db.session.execute(text("SET CONSTRAINTS ALL DEFERRED"))
    _postings(e3, (ids["bob"], 1, 21))
    _refused_at_commit(f"journal entry {e3} does not balance")

    savepoint_entry = _entry("in-a-released-savepoint")
    savepoint = db.session.begin_nested()
    _postings(savepoint_entry, (ids["alice"], -1, 89))
    savepoint.commit()
    _refused_at_commit(f"journal entry {savepoint_entry} does not balance")
    assert _balances(ids) == {"source": -100, "alice": 90, "bob": 10, "points": 0}


# -- postings and entries are append-only ----------------------------------------------

# TRUNCATE: PostgreSQL only (SQLite has none)
STATEMENTS = [
    pytest.param("UPDATE postings SET amount = amount * 2", marks=pytest.mark.sqlite),
    pytest.param("DELETE FROM postings", marks=pytest.mark.sqlite),
    pytest.param("UPDATE journal_entries SET memo = 'edited'", marks=pytest.mark.sqlite),
    pytest.param("DELETE FROM journal_entries", marks=pytest.mark.sqlite),
    "TRUNCATE postings",
    "TRUNCATE journal_entries CASCADE",
    "TRUNCATE accounts CASCADE",
]


@pytest.mark.parametrize("statement", STATEMENTS)
def test_postings_and_entries_refuse_change(ctx, statement):
    ids = _accounts()
    _fund_alice(ids, 100)
    with pytest.raises(IntegrityError, match="refused: the ledger is append-only"):
        db.session.execute(text(statement))
        db.session.commit()
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Posting)) == 2
    assert _balances(ids)["alice"] == 100


# -- balances move only with their postings ----------------------------------------------


@pytest.mark.sqlite
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE accounts SET balance = balance + 1 WHERE id = :alice",
        "UPDATE accounts SET balance = 0 WHERE id = :alice",
        "UPDATE accounts SET balance = balance - 100 WHERE id = :source",
        "UPDATE accounts SET balance = balance + 1",
    ],
)
def test_a_balance_cannot_be_set_directly(ctx, statement):
    ids = _accounts()
    _fund_alice(ids, 100)
    with pytest.raises(IntegrityError, match="moves only with its postings"):
        db.session.execute(text(statement), ids)
        db.session.commit()
    db.session.rollback()
    assert _balances(ids) == {"source": -100, "alice": 100, "bob": 0, "points": 0}


def test_the_apply_flag_alone_does_not_open_the_balance(ctx):
    """The trigger's own UPDATE is recognised by its depth, not only by the setting a
    script could copy."""
    ids = _accounts()
    db.session.execute(text("SET LOCAL ledger.applying = 'on'"))
    with pytest.raises(IntegrityError, match="moves only with its postings"):
        db.session.execute(text("UPDATE accounts SET balance = 7 WHERE id = :bob"), ids)
    db.session.rollback()


@pytest.mark.sqlite
def test_an_account_opens_at_zero_and_keeps_its_unit(ctx):
    ids = _accounts()
    with pytest.raises(IntegrityError, match="accounts open at 0"):
        db.session.execute(
            text(
                "INSERT INTO accounts (kind, unit, owner_id, may_go_negative, balance,"
                " created_at) VALUES ('resident_points', 'pt', 9, false, 1000,"
                " CURRENT_TIMESTAMP)"
            )
        )
    db.session.rollback()
    # an entry balanced in grams must not become unbalanced by relabelling an account
    with pytest.raises(IntegrityError, match="kind, unit and owner never change"):
        db.session.execute(text("UPDATE accounts SET unit = 'pt' WHERE id = :bob"), ids)
    db.session.rollback()
    with pytest.raises(IntegrityError, match="kind, unit and owner never change"):
        db.session.execute(text("UPDATE accounts SET owner_id = 3 WHERE id = :bob"), ids)
    db.session.rollback()


@pytest.mark.sqlite
def test_a_posting_must_continue_its_accounts_balance(ctx):
    ids = _accounts()
    _fund_alice(ids, 100)
    entry = _entry("forged-balance")
    with pytest.raises(IntegrityError, match="balance_after is not"):
        # alice has 100: a posting claiming she now has 1,000,010
        _postings(entry, (ids["alice"], 10, 1_000_010), (ids["source"], -10, -110))
        db.session.flush()
    db.session.rollback()
    entry = _entry("forged-chain")
    with pytest.raises(IntegrityError, match="balance_after is not"):
        # the second posting on alice does not continue the first one
        _postings(
            entry,
            (ids["alice"], -10, 90),
            (ids["alice"], -10, 90),
            (ids["bob"], 20, 20),
        )
        db.session.flush()
    db.session.rollback()
    assert _balances(ids) == {"source": -100, "alice": 100, "bob": 0, "points": 0}
    assert books().ok


@pytest.mark.sqlite
def test_a_posting_may_not_take_an_owned_account_below_zero(ctx):
    ids = _accounts()
    _fund_alice(ids, 100)
    entry = _entry("overdraft")
    with pytest.raises(IntegrityError, match="may not go negative|nonnegative"):
        _postings(entry, (ids["alice"], -150, -50), (ids["bob"], 150, 150))
        db.session.flush()
    db.session.rollback()
    entry = _entry("dips-then-recovers")
    with pytest.raises(IntegrityError, match="may not go negative|nonnegative"):
        # ends at 50, but passes through -50 inside the statement
        _postings(
            entry,
            (ids["alice"], -150, -50),
            (ids["alice"], 100, 50),
            (ids["bob"], 50, 50),
        )
        db.session.flush()
    db.session.rollback()
    assert _balances(ids)["alice"] == 100


def test_two_raw_writers_cannot_both_extend_one_balance(app, clean):
    """Two scripts that do not lock: both read alice's balance 100 and post from it.
    The second one's trigger waits for the first's row lock, then finds the balance
    moved and refuses: value is neither lost nor invented."""
    with app.app_context():
        ids = _accounts()
        _fund_alice(ids, 100)
        db.session.remove()
        first, second = db.engine.connect(), db.engine.connect()
        try:
            first.begin()
            entry = _entry("first", first)
            _postings(entry, (ids["alice"], -10, 90), (ids["bob"], 10, 10), session=first)
            second_pid = second.execute(text("SELECT pg_backend_pid()")).scalar_one()
            second.commit()
            outcome: list[BaseException | str] = []

            def racer():
                try:
                    with second.begin():
                        e = _entry("second", second)
                        _postings(e, (ids["alice"], -20, 80), (ids["bob"], 20, 20), session=second)
                    outcome.append("committed")
                except BaseException as exc:  # noqa: BLE001 - asserted below
                    outcome.append(exc)

            thread = threading.Thread(target=racer)
            thread.start()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # until the second waits on the row lock
                waiting = first.execute(
                    text("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = :p"),
                    {"p": second_pid},
                ).scalar()
                if waiting:
                    break
                time.sleep(0.05)
            first.commit()
            thread.join(60)
            assert len(outcome) == 1 and isinstance(outcome[0], DBAPIError), outcome
            assert "balance changed under this statement" in str(outcome[0])
        finally:
            first.close()
            second.close()
        assert _balances(ids) == {"source": -100, "alice": 90, "bob": 10, "points": 0}
        assert books().ok
        db.session.remove()


# -- the ledger's own paths still work ------------------------------------------------


@pytest.mark.sqlite
def test_post_and_post_many_keep_the_sessions_objects_true(ctx):
    source = account_for(AccountKind.SCENARIO_ISSUANCE, 1)
    alice = account_for(AccountKind.RESIDENT_REDUCTIONS, 1)
    bob = account_for(AccountKind.RESIDENT_REDUCTIONS, 2)
    post(kind="accrual", idempotency_key="p1", legs=[Leg(source, -100), Leg(alice, 100)])
    assert (source.balance, alice.balance) == (-100, 100)  # no reload needed
    requests = [
        EntryRequest("accrual", f"m{n}", [Leg(source, -10), Leg(bob, 10)]) for n in range(50)
    ]
    requests.append(EntryRequest("transfer", "t", [Leg(alice, -30), Leg(bob, 30)]))
    post_many(requests)  # one statement: 51 postings on the source's chain
    assert (source.balance, alice.balance, bob.balance) == (-600, 70, 530)
    assert db.session.get(Account, bob.id) is bob and bob not in db.session.dirty
    db.session.commit()
    fresh = {
        a.id: a.balance
        for a in db.session.execute(select(Account).execution_options(populate_existing=True))
        .scalars()
        .all()
    }
    assert fresh == {source.id: -600, alice.id: 70, bob.id: 530}
    last = (
        db.session.execute(
            select(Posting.balance_after)
            .where(Posting.account_id == source.id)
            .order_by(Posting.id.desc())
        )
        .scalars()
        .first()
    )
    assert last == -600
    assert books().ok


@pytest.mark.sqlite
def test_the_downgrade_removes_the_rules_and_the_upgrade_restores_them(app, clean):
    from flask_migrate import downgrade, upgrade

    migrations = str(Path(__file__).resolve().parent.parent / "migrations")
    with app.app_context():
        ids = _accounts()
        db.session.remove()
        db.engine.dispose()  # no pooled session holds a lock on the ledger's tables
        downgrade(directory=migrations, revision="7b1e2c9d4f10")
        try:
            db.session.execute(text("UPDATE accounts SET balance = 5 WHERE id = :bob"), ids)
            db.session.rollback()  # accepted: nothing guards the balance any more
        finally:
            db.session.remove()
            upgrade(directory=migrations)
        with pytest.raises(IntegrityError, match="moves only with its postings"):
            db.session.execute(text("UPDATE accounts SET balance = 5 WHERE id = :bob"), ids)
        db.session.rollback()
        db.session.remove()
