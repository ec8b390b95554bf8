"""A resident's account closure (`DELETE /me`) racing the points expiry job, on the real
PostgreSQL with real threads (each its own app context and connection, released together
by a barrier), rounds with the two sides started at staggered offsets so the
interleavings vary. Both move the same points and backing grams: each point must move
exactly once (expired or cancelled by the closure, never both, never neither), neither
side may fail (a deadlock shows as the closure's 409 `retry` or the job's DeadlockDetected:
the job used to take the resident's row, through its notifications' foreign key, after
the accounts), the books reconcile, and a later run of the job moves nothing."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from tests.helpers import assert_books_balanced, load_catalogue, staff_headers
from tests.mall_helpers import (
    FAST_HASH_PASSWORD,
    assert_reconciled,
    balance,
    fast_residents,
    give_points,
    points_of,
    race,
)
from tests.resident_helpers import Clock, entries_of_kind, expire

API = "/api/v1"
DUE, FRESH, LOOSE_G = 100, 50, 7  # points due at the job's time, points not yet due, grams
EXPIRY_AT = "2030-03-01 00:00"  # January's lot is due (one month of validity), February's not
# (closure's delay, expiry's delay) in seconds after the barrier, one pair per round: the
# closure holds the resident's row from its first statement and takes the accounts some
# milliseconds later, the job takes the accounts a few milliseconds after it starts; the
# small offsets sweep across that window (where a lock-order inversion deadlocks), the
# last two let one side finish first
STAGGER = [(ms / 1000, 0) for ms in range(12)] + [(0, ms / 1000) for ms in (2, 4, 8)]
STAGGER += [(0.3, 0), (0, 0.3)]


@pytest.fixture()
def world(app, client, monkeypatch):
    staff = staff_headers(app, client)
    load_catalogue(client, staff)
    monkeypatch.setitem(app.config, "POINTS_VALIDITY_MONTHS", 1)
    return {"clock": Clock(monkeypatch)}


def _loose_grams(app, user_id: int, grams: int) -> None:
    """Unconverted grams on the resident's reductions account (the closure cancels them)."""
    from backend.db import db
    from backend.ledger import AccountKind, Leg, account_for, post
    from backend.registry.models import Scenario

    with app.app_context():
        scenario = db.session.execute(select(Scenario.id).order_by(Scenario.id)).scalars().first()
        post(
            kind="accrual",
            idempotency_key=f"test-loose:{user_id}",
            legs=[
                Leg(account_for(AccountKind.SCENARIO_ISSUANCE, scenario), -grams),
                Leg(account_for(AccountKind.RESIDENT_REDUCTIONS, user_id), grams),
            ],
            ref_type="test",
            ref_id=user_id,
        )
        db.session.commit()


def _moved_by(app, user_id: int) -> dict[str, int]:
    """Per account kind, the sum of every posting of the entries of the expiry job and of
    the closure that touched the resident's accounts."""
    from backend.db import db
    from backend.ledger import Account, JournalEntry, Posting

    with app.app_context():
        mine = (
            select(Posting.entry_id)
            .join(Account, Account.id == Posting.account_id)
            .join(JournalEntry, JournalEntry.id == Posting.entry_id)
            .where(
                Account.owner_id == user_id,
                Account.kind.in_(("resident_points", "resident_reductions")),
                JournalEntry.kind.in_(("points_expiry", "account_closure")),
            )
        )
        rows = db.session.execute(
            select(Account.kind, Account.owner_id, func.sum(Posting.amount))
            .join(Account, Account.id == Posting.account_id)
            .where(Posting.entry_id.in_(mine))
            .group_by(Account.kind, Account.owner_id)
        ).all()
        db.session.rollback()
    return {f"{kind}:{owner}": total for kind, owner, total in rows}


def _close(resident, delay):
    def call(client):
        time.sleep(delay)
        r = client.delete(
            f"{API}/me", json={"password": FAST_HASH_PASSWORD}, headers=resident["headers"]
        )
        return r.status_code, r.get_json()

    return call


