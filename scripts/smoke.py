"""End-to-end smoke run against a running server (the README's, or the production shape
with a worker): a resident earns points from uploaded trips, orders, the merchant
redeems, an order is cancelled and one expires, the merchant settles, staff approve,
and the reconciliation report says ok. Prints each step; exits non-zero on a mismatch.

    python scripts/smoke.py --base http://127.0.0.1:5000 --staff admin \
        --staff-password admin-demo-pass --finance finance --finance-password finance-demo-pass

(`--staff` needs the role admin, `--finance` the role finance: no role does both.)

Start the server with ORDER_EXPIRY_SECONDS=20 to see an order expire within the run.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import requests

ROOT = Path(__file__).resolve().parent.parent
SH = ZoneInfo("Asia/Shanghai")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="http://127.0.0.1:5000")
    ap.add_argument("--staff", default="admin")
    ap.add_argument("--staff-password", default="admin-demo-pass")
    ap.add_argument("--finance", default="finance", help="a staff login with the finance role")
    ap.add_argument("--finance-password", default="finance-demo-pass")
    ap.add_argument("--wait", type=float, default=150, help="seconds to wait for jobs")
    a = ap.parse_args()
    api = a.base.rstrip("/") + "/api/v1"
    s = requests.Session()

    def call(method, path, expect, headers=None, **kw):
        r = s.request(method, api + path, headers=headers or {}, timeout=60, **kw)
        if r.status_code != expect:
            print(f"FAIL {method} {path}: {r.status_code} {r.text[:500]}")
            sys.exit(1)
        return r.json() if r.content and "json" in r.headers.get("content-type", "") else r

    def bearer(tok):
        return {"Authorization": f"Bearer {tok}"}

    def wait_for(what, fn, ok):
        deadline = time.monotonic() + a.wait
        while True:
            value = fn()
            if ok(value):
                return value
            if time.monotonic() > deadline:
                print(f"FAIL waiting for {what}: last {value}")
                sys.exit(1)
            time.sleep(2)

    staff = bearer(
        call("POST", "/auth/login", 200, json={"login": a.staff, "password": a.staff_password})[
            "access_token"
        ]
    )
    finance = bearer(
        call("POST", "/auth/login", 200, json={"login": a.finance, "password": a.finance_password})[
            "access_token"
        ]
    )
    catalogue = json.loads((ROOT / "config" / "catalogue.json").read_text(encoding="utf-8"))
    print("catalogue:", call("POST", "/admin/catalogue/import", 200, staff, json=catalogue))
    metro = next(x for x in catalogue["scenarios"] if x["code"] == "SIP-S-METRO")
    org = call(
        "GET", f"/admin/organizations?credit_code={metro['operator_credit_code']}", 200, staff
    )["items"][0]
    creds = call(
        "POST",
        "/admin/operator-clients",
        201,
        staff,
        json={"organization_id": org["id"], "scenario_code": "SIP-S-METRO"},
    )
    op = bearer(call("POST", "/auth/token", 200, json=creds)["access_token"])

    def resident():
        phone = f"139{random.randrange(10**8):08d}"
        call("POST", "/auth/register", 201, json={"phone": phone, "password": "smoke-pass-1"})
        return bearer(
            call("POST", "/auth/login", 200, json={"login": phone, "password": "smoke-pass-1"})[
                "access_token"
            ]
        )

    def bind(h, ref):
        tok = call("POST", "/operator/bind-tokens", 201, op, json={"user_ref": ref})["bind_token"]
        return call("POST", "/me/consents", 201, h, json={"bind_token": tok})

    run = uuid.uuid4().hex[:8]
    alice, bob = resident(), resident()
    bind(alice, f"alice-{run}")
    withdrawn = bind(bob, f"bob-{run}")
    call("DELETE", f"/me/consents/{withdrawn['id']}", 204, bob)
    t0 = (datetime.now(SH) - timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0)

    def trip(ext, ref, km, start, kind="metro", minutes=30):
        return {
            "external_id": f"{run}-{ext}",
            "user_ref": ref,
            "activity_type": kind,
            "started_at": start.isoformat(),
            "ended_at": (start + timedelta(minutes=minutes)).isoformat(),
            "distance_m": int(km * 1000),
        }

    ar = f"alice-{run}"
    batch = [
        trip("g1", ar, 10, t0),
        trip("g2", ar, 10, t0 + timedelta(hours=2)),
        trip("g3", ar, 10, t0 + timedelta(hours=9)),
        trip("g1", ar, 10, t0),
        trip("b1", f"bob-{run}", 10, t0),
        trip("u1", "nobody", 10, t0),
        trip("fast", ar, 200, t0 + timedelta(hours=4)),
        trip("old", ar, 10, t0 - timedelta(days=45)),
        trip("bus", ar, 10, t0 + timedelta(hours=5), kind="bus"),
    ]
    first = call("POST", "/operator/activities", 200, op, json={"records": batch})
    print(
        "upload:",
        [
            (r["external_id"][9:], r["status"], r.get("reason") or r.get("reduction_g"))
            for r in first["results"]
        ],
    )
    expect = [
        ("accepted", 467),
        ("accepted", 467),
        ("accepted", 467),
        ("duplicate", 467),
        ("rejected", "no_consent"),
        ("rejected", "unknown_user"),
        ("rejected", "implausible"),
        ("rejected", "too_old"),
        ("rejected", "wrong_activity_type"),
    ]
    got = [(r["status"], r.get("reason") or r.get("reduction_g")) for r in first["results"]]
    if got != expect:
        print("FAIL results", got)
        return 1
    me = wait_for("accrual", lambda: call("GET", "/me", 200, alice), lambda m: m["points"] > 0)
    print("after accrual:", me)
    assert me["points"] == 1401, me
    again = call("POST", "/operator/activities", 200, op, json={"records": batch})
    assert again["accepted"] == 0 and again["duplicates"] == 4, again
    time.sleep(3)
    assert call("GET", "/me", 200, alice)["points"] == 1401
    print("re-upload: nothing counted twice")

    # the mall
    from backend.registry.credit_code import check_char

    first17 = f"91320594MA{random.randrange(10**7):07d}"
    merchant_org = call(
        "POST",
        "/admin/organizations",
        201,
        staff,
        json={
            "name": f"smoke merchant {run}",
            "kind": "merchant",
            "credit_code": first17 + check_char(first17),
        },
    )["id"]
    call(
        "POST",
        "/admin/merchant-users",
        201,
        staff,
        json={"organization_id": merchant_org, "login": f"m{run}", "password": "merchant-pass"},
    )
    merchant = bearer(
        call("POST", "/auth/login", 200, json={"login": f"m{run}", "password": "merchant-pass"})[
            "access_token"
        ]
    )
    item = call(
        "POST",
        "/merchant/items",
        201,
        merchant,
        json={"title": "Reusable cup", "points_price": 300, "stock": 10},
    )["id"]

    def order():
        return call(
            "POST",
            "/mall/orders",
            201,
            {**alice, "Idempotency-Key": uuid.uuid4().hex},
            json={"item_id": item},
        )

    o1, o2, o3 = order(), order(), order()
    print("orders:", o1["id"], o2["id"], o3["id"], "code", o1["redemption_code"])
    red = call("POST", "/merchant/redemptions", 200, merchant, json={"code": o1["redemption_code"]})
    print("redeemed:", red)
    call("POST", f"/mall/orders/{o2['id']}/cancel", 200, alice)
    print("points after 3 orders, 1 cancelled:", call("GET", "/me", 200, alice)["points"])
    o3_final = wait_for(
        "order expiry (start the server with ORDER_EXPIRY_SECONDS=20)",
        lambda: call("GET", f"/mall/orders/{o3['id']}", 200, alice),
        lambda o: o["status"] == "expired",
    )
    print("expired:", o3_final["status"])
    me = call("GET", "/me", 200, alice)
    assert me["points"] == 1401 - 300, me
    settlement = call(
        "POST", "/merchant/settlements", 201, {**merchant, "Idempotency-Key": uuid.uuid4().hex}
    )
    print("settlement:", settlement)
    s.post(f"{api}/admin/settlements/{settlement['id']}/approve", headers=finance, timeout=60)
    done = wait_for(
        "settlement",
        lambda: call("GET", f"/merchant/settlements/{settlement['id']}", 200, merchant),
        lambda x: x["status"] == "settled",
    )
    print("settled:", done)
    balance = call("GET", "/merchant/balance", 200, merchant)
    print("merchant balance:", balance)
    assert (balance["points"], balance["reductions_g"]) == (0, 300), balance
    report = call("GET", "/admin/reconciliation", 200, finance)
    print("reconciliation:", json.dumps(report, ensure_ascii=False))
    if not report["ok"]:
        return 1
    print("SMOKE OK")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
