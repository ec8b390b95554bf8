"""The points mall over HTTP: merchants' items, browsing, ordering (every refusal),
idempotent replay, cancel, expiry, the QR code, redemption, settlement (apply, approve,
the job, approving twice, a failed batch and its retry, the sweep), reconciliation
(ok, and a tampered ledger) and the public totals."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select, text, update

from backend.db import db
from tests.helpers import (
    assert_books_balanced,
    load_catalogue,
    register_resident,
    role_headers,
    staff_headers,
)
from tests.ledger_guards import guards_off
from tests.mall_helpers import (
    assert_reconciled,
    balance,
    give_points,
    make_item,
    make_merchant,
    points_of,
    reconcile,
    run_job,
)

API = "/api/v1"


@pytest.fixture()
def world(app, client):
    staff = staff_headers(app, client)
    load_catalogue(client, staff)
    shop = make_merchant(client, staff, "Green Grocer")
    other = make_merchant(client, staff, "Bike Repair")
    alice = register_resident(client)
    bob = register_resident(client)
    give_points(app, alice["id"], 1000)
    finance = role_headers(app, client, "finance")  # settlements are finance's
    return {
        "staff": staff,
        "finance": finance,
        "shop": shop,
        "other": other,
        "alice": alice,
        "bob": bob,
    }


def order(client, resident, item_id, key=None):
    headers = dict(resident["headers"])
    if key:
        headers["Idempotency-Key"] = key
    return client.post(f"{API}/mall/orders", json={"item_id": item_id}, headers=headers)


def stock_of(client, merchant, item_id):
    r = client.get(f"{API}/merchant/items/{item_id}", headers=merchant["headers"])
    assert r.status_code == 200, r.get_json()
    return r.get_json()["stock_left"]


def count_orders(app):
    from mall.models import Order

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Order))


def redeem(client, merchant, code):
    return client.post(
        f"{API}/merchant/redemptions", json={"code": code}, headers=merchant["headers"]
    )


# --- items -------------------------------------------------------------------------


@pytest.mark.sqlite
def test_merchant_items_crud(app, client, world):
    shop, other, alice = world["shop"], world["other"], world["alice"]
    body = {
        "title": "Canvas bag",
        "points_price": 300,
        "stock": 10,
        "per_resident_limit": 2,
        "description": "Made in Suzhou",
        "valid_from": "2020-01-01T00:00:00+08:00",
        "valid_until": "2099-01-01T00:00:00+08:00",
    }
    r = client.post(f"{API}/merchant/items", json=body, headers=shop["headers"])
    assert r.status_code == 201, r.get_json()
    item = r.get_json()
    assert item["id"] and item["active"] is True and item["stock_left"] == 10
    assert item["merchant"] == {"id": shop["org_id"], "name": "Green Grocer"}
    assert item["valid_from"] == "2020-01-01T00:00:00+08:00"

    bad = [
        {"title": "x", "points_price": 0},
        {"title": "", "points_price": 5},
        {"title": "x", "points_price": "5"},
        {"title": "x", "points_price": 5, "stock": -1},
        {"title": "x", "points_price": 5, "per_resident_limit": 0},
        {"title": "x", "points_price": 5, "valid_from": "2030-01-01T00:00:00"},  # naive
        {"title": "x" * 201, "points_price": 5},
        {"title": "x", "points_price": 5, "description": "d" * 2001},
        {
            "title": "x",
            "points_price": 5,
            "valid_from": "2030-01-02T00:00:00+08:00",
            "valid_until": "2030-01-01T00:00:00+08:00",
        },
        {"points_price": 5},
        {"title": "x", "points_price": 5, "surprise": 1},
    ]
    for b in bad:
        r = client.post(f"{API}/merchant/items", json=b, headers=shop["headers"])
        assert r.status_code == 422, (b, r.get_json())
        assert r.get_json()["code"] == "validation_failed"

    r = client.patch(
        f"{API}/merchant/items/{item['id']}",
        json={"stock": 3, "points_price": 250, "active": False},
        headers=shop["headers"],
    )
    assert r.status_code == 200, r.get_json()
    assert (r.get_json()["stock_left"], r.get_json()["points_price"], r.get_json()["active"]) == (
        3,
        250,
        False,
    )
    # a window made empty by a patch against the stored valid_from is refused
    r = client.patch(
        f"{API}/merchant/items/{item['id']}",
        json={"valid_until": "2019-01-01T00:00:00+08:00"},
        headers=shop["headers"],
    )
    assert r.status_code == 422
    r = client.patch(f"{API}/merchant/items/{item['id']}", json={}, headers=shop["headers"])
    assert r.status_code == 422
    r = client.patch(
        f"{API}/merchant/items/{item['id']}", json={"stock": None}, headers=shop["headers"]
    )
    assert r.status_code == 200 and r.get_json()["stock_left"] is None  # unlimited

    # another merchant's item: not found, whatever is asked
    assert (
        client.get(f"{API}/merchant/items/{item['id']}", headers=other["headers"]).status_code
        == 404
    )
    r = client.patch(
        f"{API}/merchant/items/{item['id']}", json={"stock": 99}, headers=other["headers"]
    )
    assert r.status_code == 404 and r.get_json()["code"] == "item_not_found"
    assert stock_of(client, shop, item["id"]) is None

    make_item(client, shop, title="Tea")
    r = client.get(f"{API}/merchant/items", headers=shop["headers"])
    assert [i["title"] for i in r.get_json()["items"]] == ["Tea", "Canvas bag"]
    r = client.get(f"{API}/merchant/items?active=false", headers=shop["headers"])
    assert [i["title"] for i in r.get_json()["items"]] == ["Canvas bag"]
    assert client.get(f"{API}/merchant/items", headers=other["headers"]).get_json()["items"] == []

    # roles
    r = client.post(f"{API}/merchant/items", json=body, headers=alice["headers"])
    assert r.status_code == 403
    assert client.post(f"{API}/merchant/items", json=body).status_code == 401


@pytest.mark.sqlite
def test_browsing_shows_what_is_on_sale(app, client, world):
    shop, other = world["shop"], world["other"]
    now = datetime.now(UTC)
    on = make_item(client, shop, title="On sale", stock=5, per_resident_limit=1)
    unlimited = make_item(client, other, title="Unlimited")
    make_item(client, shop, title="Inactive", active=False)
    make_item(client, shop, title="Later", valid_from=(now + timedelta(days=1)).isoformat())
    make_item(client, shop, title="Over", valid_until=(now - timedelta(seconds=1)).isoformat())
    sold_out = make_item(client, shop, title="Sold out", stock=0)

    r = client.get(f"{API}/mall/items")  # anyone, no login
    assert r.status_code == 200
    items = r.get_json()["items"]
    assert [i["title"] for i in items] == ["Sold out", "Unlimited", "On sale"]
    first = items[2]
    assert set(first) >= {
        "id",
        "merchant",
        "title",
        "points_price",
        "stock_left",
        "per_resident_limit",
    }
    assert (first["stock_left"], first["per_resident_limit"]) == (5, 1)
    assert items[1]["stock_left"] is None and items[0]["stock_left"] == 0
    assert "active" not in first

    r = client.get(f"{API}/mall/items?merchant_id={other['org_id']}")
    assert [i["id"] for i in r.get_json()["items"]] == [unlimited["id"]]

    page1 = client.get(f"{API}/mall/items?limit=2").get_json()
    assert [i["id"] for i in page1["items"]] == [sold_out["id"], unlimited["id"]]
    page2 = client.get(f"{API}/mall/items?limit=2&cursor={page1['next_cursor']}").get_json()
    assert [i["id"] for i in page2["items"]] == [on["id"]] and page2["next_cursor"] is None
    assert client.get(f"{API}/mall/items?limit=501").status_code == 422
    assert client.get(f"{API}/mall/items?cursor=%%%").status_code == 400

    assert client.get(f"{API}/mall/items/{on['id']}").get_json()["title"] == "On sale"
    hidden = client.get(f"{API}/merchant/items?active=false", headers=shop["headers"])
    inactive_id = hidden.get_json()["items"][0]["id"]
    assert client.get(f"{API}/mall/items/{inactive_id}").status_code == 404


# --- orders ------------------------------------------------------------------------


@pytest.mark.sqlite
def test_order_holds_points_and_stock_then_cancel_gives_them_back(app, client, world):
    shop, alice, bob = world["shop"], world["alice"], world["bob"]
    item = make_item(client, shop, points_price=300, stock=2)
    r = order(client, alice, item["id"], key="o-1")
    assert r.status_code == 201, r.get_json()
    o = r.get_json()
    assert (o["status"], o["item_id"], o["points"]) == ("pending", item["id"], 300)
    code = o["redemption_code"]
    assert len(code) == 19 and code.count("-") == 3
    expires = datetime.fromisoformat(o["expires_at"])
    assert expires.utcoffset() == timedelta(hours=8)
    assert abs((expires - datetime.now(UTC)) - timedelta(days=7)) < timedelta(minutes=1)
    assert points_of(app, alice["id"]) == 700
    assert balance(app, "order_escrow", shop["org_id"]) == 300
    assert stock_of(client, shop, item["id"]) == 1

    mine = client.get(f"{API}/mall/orders", headers=alice["headers"]).get_json()
    assert [x["id"] for x in mine["items"]] == [o["id"]]
    assert client.get(f"{API}/mall/orders", headers=bob["headers"]).get_json()["items"] == []
    assert client.get(f"{API}/mall/orders/{o['id']}", headers=alice["headers"]).status_code == 200
    # another resident's order does not exist for them
    for path in ("", "/qr.png"):
        r = client.get(f"{API}/mall/orders/{o['id']}{path}", headers=bob["headers"])
        assert r.status_code == 404 and r.get_json()["code"] == "order_not_found"
    r = client.post(f"{API}/mall/orders/{o['id']}/cancel", headers=bob["headers"])
    assert r.status_code == 404

    r = client.post(f"{API}/mall/orders/{o['id']}/cancel", headers=alice["headers"])
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "cancelled" and r.get_json()["closed_at"]
    assert points_of(app, alice["id"]) == 1000
    assert balance(app, "order_escrow", shop["org_id"]) == 0
    assert stock_of(client, shop, item["id"]) == 2
    r = client.post(f"{API}/mall/orders/{o['id']}/cancel", headers=alice["headers"])
    assert r.status_code == 409 and r.get_json()["code"] == "order_cancelled"
    assert points_of(app, alice["id"]) == 1000
    r = redeem(client, shop, code)
    assert r.status_code == 409 and r.get_json()["code"] == "order_cancelled"
    assert balance(app, "merchant_points", shop["org_id"]) == 0

    listed = client.get(f"{API}/mall/orders?status=cancelled", headers=alice["headers"])
    assert [x["id"] for x in listed.get_json()["items"]] == [o["id"]]
    assert (
        client.get(f"{API}/mall/orders?status=pending", headers=alice["headers"]).get_json()[
            "items"
        ]
        == []
    )
    assert_reconciled(app)
    assert_books_balanced(app)


def test_every_refusal_moves_nothing(app, client, world):
    shop, alice, bob = world["shop"], world["alice"], world["bob"]
    now = datetime.now(UTC)
    pricey = make_item(client, shop, points_price=1001)
    sold_out = make_item(client, shop, stock=0)
    limited = make_item(client, shop, points_price=100, per_resident_limit=2)
    inactive = make_item(client, shop, active=False)
    later = make_item(client, shop, valid_from=(now + timedelta(hours=1)).isoformat())
    over = make_item(client, shop, valid_until=(now - timedelta(hours=1)).isoformat())
    before = count_orders(app)

    cases = [
        (alice, pricey["id"], 409, "insufficient_points"),
        (bob, limited["id"], 409, "insufficient_points"),  # bob has no points at all
        (alice, sold_out["id"], 409, "out_of_stock"),
        (alice, inactive["id"], 409, "item_inactive"),
        (alice, later["id"], 409, "item_not_on_sale"),
        (alice, over["id"], 409, "item_not_on_sale"),
        (alice, 999_999, 404, "item_not_found"),
    ]
    for resident, item_id, status, code in cases:
        r = order(client, resident, item_id, key=f"refused-{item_id}-{resident['id']}")
        assert (r.status_code, r.get_json()["code"]) == (status, code), (item_id, r.get_json())
        assert r.headers["Content-Type"] == "application/problem+json"
    assert count_orders(app) == before
    assert points_of(app, alice["id"]) == 1000 and points_of(app, bob["id"]) == 0
    assert stock_of(client, shop, sold_out["id"]) == 0

    for body in ({}, {"item_id": "1"}, {"item_id": 0}, {"item_id": 2**70}, {"item_id": None}):
        r = client.post(f"{API}/mall/orders", json=body, headers=alice["headers"])
        assert r.status_code == 422, (body, r.get_json())
    r = client.post(
        f"{API}/mall/orders",
        data="{not json",
        headers={**alice["headers"], "Content-Type": "application/json"},
    )
    assert r.status_code in (400, 422)

    # the per-resident limit counts live orders; a cancelled one frees its place
    first = order(client, alice, limited["id"]).get_json()
    assert order(client, alice, limited["id"]).status_code == 201
    r = order(client, alice, limited["id"])
    assert (r.status_code, r.get_json()["code"]) == (409, "limit_reached")
    assert points_of(app, alice["id"]) == 800
    client.post(f"{API}/mall/orders/{first['id']}/cancel", headers=alice["headers"])
    assert order(client, alice, limited["id"]).status_code == 201
    assert points_of(app, alice["id"]) == 800
    # merchants and staff do not order
    r = order(client, shop, limited["id"])
    assert r.status_code == 403
    assert_reconciled(app)
    assert_books_balanced(app)


@pytest.mark.sqlite
def test_idempotent_order_replay(app, client, world):
    shop, alice = world["shop"], world["alice"]
    item = make_item(client, shop, points_price=250, stock=5)
    first = order(client, alice, item["id"], key="same-key")
    again = order(client, alice, item["id"], key="same-key")
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert count_orders(app) == 1
    assert points_of(app, alice["id"]) == 750
    assert stock_of(client, shop, item["id"]) == 4

    other_item = make_item(client, shop, points_price=1)
    r = order(client, alice, other_item["id"], key="same-key")
    assert r.status_code == 422 and r.get_json()["code"] == "idempotency_key_reused"
    # a refused request releases its key: the resident may retry it with the same key
    sold_out = make_item(client, shop, stock=0)
    assert order(client, alice, sold_out["id"], key="k2").status_code == 409
    client.patch(
        f"{API}/merchant/items/{sold_out['id']}", json={"stock": 1}, headers=shop["headers"]
    )
    assert order(client, alice, sold_out["id"], key="k2").status_code == 201
    assert count_orders(app) == 2
    assert_reconciled(app)
    assert_books_balanced(app)


@pytest.mark.sqlite
def test_expiry_job_refunds_and_restocks(app, client, world):
    from mall.models import Order

    shop, alice = world["shop"], world["alice"]
    item = make_item(client, shop, points_price=200, stock=3)
    stale = order(client, alice, item["id"]).get_json()
    fresh = order(client, alice, item["id"]).get_json()
    assert points_of(app, alice["id"]) == 600
    with app.app_context():  # a week passes for the first order
        db.session.execute(
            update(Order)
            .where(Order.id == stale["id"])
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        db.session.commit()
    # past its time, the code no longer redeems even before the job has run
    r = redeem(client, shop, stale["redemption_code"])
    assert (r.status_code, r.get_json()["code"]) == (409, "order_expired")
    assert balance(app, "merchant_points", shop["org_id"]) == 0

    assert run_job(app, "expire_orders") == {"expired": 1, "points": 200}
    assert run_job(app, "expire_orders") == {"expired": 0, "points": 0}  # idempotent
    got = client.get(f"{API}/mall/orders/{stale['id']}", headers=alice["headers"]).get_json()
    assert got["status"] == "expired" and got["closed_at"]
    assert (
        client.get(f"{API}/mall/orders/{fresh['id']}", headers=alice["headers"]).get_json()[
            "status"
        ]
        == "pending"
    )
    assert points_of(app, alice["id"]) == 800
    assert stock_of(client, shop, item["id"]) == 2
    assert balance(app, "order_escrow", shop["org_id"]) == 200
    r = client.post(f"{API}/mall/orders/{stale['id']}/cancel", headers=alice["headers"])
    assert (r.status_code, r.get_json()["code"]) == (409, "order_expired")
    r = redeem(client, shop, stale["redemption_code"])
    assert (r.status_code, r.get_json()["code"]) == (409, "order_expired")
    assert points_of(app, alice["id"]) == 800
    assert_reconciled(app)
    assert_books_balanced(app)


def test_expiry_follows_the_setting(app, client, world):
    shop, alice = world["shop"], world["alice"]
    item = make_item(client, shop, points_price=10)
    old = app.config["ORDER_EXPIRY_SECONDS"]
    app.config["ORDER_EXPIRY_SECONDS"] = 3600
    try:
        o = order(client, alice, item["id"]).get_json()
    finally:
        app.config["ORDER_EXPIRY_SECONDS"] = old
    left = datetime.fromisoformat(o["expires_at"]) - datetime.now(UTC)
    assert timedelta(minutes=58) < left <= timedelta(hours=1)
    assert_books_balanced(app)


def test_qr_png_encodes_the_code(app, client, world):
    from mall.qr import BORDER, BOX, normalize, qr_matrix

    shop, alice = world["shop"], world["alice"]
    item = make_item(client, shop, points_price=10)
    o = order(client, alice, item["id"]).get_json()
    r = client.get(f"{API}/mall/orders/{o['id']}/qr.png", headers=alice["headers"])
    assert r.status_code == 200
    assert r.mimetype == "image/png"
    assert "no-store" in r.headers["Cache-Control"]
    png = r.get_data()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    img = Image.open(io.BytesIO(png)).convert("L")
    expected = qr_matrix(normalize(o["redemption_code"]))
    modules = len(expected)
    assert modules == 21  # version 1: the 19-character code fits the smallest symbol
    assert img.size == ((modules + 2 * BORDER) * BOX,) * 2
    # read every module back from the picture (dark = True) and compare
    seen = [
        [
            img.getpixel(((BORDER + x) * BOX + BOX // 2, (BORDER + y) * BOX + BOX // 2)) < 128
            for x in range(modules)
        ]
        for y in range(modules)
    ]
    assert seen == expected
    # ... and it is not the symbol of any other code
    other = order(client, alice, item["id"]).get_json()
    assert qr_matrix(normalize(other["redemption_code"])) != seen
    assert client.get(f"{API}/mall/orders/{o['id']}/qr.png").status_code == 401
    assert_books_balanced(app)


def test_codes_are_random_and_forgiving():
    from mall.qr import ALPHABET, display, new_code, normalize

    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(len(c) == 16 and set(c) <= set(ALPHABET) for c in codes)
    assert len(ALPHABET) ** 16 == 2**80
    c = next(iter(codes))
    assert normalize(display(c)) == c
    assert normalize(" " + display(c).lower() + " ") == c
    assert normalize(c.replace("0", "O").replace("1", "I")) == c
    assert normalize(c[:-1]) is None and normalize(c + "0") is None
    assert normalize("U" * 16) is None


# --- redemption --------------------------------------------------------------------


@pytest.mark.sqlite
def test_redemption_by_the_right_merchant_only(app, client, world):
    shop, other, alice = world["shop"], world["other"], world["alice"]
    item = make_item(client, shop, points_price=150)
    o = order(client, alice, item["id"]).get_json()

    unknown = redeem(client, other, "0000-0000-0000-0000")
    foreign = redeem(client, other, o["redemption_code"])
    assert unknown.status_code == foreign.status_code == 404
    assert unknown.get_json() == foreign.get_json()  # no way to tell them apart
    assert redeem(client, shop, "not a code").status_code == 404
    assert redeem(client, shop, "").status_code == 422
    assert redeem(client, shop, "x" * 65).status_code == 422
    r = client.post(
        f"{API}/merchant/redemptions", json={"code": o["redemption_code"]}, headers=alice["headers"]
    )
    assert r.status_code == 403
    assert balance(app, "order_escrow", shop["org_id"]) == 150

    typed = o["redemption_code"].replace("-", " ").lower()
    r = redeem(client, shop, typed)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert (body["order_id"], body["item_id"], body["points"], body["status"]) == (
        o["id"],
        item["id"],
        150,
        "fulfilled",
    )
    assert balance(app, "order_escrow", shop["org_id"]) == 0
    bal = client.get(f"{API}/merchant/balance", headers=shop["headers"]).get_json()
    assert bal == {"points": 150, "reductions_g": 0, "escrow_points": 0}

    r = redeem(client, shop, o["redemption_code"])
    assert (r.status_code, r.get_json()["code"]) == (409, "already_redeemed")
    r = client.post(f"{API}/mall/orders/{o['id']}/cancel", headers=alice["headers"])
    assert (r.status_code, r.get_json()["code"]) == (409, "already_redeemed")
    assert balance(app, "merchant_points", shop["org_id"]) == 150
    assert points_of(app, alice["id"]) == 850
    got = client.get(f"{API}/mall/orders/{o['id']}", headers=alice["headers"]).get_json()
    assert got["status"] == "fulfilled" and got["fulfilled_at"]
    seen = client.get(f"{API}/merchant/orders", headers=shop["headers"]).get_json()["items"]
    assert [(x["id"], x["status"]) for x in seen] == [(o["id"], "fulfilled")]
    assert "redemption_code" not in seen[0]
    assert client.get(f"{API}/merchant/orders", headers=other["headers"]).get_json()["items"] == []
    assert_reconciled(app)
    assert_books_balanced(app)


# --- settlement --------------------------------------------------------------------


def _fulfil(client, app, shop, resident, item, n):
    ids = []
    for _ in range(n):
        o = order(client, resident, item["id"]).get_json()
        assert redeem(client, shop, o["redemption_code"]).status_code == 200
        ids.append(o["id"])
    return ids


@pytest.mark.sqlite
def test_settlement_apply_approve_and_post(app, client, world):
    from backend.ledger import JournalEntry

    staff, shop, other, alice = world["finance"], world["shop"], world["other"], world["alice"]
    item = make_item(client, shop, points_price=120)
    _fulfil(client, app, shop, alice, item, 3)
    pending = order(client, alice, item["id"]).get_json()  # pending: not in the batch
    backing_before = balance(app, "points_backing")
    mint_before = balance(app, "points_mint")

    r = client.post(
        f"{API}/merchant/settlements", headers={**shop["headers"], "Idempotency-Key": "s1"}
    )
    assert r.status_code == 201, r.get_json()
    batch = r.get_json()
    assert (batch["status"], batch["orders"], batch["points"]) == ("pending", 3, 360)
    replay = client.post(
        f"{API}/merchant/settlements", headers={**shop["headers"], "Idempotency-Key": "s1"}
    )
    assert replay.get_json() == batch
    r = client.post(f"{API}/merchant/settlements", headers=shop["headers"])
    assert (r.status_code, r.get_json()["code"]) == (409, "nothing_to_settle")
    r = client.post(f"{API}/merchant/settlements", headers=other["headers"])
    assert (r.status_code, r.get_json()["code"]) == (409, "nothing_to_settle")
    assert (
        client.get(
            f"{API}/merchant/settlements/{batch['id']}", headers=other["headers"]
        ).status_code
        == 404
    )
    assert (
        client.post(
            f"{API}/admin/settlements/{batch['id']}/approve", headers=shop["headers"]
        ).status_code
        == 403
    )
    listed = client.get(f"{API}/admin/settlements?status=pending", headers=staff).get_json()
    assert [b["id"] for b in listed["items"]] == [batch["id"]]

    r = client.post(f"{API}/admin/settlements/{batch['id']}/approve", headers=staff)
    assert r.status_code == 202, r.get_json()
    assert r.get_json()["status"] == "approved"
    # the job ran after the commit (in-process here: no Redis configured)
    got = client.get(
        f"{API}/merchant/settlements/{batch['id']}", headers=shop["headers"]
    ).get_json()
    assert (got["status"], got["points_converted"], got["reductions_g"]) == ("settled", 360, 360)
    assert got["settled_at"] and got["error"] is None
    bal = client.get(f"{API}/merchant/balance", headers=shop["headers"]).get_json()
    assert bal == {"points": 0, "reductions_g": 360, "escrow_points": 120}
    assert balance(app, "points_backing") == backing_before - 360
    assert balance(app, "points_mint") == mint_before + 360

    # approving again, and running the job again, move nothing
    r = client.post(f"{API}/admin/settlements/{batch['id']}/approve", headers=staff)
    assert (r.status_code, r.get_json()["code"]) == (409, "already_approved")
    assert run_job(app, "post_settlement", settlement_id=batch["id"]) == "settled"
    assert run_job(app, "post_settlement", settlement_id=999_999) == "missing"
    with app.app_context():
        entries = db.session.scalar(
            select(func.count()).select_from(JournalEntry).where(JournalEntry.kind == "settlement")
        )
    assert entries == 1
    assert balance(app, "org_reductions", shop["org_id"]) == 360
    r = client.post(f"{API}/admin/settlements/{batch['id']}/retry", headers=staff)
    assert (r.status_code, r.get_json()["code"]) == (409, "not_failed")

    # orders fulfilled later go into the next batch, and only those
    assert redeem(client, shop, pending["redemption_code"]).status_code == 200
    r = client.post(f"{API}/merchant/settlements", headers=shop["headers"])
    assert (r.get_json()["orders"], r.get_json()["points"]) == (1, 120)
    report = assert_reconciled(app)
    assert (report["orders_fulfilled"], report["orders_settled"]) == (4, 3)
    mine = client.get(f"{API}/merchant/settlements", headers=shop["headers"]).get_json()["items"]
    assert [b["status"] for b in mine] == ["pending", "settled"]
    assert client.get(f"{API}/admin/settlements/999999", headers=staff).status_code == 404
    assert client.post(f"{API}/admin/settlements/999999/approve", headers=staff).status_code == 404
    assert_books_balanced(app)


def test_an_order_is_in_one_batch_only(app, client, world):
    """The database itself refuses a settled order that is not fulfilled, and a second
    batch cannot take an order: `settlement_id` is one column."""
    from sqlalchemy.exc import IntegrityError

    from mall.models import Order

    shop, alice = world["shop"], world["alice"]
    item = make_item(client, shop, points_price=10)
    (fulfilled,) = _fulfil(client, app, shop, alice, item, 1)
    pending = order(client, alice, item["id"]).get_json()["id"]
    batch = client.post(f"{API}/merchant/settlements", headers=shop["headers"]).get_json()
    with app.app_context():
        with pytest.raises(IntegrityError):
            db.session.execute(
                update(Order).where(Order.id == pending).values(settlement_id=batch["id"])
            )
            db.session.flush()
        db.session.rollback()
        assert db.session.get(Order, fulfilled).settlement_id == batch["id"]
    assert_books_balanced(app)


def test_failed_batch_says_why_and_can_be_retried(app, client, world):
    from backend.ledger import AccountKind, Leg, account_for, post

    staff, shop, other, alice = world["finance"], world["shop"], world["other"], world["alice"]
    item = make_item(client, shop, points_price=100)
    _fulfil(client, app, shop, alice, item, 2)
    batch = client.post(f"{API}/merchant/settlements", headers=shop["headers"]).get_json()

    def move(src, dst, key):
        with app.app_context():
            post(
                kind="adjustment",
                idempotency_key=key,
                legs=[
                    Leg(account_for(AccountKind.MERCHANT_POINTS, src), -150),
                    Leg(account_for(AccountKind.MERCHANT_POINTS, dst), 150),
                ],
            )
            db.session.commit()

    move(shop["org_id"], other["org_id"], "adj-out")  # the shop's points are short now
    r = client.post(f"{API}/admin/settlements/{batch['id']}/approve", headers=staff)
    assert r.status_code == 202
    got = client.get(f"{API}/admin/settlements/{batch['id']}", headers=staff).get_json()
    assert got["status"] == "failed"
    assert "merchant_points" in got["error"] and "lacks 150" in got["error"]
    assert balance(app, "org_reductions", shop["org_id"]) == 0
    assert balance(app, "merchant_points", shop["org_id"]) == 50
    assert not reconcile(app)["ok"]  # the books tell the same story
    # a failed batch waits for staff: the job and the sweep leave it
    assert run_job(app, "post_settlement", settlement_id=batch["id"]) == "failed"
    assert run_job(app, "sweep_settlements", older_than_seconds=0) == []

    move(other["org_id"], shop["org_id"], "adj-back")
    r = client.post(f"{API}/admin/settlements/{batch['id']}/retry", headers=staff)
    assert r.status_code == 202, r.get_json()
    got = client.get(f"{API}/admin/settlements/{batch['id']}", headers=staff).get_json()
    assert (got["status"], got["reductions_g"], got["error"], got["attempts"]) == (
        "settled",
        200,
        None,
        2,
    )
    assert balance(app, "org_reductions", shop["org_id"]) == 200
    assert_reconciled(app)
    assert_books_balanced(app)


@pytest.mark.sqlite
def test_sweep_posts_approved_batches_whose_job_was_lost(app, client, world):
    from jobs.outbox import OutboxMessage
    from mall import settlement
    from mall.models import SettlementBatch

    shop, alice = world["shop"], world["alice"]
    item = make_item(client, shop, points_price=100)
    _fulfil(client, app, shop, alice, item, 2)
    batch = client.post(f"{API}/merchant/settlements", headers=shop["headers"]).get_json()
    with app.app_context():  # approved, then the job is lost (a killed worker)
        settlement.approve(batch["id"], actor="staff:test")
        db.session.execute(update(OutboxMessage).values(sent_at=datetime.now(UTC)))
        db.session.commit()
    assert balance(app, "org_reductions", shop["org_id"]) == 0
    assert run_job(app, "sweep_settlements") == []  # approved just now: not yet stale
    assert balance(app, "org_reductions", shop["org_id"]) == 0
    with app.app_context():
        db.session.execute(
            update(SettlementBatch).values(approved_at=datetime.now(UTC) - timedelta(minutes=6))
        )
        db.session.commit()
    assert run_job(app, "sweep_settlements") == [batch["id"]]
    got = client.get(
        f"{API}/merchant/settlements/{batch['id']}", headers=shop["headers"]
    ).get_json()
    assert got["status"] == "settled" and got["reductions_g"] == 200
    assert run_job(app, "sweep_settlements", older_than_seconds=0) == []
    assert balance(app, "org_reductions", shop["org_id"]) == 200
    assert_reconciled(app)
    assert_books_balanced(app)


def test_only_finance_staff_approve(app, client, world):
    from backend.auth.users import create_login_user
    from tests.helpers import bearer, login

    shop, alice = world["shop"], world["alice"]
    item = make_item(client, shop, points_price=100)
    _fulfil(client, app, shop, alice, item, 1)
    batch = client.post(f"{API}/merchant/settlements", headers=shop["headers"]).get_json()
    with app.app_context():
        create_login_user("staff", "registrar", "registrar-pass", roles=["auditor"])
        create_login_user("staff", "treasurer", "treasurer-pass", roles=["finance"])
        db.session.commit()
    registrar = bearer(login(client, "registrar", "registrar-pass")["access_token"])
    treasurer = bearer(login(client, "treasurer", "treasurer-pass")["access_token"])
    r = client.post(f"{API}/admin/settlements/{batch['id']}/approve", headers=registrar)
    assert r.status_code == 403
    assert client.get(f"{API}/admin/reconciliation", headers=registrar).status_code == 200
    assert client.get(f"{API}/admin/reconciliation", headers=alice["headers"]).status_code == 403
    r = client.post(f"{API}/admin/settlements/{batch['id']}/approve", headers=treasurer)
    assert r.status_code == 202
    assert balance(app, "org_reductions", shop["org_id"]) == 100
    assert_books_balanced(app)


# --- reconciliation and public totals ---------------------------------------------


@pytest.mark.sqlite
def test_reconciliation_ok_then_tampered(app, client, world):
    from backend.ledger import Account
    from mall.models import Order

    staff, shop, alice = world["finance"], world["shop"], world["alice"]
    item = make_item(client, shop, points_price=100)
    _fulfil(client, app, shop, alice, item, 2)
    pending = order(client, alice, item["id"]).get_json()
    batch = client.post(f"{API}/merchant/settlements", headers=shop["headers"]).get_json()
    client.post(f"{API}/admin/settlements/{batch['id']}/approve", headers=staff)

    r = client.get(f"{API}/admin/reconciliation", headers=staff)
    assert r.status_code == 200
    rep = r.get_json()
    assert rep["ok"] is True
    assert rep["units"] == {"g": {"sum": 0, "postings_sum": 0}, "pt": {"sum": 0, "postings_sum": 0}}
    assert (rep["points_outstanding"], rep["points_backing_g"], rep["points_per_kg"]) == (
        800,
        800,
        1000,
    )
    assert (rep["orders_fulfilled"], rep["orders_settled"], rep["orders_pending"]) == (2, 2, 1)
    for key in ("negative_accounts", "balance_mismatches", "escrow_mismatches", "order_offenders"):
        assert rep[key] == []
    assert rep["as_of"].endswith("+08:00")

    stored = run_job(app, "nightly_reconciliation")
    assert stored["ok"] is True
    assert run_job(app, "nightly_reconciliation")["report_id"] == stored["report_id"]  # one a day
    reports = client.get(f"{API}/admin/reconciliation/reports", headers=staff).get_json()["items"]
    assert [(x["id"], x["ok"]) for x in reports] == [(stored["report_id"], True)]

    with app.app_context():  # someone edits a balance behind the ledger's back
        escrow = db.session.execute(
            select(Account).where(
                Account.kind == "order_escrow", Account.owner_id == shop["org_id"]
            )
        ).scalar_one()
        with guards_off(db.session):  # refused to anyone but a superuser
            db.session.execute(
                text("UPDATE accounts SET balance = balance + 5 WHERE id = :i"), {"i": escrow.id}
            )
        # ... and marks a pending order fulfilled without the redemption posting
        db.session.execute(
            update(Order).where(Order.id == pending["id"]).values(status="fulfilled")
        )
        db.session.commit()
        escrow_id = escrow.id
    rep = client.get(f"{API}/admin/reconciliation", headers=staff).get_json()
    assert rep["ok"] is False
    assert rep["units"]["pt"]["sum"] == 5
    assert [m["id"] for m in rep["balance_mismatches"]] == [escrow_id]
    assert rep["escrow_mismatches"] == [
        {"merchant_id": shop["org_id"], "escrow": 105, "pending": 0}
    ]
    assert [o["id"] for o in rep["order_offenders"]] == [pending["id"]]
    assert rep["merchant_mismatches"][0]["merchant_id"] == shop["org_id"]
    assert rep["points_backed"] is False
    assert rep["checks"]["settled_at_most_once"] is True
    stored = run_job(app, "nightly_reconciliation")
    assert stored["ok"] is False
    full = client.get(
        f"{API}/admin/reconciliation/reports/{stored['report_id']}", headers=staff
    ).get_json()
    assert full["ok"] is False and full["report"]["escrow_mismatches"]


def test_reconciliation_flags_a_batch_settled_twice(app, client, world):
    from backend.ledger import AccountKind, Leg, account_for, post

    staff, shop, alice = world["finance"], world["shop"], world["alice"]
    item = make_item(client, shop, points_price=100)
    _fulfil(client, app, shop, alice, item, 1)
    batch = client.post(f"{API}/merchant/settlements", headers=shop["headers"]).get_json()
    client.post(f"{API}/admin/settlements/{batch['id']}/approve", headers=staff)
    assert_reconciled(app)
    with app.app_context():  # a second entry claiming the same batch (a balanced one:
        # the database refuses an entry without postings)
        post(
            kind="settlement",
            idempotency_key="forged",
            legs=[
                Leg(account_for(AccountKind.POINTS_MINT), -1),
                Leg(account_for(AccountKind.MERCHANT_POINTS, shop["org_id"]), 1),
            ],
            ref_type="settlement",
            ref_id=batch["id"],
        )
        db.session.commit()
    rep = reconcile(app)
    assert rep["ok"] is False and rep["checks"]["settled_at_most_once"] is False
    assert [b["id"] for b in rep["settlement_offenders"]] == [batch["id"]]
    assert rep["settlement_offenders"][0]["entries"] == 2


@pytest.mark.sqlite
def test_public_stats(app, client, world):
    staff, shop, alice, bob = world["finance"], world["shop"], world["alice"], world["bob"]
    give_points(app, bob["id"], 500)
    item = make_item(client, shop, points_price=100)
    _fulfil(client, app, shop, alice, item, 3)
    _fulfil(client, app, shop, bob, item, 1)
    order(client, bob, item["id"])  # pending
    batch = client.post(f"{API}/merchant/settlements", headers=shop["headers"]).get_json()
    client.post(f"{API}/admin/settlements/{batch['id']}/approve", headers=staff)
    _fulfil(client, app, shop, bob, item, 1)  # redeemed, not settled

    r = client.get(f"{API}/public/stats")
    assert r.status_code == 200
    stats = r.get_json()
    assert stats["as_of"].endswith("+08:00")
    del stats["as_of"]
    assert stats == {
        "residents_participating": 2,
        "reductions_credited_g": 1500,
        "points_issued": 1500,
        "points_redeemed": 500,
        "points_converted_back": 400,
        "reductions_converted_back_g": 400,
    }
    assert_reconciled(app)
    assert_books_balanced(app)
