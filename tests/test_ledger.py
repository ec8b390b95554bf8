"""The ledger: balanced entries, idempotent keys, no negative owned balance (also in the
database), invariants, and correctness under real concurrency on PostgreSQL."""

from __future__ import annotations

import random
import threading
import time

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError

from backend.db import db
from backend.ledger import (
    Account,
    AccountKind,
    InsufficientBalance,
    JournalEntry,
    Leg,
    Posting,
    account_for,
    invariants,
    post,
)
from backend.ledger.posting import UnbalancedEntry
from tests.ledger_guards import guards_off


def _fund(owner: int, grams: int, key: str) -> Account:
    src = account_for(AccountKind.SCENARIO_ISSUANCE, 1)
    acct = account_for(AccountKind.RESIDENT_REDUCTIONS, owner)
    post(kind="accrual", idempotency_key=key, legs=[Leg(src, -grams), Leg(acct, grams)])
    return acct


@pytest.mark.sqlite
def test_post_moves_value_and_records_balance_after(ctx):
    acct = _fund(1, 500, "k1")
    db.session.commit()
    assert acct.balance == 500
    postings = db.session.execute(select(Posting).order_by(Posting.id)).scalars().all()
    assert [p.amount for p in postings] == [-500, 500] or sorted(p.amount for p in postings) == [
        -500,
        500,
    ]
    mine = [p for p in postings if p.account_id == acct.id][0]
    assert mine.balance_after == 500
    assert invariants().ok


@pytest.mark.sqlite
def test_same_key_posts_once(ctx):
    _fund(1, 500, "same")
    entry, created = post(
        kind="accrual",
        idempotency_key="same",
        legs=[
            Leg(account_for(AccountKind.SCENARIO_ISSUANCE, 1), -500),
            Leg(account_for(AccountKind.RESIDENT_REDUCTIONS, 1), 500),
        ],
    )
    db.session.commit()
    assert created is False
    assert db.session.scalar(select(func.count()).select_from(JournalEntry)) == 1
    assert account_for(AccountKind.RESIDENT_REDUCTIONS, 1).balance == 500


@pytest.mark.sqlite
def test_unbalanced_and_non_integer_legs_are_refused(ctx):
    a = account_for(AccountKind.SCENARIO_ISSUANCE, 1)
    b = account_for(AccountKind.RESIDENT_REDUCTIONS, 1)
    p = account_for(AccountKind.RESIDENT_POINTS, 1)
    with pytest.raises(UnbalancedEntry):
        post(kind="x", idempotency_key="u1", legs=[Leg(a, -5), Leg(b, 4)])
    with pytest.raises(UnbalancedEntry):
        post(kind="x", idempotency_key="u2", legs=[Leg(a, -5), Leg(p, 5)])  # g vs pt
    with pytest.raises(UnbalancedEntry):
        post(kind="x", idempotency_key="u3", legs=[Leg(a, -1.5), Leg(b, 1.5)])
    with pytest.raises(UnbalancedEntry):
        post(kind="x", idempotency_key="u4", legs=[])
    assert db.session.scalar(select(func.count()).select_from(JournalEntry)) == 0


@pytest.mark.sqlite
def test_overdraft_is_refused_before_anything_is_written(ctx):
    acct = _fund(1, 100, "fund")
    db.session.commit()
    other = account_for(AccountKind.RESIDENT_REDUCTIONS, 2)
    with pytest.raises(InsufficientBalance):
        post(kind="transfer", idempotency_key="over", legs=[Leg(acct, -101), Leg(other, 101)])
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(JournalEntry)) == 1
    assert account_for(AccountKind.RESIDENT_REDUCTIONS, 1).balance == 100
    assert invariants().ok


@pytest.mark.sqlite
def test_database_refuses_negative_owned_balance(ctx):
    acct = _fund(1, 10, "fund")
    db.session.commit()
    with pytest.raises(IntegrityError):
        db.session.execute(update(Account).where(Account.id == acct.id).values(balance=-1))
        db.session.flush()
    db.session.rollback()
    source = account_for(AccountKind.SCENARIO_ISSUANCE, 1)
    assert source.balance == -10  # sources may go negative