def _expire(app, delay):
    def call(_client):
        time.sleep(delay)
        return expire(app, EXPIRY_AT)  # its own app context, session and connection

    return call


def test_closure_and_the_expiry_job_racing_move_each_point_once(app, client, world):
    clock = world["clock"]
    seen = set()
    for closure_delay, expiry_delay in STAGGER:
        alice, bob = fast_residents(app, 2)  # alice closes; bob only has points expiring
        clock.set("2030-01-15 12:00")
        give_points(app, alice["id"], DUE)  # due at the end of February
        give_points(app, bob["id"], DUE)
        clock.set("2030-02-10 12:00")
        give_points(app, alice["id"], FRESH)  # alive through March
        _loose_grams(app, alice["id"], LOOSE_G)
        clock.set("2030-03-01 08:00")  # the race's postings come after every credit
        mint, backing = balance(app, "points_mint"), balance(app, "points_backing")
        sink = balance(app, "cancelled", 1)

        (status, body), job = race(app, [_close(alice, closure_delay), _expire(app, expiry_delay)])

        # neither side failed: no 409 from a deadlock, no exception from the job
        assert status == 200, (status, body)
        expired = entries_of_kind(app, "points_expiry", alice["id"])
        closed = entries_of_kind(app, "account_closure", alice["id"])
        # each point moved exactly once: either the job expired January's lot first and
        # the closure cancelled the rest, or the closure took everything and the job
        # found nothing of alice's
        assert len(closed) == 1 and closed[0][0] == f"account-closure:{alice['id']}"
        assert expired in ([], [(f"points-expiry:{alice['id']}:2030-02", -DUE)]), expired
        by_expiry = -sum(a for _, a in expired)
        assert by_expiry + -closed[0][1] == DUE + FRESH
        assert body["points_cancelled"] == DUE + FRESH - by_expiry
        assert (body["points_left"], body["reductions_cancelled_g"]) == (0, LOOSE_G)
        assert job["points"] == DUE + by_expiry and job["entries"] == 1 + (by_expiry > 0)
        seen.add("expiry first" if by_expiry else "closure first")
        # the journal: alice's entries moved her points to the mint, their grams from the
        # backing to the personal sink, her loose grams to the sink too, nothing else
        assert _moved_by(app, alice["id"]) == {
            f"resident_points:{alice['id']}": -(DUE + FRESH),
            f"resident_reductions:{alice['id']}": -LOOSE_G,
            "points_mint:0": DUE + FRESH,
            "points_backing:0": -(DUE + FRESH),
            "cancelled:1": DUE + FRESH + LOOSE_G,
        }
        # the accounts end at the expected balances (1000 points per kg: 1 g a point)
        for who in (alice, bob):
            assert points_of(app, who["id"]) == 0
        assert balance(app, "resident_reductions", alice["id"]) == 0
        assert entries_of_kind(app, "points_expiry", bob["id"]) == [
            (f"points-expiry:{bob['id']}:2030-02", -DUE)
        ]
        moved = 2 * DUE + FRESH
        assert balance(app, "points_mint") == mint + moved
        assert balance(app, "points_backing") == backing - moved
        assert balance(app, "cancelled", 1) == sink + moved + LOOSE_G
        assert_books_balanced(app)
        assert assert_reconciled(app)["points_backed"] is True
        # the job again, at the same time and later in March, moves nothing
        for when in (EXPIRY_AT, "2030-03-20 12:00"):
            again = expire(app, when)
            assert (again["entries"], again["points"], again["grams"]) == (0, 0, 0), again
        assert balance(app, "points_mint") == mint + moved
        assert balance(app, "cancelled", 1) == sink + moved + LOOSE_G
    # either order is right; the two rounds with a long head start saw both
    assert seen == {"expiry first", "closure first"}
