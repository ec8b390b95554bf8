"""Data rights (PIPL Art. 45, 47): a copy of everything held on the resident, and
closing the account: consents withdrawn, orders refunded, points and grams cancelled in
the ledger (reconciliation stays ok), personal data erased, sessions ended, and the
phone free for a new, empty account."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text

from tests.helpers import (
    bind,
    load_catalogue,
    login,
    operator_headers,
    register_resident,
    role_headers,
    staff_headers,
    trip,
    upload,
)
from tests.mall_helpers import assert_reconciled, balance, make_item, make_merchant
from tests.resident_helpers import day_9am

API = "/api/v1"
SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture()
def world(app, client):
    staff = staff_headers(app, client)
    load_catalogue(client, staff)
    metro = operator_headers(client, staff, "SIP-S-METRO")
    bus = operator_headers(client, staff, "SIP-S-BUS")
    alice = register_resident(client)
    bob = register_resident(client)
    bind(client, metro, alice["headers"], "metro-alice")
    bind(client, bus, alice["headers"], "bus-alice")
    bind(client, metro, bob["headers"], "metro-bob")
    start = day_9am()
    upload(
        client,
        metro,
        [trip(f"am{i}", "metro-alice", 3 + i, start + timedelta(hours=i)) for i in range(4)]
        + [trip("bm1", "metro-bob", 4, start)],
    )
    # alice stops auto-converting: these grams stay unconverted
    r = client.patch(f"{API}/me", json={"auto_convert": False}, headers=alice["headers"])
    assert r.status_code == 200
    upload(client, bus, [trip("ab1", "bus-alice", 5, start + timedelta(hours=6), kind="bus")])
    shop = make_merchant(client, staff)
    item = make_item(client, shop, points_price=100, stock=3)
    order = client.post(
        f"{API}/mall/orders", json={"item_id": item["id"]}, headers=alice["headers"]
    )
    assert order.status_code == 201
    return {
        "staff": staff,
        "metro": metro,
        "alice": alice,
        "bob": bob,
        "order": order.get_json(),
        "item": item,
        "shop": shop,
    }


def _me(client, resident):
    return client.get(f"{API}/me", headers=resident["headers"])


@pytest.mark.sqlite
def test_an_export_contains_every_activity_of_the_resident(app, client, world):
    from backend.activity.models import Activity
    from backend.db import db

    alice = world["alice"]
    r = client.get(f"{API}/me/export", headers=alice["headers"])
    assert r.status_code == 200, r.get_json()
    assert r.headers["Cache-Control"] == "private, no-store"
    doc = r.get_json()
    with app.app_context():
        mine = (
            db.session.execute(
                select(Activity.id).where(Activity.user_id == alice["id"]).order_by(Activity.id)
            )
            .scalars()
            .all()
        )
        db.session.rollback()
    assert [a["id"] for a in doc["activities"]] == mine and len(mine) == 5
    assert {a["external_id"] for a in doc["activities"]} == {"am0", "am1", "am2", "am3", "ab1"}
    assert all(a["measures"]["distance_m"] > 0 and a["started_at"] for a in doc["activities"])
    assert doc["profile"]["id"] == alice["id"] and doc["profile"]["phone"].count("*") == 4
    assert alice["phone"] not in r.get_data(as_text=True)
    assert {c["user_ref"] for c in doc["consents"]} == {"metro-alice", "bus-alice"}
    assert [o["id"] for o in doc["orders"]] == [world["order"]["id"]]
    ledger = client.get(f"{API}/me/ledger?unit=pt&limit=500", headers=alice["headers"]).get_json()
    grams = client.get(f"{API}/me/ledger?unit=g&limit=500", headers=alice["headers"]).get_json()
    assert len(doc["ledger"]) == len(ledger["items"]) + len(grams["items"])
    assert sum(p["amount"] for p in doc["ledger"] if p["unit"] == "pt") == doc["profile"]["points"]
    assert {n["kind"] for n in doc["notifications"]} >= {"credit", "consent_granted"}
    assert sum(x["points"] for x in doc["points_expiring"]) == doc["profile"]["points"]
    # nothing of bob's
    assert "metro-bob" not in r.get_data(as_text=True) and "bm1" not in r.get_data(as_text=True)


@pytest.mark.sqlite
def test_a_deleted_account_leaves_reconciliation_ok_and_no_phone_hash_behind(app, client, world):
    from backend.activity.models import Activity, Consent
    from backend.audit.models import AuditRecord
    from backend.auth.models import User
    from backend.auth.phones import phone_hash
    from backend.db import db
    from backend.residents.models import Notification

    alice, order = world["alice"], world["order"]
    me = _me(client, alice).get_json()
    points, grams = me["points"] + order["points"], me["reductions_g"]
    assert points > 100 and grams > 0
    sink, mint = balance(app, "cancelled", 1), balance(app, "points_mint")

    wrong = client.delete(f"{API}/me", json={"password": "not-it-at-all"}, headers=alice["headers"])
    assert wrong.status_code == 403 and wrong.get_json()["code"] == "wrong_password"
    assert _me(client, alice).status_code == 200  # nothing closed

    r = client.delete(f"{API}/me", json={"password": "resident-pass"}, headers=alice["headers"])
    assert r.status_code == 200, r.get_json()
    done = r.get_json()
    assert done["user_id"] == alice["id"] and done["orders_cancelled"] == [order["id"]]
    assert (done["points_cancelled"], done["reductions_cancelled_g"]) == (points, grams)
    assert done["points_backing_cancelled_g"] == points  # 1000 points per kg: 1 g a point
    assert (done["points_left"], done["consents_withdrawn"], done["activities_erased"]) == (
        0,
        2,
        5,
    )
    assert done["entry_id"]
    # the books: the points left circulation, their backing and the grams were cancelled
    assert balance(app, "resident_points", alice["id"]) == 0
    assert balance(app, "resident_reductions", alice["id"]) == 0
    assert balance(app, "cancelled", 1) == sink + points + grams
    assert balance(app, "points_mint") == mint + points
    report = assert_reconciled(app)
    assert report["points_backed"] and report["orders_pending"] == 0
    finance = role_headers(app, client, "finance")
    assert client.get(f"{API}/admin/reconciliation", headers=finance).get_json()["ok"] is True
    r = client.get(f"{API}/merchant/items/{world['item']['id']}", headers=world["shop"]["headers"])
    assert r.get_json()["stock_left"] == 3  # the unit came back

    # no phone hash behind, nor the phone, the name or the password
    with app.app_context():
        key = phone_hash(alice["phone"], app.config["PII_KEY"])
        assert db.session.execute(select(User.id).where(User.phone_hash == key)).first() is None
        user = db.session.get(User, alice["id"])
        assert (user.phone_hash, user.phone_masked, user.display_name) == (None, None, None)
        assert user.password_hash == "!closed" and not user.active and user.closed_at
        acts = db.session.execute(select(Activity).where(Activity.user_id == alice["id"]))
        assert all(
            a.measures is None and a.started_at is None and a.ended_at is None
            for a in acts.scalars()
        )
        consents = db.session.execute(select(Consent).where(Consent.user_id == alice["id"]))
        assert all(c.withdrawn_at and c.user_ref.startswith("erased:") for c in consents.scalars())
        assert not db.session.execute(
            select(Notification.id).where(Notification.user_id == alice["id"])
        ).first()
        audit = db.session.execute(
            select(AuditRecord).where(AuditRecord.action == "resident.close")
        ).scalar_one()
        assert audit.object_id == str(alice["id"]) and audit.after["points_cancelled"] == points
        dump = " ".join(
            str(v) for row in db.session.execute(text("SELECT * FROM audit_log")).all() for v in row
        )
        assert key not in dump and alice["phone"] not in dump
        db.session.rollback()

    # every session ended; the phone logs in to nothing until it registers anew
    assert _me(client, alice).status_code == 401
    r = client.post(f"{API}/auth/refresh", json={"refresh_token": alice["tokens"]["refresh_token"]})
    assert r.status_code == 401
    r = client.post(
        f"{API}/auth/login", json={"login": alice["phone"], "password": "resident-pass"}
    )
    assert r.status_code == 401 and r.get_json()["code"] == "bad_credentials"
    again = register_resident(client, alice["phone"])
    assert again["id"] != alice["id"]
    fresh = _me(client, again).get_json()
    assert (fresh["points"], fresh["reductions_g"], fresh["points_expiring_next"]) == (0, 0, None)
    assert client.get(f"{API}/me/history", headers=again["headers"]).get_json()["items"] == []
    assert client.get(f"{API}/me/activities", headers=again["headers"]).get_json()["items"] == []
    # the operator's reference is free: the new account can be linked to it
    bind(client, world["metro"], again["headers"], "metro-alice")
    assert_reconciled(app)


def test_accrual_credits_nothing_to_a_closed_account(app, client, world):
    """An upload that raced the closure (its consent read just before) leaves an
    uncredited activity: accrual credits it nothing and erases its raw details."""
    from backend.activity.accrual import accrue
    from backend.activity.models import Activity
    from backend.db import db
    from jobs.runner import run

    alice = world["alice"]
    r = client.delete(f"{API}/me", json={"password": "resident-pass"}, headers=alice["headers"])
    assert r.status_code == 200
    with app.app_context():
        template = db.session.execute(
            select(Activity).where(Activity.user_id == alice["id"]).limit(1)
        ).scalar_one()
        late = Activity(
            scenario_id=template.scenario_id,
            external_id="raced",
            user_id=alice["id"],
            consent_id=template.consent_id,
            batch_id="raced",
            activity_type=template.activity_type,
            methodology_id=template.methodology_id,
            day=template.day,
            reduction_g=400,
            started_at=datetime.now(SH) - timedelta(hours=30),
            ended_at=datetime.now(SH) - timedelta(hours=29),
            measures={"distance_m": 9000},
        )
        db.session.add(late)
        db.session.commit()
        late_id = late.id
        run(accrue)
        late = db.session.get(Activity, late_id)
        assert (late.credited_g, late.measures, late.started_at) == (0, None, None)
        db.session.rollback()
    assert balance(app, "resident_reductions", alice["id"]) == 0
    assert balance(app, "resident_points", alice["id"]) == 0
    assert_reconciled(app)


def test_a_closed_accounts_login_is_refused_and_the_closure_is_once(app, client, world):
    alice = world["alice"]
    # a second session of the same resident, opened before the closure
    other = login(client, alice["phone"], "resident-pass")
    r = client.delete(f"{API}/me", json={"password": "resident-pass"}, headers=alice["headers"])
    assert r.status_code == 200
    h = {"Authorization": f"Bearer {other['access_token']}"}
    r = client.delete(f"{API}/me", json={"password": "resident-pass"}, headers=h)
    assert r.status_code == 401  # that session ended too: nothing is closed twice
    assert client.delete(f"{API}/me", json={}, headers=world["bob"]["headers"]).status_code == 422
