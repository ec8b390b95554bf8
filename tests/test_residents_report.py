"""The yearly carbon report: its numbers equal the ledger's; trips and kilometres by
mode; car-kilometres at the methodology's baseline; the rank band; the PNG decodes."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from tests.helpers import (
    bind,
    load_catalogue,
    operator_headers,
    register_resident,
    staff_headers,
    trip,
    upload,
)
from tests.mall_helpers import give_points, make_item, make_merchant
from tests.resident_helpers import Clock, accounts_opened_by, expire

API = "/api/v1"
SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture()
def world(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "POINTS_VALIDITY_MONTHS", 1)
    staff = staff_headers(app, client)
    load_catalogue(client, staff)
    metro = operator_headers(client, staff, "SIP-S-METRO")
    bus = operator_headers(client, staff, "SIP-S-BUS")
    people = {name: register_resident(client) for name in ("alice", "bob", "dave", "carol")}
    bind(client, metro, people["alice"]["headers"], "m-alice")
    bind(client, bus, people["alice"]["headers"], "b-alice")
    bind(client, metro, people["bob"]["headers"], "m-bob")
    bind(client, metro, people["dave"]["headers"], "m-dave")
    day = datetime.now(SH).replace(hour=9, minute=0, second=0, microsecond=0) - timedelta(days=1)
    clock = Clock(monkeypatch)
    year = day.year
    # points credited by hand in January, expired at the end of February
    clock.set(f"{year}-01-05 12:00")
    give_points(app, people["alice"]["id"], 30)
    accounts_opened_by(app, f"{year}-01-05 12:00")
    clock.set(f"{year}-03-01 00:10")
    assert expire(app, f"{year}-03-01 00:10")["points"] == 30
    clock.set((day + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M"))
    upload(
        client,
        metro,
        [
            trip("a1", "m-alice", 10, day),
            trip("a2", "m-alice", 12.5, day + timedelta(hours=1)),
            trip("a3", "m-alice", 10, day + timedelta(hours=2)),
            trip("b1", "m-bob", 4, day),
            trip("d1", "m-dave", 2, day),
        ],
    )
    upload(
        client,
        bus,
        [
            trip("ab1", "b-alice", 5, day + timedelta(hours=3), kind="bus"),
            trip("ab2", "b-alice", 6, day + timedelta(hours=4), kind="bus"),
        ],
    )
    shop = make_merchant(client, staff)
    item = make_item(client, shop, points_price=100)
    h = people["alice"]["headers"]
    kept = client.post(f"{API}/mall/orders", json={"item_id": item["id"]}, headers=h)
    dropped = client.post(f"{API}/mall/orders", json={"item_id": item["id"]}, headers=h)
    assert kept.status_code == dropped.status_code == 201
    r = client.post(f"{API}/mall/orders/{dropped.get_json()['id']}/cancel", headers=h)
    assert r.status_code == 200
    return {"people": people, "year": year, "day": day}


def _ledger_figures(app, user_id: int) -> dict:
    """The figures straight from the ledger's postings (every posting of this test is
    in the year)."""
    from sqlalchemy import func, select

    from backend.db import db
    from backend.ledger import Account, JournalEntry, Posting

    def total(unit: str, kinds: tuple[str, ...], positive: bool | None = None) -> int:
        stmt = (
            select(func.coalesce(func.sum(Posting.amount), 0))
            .join(JournalEntry, JournalEntry.id == Posting.entry_id)
            .join(Account, Account.id == Posting.account_id)
            .where(
                Account.owner_id == user_id,
                Account.unit == unit,
                Account.kind.like("resident_%"),
                JournalEntry.kind.in_(kinds),
            )
        )
        if positive:
            stmt = stmt.where(Posting.amount > 0)
        return int(db.session.execute(stmt).scalar_one())

    with app.app_context():
        out = {
            "credited_g": total("g", ("accrual",), positive=True),
            "earned": total("pt", ("conversion",)),
            "spent": -total("pt", ("order_hold", "order_refund")),
            "expired": -total("pt", ("points_expiry",)),
            "balance_pt": int(
                db.session.execute(
                    select(Account.balance).where(
                        Account.owner_id == user_id, Account.kind == "resident_points"
                    )
                ).scalar_one()
            ),
        }
        db.session.rollback()
        return out


@pytest.mark.sqlite
def test_the_reports_numbers_equal_the_ledgers(app, client, world):
    alice = world["people"]["alice"]
    r = client.get(f"{API}/me/report?year={world['year']}", headers=alice["headers"])
    assert r.status_code == 200, r.get_json()
    report = r.get_json()
    ledger = _ledger_figures(app, alice["id"])
    reductions, points = report["reductions"], report["points"]
    assert reductions["credited_g"] == ledger["credited_g"]
    assert sum(s["credited_g"] for s in reductions["by_scenario"]) == ledger["credited_g"]
    assert sum(m["credited_g"] for m in reductions["by_month"]) == ledger["credited_g"]
    assert len(reductions["by_month"]) == 12
    assert (points["earned"], points["spent"], points["expired"]) == (
        ledger["earned"],
        ledger["spent"],
        ledger["expired"],
    )
    assert points["balance_end"] == ledger["balance_pt"]
    # the figures themselves: 467 + 583 + 467 g by metro (cap 3000), 134 + 161 g by bus,
    # and the 30 points credited by hand in January (no scenario)
    assert {s["scenario_code"]: s["credited_g"] for s in reductions["by_scenario"]} == {
        "SIP-S-METRO": 1517,
        "SIP-S-BUS": 295,
        None: 30,
    }
    assert (points["earned"], points["spent"], points["expired"]) == (30 + 1812, 100, 30)
    january = reductions["by_month"][0]
    assert january == {"month": f"{world['year']}-01", "credited_g": 30}
    modes = {m["activity_type"]: m for m in report["trips"]["by_mode"]}
    assert report["trips"]["count"] == 5
    assert (modes["metro"]["trips"], modes["metro"]["km"], modes["metro"]["km_estimated"]) == (
        3,
        32.5,
        0.0,
    )
    assert (modes["bus"]["trips"], modes["bus"]["km"], modes["bus"]["name_zh"]) == (2, 11.0, "公交")
    (transit,) = report["comparisons"]
    assert (transit["methodology"], transit["factor"], transit["factor_g_per_km"]) == (
        "SIP-M-TRANSIT",
        "baseline_g_per_km",
        60.0,
    )
    assert transit["credited_g"] == 1812 and transit["car_km"] == round(1812 / 60, 1)
    assert "60.0" in transit["text_en"] and transit["source"]
    # the rank band among the three residents credited this year, and no one else's data
    assert report["rank"]["band"] == "top_50"
    bob = client.get(
        f"{API}/me/report?year={world['year']}", headers=world["people"]["bob"]["headers"]
    ).get_json()
    assert bob["rank"]["band"] == "bottom_50"
    carol = client.get(
        f"{API}/me/report?year={world['year']}", headers=world["people"]["carol"]["headers"]
    ).get_json()
    assert carol["rank"]["band"] == "not_ranked" and carol["reductions"]["credited_g"] == 0
    assert "m-alice" not in str(bob) and str(alice["id"]) not in str(bob["rank"])


def test_the_erased_trips_kilometres_are_estimated_from_their_grams(app, client, world):
    alice = world["people"]["alice"]
    assert client.post(f"{API}/me/activities/erasure", headers=alice["headers"]).status_code == 200
    report = client.get(
        f"{API}/me/report?year={world['year']}", headers=alice["headers"]
    ).get_json()
    metro = {m["activity_type"]: m for m in report["trips"]["by_mode"]}["metro"]
    # 1517 g at 46.7 g per km saved: 32.48 km, against 32.5 measured
    assert metro["km_estimated"] == metro["km"] == round(1517 / 46.7, 1)


def test_the_report_png_decodes_as_an_image(app, client, world):
    alice = world["people"]["alice"]
    r = client.get(f"{API}/me/report.png?year={world['year']}", headers=alice["headers"])
    assert r.status_code == 200 and r.mimetype == "image/png"
    image = Image.open(io.BytesIO(r.data))
    image.load()
    assert (image.format, image.size) == ("PNG", (900, 1200))
    # not a blank page: the green of the bars and the title is drawn
    colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
    assert any(rgb == (0x2E, 0x7D, 0x32) for _, rgb in colours)
    assert client.get(f"{API}/me/report?year=1999", headers=alice["headers"]).status_code == 422
    assert client.get(f"{API}/me/report.png", headers=alice["headers"]).status_code == 422
