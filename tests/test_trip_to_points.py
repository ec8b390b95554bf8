"""From trip to points over HTTP: consent, uploads with every result, accrual with the
daily cap, auto-convert and manual conversion, withdrawal, erasure, overlap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from tests.helpers import (
    assert_books_balanced,
    bind,
    load_catalogue,
    operator_headers,
    register_resident,
    staff_headers,
    trip,
    upload,
)

SH = ZoneInfo("Asia/Shanghai")


def _today_9am() -> datetime:
    now = datetime.now(SH)
    start = now.replace(hour=9, minute=0, second=0, microsecond=0)
    if start > now - timedelta(hours=1):
        start -= timedelta(days=1)
    return start


@pytest.fixture()
def world(app, client):
    staff_h = staff_headers(app, client)
    load_catalogue(client, staff_h)
    op = operator_headers(client, staff_h, "SIP-S-METRO")
    alice = register_resident(client)
    bind(client, op, alice["headers"], "metro-alice")
    return {"staff": staff_h, "op": op, "alice": alice}


def _me(client, resident):
    r = client.get("/api/v1/me", headers=resident["headers"])
    assert r.status_code == 200
    return r.get_json()


@pytest.mark.sqlite
def test_mixed_batch_results_and_accrual(app, client, world):
    op, alice = world["op"], world["alice"]
    bob = register_resident(client)
    bind(client, op, bob["headers"], "metro-bob")
    r = client.delete(f"/api/v1/me/consents/{_consent_id(client, bob)}", headers=bob["headers"])
    assert r.status_code == 204
    t0 = _today_9am()
    records = [
        trip("good-1", "metro-alice", 10, t0),  # 467 g
        trip("good-1", "metro-alice", 10, t0),  # repeated inside the batch
        trip("stranger", "never-bound", 10, t0),
        trip("bob-1", "metro-bob", 10, t0),
        trip("fast", "metro-alice", 200, t0 + timedelta(hours=2)),  # 200 km in 30 min
        trip("old", "metro-alice", 5, t0 - timedelta(days=40)),
        trip("bus", "metro-alice", 5, t0, kind="bus"),
        trip("future", "metro-alice", 5, datetime.now(UTC) + timedelta(hours=3)),
        {"user_ref": "metro-alice"},
        trip("good-2", "metro-alice", 5, t0 + timedelta(hours=3)),  # 233 g
    ]
    r = upload(client, op, records)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    res = [
        (x["external_id"], x["status"], x.get("reason"), x.get("reduction_g"))
        for x in body["results"]
    ]
    assert res == [
        ("good-1", "accepted", None, 467),
        ("good-1", "duplicate", None, 467),
        ("stranger", "rejected", "unknown_user", None),
        ("bob-1", "rejected", "no_consent", None),
        ("fast", "rejected", "implausible", None),
        ("old", "rejected", "too_old", None),
        ("bus", "rejected", "wrong_activity_type", None),
        ("future", "rejected", "invalid", None),
        (None, "rejected", "invalid", None),
        ("good-2", "accepted", None, 233),
    ]
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (2, 1, 7)

    # accrual ran in-process after the upload committed; auto-convert is on by default
    me = _me(client, alice)
    assert (me["reductions_g"], me["points"]) == (0, 700)
    assert me["phone"].count("*") == 4 and alice["phone"] not in str(me)

    # nothing of people without consent was stored
    from backend.activity.models import Activity

    with app.app_context():
        from backend.db import db

        refs = db.session.execute(select(Activity.external_id)).scalars().all()
        assert sorted(refs) == ["good-1", "good-2"]

    # re-upload: every record answers as the first time, nothing moves
    r2 = upload(client, op, records).get_json()
    assert [x["status"] for x in r2["results"]][:2] == ["duplicate", "duplicate"]
    assert r2["results"][9] == {"external_id": "good-2", "status": "duplicate", "reduction_g": 233}
    assert r2["accepted"] == 0
    assert _me(client, alice)["points"] == 700

    acts = client.get("/api/v1/me/activities", headers=alice["headers"]).get_json()["items"]
    assert sorted((a["reduction_g"], a["credited_g"]) for a in acts) == [(233, 233), (467, 467)]
    assert {a["methodology"] + "@" + a["methodology_version"] for a in acts} == {
        "SIP-M-TRANSIT@1.0"
    }
    assert all(a["started_at"].endswith("+08:00") for a in acts)
    assert_books_balanced(app)


def _consent_id(client, resident) -> int:
    items = client.get("/api/v1/me/consents", headers=resident["headers"]).get_json()["items"]
    return items[0]["id"]


@pytest.mark.sqlite
def test_daily_cap_cuts_and_credited_adds_up(app, client, world):
    op, alice = world["op"], world["alice"]
    t0 = _today_9am() - timedelta(days=1)
    # 8 trips of 10 km = 8 x 467 g = 3736 g on one day; the metro cap is 3000 g
    records = [trip(f"c{i}", "metro-alice", 10, t0 + timedelta(hours=i)) for i in range(8)]
    assert upload(client, op, records).get_json()["accepted"] == 8
    acts = client.get("/api/v1/me/activities", headers=alice["headers"]).get_json()["items"]
    credited = sorted((a["id"], a["credited_g"]) for a in acts)
    assert sum(c for _, c in credited) == 3000
    assert [c for _, c in credited] == [467] * 6 + [198, 0]
    # a later trip the same day gets nothing; one on the next day counts
    later = [
        trip("c-late", "metro-alice", 10, t0 + timedelta(hours=10)),
        trip("c-next", "metro-alice", 10, t0 + timedelta(days=1)),
    ]
    upload(client, op, later)
    me = _me(client, alice)
    assert me["points"] == 3000 + 467
    ledger = client.get("/api/v1/me/ledger?unit=pt", headers=alice["headers"]).get_json()
    assert [p["amount"] for p in ledger["items"]] == [467, 3000]
    assert ledger["items"][0]["balance_after"] == 3467
    assert_books_balanced(app)


@pytest.mark.sqlite
def test_manual_conversion_is_idempotent(app, client, world):
    op, alice = world["op"], world["alice"]
    r = client.patch("/api/v1/me", json={"auto_convert": False}, headers=alice["headers"])
    assert r.status_code == 200 and r.get_json()["auto_convert"] is False
    upload(client, op, [trip("m1", "metro-alice", 10, _today_9am())])
    assert (_me(client, alice)["reductions_g"], _me(client, alice)["points"]) == (467, 0)
    h = {**alice["headers"], "Idempotency-Key": "conv-1"}
    r1 = client.post("/api/v1/me/conversions", json={"reductions_g": 400}, headers=h)
    assert r1.status_code == 201
    assert r1.get_json()["reductions_g"] == 400 and r1.get_json()["points"] == 400
    r2 = client.post("/api/v1/me/conversions", json={"reductions_g": 400}, headers=h)
    assert r2.status_code == 201 and r2.get_json() == r1.get_json()
    r3 = client.post("/api/v1/me/conversions", json={"reductions_g": 50}, headers=h)
    assert r3.status_code == 422 and r3.get_json()["code"] == "idempotency_key_reused"
    r4 = client.post(
        "/api/v1/me/conversions",
        json={"reductions_g": 100},
        headers={**alice["headers"], "Idempotency-Key": "conv-2"},
    )
    assert r4.status_code == 409 and r4.get_json()["code"] == "insufficient_reductions"
    # the refused key is released: the same key works once there is enough
    r5 = client.post(
        "/api/v1/me/conversions",
        json={"reductions_g": 67},
        headers={**alice["headers"], "Idempotency-Key": "conv-2"},
    )
    assert r5.status_code == 201
    assert (_me(client, alice)["reductions_g"], _me(client, alice)["points"]) == (0, 467)
    for bad in ({"reductions_g": 0}, {"reductions_g": "5"}, {"reductions_g": 1.5}, {}):
        r = client.post("/api/v1/me/conversions", json=bad, headers=alice["headers"])
        assert r.status_code == 422, bad
    assert_books_balanced(app)


@pytest.mark.sqlite
def test_withdrawal_erasure_and_bind_tokens(app, client, world):
    op, alice = world["op"], world["alice"]
    upload(client, op, [trip("w1", "metro-alice", 4, _today_9am())])
    cid = _consent_id(client, alice)
    assert client.delete(f"/api/v1/me/consents/{cid}", headers=alice["headers"]).status_code == 204
    res = upload(client, op, [trip("w2", "metro-alice", 4, _today_9am())]).get_json()
    assert res["results"][0]["reason"] == "no_consent"
    consents = client.get("/api/v1/me/consents", headers=alice["headers"]).get_json()["items"]
    assert consents[0]["active"] is False and consents[0]["purposes"]

    r = client.post("/api/v1/me/activities/erasure", headers=alice["headers"])
    assert r.status_code == 200 and r.get_json()["erased"] == 1
    act = client.get("/api/v1/me/activities", headers=alice["headers"]).get_json()["items"][0]
    assert act["measures"] is None and act["erased"] is True
    # the times stay while another operator's record could still overlap them
    assert act["started_at"] is not None
    assert act["credited_g"] == 186  # the amount stays
    assert _me(client, alice)["points"] == 186

    # bind tokens: single use, unguessable, another resident can't reuse one
    eve = register_resident(client)
    tok = client.post(
        "/api/v1/operator/bind-tokens", json={"user_ref": "metro-eve"}, headers=op
    ).get_json()["bind_token"]
    assert len(tok) >= 32
    assert (
        client.post(
            "/api/v1/me/consents", json={"bind_token": tok}, headers=eve["headers"]
        ).status_code
        == 201
    )
    again = client.post("/api/v1/me/consents", json={"bind_token": tok}, headers=alice["headers"])
    assert again.status_code == 404 and again.get_json()["code"] == "bad_bind_token"
    bogus = client.post(
        "/api/v1/me/consents", json={"bind_token": "x" * 32}, headers=alice["headers"]
    )
    assert bogus.status_code == 404
    # another resident can't withdraw eve's consent
    eve_cid = _consent_id(client, eve)
    assert (
        client.delete(f"/api/v1/me/consents/{eve_cid}", headers=alice["headers"]).status_code == 404
    )
    assert_books_balanced(app)


def test_expired_bind_token(app, client, world):
    from backend.activity.models import BindToken
    from backend.db import db

    tok = client.post(
        "/api/v1/operator/bind-tokens", json={"user_ref": "late"}, headers=world["op"]
    ).get_json()["bind_token"]
    with app.app_context():
        db.session.execute(
            BindToken.__table__.update().values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        db.session.commit()
    r = client.post(
        "/api/v1/me/consents", json={"bind_token": tok}, headers=world["alice"]["headers"]
    )
    assert r.status_code == 404 and r.get_json()["code"] == "bad_bind_token"


def test_cross_operator_overlap_counts_once(app, client, world):
    staff_h, alice = world["staff"], world["alice"]
    bus_op = operator_headers(client, staff_h, "SIP-S-BUS")
    bind(client, bus_op, alice["headers"], "bus-alice")
    t0 = _today_9am()
    first = upload(client, world["op"], [trip("m", "metro-alice", 10, t0)]).get_json()
    assert first["results"][0]["reduction_g"] == 467
    res = upload(
        client,
        bus_op,
        [
            trip("b-overlap", "bus-alice", 10, t0 + timedelta(minutes=10), kind="bus"),
            trip("b-touching", "bus-alice", 5, t0 + timedelta(minutes=27), kind="bus"),
            trip("b-later", "bus-alice", 10, t0 + timedelta(hours=2), kind="bus"),
        ],
    ).get_json()
    by = {x["external_id"]: x for x in res["results"]}
    assert by["b-overlap"]["status"] == "accepted" and by["b-overlap"]["reduction_g"] == 0
    assert by["b-overlap"]["flags"] == ["overlap"]
    assert by["b-touching"]["reduction_g"] == 134  # 3 min overlap is tolerated
    assert by["b-later"]["reduction_g"] == 269
    assert _me(client, alice)["points"] == 467 + 134 + 269
    assert_books_balanced(app)


def test_operator_limits_and_isolation(app, client, world):
    op = world["op"]
    too_many = [{"external_id": str(i)} for i in range(10_001)]
    r = upload(client, op, too_many)
    assert r.status_code == 413 and r.get_json()["code"] == "too_many_records"
    for body in (b"{nope", b"[]", b'{"records": {}}', b'{"records": [], "x": 1}'):
        r = client.post(
            "/api/v1/operator/activities",
            data=body,
            headers={**op, "Content-Type": "application/json"},
        )
        assert 400 <= r.status_code < 500, body
    from backend.activity.models import UploadBatch
    from backend.db import db

    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(UploadBatch)) == 0
    # async: 202, then the batch reads back done (in-process jobs in this test app)
    r = upload(
        client,
        op,
        [trip("a1", "metro-alice", 3, _today_9am())],
        headers={**op, "Prefer": "respond-async"},
    )
    assert r.status_code == 202
    batch_id = r.get_json()["batch_id"]
    got = client.get(f"/api/v1/operator/batches/{batch_id}", headers=op).get_json()
    assert got["status"] == "done" and got["accepted"] == 1
    other = operator_headers(client, world["staff"], "SIP-S-BUS")
    assert client.get(f"/api/v1/operator/batches/{batch_id}", headers=other).status_code == 404
    # residents and staff can't upload
    assert upload(client, world["alice"]["headers"], []).status_code == 403
    assert_books_balanced(app)


def test_nul_bytes_and_absurd_amounts_are_rejected_not_500(app, client, world):
    op = world["op"]
    t0 = _today_9am()
    bad = [
        {**trip("nul\x00id", "metro-alice", 5, t0)},
        {**trip("nul-ref", "metro\x00alice", 5, t0)},
        {**trip("nul-type", "metro-alice", 5, t0), "activity_type": "me\x00tro"},
    ]
    r = upload(client, op, bad)
    assert r.status_code == 200
    assert [x["reason"] for x in r.get_json()["results"]] == [
        "invalid",
        "invalid",
        "wrong_activity_type",
    ]
    # a catalogue factor beyond any physical value is refused at load time
    import copy

    from tests.helpers import CATALOGUE

    doc = copy.deepcopy(CATALOGUE)
    doc["methodologies"][0]["version"] = "9.9"
    doc["methodologies"][0]["parameters"]["baseline_g_per_km"] = 1e308
    doc["scenarios"] = []
    r = client.post("/api/v1/admin/catalogue/import", json=doc, headers=world["staff"])
    assert r.status_code == 422
