"""The flash-sale path against the real PostgreSQL: a sold-out item is refused on a
plain read, without queueing for the item's row lock; the Idempotency-Key claim lives in
the request's own transaction, so a duplicate sent while the first is in flight waits for
it and then replays its answer (or, when the first failed, is served itself)."""

from __future__ import annotations

import json
import threading
from hashlib import sha256

import psycopg
import pytest

from tests.helpers import load_catalogue, staff_headers
from tests.mall_helpers import (
    assert_reconciled,
    fast_residents,
    give_points_many,
    make_item,
    make_merchant,
    points_of,
)

API = "/api/v1"


@pytest.fixture()
def shop(app, client):
    staff = staff_headers(app, client)
    load_catalogue(client, staff)
    return make_merchant(client, staff, "Flash Shop")


def _conninfo(app) -> str:
    return app.config["SQLALCHEMY_DATABASE_URI"].replace("postgresql+psycopg://", "postgresql://")


def _in_thread(fn):
    out: dict = {}

    def run():
        try:
            out["result"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised by the caller
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def test_a_sold_out_item_is_refused_without_waiting_for_its_row_lock(app, client, shop):
    first, second = fast_residents(app, 2)
    give_points_many(app, [first["id"], second["id"]], 100)
    item = make_item(client, shop, points_price=10, stock=1)
    r = client.post(f"{API}/mall/orders", json={"item_id": item["id"]}, headers=first["headers"])
    assert r.status_code == 201
    with psycopg.connect(_conninfo(app)) as holder:
        # another transaction holds the item's row (a restock being typed, an order)
        holder.execute("SELECT id FROM items WHERE id = %s FOR UPDATE", (item["id"],))
        thread, out = _in_thread(
            lambda: app.test_client().post(
                f"{API}/mall/orders", json={"item_id": item["id"]}, headers=second["headers"]
            )
        )
        thread.join(timeout=10)
        answered_under_the_lock = not thread.is_alive()
        holder.rollback()
    thread.join(timeout=30)
    assert answered_under_the_lock, "the refusal queued for the item's row lock"
    assert "error" not in out, out
    assert out["result"].status_code == 409
    assert out["result"].get_json()["code"] == "out_of_stock"
    assert points_of(app, second["id"]) == 100


def _claim_elsewhere(app, principal: str, key: str, payload: bytes) -> psycopg.Connection:
    """A transaction of another request that claimed the key and is still working."""
    digest = sha256(b"POST" + f"{API}/mall/orders".encode() + payload).hexdigest()
    conn = psycopg.connect(_conninfo(app))
    conn.execute(
        "INSERT INTO idempotency_keys (principal, key, request_hash, state, claim_token,"
        " created_at, updated_at) VALUES (%s, %s, %s, 'in_flight', 'other', now(), now())",
        (principal, key, digest),
    )
    return conn


@pytest.mark.parametrize("first_outcome", ["done", "failed"])
def test_a_duplicate_in_flight_waits_for_the_first_then_replays_or_is_served(
    app, client, shop, first_outcome
):
    (resident,) = fast_residents(app, 1)
    give_points_many(app, [resident["id"]], 100)
    item = make_item(client, shop, points_price=10)
    payload = json.dumps({"item_id": item["id"]}).encode()
    headers = {
        **resident["headers"],
        "Idempotency-Key": "flash-dup",
        "Content-Type": "application/json",
    }
    first = _claim_elsewhere(app, f"resident:{resident['id']}", "flash-dup", payload)
    try:
        thread, out = _in_thread(
            lambda: app.test_client().post(f"{API}/mall/orders", data=payload, headers=headers)
        )
        thread.join(timeout=2)
        assert thread.is_alive(), out  # it waits on the first request's claim
        if first_outcome == "done":
            answer = {"id": 424242, "status": "pending", "item_id": item["id"]}
            first.execute(
                "UPDATE idempotency_keys SET state = 'done', status_code = 201,"
                " response_body = %s, claim_token = NULL WHERE key = 'flash-dup'",
                (json.dumps(answer),),
            )
            first.commit()
        else:
            first.rollback()
        thread.join(timeout=30)
        assert not thread.is_alive()
    finally:
        first.close()
    assert "error" not in out, out
    got = out["result"]
    assert got.status_code == 201, got.get_json()
    if first_outcome == "done":  # the first answer again, nothing moved
        assert got.headers["Idempotent-Replayed"] == "true"
        assert got.get_json() == answer
        assert points_of(app, resident["id"]) == 100
    else:  # the first failed: this one was served
        assert "Idempotent-Replayed" not in got.headers
        assert got.get_json()["status"] == "pending"
        assert points_of(app, resident["id"]) == 90
        replay = client.post(f"{API}/mall/orders", data=payload, headers=headers)
        assert replay.headers["Idempotent-Replayed"] == "true"
        assert replay.get_json() == got.get_json()
    assert_reconciled(app)
