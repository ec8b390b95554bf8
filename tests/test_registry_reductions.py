"""The registry, part two, over HTTP on the real database: issuance into serial blocks,
agreement transfers that split blocks, uses (retirement, offset, cancellation,
donation), two uses racing for the same grams, the database refusing overlapping or
moved-after-retirement blocks, open CSV disclosure, and the reconciliation report ok
after every move."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import text

from tests.helpers import load_catalogue, staff_headers
from tests.mall_helpers import assert_reconciled, race
from tests.registry_helpers import (
    API,
    COMMITMENT,
    act,
    apply,
    approve_fully,
    doc,
    methodology_body,
    organization,
    staff,
)

T = 1_000_000  # grams in a tonne


@pytest.fixture()
def registry(app, client):
    """A registered project with 5 t issued for 2025 to its owner; a finance officer."""
    admin_h = staff_headers(app, client)
    load_catalogue(client, admin_h)
    reviewer = staff(app, client, ["reviewer"])
    experts = [staff(app, client, ["expert"]) for _ in range(3)]
    owner = organization(client, admin_h, "project_owner", name="园区光伏开发有限公司")
    mid = apply(
        client,
        owner,
        methodology_body(
            "SIP-M-PV", kind="project", formula="pv_generation", parameters={"grid": 561.7}
        ),
    )["id"]
    approve_fully(app, client, reviewer, experts, mid)
    pid = apply(
        client,
        owner,
        {
            "type": "project",
            "code": "SIP-P-PV1",
            "title": "屋顶分布式光伏一期",
            "methodology": "SIP-M-PV",
            "methodology_version": "1.0",
            "assets": [{"kind": "gec_project", "id": "32059420250000001"}],
            "commitment": COMMITMENT,
            "sector": "energy",
            "location": "苏州工业园区",
        },
    )["id"]
    approve_fully(app, client, reviewer, experts, pid)
    issuance = _issue(client, owner, reviewer, "2025-01-01", "2025-12-31", 5 * T)
    project_id = issuance["result"]["id"]
    return {
        "admin": admin_h,
        "reviewer": reviewer,
        "owner": owner,
        "finance": staff(app, client, ["finance"]),
        "issuance": issuance,
        "project_id": project_id,
    }


def _issue(client, owner, reviewer, start, end, amount, expect=200):
    aid = apply(
        client,
        owner,
        {
            "type": "issuance",
            "project_code": "SIP-P-PV1",
            "period_start": start,
            "period_end": end,
            "amount_g": amount,
            "documents": [doc("核查报告")],
        },
    )["id"]
    act(client, reviewer["headers"], aid, "pre-review", {"decision": "accept"})
    return act(
        client,
        reviewer["headers"],
        aid,
        "decide",
        {"decision": "approve", "reasons": "核查通过。"},
        expect=expect,
    )


def _balance(client, org) -> dict:
    r = client.get(f"{API}/org/balance", headers=org["headers"])
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def _org_code(client, admin_h, org) -> str:
    r = client.get(f"{API}/admin/organizations?limit=500", headers=admin_h)
    return next(o["credit_code"] for o in r.get_json()["items"] if o["id"] == org["id"])


def test_an_issuance_lands_as_one_serial_block_and_is_published(app, client, registry):
    p = registry["project_id"]
    balance = _balance(client, registry["owner"])
    assert balance["reductions_g"] == 5 * T
    assert balance["blocks"] == [
        {
            "serial": f"CN-SIP-P{p}-2025-1-5000000",
            "vintage": 2025,
            "source": "project:SIP-P-PV1",
            "amount_g": 5 * T,
            "status": "held",
        }
    ]
    # issuance is yearly: an overlapping period is refused when applied for
    r = client.post(
        f"{API}/org/applications",
        json={
            "type": "issuance",
            "project_code": "SIP-P-PV1",
            "period_start": "2025-07-01",
            "period_end": "2026-06-30",
            "amount_g": T,
            "documents": [doc("x")],
        },
        headers=registry["owner"]["headers"],
    )
    assert r.status_code == 409 and r.get_json()["code"] == "issuance_period_overlap"
    # the next year continues the numbering
    _issue(client, registry["owner"], registry["reviewer"], "2026-01-01", "2026-06-30", 2 * T)
    serials = [b["serial"] for b in _balance(client, registry["owner"])["blocks"]]
    assert serials == [f"CN-SIP-P{p}-2025-1-5000000", f"CN-SIP-P{p}-2026-5000001-7000000"]
    rows = client.get(f"{API}/public/registry/issuances").get_json()["items"]
    assert sorted((r["vintageYear"], r["unitBlockStart"], r["unitCount"]) for r in rows) == [
        (2025, 1, 5 * T),
        (2026, 5 * T + 1, 2 * T),
    ]
    assert_reconciled(app)


@pytest.mark.sqlite
def test_a_transfer_split_three_ways(app, client, registry):
    owner, finance = registry["owner"], registry["finance"]["headers"]
    a = organization(client, registry["admin"], "other", name="买方甲")
    b = organization(client, registry["admin"], "other", name="买方乙")
    p = registry["project_id"]
    moves = []
    for buyer, amount in ((a, T), (b, 3 * T // 2)):
        r = client.post(
            f"{API}/org/transfers",
            json={
                "to_credit_code": _org_code(client, registry["admin"], buyer),
                "amount_g": amount,
            },
            headers=owner["headers"] | {"Idempotency-Key": f"t-{amount}"},
        )
        assert r.status_code == 201, r.get_json()
        assert r.get_json()["status"] == "proposed"
        moves.append((buyer, r.get_json()["id"]))
    # reserved at once: the owner's held grams went down, its reserved grams up
    mid = _balance(client, owner)
    assert (mid["reductions_g"], mid["reserved_g"]) == (5 * T - 5 * T // 2, 5 * T // 2)
    for buyer, tid in moves:
        r = client.post(f"{API}/org/transfers/{tid}/accept", headers=buyer["headers"])
        assert r.status_code == 200 and r.get_json()["status"] == "accepted"
        r = client.post(f"{API}/admin/transfers/{tid}/execute", headers=finance)
        assert r.status_code == 200, r.get_json()
        assert r.get_json()["status"] == "executed"
    # the owner keeps the head, each buyer took a tail
    assert [x["serial"] for x in _balance(client, owner)["blocks"]] == [
        f"CN-SIP-P{p}-2025-1-2500000"
    ]
    assert [x["serial"] for x in _balance(client, a)["blocks"]] == [
        f"CN-SIP-P{p}-2025-4000001-5000000"
    ]
    assert [x["serial"] for x in _balance(client, b)["blocks"]] == [
        f"CN-SIP-P{p}-2025-2500001-4000000"
    ]
    public = client.get(f"{API}/public/registry/transfers").get_json()["items"]
    assert sorted(t["unitCount"] for t in public) == [T, 3 * T // 2]
    assert "price" not in str(public).lower()
    assert_reconciled(app)


def test_a_cancelled_transfer_gives_the_grams_back(app, client, registry):
    owner = registry["owner"]
    buyer = organization(client, registry["admin"], "other")
    r = client.post(
        f"{API}/org/transfers",
        json={"to_credit_code": _org_code(client, registry["admin"], buyer), "amount_g": 2 * T},
        headers=owner["headers"],
    )
    tid = r.get_json()["id"]
    r = client.post(f"{API}/org/transfers/{tid}/cancel", headers=buyer["headers"])
    assert r.status_code == 200 and r.get_json()["status"] == "cancelled"
    r = client.post(f"{API}/admin/transfers/{tid}/execute", headers=registry["finance"]["headers"])
    assert r.status_code == 409 and r.get_json()["code"] == "transfer_state"
    after = _balance(client, owner)
    assert (after["reductions_g"], after["reserved_g"]) == (5 * T, 0)
    assert {x["status"] for x in after["blocks"]} == {"held"}
    assert sum(x["amount_g"] for x in after["blocks"]) == 5 * T
    # a stranger cannot see or cancel it
    stranger = organization(client, registry["admin"], "other")
    assert client.get(f"{API}/org/transfers/{tid}", headers=stranger["headers"]).status_code == 404
    assert_reconciled(app)


def _use(client, org, body, expect=201, key=None):
    headers = org["headers"] | ({"Idempotency-Key": key} if key else {})
    r = client.post(f"{API}/org/uses", json=body, headers=headers)
    assert r.status_code == expect, r.get_json()
    return r.get_json()


@pytest.mark.sqlite
def test_retirement_cancellation_and_donation(app, client, registry):
    owner, finance = registry["owner"], registry["finance"]["headers"]
    charity = organization(client, registry["admin"], "other", name="绿色公益基金会")
    retire = _use(
        client,
        owner,
        {
            "purpose": "retirement",
            "amount_g": T,
            "beneficiary": "园区光伏开发有限公司 ",
            "reason": "2025年度运营碳中和",
        },
    )
    cancel = _use(
        client,
        owner,
        {
            "purpose": "cancellation",
            "amount_g": T // 2,
            "beneficiary": "公众",
            "reason": "自愿注销",
        },
    )
    donate = _use(
        client,
        owner,
        {
            "purpose": "donation",
            "amount_g": 2 * T,
            "beneficiary": "绿色公益基金会",
            "reason": "捐赠",
            "recipient_credit_code": _org_code(client, registry["admin"], charity),
        },
    )
    assert {u["status"] for u in (retire, cancel, donate)} == {"pending"}
    assert _balance(client, owner)["reserved_g"] == 3 * T + T // 2
    for use in (retire, cancel, donate):
        r = client.post(f"{API}/admin/uses/{use['id']}/approve", json={}, headers=finance)
        assert r.status_code == 200, r.get_json()
        assert r.get_json()["status"] == "approved"
    again = client.post(f"{API}/admin/uses/{retire['id']}/approve", json={}, headers=finance)
    assert again.status_code == 409 and again.get_json()["code"] == "use_decided"
    assert _balance(client, owner)["reductions_g"] == 5 * T - 3 * T - T // 2
    assert sum(b["amount_g"] for b in _balance(client, charity)["blocks"]) == 2 * T
    units = client.get(f"{API}/public/registry/units?limit=500").get_json()["items"]
    by_status = {}
    for unit in units:
        by_status[unit["unitStatus"]] = by_status.get(unit["unitStatus"], 0) + unit["unitCount"]
    assert by_status == {"Held": 5 * T - T - T // 2, "Retired": T, "Cancelled": T // 2}
    uses = client.get(f"{API}/public/registry/uses").get_json()["items"]
    assert {u["retirementBeneficiary"] for u in uses} >= {"园区光伏开发有限公司"}
    totals = client.get(f"{API}/public/registry/totals").get_json()
    assert (totals["retired_g"], totals["cancelled_g"], totals["donated_g"]) == (T, T // 2, 2 * T)
    assert_reconciled(app)


def test_an_offset_over_its_emissions_is_refused_and_reserves_nothing(app, client, registry):
    owner = registry["owner"]
    r = client.post(
        f"{API}/org/uses",
        json={
            "purpose": "offset",
            "amount_g": 2 * T,
            "beneficiary": "2026园区低碳论坛",
            "reason": "会议碳中和",
            "event": {"name": "2026园区低碳论坛", "date": "2026-05-20", "emissions_g": T},
        },
        headers=owner["headers"],
    )
    assert r.status_code == 422 and r.get_json()["code"] == "offset_exceeds_emissions"
    assert _balance(client, owner)["reserved_g"] == 0
    ok = _use(
        client,
        owner,
        {
            "purpose": "offset",
            "amount_g": T,
            "beneficiary": "2026园区低碳论坛",
            "reason": "会议碳中和",
            "event": {"name": "2026园区低碳论坛", "date": "2026-05-20", "emissions_g": T},
        },
    )
    assert ok["event"]["date"] == "2026-05-20"
    rejected = client.post(
        f"{API}/admin/uses/{ok['id']}/reject",
        json={"reasons": "材料不全"},
        headers=registry["finance"]["headers"],
    )
    assert rejected.status_code == 200 and rejected.get_json()["status"] == "rejected"
    assert _balance(client, owner)["reductions_g"] == 5 * T
    assert_reconciled(app)


def test_two_uses_racing_for_the_same_grams_one_wins(app, client, registry):
    owner = registry["owner"]
    body = {"purpose": "retirement", "amount_g": 3 * T, "beneficiary": "x", "reason": "y"}

    def use(key):
        def call(c):
            r = c.post(
                f"{API}/org/uses", json=body, headers=owner["headers"] | {"Idempotency-Key": key}
            )
            return r.status_code, r.get_json().get("code")

        return call

    results = race(app, [use("a"), use("b")])
    assert sorted(s for s, _ in results) == [201, 409]
    assert [c for s, c in results if s == 409][0] in ("insufficient_reductions", "retry")
    assert _balance(client, owner)["reserved_g"] == 3 * T
    assert_reconciled(app)


def test_reserved_grams_cannot_be_spent_twice(client, registry):
    owner = registry["owner"]
    buyer = organization(client, registry["admin"], "other")
    r = client.post(
        f"{API}/org/transfers",
        json={"to_credit_code": _org_code(client, registry["admin"], buyer), "amount_g": 4 * T},
        headers=owner["headers"],
    )
    assert r.status_code == 201
    r = client.post(
        f"{API}/org/uses",
        json={"purpose": "retirement", "amount_g": 2 * T, "beneficiary": "x", "reason": "y"},
        headers=owner["headers"],
    )
    assert r.status_code == 409 and r.get_json()["code"] == "insufficient_reductions"


def test_only_finance_executes_and_approves(client, registry):
    owner = registry["owner"]
    use = _use(
        client, owner, {"purpose": "retirement", "amount_g": 10, "beneficiary": "b", "reason": "r"}
    )
    for who in (registry["admin"], registry["reviewer"]["headers"], owner["headers"]):
        r = client.post(f"{API}/admin/uses/{use['id']}/approve", json={}, headers=who)
        assert r.status_code == 403


def test_the_database_refuses_overlapping_and_moved_retired_blocks(app, client, registry):
    from sqlalchemy.exc import DBAPIError

    from backend.db import db

    owner = registry["owner"]
    use = _use(
        client, owner, {"purpose": "retirement", "amount_g": T, "beneficiary": "b", "reason": "r"}
    )
    client.post(
        f"{API}/admin/uses/{use['id']}/approve", json={}, headers=registry["finance"]["headers"]
    )
    p = registry["project_id"]
    with app.app_context():
        account = db.session.execute(
            text("SELECT account_id FROM serial_blocks WHERE status = 'held' LIMIT 1")
        ).scalar()
        statements = [
            # a careless script inserts a block over serials that exist
            "INSERT INTO serial_blocks (object_type, object_id, vintage, start_serial, end_serial,"
            " account_id, status, origin_type, origin_id, created_at, updated_at) VALUES"
            f" ('P', {p}, 2025, 4500000, 4600000, {account}, 'held', 'issuance', 1, now(), now())",
            # moves a retired block back to an account
            f"UPDATE serial_blocks SET status = 'held', account_id = {account}"
            " WHERE status = 'retired'",
            # deletes a block
            "DELETE FROM serial_blocks WHERE status = 'held'",
            # stretches a block over its neighbour's serials
            "UPDATE serial_blocks SET end_serial = end_serial + 10 WHERE status = 'held'",
        ]
        for statement in statements:
            with pytest.raises(DBAPIError):
                db.session.execute(text(statement))
                db.session.flush()
            db.session.rollback()
    assert_reconciled(app)


def test_csv_exports_parse_with_the_documented_columns(app, client, registry):
    from backend.reductions.disclosure import LISTS

    spec = client.get("/api/openapi.json").get_json()
    for name, (row_schema, _) in LISTS.items():
        r = client.get(f"{API}/public/registry/{name}?format=csv")
        assert r.status_code == 200, name
        assert r.mimetype == "text/csv"
        rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
        documented = list(row_schema._declared_fields)
        header = next(csv.reader(io.StringIO(r.get_data(as_text=True))))
        assert header == documented, name
        page = client.get(f"{API}/public/registry/{name}").get_json()
        assert len(page["items"]) == len(rows) or page["next_cursor"], name
        assert f"/api/v1/public/registry/{name}" in spec["paths"]
    issued = list(
        csv.DictReader(
            io.StringIO(client.get(f"{API}/public/registry/issuances?format=csv").get_data(True))
        )
    )
    assert [(r["vintageYear"], r["unitCount"]) for r in issued] == [("2025", str(5 * T))]
    everything = "".join(
        client.get(f"{API}/public/registry/{n}?format=csv").get_data(True) for n in LISTS
    )
    assert "org-password" not in everything and "phone" not in everything.lower()


@pytest.mark.sqlite
def test_a_retirement_certificate_anyone_can_verify(app, client, registry):
    import base64
    import json

    import pypdfium2
    import rfc8785
    import zxingcpp
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    owner = registry["owner"]
    use = _use(
        client,
        owner,
        {
            "purpose": "retirement",
            "amount_g": 1_234_567,
            "beneficiary": "园区光伏开发有限公司",
            "reason": "2025年度运营碳中和",
        },
    )
    r = client.post(
        f"{API}/admin/uses/{use['id']}/approve", json={}, headers=registry["finance"]["headers"]
    )
    number = r.get_json()["certificate_number"]
    assert number.startswith("SIP-C-")
    cert = client.get(f"{API}/public/certificates/{number}").get_json()
    assert (cert["amount_g"], cert["amount_tco2e"]) == (1_234_567, "1.234567")
    assert cert["owner"]["name"] == "园区光伏开发有限公司"
    assert cert["verify_url"].endswith(f"/verify/{number}")
    assert all(s["ok"] and s["now"] == ["retired"] for s in cert["state"])
    # the signature checks with the published key, by anyone's standard tools
    keys = {k["kid"]: k for k in client.get(f"{API}/public/keys").get_json()["keys"]}
    doc = cert["document"]
    sig = doc["signatures"][0]
    x = keys[sig["key_id"]]["x"]
    public = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(x + "=" * (-len(x) % 4)))
    value = base64.urlsafe_b64decode(sig["value"] + "=" * (-len(sig["value"]) % 4))
    public.verify(value, rfc8785.dumps(doc["certificate"]))  # raises if it does not hold
    # one byte edited: refused
    raw = json.dumps(doc["certificate"], ensure_ascii=False)
    tampered = raw.replace("1234567", "1234568", 1)
    assert tampered != raw
    r = client.post(
        f"{API}/public/certificates/check",
        json={"document": {"certificate": json.loads(tampered), "signatures": doc["signatures"]}},
    )
    assert r.get_json()["signature_valid"] is False
    r = client.post(f"{API}/public/certificates/check", json={"document": doc})
    assert r.get_json() | {} == {
        "signature_valid": True,
        "signature_reason": "ok",
        "key_id": sig["key_id"],
        "issued_here": True,
    }
    # the PDF, rendered to an image, carries a QR code of the verify page
    pdf = client.get(f"{API}/public/certificates/{number}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    page = pypdfium2.PdfDocument(pdf.get_data())[0]
    image = page.render(scale=3).to_pil()
    decoded = [b.text for b in zxingcpp.read_barcodes(image)]
    assert decoded == [cert["verify_url"]]
    # the verify page says so, and lists the serials as retired
    html = client.get(f"/verify/{number}")
    assert html.status_code == 200
    text = html.get_data(as_text=True)
    assert "签名有效" in text and number in text and "retired" in text
    assert "default-src 'self'" in html.headers["Content-Security-Policy"]
    assert client.get("/verify/SIP-C-2026-999999").status_code == 404
    # the issuance got its certificate too
    issued = client.get(f"{API}/public/registry/issuances").get_json()["items"][0]
    assert client.get(f"{API}/public/certificates/{issued['certificateNumber']}").status_code == 200
    assert_reconciled(app)


def test_freezing_an_owner_returns_its_reserved_grams_and_stops_its_moves(app, client, registry):
    owner = registry["owner"]
    buyer = organization(client, registry["admin"], "other")
    seller = organization(client, registry["admin"], "other")
    r = client.post(
        f"{API}/org/transfers",
        json={"to_credit_code": _org_code(client, registry["admin"], buyer), "amount_g": T},
        headers=owner["headers"],
    )
    tid = r.get_json()["id"]
    use = _use(
        client, owner, {"purpose": "retirement", "amount_g": T, "beneficiary": "b", "reason": "r"}
    )
    # a transfer TO the owner, accepted before the freeze, still lands afterwards
    r = client.post(
        f"{API}/org/transfers",
        json={"to_credit_code": _org_code(client, registry["admin"], owner), "amount_g": 5},
        headers=seller["headers"],
    )
    assert r.status_code == 409  # the seller has nothing: refused, nothing reserved
    r = client.post(
        f"{API}/admin/organizations/{owner['id']}/freeze",
        json={"reason": "虚报减排量"},
        headers=registry["admin"],
    )
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["transfers_cancelled"] == [tid]
    assert r.get_json()["uses_rejected"] == [use["id"]]
    # its logins are out at once
    r = client.get(f"{API}/org/balance", headers=owner["headers"])
    assert r.status_code == 403 and r.get_json()["code"] == "organization_frozen"
    public = client.get(f"{API}/public/sanctions").get_json()["items"]
    assert [s["reason"] for s in public] == ["虚报减排量"]
    assert_reconciled(app)
