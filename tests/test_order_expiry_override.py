"""Staff (`admin`) may bring a pending order's expiry forward: it then expires like any
other order (points and stock back), at once when the time has come. Never later, never
a closed order, never another role; audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests import helpers
from tests.mall_helpers import assert_reconciled, give_points, make_item, make_merchant

API = "/api/v1"


def _expiry(client, headers, order_id, when):
    return client.post(
        f"{API}/admin/orders/{order_id}/expiry",
        json={"expires_at": when.isoformat()},
        headers=headers,
    )


@pytest.mark.sqlite
def test_an_admin_brings_an_order_expiry_forward(app, client):
    admin = helpers.staff_headers(app, client)
    helpers.load_catalogue(client, admin)
    shop = make_merchant(client, admin)
    item = make_item(client, shop, title="Tea", points_price=100, stock=3)
    alice = helpers.register_resident(client)
    give_points(app, alice["id"], 500)
    r = client.post(f"{API}/mall/orders", json={"item_id": item["id"]}, headers=alice["headers"])
    assert r.status_code == 201, r.get_json()
    order = r.get_json()
    expires = datetime.fromisoformat(order["expires_at"])

    later = _expiry(client, admin, order["id"], expires + timedelta(days=1))
    assert later.status_code == 422 and "expires_at" in later.get_json()["errors"]
    finance = helpers.role_headers(app, client, "finance")
    refused = _expiry(client, finance, order["id"], datetime.now(UTC))
    assert (refused.status_code, refused.get_json()["roles"]) == (403, ["admin"])

    soon = datetime.now(UTC) + timedelta(hours=1)
    r = _expiry(client, admin, order["id"], soon)
    assert r.status_code == 200, r.get_json()
    assert abs(datetime.fromisoformat(r.get_json()["expires_at"]) - soon) < timedelta(seconds=1)
    assert "redemption_code" not in r.get_json()
    mine = client.get(f"{API}/mall/orders/{order['id']}", headers=alice["headers"]).get_json()
    assert mine["status"] == "pending"

    r = _expiry(client, admin, order["id"], datetime.now(UTC) - timedelta(seconds=1))
    assert r.status_code == 200, r.get_json()
    mine = client.get(f"{API}/mall/orders/{order['id']}", headers=alice["headers"]).get_json()
    assert mine["status"] == "expired"
    me = client.get(f"{API}/me", headers=alice["headers"]).get_json()
    assert me["points"] == 500
    assert client.get(f"{API}/mall/items/{item['id']}").get_json()["stock_left"] == 3
    again = _expiry(client, admin, order["id"], datetime.now(UTC) - timedelta(days=1))
    assert (again.status_code, again.get_json()["code"]) == (409, "order_expired")
    records = client.get(f"{API}/admin/audit?action=order.expiry", headers=admin).get_json()
    assert [r["object_id"] for r in records["items"]] == [str(order["id"])] * 2
    assert_reconciled(app)