@pytest.mark.sqlite
def test_invariants_notice_tampering(ctx):
    acct = _fund(1, 10, "fund")
    db.session.commit()
    with guards_off(db.session):  # the database refuses this to anyone but a superuser
        db.session.execute(
            text("UPDATE accounts SET balance = balance + 1 WHERE id = :i"), {"i": acct.id}
        )
    db.session.commit()
    report = invariants()
    assert not report.ok
    assert report.unit_sums["g"] == 1
    assert [m["id"] for m in report.balance_mismatches] == [acct.id]


def test_concurrent_random_transfers_conserve_value(app, clean):
    """8 threads move random amounts between 12 accounts for several seconds against the
    real PostgreSQL: value is conserved, nothing owned goes negative, and every refused
    move left no trace (entries recorded = moves that reported success)."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("the concurrency proof runs on PostgreSQL (SQLite serialises writers)")
    n_accounts, threads, seconds = 12, 8, 4.0
    with app.app_context():
        ids = []
        for owner in range(1, n_accounts + 1):
            ids.append(_fund(owner, 1_000, f"seed-{owner}").id)
        db.session.commit()
        db.session.remove()

    ok_keys: list[str] = []
    refused: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker(n: int):
        rnd = random.Random(n)
        i = 0
        with app.app_context():
            while time.monotonic() < deadline:
                i += 1
                a, b = rnd.sample(ids, 2)
                amount = rnd.randint(1, 400)
                key = f"t{n}-{i}"
                try:
                    src = db.session.get(Account, a)
                    dst = db.session.get(Account, b)
                    post(
                        kind="transfer",
                        idempotency_key=key,
                        legs=[Leg(src, -amount), Leg(dst, amount)],
                    )
                    db.session.commit()
                    with lock:
                        ok_keys.append(key)
                except InsufficientBalance:
                    db.session.rollback()
                    with lock:
                        refused.append(key)
                except BaseException as exc:  # noqa: BLE001 - reported below
                    db.session.rollback()
                    with lock:
                        errors.append(exc)
                    return
            db.session.remove()

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert not errors, errors[:3]
    print(f"ledger race: {len(ok_keys)} moves posted, {len(refused)} refused, {threads} threads")
    assert len(ok_keys) > 100 and refused, (len(ok_keys), len(refused))
    with app.app_context():
        owned = db.session.execute(
            select(func.sum(Account.balance)).where(Account.id.in_(ids))
        ).scalar_one()
        assert owned == n_accounts * 1_000
        assert db.session.scalar(select(func.min(Account.balance)).where(Account.id.in_(ids))) >= 0
        keys = set(
            db.session.execute(
                select(JournalEntry.idempotency_key).where(JournalEntry.kind == "transfer")
            ).scalars()
        )
        assert keys == set(ok_keys)
        assert not keys & set(refused)
        assert invariants().ok


@pytest.mark.sqlite
def test_post_many_posts_all_or_nothing_and_replays(ctx):
    from backend.ledger.posting import EntryRequest, post_many

    src = account_for(AccountKind.SCENARIO_ISSUANCE, 1)
    a = account_for(AccountKind.RESIDENT_REDUCTIONS, 1)
    b = account_for(AccountKind.RESIDENT_REDUCTIONS, 2)

    def reqs():
        return [
            EntryRequest("accrual", "m1", [Leg(src, -100), Leg(a, 100)]),
            EntryRequest("accrual", "m2", [Leg(src, -50), Leg(b, 50)]),
            EntryRequest("transfer", "m3", [Leg(a, -30), Leg(b, 30)]),
        ]

    ids = post_many(reqs())
    db.session.commit()
    assert sorted(ids) == ["m1", "m2", "m3"]
    assert (db.session.get(Account, a.id).balance, db.session.get(Account, b.id).balance) == (
        70,
        80,
    )
    after = {
        p.account_id: p.balance_after
        for p in db.session.execute(
            select(Posting).join(JournalEntry).where(JournalEntry.idempotency_key == "m3")
        ).scalars()
    }
    assert after == {a.id: 70, b.id: 80}
    assert post_many(reqs()) == ids  # a replay moves nothing
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(JournalEntry)) == 3
    # one overdraft refuses the whole list
    with pytest.raises(InsufficientBalance):
        post_many(
            [
                EntryRequest("accrual", "m4", [Leg(src, -5), Leg(a, 5)]),
                EntryRequest("transfer", "m5", [Leg(b, -81), Leg(a, 81)]),
            ]
        )
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(JournalEntry)) == 3
    assert invariants().ok
