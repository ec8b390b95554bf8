"""Steps the browser tests share: signing in through the form, and setting the stage over
the API (a merchant with redeemed orders and a settlement, a retirement certificate,
stored reconciliation reports)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

from tests.helpers import bearer, load_catalogue, login, make_staff, staff_headers
from tests.mall_helpers import give_points, make_item, make_merchant

PASSWORD = "staff-password"
_seq = itertools.count(1)


def staff_login(app, *roles: str) -> str:
    """A staff login holding `roles` (its password is PASSWORD)."""
    name = f"{'-'.join(roles)}-{next(_seq)}"
    make_staff(app, name, PASSWORD, roles=roles)
    return name


def sign_in(page, login_name: str, password: str = PASSWORD, *, lands: str | None = None) -> None:
    page.goto("/login")
    page.get_by_label("登录名").fill(login_name)
    page.get_by_label("密码").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="登录 Sign in").click()
    if lands:
        assert page.url.endswith(lands), page.url


def sign_out(page) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name="退出 Sign out").click()
    assert "/login?bye=1" in page.url


def stage(app, client) -> dict:
    """The catalogue loaded and an admin's API headers."""
    admin_h = staff_headers(app, client)
    load_catalogue(client, admin_h)
    return {"admin": admin_h}


def resident(client, phone: str) -> dict:
    r = client.post("/api/v1/auth/register", json={"phone": phone, "password": "resident-pass"})
    assert r.status_code == 201, r.get_json()
    tokens = login(client, phone, "resident-pass")
    return {"id": r.get_json()["id"], "phone": phone, "headers": bearer(tokens["access_token"])}


def merchant_with_orders(app, client, admin_h, *, redeemed: int, pending: int = 0) -> dict:
    """A merchant (with its till login), an item, a resident with points, `redeemed`
    orders redeemed at the till and `pending` ones waiting."""
    from backend.auth.models import User
    from backend.db import db

    merchant = make_merchant(client, admin_h, name="园区低碳咖啡馆")
    with app.app_context():
        merchant["login"] = db.session.get(User, merchant["user_id"]).login
    item = make_item(client, merchant, title="可重复使用咖啡杯", points_price=300, stock=20)
    buyer = resident(client, f"139{next(_seq):08d}")
    give_points(app, buyer["id"], 300 * (redeemed + pending) + 100)
    orders = []
    for n in range(redeemed + pending):
        r = client.post(
            "/api/v1/mall/orders", json={"item_id": item["id"]}, headers=buyer["headers"]
        )
        assert r.status_code == 201, r.get_json()
        orders.append(r.get_json())
        if n < redeemed:
            r = client.post(
                "/api/v1/merchant/redemptions",
                json={"code": orders[-1]["redemption_code"]},
                headers=merchant["headers"],
            )
            assert r.status_code == 200, r.get_json()
    return {"merchant": merchant, "item": item, "resident": buyer, "orders": orders}


def pending_settlement(app, client, admin_h) -> dict:
    staged = merchant_with_orders(app, client, admin_h, redeemed=2)
    r = client.post("/api/v1/merchant/settlements", headers=staged["merchant"]["headers"])
    assert r.status_code == 201, r.get_json()
    return {**staged, "batch": r.get_json()}


def retirement_certificate(app, client, admin_h) -> str:
    """A merchant's settled points back as reductions, retired: the certificate number."""
    staged = pending_settlement(app, client, admin_h)
    finance = bearer(login(client, staff_login(app, "finance"), PASSWORD)["access_token"])
    r = client.post(f"/api/v1/admin/settlements/{staged['batch']['id']}/approve", headers=finance)
    assert r.status_code == 202, r.get_json()
    r = client.post(
        "/api/v1/org/uses",
        json={
            "purpose": "retirement",
            "amount_g": 450,
            "beneficiary": "园区低碳咖啡馆",
            "reason": "门店年度运营碳中和",
        },
        headers=staged["merchant"]["headers"],
    )
    assert r.status_code == 201, r.get_json()
    r = client.post(f"/api/v1/admin/uses/{r.get_json()['id']}/approve", json={}, headers=finance)
    assert r.status_code == 200, r.get_json()
    return r.get_json()["certificate_number"]


def stored_reports(app, days: int) -> None:
    """The nightly report stored for each of the last `days` days (today included)."""
    from backend.db import db
    from backend.reconciliation import report

    with app.app_context():
        for back in range(days - 1, -1, -1):
            report.store(report.compute(now=datetime.now(UTC) - timedelta(days=back)))
            db.session.commit()


def notices_can_start(app) -> None:
    """A notice started now must end in a year with a working-day calendar: near the end
    of the package's last year, enter the next one (its statutory fixed-date holidays)."""
    from backend.db import db
    from backend.workdays import calendar

    with app.app_context():
        try:
            calendar.notice_period(datetime.now(UTC), app.config["NOTICE_WORKING_DAYS"])
            return
        except calendar.CalendarUnknown:
            pass
        year = date.today().year + 1
        fixed = calendar.FIXED_HOLIDAYS + calendar.FIXED_HOLIDAYS_FROM_2025
        staff_id = make_staff(app, f"calendar-{next(_seq)}", PASSWORD, roles=("admin",))
        calendar.enter_year(
            year,
            holidays=[date(year, m, d) for m, d in fixed],
            makeup_workdays=[],
            notice_title=f"国务院办公厅关于{year}年部分节假日安排的通知（测试）",
            entered_by=staff_id,
        )
        db.session.commit()


def assert_labelled(page) -> None:
    """Every visible form control has an accessible name (a <label>, aria-label or
    aria-labelledby), and every button a name."""
    unnamed = page.evaluate(
        """() => [...document.querySelectorAll("input, select, textarea, button")]
            .filter(e => e.type !== "hidden" && !e.hidden && e.offsetParent !== null)
            .filter(e => e.tagName === "BUTTON"
                ? !e.textContent.trim() && !e.getAttribute("aria-label")
                : !(e.labels && e.labels.length) && !e.getAttribute("aria-label")
                  && !e.getAttribute("aria-labelledby"))
            .map(e => e.outerHTML.slice(0, 120))"""
    )
    assert unnamed == [], unnamed
