"""Points that expire fairly: first in, first out, computed from the ledger; expiry at a
month end (Asia/Shanghai) across a refund; spending that takes the oldest points first;
a validity change that leaves earlier credits alone; a job killed midway and re-run;
reconciliation after expiry; the resident's view (`/me`, `/me/points/expiring`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers import load_catalogue, register_resident, role_headers, staff_headers
from tests.mall_helpers import (
    assert_reconciled,
    balance,
    give_points,
    make_item,
    make_merchant,
    points_of,
)
from tests.resident_helpers import Clock, at, entries_of_kind, expire, remind, upcoming

API = "/api/v1"


@pytest.fixture()
def world(app, client, monkeypatch):
    staff = staff_headers(app, client)
    load_catalogue(client, staff)
    shop = make_merchant(client, staff, "Green Grocer")
    alice = register_resident(client)
    # one month of validity: a credit of January expires at the end of February
    monkeypatch.setitem(app.config, "POINTS_VALIDITY_MONTHS", 1)
    return {"staff": staff, "shop": shop, "alice": alice, "clock": Clock(monkeypatch)}


def _order(client, resident, item_id) -> dict:
    r = client.post(f"{API}/mall/orders", json={"item_id": item_id}, headers=resident["headers"])
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def _cancel(client, resident, order_id) -> None:
    r = client.post(f"{API}/mall/orders/{order_id}/cancel", headers=resident["headers"])
    assert r.status_code == 200, r.get_json()


@pytest.mark.sqlite
def test_expiry_at_a_month_end_across_a_refund(app, client, world):
    clock, alice, shop = world["clock"], world["alice"], world["shop"]
    item = make_item(client, shop, points_price=120)
    clock.set("2030-01-15 12:00")
    give_points(app, alice["id"], 100)  # lot A: alive through 2030-02-28
    clock.set("2030-02-10 12:00")
    give_points(app, alice["id"], 50)  # lot B: alive through 2030-03-31
    clock.set("2030-02-20 12:00")
    order = _order(client, alice, item["id"])  # takes A's 100 and 20 of B
    assert upcoming(app, alice["id"]) == [("2030-03-31", 30)]
    clock.set("2030-02-25 12:00")
    _cancel(client, alice, order["id"])  # A and B come back with their own dates
    assert upcoming(app, alice["id"]) == [("2030-02-28", 100), ("2030-03-31", 50)]
    backing, sink = balance(app, "points_backing"), balance(app, "cancelled", 1)

    # a second before the end of February (Asia/Shanghai) nothing is due
    assert expire(app, "2030-02-28 23:59:59")["entries"] == 0
    assert points_of(app, alice["id"]) == 150
    # at midnight A expires, whole: its refund did not give it a fresh date
    done = expire(app, "2030-03-01 00:00")
    assert (done["entries"], done["points"], done["grams"]) == (1, 100, 100)
    assert points_of(app, alice["id"]) == 50
    assert upcoming(app, alice["id"]) == [("2030-03-31", 50)]
    # the points left circulation and their backing grams went to the personal sink
    assert balance(app, "points_backing") == backing - 100
    assert balance(app, "cancelled", 1) == sink + 100
    assert balance(app, "cancelled", 0) == 0  # the registry's sink is untouched
    assert entries_of_kind(app, "points_expiry", alice["id"]) == [
        (f"points-expiry:{alice['id']}:2030-02", -100)
    ]
    # a second run (any later time in March) finds nothing more
    assert expire(app, "2030-03-15 08:00")["entries"] == 0
    report = assert_reconciled(app)
    assert report["points_backed"] is True
    # the resident was told
    notes = client.get(f"{API}/me/notifications", headers=alice["headers"]).get_json()["items"]
    assert [n["kind"] for n in notes][:1] == ["points_expired"]
    assert notes[0]["data"]["points"] == 100 and "100" in notes[0]["text_zh"]


def test_spending_takes_the_oldest_points_first(app, client, world):
    clock, alice, shop = world["clock"], world["alice"], world["shop"]
    item = make_item(client, shop, points_price=150)
    clock.set("2030-01-31 23:00")
    give_points(app, alice["id"], 100)  # alive through 2030-02-28
    clock.set("2030-02-01 00:30")
    give_points(app, alice["id"], 100)  # a later month: alive through 2030-03-31
    clock.set("2030-02-02 09:00")
    order = _order(client, alice, item["id"])
    r = client.post(
        f"{API}/merchant/redemptions",
        json={"code": order["redemption_code"]},
        headers=shop["headers"],
    )
    assert r.status_code == 200, r.get_json()
    # the 150 points spent were all of January's 100 and 50 of February's
    assert upcoming(app, alice["id"]) == [("2030-03-31", 50)]
    me = client.get(f"{API}/me", headers=alice["headers"]).get_json()
    assert me["points_expiring_next"] == {"points": 50, "on": "2030-03-31"}
    assert expire(app, "2030-03-01 00:00")["entries"] == 0  # nothing of January is left
    assert points_of(app, alice["id"]) == 50
    done = expire(app, "2030-04-01 00:00")
    assert (done["entries"], done["points"]) == (1, 50)
    assert points_of(app, alice["id"]) == 0
    assert upcoming(app, alice["id"]) == []
    assert_reconciled(app)


def test_a_validity_change_leaves_earlier_credits_alone(app, client, world):
    from backend.db import db
    from backend.points import validity

    clock, alice = world["clock"], world["alice"]
    clock.set("2030-01-15 12:00")
    give_points(app, alice["id"], 100)  # under the seeded rule: 1 month
    with app.app_context():
        validity.publish(
            3,
            "Three months from February 2030.",
            actor="test",
            effective_from=at("2030-02-01 00:00"),
            now=at("2030-01-20 10:00"),
        )
        db.session.commit()
    clock.set("2030-02-10 12:00")
    give_points(app, alice["id"], 40)  # under the new rule: 3 months
    assert upcoming(app, alice["id"]) == [("2030-02-28", 100), ("2030-05-31", 40)]
    # the setting the first rule was seeded from changes nothing once the rule is stored
    app.config["POINTS_VALIDITY_MONTHS"] = 24
    assert upcoming(app, alice["id"]) == [("2030-02-28", 100), ("2030-05-31", 40)]
    assert expire(app, "2030-03-01 00:00")["points"] == 100
    assert expire(app, "2030-05-31 23:00")["entries"] == 0
    assert expire(app, "2030-06-01 00:00")["points"] == 40
    assert_reconciled(app)

    # never retroactive: a rule starting in the past is refused
    with app.app_context():
        from backend.errors import ApiError

        with pytest.raises(ApiError) as refused:
            validity.publish(
                2,
                "back-dated",
                actor="test",
                effective_from=at("2030-01-01 00:00"),
                now=at("2030-06-02 00:00"),
            )
        assert refused.value.code == "retroactive_rule"
        db.session.rollback()


def test_rules_are_published_by_finance_over_http(app, client, world):
    finance = role_headers(app, client, "finance")
    r = client.get(f"{API}/public/points-rules")
    assert r.status_code == 200
    body = r.get_json()
    assert body["current"]["months"] == 1 and body["current"]["in_force"] is True
    start = (datetime.now(UTC) + timedelta(days=40)).isoformat()
    rule = {"months": 60, "effective_from": start, "note": "五年。Five years."}
    r = client.post(f"{API}/admin/points-rules", json=rule, headers=finance)
    assert r.status_code == 201, r.get_json()
    assert (r.get_json()["months"], r.get_json()["scheduled"]) == (60, True)
    again = client.post(f"{API}/admin/points-rules", json=rule, headers=finance)
    assert again.status_code == 409 and again.get_json()["code"] == "points_rule_exists"
    past = {**rule, "effective_from": (datetime.now(UTC) - timedelta(days=1)).isoformat()}
    r = client.post(f"{API}/admin/points-rules", json=past, headers=finance)
    assert r.status_code == 422 and r.get_json()["code"] == "retroactive_rule"
    assert (
        client.post(f"{API}/admin/points-rules", json=rule, headers=world["staff"]).status_code
        == 403
    )
    rules = client.get(f"{API}/public/points-rules").get_json()["rules"]
    assert [(x["months"], x["in_force"], x["scheduled"]) for x in rules] == [
        (1, True, False),
        (60, False, True),
    ]
    audit = client.get(
        f"{API}/admin/audit?action=points_rule.publish",
        headers=role_headers(app, client, "auditor"),
    ).get_json()["items"]
    assert audit and audit[0]["after"]["months"] == 60


def test_a_job_killed_midway_then_re_run_expires_nothing_twice(app, client, world, monkeypatch):
    from backend.points import expiry

    clock = world["clock"]
    residents = [world["alice"], register_resident(client), register_resident(client)]
    clock.set("2030-01-10 12:00")
    for i, resident in enumerate(residents):
        give_points(app, resident["id"], 100 + i)
    clock.set("2030-02-10 12:00")
    for resident in residents:
        give_points(app, resident["id"], 7)

    # the run dies in its second chunk, after the first chunk committed
    real_add, calls = expiry.notifications.add, []

    def dying(rows):
        calls.append(rows)
        if len(calls) == 2:
            raise RuntimeError("worker killed")
        return real_add(rows)

    monkeypatch.setattr(expiry.notifications, "add", dying)
    with app.app_context(), pytest.raises(RuntimeError):
        from jobs.runner import run

        run(expiry.expire_points, now=at("2030-03-02 00:00").isoformat(), chunk=1)
    monkeypatch.setattr(expiry.notifications, "add", real_add)
    first = residents[0]["id"]
    assert points_of(app, first) == 7
    assert [points_of(app, r["id"]) for r in residents[1:]] == [101 + 7, 102 + 7]
    assert entries_of_kind(app, "points_expiry") == [(f"points-expiry:{first}:2030-02", -100)]

    # re-run: the rest expire, the first not again; a third run changes nothing
    done = expire(app, "2030-03-02 00:00")
    assert (done["entries"], done["points"]) == (2, 101 + 102)
    assert expire(app, "2030-03-02 00:00")["entries"] == 0
    assert [points_of(app, r["id"]) for r in residents] == [7, 7, 7]
    keys = [k for k, _ in entries_of_kind(app, "points_expiry")]
    assert len(keys) == len(set(keys)) == 3
    assert_reconciled(app)


def test_the_key_and_the_replay_refuse_a_second_expiry_in_one_transaction(app, client, world):
    from backend.db import db
    from backend.points.expiry import expire_chunk

    world["clock"].set("2030-01-10 12:00")
    give_points(app, world["alice"]["id"], 30)
    with app.app_context():
        first = expire_chunk(at("2030-03-01 00:00"))
        second = expire_chunk(at("2030-03-01 00:00"))  # same transaction: sees the first
        assert (first.entries, first.points, second.entries) == (1, 30, 0)
        db.session.commit()
    assert points_of(app, world["alice"]["id"]) == 0


def test_frozen_residents_keep_their_points_until_unfrozen(app, client, world):
    clock, alice = world["clock"], world["alice"]
    clock.set("2030-01-10 12:00")
    give_points(app, alice["id"], 60)
    r = client.post(
        f"{API}/admin/residents/{alice['id']}/freeze",
        json={"reason": "test"},
        headers=world["staff"],
    )
    assert r.status_code == 200, r.get_json()
    assert expire(app, "2030-03-01 00:00")["entries"] == 0
    assert points_of(app, alice["id"]) == 60
    r = client.post(
        f"{API}/admin/residents/{alice['id']}/unfreeze",
        json={"reason": "ok"},
        headers=world["staff"],
    )
    assert r.status_code == 200, r.get_json()
    assert expire(app, "2030-03-05 00:00")["points"] == 60
    assert_reconciled(app)


def test_the_resident_sees_the_next_expiries_and_is_reminded(app, client, world):
    alice = world["alice"]
    client.application.config["POINTS_VALIDITY_MONTHS"] = 120
    give_points(app, alice["id"], 25)  # now, on the real clock: ten years
    r = client.get(f"{API}/me/points/expiring", headers=alice["headers"])
    assert r.status_code == 200
    body = r.get_json()
    from backend.points.validity import expires_at, expires_on

    on = expires_on(expires_at(datetime.now(UTC), 120)).isoformat()
    assert body["points"] == 25 and body["expiring"] == [{"on": on, "points": 25}]
    me = client.get(f"{API}/me", headers=alice["headers"]).get_json()
    assert me["points_expiring_next"] == {"points": 25, "on": on}
    bob = register_resident(client)
    assert (
        client.get(f"{API}/me", headers=bob["headers"]).get_json()["points_expiring_next"] is None
    )

    # reminders: once per expiry date, within 30 days of it
    world["clock"].set("2030-01-10 12:00")
    client.application.config["POINTS_VALIDITY_MONTHS"] = 1
    give_points(app, bob["id"], 9)  # alive through 2030-02-28
    remind(app, "2030-01-20 09:00")  # 39 days before: nothing
    remind(app, "2030-02-05 09:00")
    remind(app, "2030-02-06 09:00")  # the same date again: no second reminder
    notes = client.get(f"{API}/me/notifications", headers=bob["headers"]).get_json()["items"]
    assert [(n["kind"], n["data"]) for n in notes] == [
        ("points_expiring", {"points": 9, "on": "2030-02-28"})
    ]


def test_the_cli_publishes_and_lists_rules(app, client, world):
    runner = app.test_cli_runner()
    start = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    r = runner.invoke(
        args=["points-rules", "set", "--months", "24", "--from", start, "--note", "Two years."]
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        args=[
            "points-rules",
            "set",
            "--months",
            "24",
            "--note",
            "x",
            "--from",
            "2001-01-01T00:00:00+08:00",
        ]
    )
    assert r.exit_code != 0 and "retroactive_rule" in r.output
    r = runner.invoke(args=["points-rules", "list"])
    assert r.exit_code == 0
    lines = r.output.strip().splitlines()
    assert len(lines) == 2 and "(in force)" in lines[0] and "(scheduled)" in lines[1]
    assert lines[1].startswith("24 months from")
