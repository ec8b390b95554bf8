"""A history a person can read (one time line, newest first, cursor pages), and the
notifications written with the events they tell of."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.helpers import (
    bind,
    load_catalogue,
    operator_headers,
    register_resident,
    staff_headers,
    trip,
    upload,
)
from tests.mall_helpers import make_item, make_merchant
from tests.resident_helpers import day_9am

API = "/api/v1"
SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture()
def world(app, client):
    staff = staff_headers(app, client)
    load_catalogue(client, staff)
    op = operator_headers(client, staff, "SIP-S-METRO")
    alice = register_resident(client)
    bind(client, op, alice["headers"], "metro-alice")
    return {"staff": staff, "op": op, "alice": alice}


def all_lines(client, headers, limit: int = 3) -> list[dict]:
    lines, cursor, pages = [], None, 0
    while True:
        url = f"{API}/me/history?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        r = client.get(url, headers=headers)
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        assert len(body["items"]) <= limit
        lines += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return lines
        assert pages < 100


@pytest.mark.sqlite
def test_history_of_an_auto_converting_resident_shows_the_credit_and_the_conversion(
    app, client, world
):
    alice, op = world["alice"], world["op"]
    start = day_9am()
    # 8 trips of 10 km: 8 x 467 g = 3736 g, and the metro's daily cap is 3000 g
    records = [trip(f"h{i}", "metro-alice", 10, start + timedelta(hours=i)) for i in range(8)]
    assert upload(client, op, records).get_json()["accepted"] == 8
    lines = all_lines(client, alice["headers"])
    kinds = [line["type"] for line in lines]
    assert kinds == ["conversion", "credit"] + ["trip"] * 8
    conversion, credit = lines[0], lines[1]
    assert (credit["reductions_g"], credit["points"]) == (3000, None)
    assert credit["credit"]["cut_by_cap_g"] == 736 and credit["credit"]["trips"] == 8
    assert credit["credit"]["day"] == start.date().isoformat()
    assert "736" in credit["text_zh"] and "cap" in credit["text_en"]
    assert (conversion["reductions_g"], conversion["points"]) == (-3000, 3000)
    assert conversion["conversion"] == {"automatic": True}
    assert conversion["entry_id"] != credit["entry_id"]
    assert "3000" in conversion["text_zh"] and "Auto-converted" in conversion["text_en"]
    trip_line = lines[-1]["trip"]
    how = trip_line["computation"]
    assert (how["distance_m"], how["km"], how["methodology"], how["methodology_version"]) == (
        10000,
        10.0,
        "SIP-M-TRANSIT",
        "1.0",
    )
    assert (how["baseline_g_per_km"], how["mode_g_per_km"], how["g_per_km"]) == (60, 13.3, 46.7)
    assert how["expression"] == "10 km × (60 − 13.3) g/km = 467 g (rounded down)"
    assert sorted(line["trip"]["credited_g"] for line in lines[2:]) == [0, 198] + [467] * 6
    assert all(line["text_zh"] and line["text_en"] for line in lines)
    assert len({line["id"] for line in lines}) == len(lines)
    times = [line["at"] for line in lines]
    assert times == sorted(times, reverse=True)
    # the cursor is refused when it is not one the API gave out
    r = client.get(f"{API}/me/history?cursor=bm9wZQ", headers=alice["headers"])
    assert r.status_code == 400 and r.get_json()["code"] == "bad_cursor"


def test_history_orders_refunds_redemptions_and_notifications(app, client, world):
    alice, op, staff = world["alice"], world["op"], world["staff"]
    upload(client, op, [trip("o1", "metro-alice", 10, day_9am())])  # 467 points
    shop = make_merchant(client, staff, "Green Grocer")
    item = make_item(client, shop, title="Reusable cup", points_price=100)
    first = client.post(
        f"{API}/mall/orders", json={"item_id": item["id"]}, headers=alice["headers"]
    )
    assert first.status_code == 201
    r = client.post(f"{API}/mall/orders/{first.get_json()['id']}/cancel", headers=alice["headers"])
    assert r.status_code == 200
    second = client.post(
        f"{API}/mall/orders", json={"item_id": item["id"]}, headers=alice["headers"]
    ).get_json()
    r = client.post(
        f"{API}/merchant/redemptions",
        json={"code": second["redemption_code"]},
        headers=shop["headers"],
    )
    assert r.status_code == 200
    lines = all_lines(client, alice["headers"], limit=2)
    assert [line["type"] for line in lines] == [
        "redemption",
        "order",
        "refund",
        "order",
        "conversion",
        "credit",
        "trip",
    ]
    redemption, spent, refund = lines[0], lines[1], lines[2]
    assert redemption["order"]["merchant"] == "Green Grocer" and redemption["points"] is None
    assert (spent["points"], spent["order"]["item_title"]) == (-100, "Reusable cup")
    assert (refund["points"], refund["order"]["status"]) == (100, "cancelled")
    assert "Reusable cup" in refund["text_en"] and "退回 100 积分" in refund["text_zh"]

    notes = client.get(f"{API}/me/notifications", headers=alice["headers"]).get_json()["items"]
    assert [n["kind"] for n in notes] == ["order_refunded", "credit", "consent_granted"]
    assert notes[1]["data"] == {
        "scenario_code": "SIP-S-METRO",
        "day": day_9am().date().isoformat(),
        "grams": 467,
        "points": 467,
    }
    assert all(n["sent_at"] is None and n["text_zh"] and n["text_en"] for n in notes)
    consent_id = client.get(f"{API}/me/consents", headers=alice["headers"]).get_json()["items"][0][
        "id"
    ]
    assert (
        client.delete(f"{API}/me/consents/{consent_id}", headers=alice["headers"]).status_code
        == 204
    )
    notes = client.get(f"{API}/me/notifications?limit=1", headers=alice["headers"]).get_json()
    assert notes["items"][0]["kind"] == "consent_withdrawn" and notes["next_cursor"]
    # no one else's lines or notifications
    bob = register_resident(client)
    assert client.get(f"{API}/me/history", headers=bob["headers"]).get_json() == {
        "items": [],
        "next_cursor": None,
    }
    assert client.get(f"{API}/me/notifications", headers=bob["headers"]).get_json()["items"] == []


def test_an_order_that_expires_tells_the_resident(app, client, world):
    from tests.mall_helpers import run_job

    alice, op, staff = world["alice"], world["op"], world["staff"]
    upload(client, op, [trip("x1", "metro-alice", 10, day_9am())])
    shop = make_merchant(client, staff)
    item = make_item(client, shop, points_price=50)
    order = client.post(
        f"{API}/mall/orders", json={"item_id": item["id"]}, headers=alice["headers"]
    ).get_json()
    from sqlalchemy import update

    from backend.db import db
    from mall.models import Order

    with app.app_context():
        db.session.execute(
            update(Order).where(Order.id == order["id"]).values(expires_at=datetime.now(SH))
        )
        db.session.commit()
    run_job(app, "expire_orders")
    notes = client.get(f"{API}/me/notifications", headers=alice["headers"]).get_json()["items"]
    assert notes[0]["kind"] == "order_expired" and notes[0]["data"]["points"] == 50
    lines = client.get(f"{API}/me/history", headers=alice["headers"]).get_json()["items"]
    assert lines[0]["type"] == "refund" and lines[0]["order"]["status"] == "expired"
    assert "expired" in lines[0]["text_en"]
