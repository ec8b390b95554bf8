"""Growth: the raw activity details in monthly partitions (retention drops whole months),
and the reconciliation's incremental check from the last verified report."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, text

from backend.activity.models import Activity, ActivityDetail
from backend.db import clock_at, db, utcnow
from tests.conftest import USE_SQLITE
from tests.helpers import (
    bind,
    load_catalogue,
    operator_headers,
    register_resident,
    staff_headers,
    trip,
    upload,
)
from tests.ledger_guards import guards_off

pg_only = pytest.mark.skipif(USE_SQLITE, reason="declarative partitioning is PostgreSQL's")


@pytest.fixture()
def metro(app, client):
    staff_h = staff_headers(app, client)
    load_catalogue(client, staff_h)
    return {"staff": staff_h, "op": operator_headers(client, staff_h, "SIP-S-METRO")}


def _partition_of(activity_id: int) -> str:
    return db.session.execute(
        text("SELECT tableoid::regclass::text FROM activity_details WHERE activity_id = :i"),
        {"i": activity_id},
    ).scalar_one()


@pg_only
def test_details_live_in_their_months_partition_and_retention_drops_whole_months(
    app, client, metro
):
    from backend.activity import partitions
    from backend.activity.retention import purge_raw_activity
    from jobs.runner import run

    alice = register_resident(client)
    bind(client, metro["op"], alice["headers"], "a")
    upload(client, metro["op"], [trip("t1", "a", 10, datetime.now(UTC) - timedelta(hours=3))])
    with app.app_context():
        kind = db.session.execute(
            text("SELECT relkind FROM pg_class WHERE relname = 'activity_details'")
        ).scalar_one()
        assert kind == "p"  # a partitioned table
        act = db.session.execute(select(Activity)).scalar_one()
        assert _partition_of(act.id) == partitions.name_of(act.day.replace(day=1))
        assert act.measures == {"distance_m": 10000} and not act.erased

        # an old trip, 400 days back: its month is made on demand by the write
        old_day = (utcnow() - timedelta(days=400)).date()
        start = datetime(old_day.year, old_day.month, old_day.day, 2, tzinfo=UTC)
        old = Activity(
            scenario_id=act.scenario_id,
            external_id="old",
            user_id=act.user_id,
            consent_id=act.consent_id,
            batch_id="old",
            activity_type=act.activity_type,
            methodology_id=act.methodology_id,
            day=old_day,
            reduction_g=100,
            started_at=start,
            ended_at=start + timedelta(minutes=30),
            measures={"distance_m": 2000},
        )
        db.session.add(old)
        db.session.commit()
        old_id, month = old.id, partitions.name_of(old_day.replace(day=1))
        assert _partition_of(old_id) == month
        assert run(partitions.make_activity_partitions) >= 0  # idempotent, ahead
        ahead = partitions.month_of(utcnow().date() + timedelta(days=62))
        assert ahead in partitions.existing(db.session.connection())

        # past the retention (180 days) and the overlap horizon: the month goes whole
        assert run(purge_raw_activity) == 1
        db.session.expire_all()
        assert month not in {
            partitions.name_of(m) for m in partitions.existing(db.session.connection())
        }
        old = db.session.get(Activity, old_id)
        assert old.details is None and old.erased and old.measures is None
        assert old.started_at is None and old.reduction_g == 100  # the amounts stay
        recent = db.session.get(Activity, act.id)
        assert recent.measures == {"distance_m": 10000}  # its month stays
        assert run(purge_raw_activity) == 0


@pytest.mark.sqlite
def test_erasure_keeps_the_times_while_an_overlap_can_reach_them(app, client, metro):
    alice = register_resident(client)
    bind(client, metro["op"], alice["headers"], "a")
    upload(client, metro["op"], [trip("t1", "a", 10, datetime.now(UTC) - timedelta(hours=3))])
    r = client.post("/api/v1/me/activities/erasure", headers=alice["headers"])
    assert r.status_code == 200 and r.get_json()["erased"] == 1
    with app.app_context():
        act = db.session.execute(select(Activity)).scalar_one()
        assert act.erased and act.measures is None and act.started_at is not None
        assert db.session.execute(select(ActivityDetail.erased_at)).scalar_one() is not None
    # again: nothing left to erase
    r = client.post("/api/v1/me/activities/erasure", headers=alice["headers"])
    assert r.get_json()["erased"] == 0


# -- incremental reconciliation -----------------------------------------------------


def _issue(n: int, grams: int, user_id: int = 1) -> None:
    from backend.ledger import AccountKind, Leg, account_for, post

    for i in range(n):
        post(
            kind="accrual",
            idempotency_key=f"growth-{user_id}-{utcnow().timestamp()}-{i}",
            legs=[
                Leg(account_for(AccountKind.SCENARIO_ISSUANCE, 1), -grams),
                Leg(account_for(AccountKind.RESIDENT_REDUCTIONS, user_id), grams),
            ],
        )


@pytest.mark.sqlite
def test_reconciliation_goes_incremental_from_the_last_verified_report(app, clean):
    from backend.reconciliation.report import compute, nightly_reconciliation
    from jobs.runner import run

    with app.app_context():
        _issue(3, 100)
        db.session.commit()
        first = compute()
        assert first["mode"] == "full" and first["ok"] and first["from_mark"] is None
        db.session.rollback()
        run(nightly_reconciliation)  # stored: the base of the next ones
        _issue(2, 50, user_id=2)
        db.session.commit()
        inc = compute()
        db.session.rollback()
        assert inc["mode"] == "incremental" and inc["ok"], inc
        assert inc["from_mark"] == first["mark"] and inc["mark"] > first["mark"]
        assert inc["units"]["g"] == {"sum": 0, "postings_sum": 0}

        # a balance edited behind the ledger's back: found without the full check
        with guards_off(db.session):
            db.session.execute(
                text("UPDATE accounts SET balance = balance + 7 WHERE kind = :k AND owner_id = 1"),
                {"k": "resident_reductions"},
            )
        db.session.commit()
        bad = compute()
        db.session.rollback()
        assert bad["mode"] == "incremental" and not bad["ok"]
        assert [(m["balance"], m["postings_sum"]) for m in bad["balance_mismatches"]] == [
            (307, 300)
        ]

        # a full check is due after RECONCILIATION_FULL_EVERY_DAYS (and 0 means always)
        with clock_at(utcnow() + timedelta(days=8)):
            assert compute()["mode"] == "full"
        db.session.rollback()
        app.config["RECONCILIATION_FULL_EVERY_DAYS"] = 0
        try:
            assert compute()["mode"] == "full"
        finally:
            app.config["RECONCILIATION_FULL_EVERY_DAYS"] = 7
            db.session.rollback()


@pytest.mark.sqlite
def test_only_the_full_check_finds_an_old_posting_edited_in_place(app, clean):
    from backend.reconciliation.report import compute, nightly_reconciliation
    from jobs.runner import run

    with app.app_context():
        _issue(2, 100)
        db.session.commit()
        stored = run(nightly_reconciliation)
        assert stored["ok"]
        with guards_off(db.session):  # both legs of the first entry doubled: balanced
            db.session.execute(text("UPDATE postings SET amount = amount * 2 WHERE entry_id = 1"))
        db.session.commit()
        inc = compute()
        db.session.rollback()
        assert inc["mode"] == "incremental" and inc["ok"]  # the documented blind spot
        full = compute(full=True)
        db.session.rollback()
        assert full["mode"] == "full" and not full["ok"]
        assert {m["postings_sum"] - m["balance"] for m in full["balance_mismatches"]} == {
            100,
            -100,
        }


def test_month_helpers():
    from backend.activity import partitions

    assert partitions.next_month(date(2026, 12, 1)) == date(2027, 1, 1)
    assert partitions.next_month(date(2026, 1, 1)) == date(2026, 2, 1)
    assert partitions.name_of(date(2026, 3, 1)) == "activity_details_p202603"
    assert "FROM ('2026-03-01') TO ('2026-04-01')" in partitions.create_sql(date(2026, 3, 1))


def test_a_lots_expiry_is_the_validity_rules_whatever_the_month_or_zone():
    from backend.points import lots
    from backend.points.validity import Rule, Schedule

    sched = Schedule(
        [
            Rule(120, datetime(1970, 1, 1, tzinfo=UTC), "seed"),
            Rule(24, datetime(2026, 6, 1, tzinfo=UTC), "shorter"),
        ]
    )
    moments = [
        datetime(2026, 1, 31, 15, 59, 59, tzinfo=UTC),  # 23:59:59 in Shanghai: January
        datetime(2026, 1, 31, 16, 0, 0, tzinfo=UTC),  # 00:00 in Shanghai: February
        datetime(2026, 5, 31, 16, 0, 0, tzinfo=UTC),  # June in Shanghai: the new rule
        datetime(1990, 7, 1, 0, 0, 0, tzinfo=UTC),  # Shanghai's summer time (UTC+9)
        datetime(2030, 12, 31, 20, 0, 0, tzinfo=UTC),
    ]
    for at in moments:
        assert lots._expiry(at, sched) == sched.expires_at(at), at


@pytest.mark.sqlite
def test_the_statement_pages_both_accounts_newest_first_without_gaps(app, clean):
    from backend.http import cursor_page
    from backend.ledger import AccountKind, Leg, account_for, post
    from backend.residents import statement

    with app.app_context():
        for i in range(5):  # alternate g and pt entries of resident 7
            kind = (AccountKind.SCENARIO_ISSUANCE, AccountKind.RESIDENT_REDUCTIONS)
            if i % 2:
                kind = (AccountKind.POINTS_MINT, AccountKind.RESIDENT_POINTS)
            post(
                kind="test",
                idempotency_key=f"statement-{i}",
                legs=[
                    Leg(account_for(kind[0], 0 if i % 2 else 1), -10),
                    Leg(account_for(kind[1], 7), 10),
                ],
            )
        db.session.commit()
        seen, cursor = [], None
        for _ in range(5):
            page = cursor_page(
                statement.postings(7),
                statement.PAGE_KEY,
                {"limit": 2, "cursor": cursor},
                scalars=False,
            )
            seen += [(r.id, r.unit) for r in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        ids = [i for i, _ in seen]
        assert len(ids) == 5 and ids == sorted(ids, reverse=True)
        assert {u for _, u in seen} == {"g", "pt"}
        only_pt = cursor_page(statement.postings(7, "pt"), statement.PAGE_KEY, {}, scalars=False)
        assert [r.unit for r in only_pt["items"]] == ["pt", "pt"]
        assert (
            cursor_page(statement.postings(8), statement.PAGE_KEY, {}, scalars=False)["items"] == []
        )
