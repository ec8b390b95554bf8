"""No gram counted twice (issue 8), tried as a dishonest operator would, over HTTP:
retention that kept the times the overlap check needs, the overlap rule for short trips,
activities longer than their methodology allows, and auto-converted residents visible in
their own reductions history and in public stats."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from backend.activity.overlap import overlaps
from tests.helpers import (
    CATALOGUE,
    assert_books_balanced,
    bearer,
    bind,
    load_catalogue,
    operator_headers,
    register_resident,
    staff_headers,
    trip,
    upload,
)

SH = ZoneInfo("Asia/Shanghai")
SECOND_WALK_OPERATOR = "91320594MA1XDM034Y"  # the demo bike operator, walking here too


def _nine_am(days_ago: int) -> datetime:
    return (datetime.now(SH) - timedelta(days=days_ago)).replace(
        hour=9, minute=0, second=0, microsecond=0
    )


def _me(client, resident) -> dict:
    return client.get("/api/v1/me", headers=resident["headers"]).get_json()


def _ledger(client, resident, unit: str) -> list[tuple[str, int, int]]:
    r = client.get(f"/api/v1/me/ledger?unit={unit}", headers=resident["headers"])
    assert r.status_code == 200, r.get_json()
    return [(p["kind"], p["amount"], p["balance_after"]) for p in r.get_json()["items"]]


def _client_for(client, staff_h, credit_code: str, scenario_code: str) -> dict:
    r = client.get(f"/api/v1/admin/organizations?credit_code={credit_code}", headers=staff_h)
    org_id = r.get_json()["items"][0]["id"]
    r = client.post(
        "/api/v1/admin/operator-clients",
        json={"organization_id": org_id, "scenario_code": scenario_code},
        headers=staff_h,
    )
    assert r.status_code == 201, r.get_json()
    r = client.post("/api/v1/auth/token", json=r.get_json())
    return bearer(r.get_json()["access_token"])


def _walking_catalogue(window_days: int) -> dict:
    """The demo catalogue with a long walking window and a second walking scenario run
    by another operator (two operators who can both see one resident walk)."""
    doc = copy.deepcopy(CATALOGUE)
    walk = next(s for s in doc["scenarios"] if s["code"] == "SIP-S-WALK")
    walk["window_days"] = window_days
    doc["scenarios"].append(
        dict(
            walk,
            code="SIP-S-WALK-B",
            title="第二步行场景（演示）",
            operator_credit_code=SECOND_WALK_OPERATOR,
        )
    )
    return doc


# --- 1. retention keeps the times a window can still reach ----------------------------


def test_a_purged_trip_reported_again_by_a_second_operator_counts_once(
    app, client, monkeypatch, database_url, redis_url
):
    from backend.activity.retention import purge_raw_activity
    from backend.db import db
    from backend.registry.models import Scenario
    from jobs.runner import run

    staff_h = staff_headers(app, client)
    doc = _walking_catalogue(366)

    # a window longer than the retention (180 days in this profile) is refused, whole
    r = client.post("/api/v1/admin/catalogue/import", json=doc, headers=staff_h)
    assert r.status_code == 409, r.get_json()
    problem = r.get_json()
    assert problem["code"] == "window_longer_than_retention"
    assert "366" in problem["detail"] and "180" in problem["detail"]
    assert set(problem["errors"]) == {"scenarios.3.window_days", "scenarios.5.window_days"}
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Scenario)) == 0

    monkeypatch.setitem(app.config, "RAW_ACTIVITY_RETENTION_DAYS", 366)
    r = client.post("/api/v1/admin/catalogue/import", json=doc, headers=staff_h)
    assert r.status_code == 200, r.get_json()
    walk_a = _client_for(client, staff_h, "91320594MA1XDM042R", "SIP-S-WALK")
    walk_b = _client_for(client, staff_h, SECOND_WALK_OPERATOR, "SIP-S-WALK-B")
    alice = register_resident(client)
    bind(client, walk_a, alice["headers"], "walker-a")
    bind(client, walk_b, alice["headers"], "walker-b")

    start = _nine_am(200)  # 5 km walked in an hour, 200 days ago: 300 g
    first = upload(client, walk_a, [trip("a-1", "walker-a", 5, start, 60, "walk")]).get_json()
    assert first["results"][0] == {"external_id": "a-1", "status": "accepted", "reduction_g": 300}
    assert _me(client, alice)["points"] == 300

    # the retention job runs with a 180-day retention (a worker configured apart): the
    # measures go, the times stay, since a 366-day window still reaches them
    monkeypatch.setitem(app.config, "RAW_ACTIVITY_RETENTION_DAYS", 180)
    with app.app_context():
        assert run(purge_raw_activity) == 1
    act = client.get("/api/v1/me/activities", headers=alice["headers"]).get_json()["items"][0]
    assert act["erased"] is True and act["measures"] is None
    assert act["started_at"] is not None and act["ended_at"] is not None

    # the second operator reports the same walk: accepted, but it counts 0 g
    second = upload(client, walk_b, [trip("b-1", "walker-b", 5, start, 60, "walk")]).get_json()
    assert second["results"][0] == {
        "external_id": "b-1",
        "status": "accepted",
        "reduction_g": 0,
        "flags": ["overlap"],
    }
    assert _me(client, alice)["points"] == 300
    assert client.get("/api/v1/public/stats").get_json()["reductions_credited_g"] == 300
    assert_books_balanced(app)

    # start-up refuses a retention shorter than the longest window in the database
    from backend.app import create_app
    from config.settings import SettingsError

    overrides = {
        "DATABASE_URL": database_url,
        "REDIS_URL": None,
        "RATELIMIT_STORAGE_URI": redis_url,
        "TESTING": True,
    }
    with pytest.raises(SettingsError, match=r"RAW_ACTIVITY_RETENTION_DAYS is 180 days.*366"):
        create_app("test", {**overrides, "RAW_ACTIVITY_RETENTION_DAYS": 180})
    assert create_app("test", {**overrides, "RAW_ACTIVITY_RETENTION_DAYS": 366}) is not None


def test_retention_setting_must_be_a_positive_number_of_days(monkeypatch):
    from config.settings import SettingsError, check_retention, load

    check_retention(30, 30)
    with pytest.raises(SettingsError, match="at least 31"):
        check_retention(30, 31)
    for raw in ("0", "-5"):
        monkeypatch.setenv("RAW_ACTIVITY_RETENTION_DAYS", raw)
        with pytest.raises(SettingsError, match="at least 1"):
            load("test")
    monkeypatch.setenv("RAW_ACTIVITY_RETENTION_DAYS", "half a year")
    with pytest.raises(SettingsError, match="whole number"):
        load("test")


# --- 2. overlap: symmetric and scale-free; no endless activity ---------------------------


@pytest.fixture()
def two_operators(app, client):
    staff_h = staff_headers(app, client)
    load_catalogue(client, staff_h)
    metro = operator_headers(client, staff_h, "SIP-S-METRO")
    bus = operator_headers(client, staff_h, "SIP-S-BUS")
    alice = register_resident(client)
    bind(client, metro, alice["headers"], "m-alice")
    bind(client, bus, alice["headers"], "b-alice")
    return {"staff": staff_h, "metro": metro, "bus": bus, "alice": alice}


def _result(client, op, record) -> dict:
    r = upload(client, op, [record])
    assert r.status_code == 200, r.get_json()
    return r.get_json()["results"][0]


@pytest.mark.sqlite
def test_two_identical_short_trips_from_two_operators_count_once(app, client, two_operators):
    w, t0 = two_operators, _nine_am(1)
    # 2 km in 4 minutes, reported by the metro and then by the bus operator
    assert _result(client, w["metro"], trip("m4", "m-alice", 2, t0, 4))["reduction_g"] == 93
    second = _result(client, w["bus"], trip("b4", "b-alice", 2, t0, 4, "bus"))
    assert (second["status"], second["reduction_g"], second["flags"]) == (
        "accepted",
        0,
        ["overlap"],
    )

    # symmetric: a long trip reported after a short one it contains counts 0 g too
    t1 = t0 + timedelta(hours=2)
    assert _result(client, w["bus"], trip("b-in", "b-alice", 2, t1, 4, "bus"))["reduction_g"] == 53
    long = _result(client, w["metro"], trip("m-around", "m-alice", 10, t1 - timedelta(minutes=10)))
    assert (long["reduction_g"], long["flags"]) == (0, ["overlap"])

    # a brush of a minute between two 4-minute trips is no overlap (half of 4 is 2)
    t2 = t0 + timedelta(hours=4)
    assert _result(client, w["metro"], trip("m-a", "m-alice", 2, t2, 4))["reduction_g"] == 93
    brush = trip("b-a", "b-alice", 2, t2 + timedelta(minutes=3), 4, "bus")
    assert _result(client, w["bus"], brush)["reduction_g"] == 53

    # long trips: 5 minutes is the most ever tolerated
    t3 = t0 + timedelta(hours=6)
    assert _result(client, w["metro"], trip("m-l", "m-alice", 20, t3, 60))["reduction_g"] == 934
    six = trip("b-six", "b-alice", 20, t3 + timedelta(minutes=54), 60, "bus")
    assert _result(client, w["bus"], six)["flags"] == ["overlap"]
    four = trip("b-four", "b-alice", 20, t3 + timedelta(minutes=56), 60, "bus")
    assert _result(client, w["bus"], four)["reduction_g"] == 538

    assert _me(client, w["alice"])["points"] == 93 + 53 + 93 + 53 + 934 + 538
    assert_books_balanced(app)


def test_an_endless_trip_is_implausible_and_does_not_zero_later_trips(app, client, two_operators):
    w = two_operators
    start = _nine_am(20)
    endless = trip("forever", "m-alice", 10, start, minutes=14 * 24 * 60)  # two weeks
    res = _result(client, w["metro"], endless)
    assert (res["status"], res["reason"]) == ("rejected", "implausible")
    later = _result(client, w["bus"], trip("b-later", "b-alice", 10, _nine_am(10), 30, "bus"))
    assert (later["status"], later["reduction_g"]) == ("accepted", 269)
    assert "flags" not in later


def test_a_car_charging_while_its_owner_rides_the_metro_is_no_overlap(app, client, two_operators):
    w = two_operators
    ev = operator_headers(client, w["staff"], "SIP-S-EVCHARGE")
    bind(client, ev, w["alice"]["headers"], "ev-alice")
    night = _nine_am(2).replace(hour=22)
    session = {
        "external_id": "night-charge",
        "user_ref": "ev-alice",
        "activity_type": "ev_charging",
        "started_at": night.isoformat(),
        "ended_at": (night + timedelta(hours=10)).isoformat(),
        "energy_wh": 10_000,
    }
    assert _result(client, ev, session)["reduction_g"] == 4_989
    commute = trip("m-commute", "m-alice", 10, night + timedelta(hours=9), 30)
    res = _result(client, w["metro"], commute)
    assert (res["reduction_g"], res.get("flags")) == (467, None)
    # two sessions of one car at once are still one session
    again = dict(session, external_id="night-charge-2")
    assert _result(client, ev, again)["flags"] == ["overlap"]


times = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2025, 1, 2), timezones=st.just(UTC)
)
lengths = st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(hours=6))


@given(s1=times, l1=lengths, s2=times, l2=lengths)
def test_overlap_rule_is_symmetric(s1, l1, s2, l2):
    assert overlaps(s1, s1 + l1, s2, s2 + l2) == overlaps(s2, s2 + l2, s1, s1 + l1)


@given(s=times, length=lengths)
def test_the_same_trip_twice_always_overlaps_whatever_its_length(s, length):
    assert overlaps(s, s + length, s, s + length)
    assert not overlaps(s, s + length, s + length, s + 2 * length)  # back to back


def test_overlap_threshold_is_half_the_shorter_or_five_minutes():
    t = datetime(2025, 1, 1, 9, tzinfo=UTC)

    def m(minutes: float) -> timedelta:
        return timedelta(minutes=minutes)

    # a 4-minute trip: more than 2 minutes shared is an overlap
    assert overlaps(t, t + m(4), t + m(1.9), t + m(60))
    assert not overlaps(t, t + m(4), t + m(2), t + m(60))
    # hour-long trips: more than 5 minutes shared is an overlap
    assert overlaps(t, t + m(60), t + m(54.9), t + m(120))
    assert not overlaps(t, t + m(60), t + m(55), t + m(120))


# --- 3. auto-converted residents see their credits; stats count them -----------------


@pytest.mark.sqlite
def test_auto_converted_credits_show_as_two_lines_and_count_in_stats(app, client):
    from backend.activity.accrual import accrue
    from backend.activity.models import Activity
    from backend.db import db
    from backend.ledger import JournalEntry
    from jobs.runner import run

    staff_h = staff_headers(app, client)
    load_catalogue(client, staff_h)
    metro = operator_headers(client, staff_h, "SIP-S-METRO")
    alice, bob, carol = (register_resident(client) for _ in range(3))
    for resident, ref in ((alice, "a"), (bob, "b"), (carol, "c")):
        bind(client, metro, resident["headers"], ref)
    r = client.patch("/api/v1/me", json={"auto_convert": False}, headers=bob["headers"])
    assert r.status_code == 200
    t0 = _nine_am(2)
    records = [
        trip("a-1", "a", 10, t0),
        trip("a-2", "a", 5, t0 + timedelta(days=1)),
        trip("b-1", "b", 10, t0),
    ]
    assert upload(client, metro, records).get_json()["accepted"] == 3

    # alice (auto-convert on): each day's credit and its conversion, newest first
    assert _ledger(client, alice, "g") == [
        ("conversion", -233, 0),
        ("accrual", 233, 233),
        ("conversion", -467, 0),
        ("accrual", 467, 467),
    ]
    assert _ledger(client, alice, "pt") == [("conversion", 233, 700), ("conversion", 467, 467)]
    assert (_me(client, alice)["reductions_g"], _me(client, alice)["points"]) == (0, 700)
    # bob (auto-convert off) keeps his grams; carol has nothing yet
    assert _ledger(client, bob, "g") == [("accrual", 467, 467)]
    assert _ledger(client, carol, "g") == []

    stats = client.get("/api/v1/public/stats").get_json()
    assert stats["residents_participating"] == 2
    assert (stats["reductions_credited_g"], stats["points_issued"]) == (467 + 233 + 467, 700)

    with app.app_context():
        # the activities point at their credit entry, not at the conversion
        kinds = db.session.execute(
            select(Activity.external_id, JournalEntry.kind, JournalEntry.memo).join(
                JournalEntry, JournalEntry.id == Activity.accrual_entry_id
            )
        ).all()
        assert sorted((ext, kind) for ext, kind, _ in kinds) == [
            ("a-1", "accrual"),
            ("a-2", "accrual"),
            ("b-1", "accrual"),
        ]
        # exactly once: running accrual again posts nothing
        before = db.session.scalar(select(func.count()).select_from(JournalEntry))
        assert run(accrue)["entries"] == 0
        assert db.session.scalar(select(func.count()).select_from(JournalEntry)) == before
    assert_books_balanced(app)
