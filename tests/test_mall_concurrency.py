"""Races against the real PostgreSQL, with real threads each making real requests
through the whole app (guards, idempotency, the per-request transaction). After each
race the ledger's invariants hold and the reconciliation report is ok."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from backend.db import db
from tests.helpers import assert_books_balanced, bearer, load_catalogue, login, staff_headers
from tests.mall_helpers import (
    assert_reconciled,
    balance,
    fast_residents,
    give_points_many,
    make_item,
    make_merchant,
    points_of,
    race,
    run_job,
)

API = "/api/v1"


@pytest.fixture()
def world(app, client):
    staff = staff_headers(app, client)
    load_catalogue(client, staff)
    shop = make_merchant(client, staff, "Busy Shop")
    return {"staff": staff, "shop": shop}


def _post_order(resident, item_id, key=None):
    headers = dict(resident["headers"])
    if key:
        headers["Idempotency-Key"] = key

    def call(client):
        r = client.post(f"{API}/mall/orders", json={"item_id": item_id}, headers=headers)
        return r.status_code, r.get_json()

    return call


def _total_points(app, residents, merchants):
    return (
        sum(points_of(app, r["id"]) for r in residents)
        + sum(balance(app, "order_escrow", m["org_id"]) for m in merchants)
        + sum(balance(app, "merchant_points", m["org_id"]) for m in merchants)
    )


def _orders(app):
    from mall.models import Order

    with app.app_context():
        return {o.id: o.status for o in db.session.execute(select(Order)).scalars()}


def _second_till(client, world):
    """Another login of the same merchant: a second till."""
    r = client.post(
        f"{API}/admin/merchant-users",
        json={
            "organization_id": world["shop"]["org_id"],
            "login": "till-two",
            "password": "till-password",
        },
        headers=world["staff"],
    )
    assert r.status_code == 201
    return {
        **world["shop"],
        "headers": bearer(login(client, "till-two", "till-password")["access_token"]),
    }


def test_200_residents_race_for_50_units(app, client, world):
    shop = world["shop"]
    residents = fast_residents(app, 200)
    give_points_many(app, [r["id"] for r in residents], 150)
    item = make_item(client, shop, points_price=100, stock=50)
    total = _total_points(app, residents, [shop])
    assert total == 200 * 150

    results = race(app, [_post_order(r, item["id"]) for r in residents])

    outcomes = Counter((status, body.get("code")) for status, body in results)
    assert outcomes == {(201, None): 50, (409, "out_of_stock"): 150}, outcomes
    r = client.get(f"{API}/merchant/items/{item['id']}", headers=shop["headers"])
    assert r.get_json()["stock_left"] == 0
    winners = {body["id"] for status, body in results if status == 201}
    assert len(winners) == 50 and len(set(_orders(app))) == 50
    assert balance(app, "order_escrow", shop["org_id"]) == 50 * 100
    assert sorted(points_of(app, r["id"]) for r in residents) == [50] * 50 + [150] * 150
    assert _total_points(app, residents, [shop]) == total
    assert_books_balanced(app)
    assert_reconciled(app)


def test_one_residents_points_buy_one_order_of_twenty(app, client, world):
    staff, shop = world["staff"], world["shop"]
    other = make_merchant(client, staff, "Other Shop")
    (resident,) = fast_residents(app, 1)
    give_points_many(app, [resident["id"]], 100)
    items = [make_item(client, (shop, other)[i % 2], points_price=100, stock=5) for i in range(20)]

    results = race(app, [_post_order(resident, it["id"]) for it in items])

    outcomes = Counter((status, body.get("code")) for status, body in results)
    assert outcomes == {(201, None): 1, (409, "insufficient_points"): 19}, outcomes
    assert points_of(app, resident["id"]) == 0
    assert (
        balance(app, "order_escrow", shop["org_id"]) + balance(app, "order_escrow", other["org_id"])
        == 100
    )
    stocks = [client.get(f"{API}/mall/items/{it['id']}").get_json()["stock_left"] for it in items]
    assert sorted(stocks) == [4] + [5] * 19  # refused orders gave their unit back
    assert len(_orders(app)) == 1
    assert_books_balanced(app)
    assert_reconciled(app)


def test_two_tills_redeem_one_code(app, client, world):
    shop = world["shop"]
    till2 = _second_till(client, world)
    residents = fast_residents(app, 10)
    give_points_many(app, [r["id"] for r in residents], 100)
    item = make_item(client, shop, points_price=100)
    codes = []
    for r in residents:
        resp = client.post(f"{API}/mall/orders", json={"item_id": item["id"]}, headers=r["headers"])
        assert resp.status_code == 201
        codes.append(resp.get_json()["redemption_code"])

    def till(merchant, code):
        def call(c):
            r = c.post(
                f"{API}/merchant/redemptions", json={"code": code}, headers=merchant["headers"]
            )
            return r.status_code, r.get_json()

        return call

    for code in codes:  # ten rounds, one code each
        results = race(app, [till(shop, code), till(till2, code)])
        outcomes = sorted((s, b["status"] if s == 200 else b["code"]) for s, b in results)
        assert outcomes == [(200, "fulfilled"), (409, "already_redeemed")], outcomes

    assert set(_orders(app).values()) == {"fulfilled"}
    assert balance(app, "merchant_points", shop["org_id"]) == 10 * 100
    assert balance(app, "order_escrow", shop["org_id"]) == 0
    assert_books_balanced(app)
    assert_reconciled(app)


def test_cancel_and_redeem_race(app, client, world):
    shop = world["shop"]
    residents = fast_residents(app, 16)
    give_points_many(app, [r["id"] for r in residents], 100)
    item = make_item(client, shop, points_price=100, stock=16)
    placed = []
    for r in residents:
        resp = client.post(f"{API}/mall/orders", json={"item_id": item["id"]}, headers=r["headers"])
        placed.append((r, resp.get_json()))

    winners = Counter()
    for resident, o in placed:

        def cancel(c, resident=resident, o=o):
            r = c.post(f"{API}/mall/orders/{o['id']}/cancel", headers=resident["headers"])
            return r.status_code, r.get_json()

        def redeem(c, o=o):
            r = c.post(
                f"{API}/merchant/redemptions",
                json={"code": o["redemption_code"]},
                headers=shop["headers"],
            )
            return r.status_code, r.get_json()

        (c_status, c_body), (r_status, r_body) = race(app, [cancel, redeem])
        if c_status == 200:  # the cancel won: the points are back with the resident
            assert (r_status, r_body["code"]) == (409, "order_cancelled")
            assert c_body["status"] == "cancelled"
            assert points_of(app, resident["id"]) == 100
            winners["cancel"] += 1
        else:  # the till won: the points are the merchant's
            assert (c_status, c_body["code"]) == (409, "already_redeemed"), c_body
            assert (r_status, r_body["status"]) == (200, "fulfilled")
            assert points_of(app, resident["id"]) == 0
            winners["redeem"] += 1
    assert sum(winners.values()) == 16
    statuses = Counter(_orders(app).values())
    assert statuses == Counter(cancelled=winners["cancel"], fulfilled=winners["redeem"])
    assert balance(app, "merchant_points", shop["org_id"]) == 100 * winners["redeem"]
    assert balance(app, "order_escrow", shop["org_id"]) == 0
    r = client.get(f"{API}/merchant/items/{item['id']}", headers=shop["headers"])
    assert r.get_json()["stock_left"] == winners["cancel"]
    assert _total_points(app, residents, [shop]) == 16 * 100
    assert_books_balanced(app)
    assert_reconciled(app)


def test_same_idempotency_key_twice_at_once(app, client, world):
    shop = world["shop"]
    residents = fast_residents(app, 8)
    give_points_many(app, [r["id"] for r in residents], 500)
    item = make_item(client, shop, points_price=100, stock=100)
    for resident in residents:
        call = _post_order(resident, item["id"], key=f"key-{resident['id']}")
        results = race(app, [call, call])
        statuses = sorted(s for s, _ in results)
        assert statuses in ([201, 201], [201, 409]), results
        bodies = [b for s, b in results if s == 201]
        if len(bodies) == 2:
            assert bodies[0] == bodies[1]  # the replay is the first answer
        else:
            assert [b["code"] for s, b in results if s == 409] == ["idempotency_in_flight"]
        assert points_of(app, resident["id"]) == 400
    assert len(_orders(app)) == 8
    assert balance(app, "order_escrow", shop["org_id"]) == 800
    assert_books_balanced(app)
    assert_reconciled(app)


def test_settlement_job_run_twice_at_once_posts_once(app, client, world):
    from backend.ledger import JournalEntry
    from jobs.runner import run
    from mall import settlement
    from mall.models import SettlementBatch
    from mall.settlement import post_settlement

    shop = world["shop"]
    residents = fast_residents(app, 5)
    give_points_many(app, [r["id"] for r in residents], 100)
    item = make_item(client, shop, points_price=100)
    for r in residents:
        o = client.post(f"{API}/mall/orders", json={"item_id": item["id"]}, headers=r["headers"])
        code = o.get_json()["redemption_code"]
        client.post(f"{API}/merchant/redemptions", json={"code": code}, headers=shop["headers"])
    batch = client.post(f"{API}/merchant/settlements", headers=shop["headers"]).get_json()
    with app.app_context():  # approved; its job has not run yet
        settlement.approve(batch["id"], actor="staff:test")
        from jobs.outbox import OutboxMessage

        db.session.execute(update(OutboxMessage).values(sent_at=datetime.now(UTC)))
        db.session.commit()

    def job(_client):
        with app.app_context():
            return run(post_settlement, settlement_id=batch["id"])

    results = race(app, [job, job, job])
    assert sorted(results) == ["settled"] * 3
    with app.app_context():
        entries = db.session.scalar(
            select(func.count()).select_from(JournalEntry).where(JournalEntry.kind == "settlement")
        )
        attempts = db.session.get(SettlementBatch, batch["id"]).attempts
    assert entries == 1 and attempts == 1
    assert balance(app, "org_reductions", shop["org_id"]) == 500
    assert balance(app, "merchant_points", shop["org_id"]) == 0
    assert_books_balanced(app)
    assert_reconciled(app)


def test_expiry_job_racing_cancels_and_redemptions(app, client, world):
    """The expiry job takes its locks in the mall's order: running it while residents
    cancel and tills redeem the same orders neither deadlocks nor double-moves."""
    from mall.models import Order

    shop = world["shop"]
    residents = fast_residents(app, 12)
    give_points_many(app, [r["id"] for r in residents], 100)
    item = make_item(client, shop, points_price=100, stock=12)
    placed = []
    for r in residents:
        resp = client.post(f"{API}/mall/orders", json={"item_id": item["id"]}, headers=r["headers"])
        placed.append((r, resp.get_json()))
    with app.app_context():  # all of them are past their time
        db.session.execute(
            update(Order).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        db.session.commit()

    def expire(_client):
        return run_job(app, "expire_orders")

    calls = [expire, expire]
    for i, (resident, o) in enumerate(placed):
        if i % 2:
            calls.append(
                lambda c, resident=resident, o=o: (
                    c.post(
                        f"{API}/mall/orders/{o['id']}/cancel", headers=resident["headers"]
                    ).status_code
                )
            )
        else:
            calls.append(
                lambda c, o=o: (
                    c.post(
                        f"{API}/merchant/redemptions",
                        json={"code": o["redemption_code"]},
                        headers=shop["headers"],
                    ).status_code
                )
            )
    results = race(app, calls)
    expired_by_jobs = results[0]["expired"] + results[1]["expired"]
    cancels = sum(1 for s in results[2:][1::2] if s == 200)
    statuses = Counter(_orders(app).values())
    assert statuses.get("fulfilled", 0) == 0  # past their time, no code redeems
    assert statuses.get("expired", 0) == expired_by_jobs
    assert statuses.get("cancelled", 0) == cancels
    assert sum(statuses.values()) == 12
    assert sorted(points_of(app, r["id"]) for r, _ in placed) == [100] * 12
    r = client.get(f"{API}/merchant/items/{item['id']}", headers=shop["headers"])
    assert r.get_json()["stock_left"] == 12
    assert balance(app, "order_escrow", shop["org_id"]) == 0
    assert_books_balanced(app)
    assert_reconciled(app)
