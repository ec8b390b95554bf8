"""`backend.ledger.bulk`: staged entries posted set-based keep every rule of `post_many`
(balanced, idempotent keys, nothing out of a frozen account, no owned account below
zero at any posting, each account's chain continued in id order), and the database's
triggers accept what it writes (PostgreSQL only: SQLite uses `post_many`)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text, update

from backend.db import db, utcnow
from backend.ledger import Account, AccountKind, InsufficientBalance, Posting, account_for
from backend.ledger import invariants as ledger_invariants
from backend.ledger.posting import AccountFrozen, UnbalancedEntry


@pytest.fixture
def pg(ctx):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("set-based posting is PostgreSQL's")
    from backend.ledger import bulk

    return bulk


def _stage(bulk, entries: list[tuple[str, list[tuple[Account, int]]]]) -> None:
    bulk.stage()
    for seq, (key, legs) in enumerate(entries):
        db.session.execute(
            text(
                "INSERT INTO ledger_stage_entries (seq, idempotency_key, kind, actor)"
                " VALUES (:seq, :key, 'test', 'test')"
            ),
            {"seq": seq, "key": key},
        )
        for account, amount in legs:
            db.session.execute(
                text("INSERT INTO ledger_stage_legs VALUES (:seq, :acct, :amount)"),
                {"seq": seq, "acct": account.id, "amount": amount},
            )


def _accounts():
    src = account_for(AccountKind.SCENARIO_ISSUANCE, 1)
    alice = account_for(AccountKind.RESIDENT_REDUCTIONS, 101)
    bob = account_for(AccountKind.RESIDENT_REDUCTIONS, 102)
    db.session.commit()
    return src, alice, bob


def test_entries_post_in_order_with_running_balances(pg):
    src, alice, bob = _accounts()
    _stage(
        pg,
        [
            ("b1", [(src, -500), (alice, 500)]),
            ("b2", [(src, -300), (bob, 300)]),
            ("b3", [(alice, -200), (bob, 200)]),  # spends what b1 brought, in order
        ],
    )
    assert pg.post_staged(utcnow()) == 3
    db.session.commit()
    rows = db.session.execute(
        select(Posting.account_id, Posting.amount, Posting.balance_after).order_by(Posting.id)
    ).all()
    by_account: dict[int, list[int]] = {}
    for account_id, _, after in rows:
        by_account.setdefault(account_id, []).append(after)
    assert by_account == {src.id: [-500, -800], alice.id: [500, 300], bob.id: [300, 500]}
    assert (alice.balance, bob.balance, src.balance) == (300, 500, -800)
    assert ledger_invariants().ok
    # the same keys again move nothing and keep their ids
    ids = dict(db.session.execute(text("SELECT idempotency_key, id FROM journal_entries")).all())
    _stage(pg, [("b1", [(src, -500), (alice, 500)]), ("b4", [(src, -1), (alice, 1)])])
    assert pg.post_staged(utcnow()) == 1
    staged = dict(
        db.session.execute(text("SELECT idempotency_key, entry_id FROM ledger_stage_entries")).all()
    )
    assert staged["b1"] == ids["b1"]
    db.session.commit()
    assert alice.balance == 301


def test_refusals_write_nothing(pg):
    src, alice, bob = _accounts()
    _stage(pg, [("u1", [(src, -500), (alice, 400)])])
    with pytest.raises(UnbalancedEntry):
        pg.post_staged(utcnow())
    db.session.rollback()
    # the second entry would take alice below zero before the third refills her
    _stage(
        pg,
        [
            ("i1", [(src, -100), (alice, 100)]),
            ("i2", [(alice, -150), (bob, 150)]),
            ("i3", [(src, -100), (alice, 100)]),
        ],
    )
    with pytest.raises(InsufficientBalance):
        pg.post_staged(utcnow())
    db.session.rollback()
    db.session.execute(update(Account).where(Account.id == alice.id).values(frozen=True))
    _stage(pg, [("f1", [(src, -100), (alice, 100)]), ("f2", [(alice, -50), (bob, 50)])])
    with pytest.raises(AccountFrozen):
        pg.post_staged(utcnow())
    db.session.rollback()
    assert db.session.execute(select(Posting.id)).first() is None
