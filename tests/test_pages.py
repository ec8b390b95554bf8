"""The pages' shared pieces, over Flask's test client: the browser session (cookie,
server-side row, expiry, sign-out), CSRF on every form, who may see which page (staff
roles, merchants, the API's subject checks on every request), the public chart series
and the reconciliation drill-down. The flows in a real browser are in tests/browser/."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.helpers import bearer, load_catalogue, login, make_staff, staff_headers
from tests.mall_helpers import give_points, make_item, make_merchant, run_job
from tests.web_helpers import csrf_of, post_form, sign_in

PASSWORD = "staff-password"


def _staff(app, client, *roles: str) -> str:
    name = "web-" + "-".join(roles)
    make_staff(app, name, PASSWORD, roles=roles)
    return name


def _signed_in(app, *roles: str):
    """A fresh test client signed in as a staff login holding `roles`."""
    client = app.test_client()
    sign_in(client, _staff(app, client, *roles), PASSWORD)
    return client


def _settlement(app, client, admin_h) -> dict:
    """A merchant with two redeemed orders and a pending settlement batch."""
    merchant = make_merchant(client, admin_h)
    item = make_item(client, merchant, points_price=300)
    r = client.post(
        "/api/v1/auth/register", json={"phone": "13912345678", "password": "resident-pass"}
    )
    resident = {"id": r.get_json()["id"]}
    resident["headers"] = bearer(login(client, "13912345678", "resident-pass")["access_token"])
    give_points(app, resident["id"], 1000)
    orders = []
    for _ in range(2):
        r = client.post(
            "/api/v1/mall/orders", json={"item_id": item["id"]}, headers=resident["headers"]
        )
        assert r.status_code == 201, r.get_json()
        orders.append(r.get_json())
        r = client.post(
            "/api/v1/merchant/redemptions",
            json={"code": orders[-1]["redemption_code"]},
            headers=merchant["headers"],
        )
        assert r.status_code == 200, r.get_json()
    r = client.post("/api/v1/merchant/settlements", headers=merchant["headers"])
    assert r.status_code == 201, r.get_json()
    return {"merchant": merchant, "batch": r.get_json(), "orders": orders, "resident": resident}


@pytest.mark.sqlite
def test_signing_in_sets_an_httponly_strict_cookie_and_keeps_only_its_hash(app, client):
    from backend.auth.tokens import sha256
    from backend.db import db
    from backend.web.models import WebSession

    r = sign_in(client, _staff(app, client, "auditor"), PASSWORD)
    assert r.headers["Location"] == "/console"
    cookie = next(c for c in r.headers.getlist("Set-Cookie") if c.startswith("sip_session="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP here; see the HTTPS test
    token = cookie.split(";")[0].split("=", 1)[1]
    with app.app_context():
        rows = db.session.query(WebSession).all()
        assert [row.token_hash for row in rows] == [sha256(token)]
        assert token not in {row.token_hash for row in rows} | {row.csrf_token for row in rows}
    page = client.get("/console")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]


def test_over_https_the_cookies_are_secure_and_host_only(app, client):
    secure = app.test_client()
    name = _staff(app, secure, "auditor")
    form = secure.get("/login", base_url="https://sip.example")
    anonymous = form.headers["Set-Cookie"]
    assert anonymous.startswith("__Host-sip_csrf=") and "Secure" in anonymous
    r = secure.post(
        "/login",
        base_url="https://sip.example",
        data={"login": name, "password": PASSWORD, "csrf_token": csrf_of(form.text)},
    )
    assert r.status_code == 303, r.text
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("__Host-sip_session=")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Domain" not in cookie
    assert secure.get("/console", base_url="https://sip.example").status_code == 200


@pytest.mark.sqlite
def test_a_form_posted_without_its_csrf_token_is_refused_and_moves_nothing(app, client):
    admin_h = staff_headers(app, client)
    load_catalogue(client, admin_h)
    setup = _settlement(app, client, admin_h)
    batch_id = setup["batch"]["id"]
    finance = _signed_in(app, "finance")
    page = f"/console/settlements/{batch_id}"
    action = f"{page}/approve"

    for data in ({}, {"csrf_token": "not-the-token"}):
        r = finance.post(action, data=data)
        assert r.status_code == 403
        assert "csrf_refused" in r.text and "text/html" in r.content_type
    # another signed-in browser's token is not this one's
    other = _signed_in(app, "finance", "auditor")
    stolen = csrf_of(other.get(page).text)
    assert finance.post(action, data={"csrf_token": stolen}).status_code == 403
    assert 'data-status="pending"' in finance.get(page).text

    r = post_form(finance, page, action)
    assert r.status_code == 303
    shown = finance.get(r.headers["Location"])
    assert 'data-status="settled"' in shown.text, shown.text
    # htmx requests carry it as a header
    r = finance.post(action, headers={"X-CSRF-Token": csrf_of(shown.text), "HX-Request": "true"})
    assert r.status_code == 409 and "already_approved" in r.text


@pytest.mark.sqlite
def test_the_sign_in_and_objection_forms_need_their_token_too(app, client):
    name = _staff(app, client, "auditor")
    fresh = app.test_client()
    r = fresh.post("/login", data={"login": name, "password": PASSWORD})
    assert r.status_code == 403 and "csrf_refused" in r.text
    assert "sip_session" not in (r.headers.get("Set-Cookie") or "")
    r = fresh.post("/notices/1/objections", data={"text": "异议"})
    assert r.status_code == 403 and "csrf_refused" in r.text


def test_each_page_admits_its_roles_only_in_the_browser_too(app, client):
    expect = {
        "/console": {"admin", "reviewer", "expert", "finance", "auditor"},
        "/console/applications": {"reviewer", "expert", "auditor"},
        "/console/settlements": {"finance", "auditor"},
        "/console/transfers": {"finance", "auditor"},
        "/console/uses": {"finance", "auditor"},
        "/console/reconciliation": {"finance", "auditor"},
        "/console/organizations": {"admin", "auditor"},
        "/console/staff": {"admin", "auditor"},
        "/console/audit": {"admin", "auditor"},
        "/console/calendar": {"admin", "reviewer", "expert", "finance", "auditor"},
        "/console/methodologies": {"reviewer"},
        "/console/deregistrations": {"reviewer"},
        "/console/duplicates": {"reviewer", "auditor"},
    }
    browsers = {
        role: _signed_in(app, role)
        for role in ("admin", "reviewer", "expert", "finance", "auditor")
    }
    for path, admitted in expect.items():
        for role, browser in browsers.items():
            r = browser.get(path)
            want = 200 if role in admitted else 403
            assert r.status_code == want, (path, role, r.status_code)
            if want == 403:
                assert "text/html" in r.content_type and "无权访问" in r.text
    # a POST of a role that may only read is refused before anything is read
    r = post_form(browsers["auditor"], "/console/settlements", "/console/settlements/1/approve")
    assert r.status_code == 403
    # a merchant's till login is no staff, staff are no merchants; strangers sign in first
    admin_h = staff_headers(app, client)
    merchant = make_merchant(client, admin_h)
    till = app.test_client()
    from backend.auth.models import User
    from backend.db import db

    with app.app_context():
        till_login = db.session.get(User, merchant["user_id"]).login
    sign_in(till, till_login, "till-password")
    assert till.get("/merchant").status_code == 200
    assert till.get("/console").status_code == 403
    assert browsers["admin"].get("/merchant").status_code == 403
    r = app.test_client().get("/console/settlements?status=pending")
    assert r.status_code == 303
    assert r.headers["Location"] == "/login?next=%2Fconsole%2Fsettlements%3Fstatus%3Dpending"
    r = app.test_client().get("/console/settlements", headers={"HX-Request": "true"})
    assert r.status_code == 401 and r.headers["HX-Redirect"].startswith("/login?next=")


@pytest.mark.sqlite
def test_every_page_route_names_who_may_see_it(app):
    """Every route of the console and of the till is guarded by `page(...)` (staff roles
    named, as the API's routes name theirs), except the sign-in redirects."""
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith(("console.", "till.")):
            continue
        view = app.view_functions[rule.endpoint]
        kinds = getattr(view, "page_kinds", None)
        assert kinds is not None, rule.rule
        if rule.endpoint.startswith("console."):
            assert kinds == ("staff",) and view.page_roles, rule.rule
        else:
            assert kinds == ("merchant",), rule.rule


@pytest.mark.sqlite
def test_a_disabled_login_is_out_at_once_and_a_frozen_one_refused(app, client):
    admin_h = staff_headers(app, client)
    load_catalogue(client, admin_h)
    reviewer = app.test_client()
    name = _staff(app, client, "reviewer")
    sign_in(reviewer, name, PASSWORD)
    assert reviewer.get("/console/applications").status_code == 200
    staff_id = client.get("/api/v1/admin/staff", headers=admin_h).get_json()["items"][0]["id"]
    r = client.post(f"/api/v1/admin/staff/{staff_id}/disable", headers=admin_h)
    assert r.status_code == 200, r.get_json()
    r = reviewer.get("/console/applications")
    assert r.status_code == 303 and r.headers["Location"].startswith("/login")
    r = client.post(f"/api/v1/admin/staff/{staff_id}/enable", headers=admin_h)
    assert r.status_code == 200
    assert reviewer.get("/console/applications").status_code == 303  # that session stays over

    merchant = make_merchant(client, admin_h)
    from backend.auth.models import User
    from backend.db import db

    with app.app_context():
        till_login = db.session.get(User, merchant["user_id"]).login
    till = app.test_client()
    sign_in(till, till_login, "till-password")
    assert till.get("/merchant").status_code == 200
    r = client.post(
        f"/api/v1/admin/organizations/{merchant['org_id']}/freeze",
        json={"reason": "虚报核销"},
        headers=admin_h,
    )
    assert r.status_code == 200, r.get_json()
    r = till.get("/merchant")
    assert r.status_code == 403 and "organization_frozen" in r.text
    # and a frozen organisation's login cannot sign in afresh
    again = app.test_client()
    r = sign_in(again, till_login, "till-password", expect=403)
    assert "organization_frozen" in r.text


@pytest.mark.sqlite
def test_signing_out_ends_the_session_and_an_idle_one_ends_by_itself(app, client):
    from backend.db import db
    from backend.web.models import WebSession

    browser = app.test_client()
    r = sign_in(browser, _staff(app, client, "auditor"), PASSWORD)
    token = r.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
    r = post_form(browser, "/console", "/logout")
    assert r.status_code == 303 and r.headers["Location"] == "/login?bye=1"
    replay = app.test_client()
    replay.set_cookie("sip_session", token)
    assert replay.get("/console").status_code == 303

    sign_in(browser, "web-auditor", PASSWORD)
    assert browser.get("/console").status_code == 200
    with app.app_context():
        row = db.session.query(WebSession).filter(WebSession.ended_at.is_(None)).one()
        row.last_seen_at -= timedelta(seconds=app.config["WEB_SESSION_IDLE_SECONDS"] + 1)
        db.session.commit()
    assert browser.get("/console").status_code == 303


@pytest.mark.sqlite
def test_sign_in_refusals_and_where_it_leads(app, client):
    name = _staff(app, client, "auditor")
    browser = app.test_client()
    form = browser.get("/login")
    token = csrf_of(form.text)
    r = browser.post(
        "/login", data={"login": name, "password": "wrong-password", "csrf_token": token}
    )
    assert r.status_code == 401 and "bad_credentials" in r.text
    r = browser.post(
        "/login",
        data={"login": name, "password": PASSWORD, "csrf_token": token, "next": "//evil.example/x"},
    )
    assert r.status_code == 303 and r.headers["Location"] == "/console"
    # a resident has no pages here
    client.post("/api/v1/auth/register", json={"phone": "13911112222", "password": "resident-pass"})
    r = sign_in(app.test_client(), "13911112222", "resident-pass", expect=403)
    assert "no_pages" in r.text


@pytest.mark.sqlite
def test_the_public_chart_series_count_what_the_ledger_moved(app, client):
    admin_h = staff_headers(app, client)
    load_catalogue(client, admin_h)
    r = client.post(
        "/api/v1/auth/register", json={"phone": "13955556666", "password": "resident-pass"}
    )
    give_points(app, r.get_json()["id"], 1234)
    monthly = client.get("/api/v1/public/stats/monthly?months=3")
    assert monthly.status_code == 200
    assert monthly.headers["Cache-Control"] == "public, max-age=300"
    body = monthly.get_json()
    assert len(body["months"]) == 3
    (series,) = body["reductions_credited_g"]
    assert series["values"][:2] == [0, 0] and series["values"][2] == 1234
    assert body["points_issued"] == [0, 0, 1234]
    assert body["points_redeemed"] == [0, 0, 0]
    totals = client.get("/api/v1/public/stats/scenarios").get_json()["items"]
    assert sum(t["reductions_credited_g"] for t in totals) == 1234
    assert client.get("/api/v1/public/stats/monthly?months=61").status_code == 422


def test_month_labels_are_asia_shanghai_months():
    from datetime import UTC, datetime

    from backend.public.charts import _since, month_labels

    # 2026-01-31 17:00 UTC is already February 1st in Suzhou
    assert month_labels(2, datetime(2026, 1, 31, 17, 0, tzinfo=UTC)) == ["2026-01", "2026-02"]
    assert month_labels(3, datetime(2026, 2, 10, tzinfo=UTC)) == ["2025-12", "2026-01", "2026-02"]
    assert _since("2026-01") == datetime(2025, 12, 31, 16, 0, tzinfo=UTC)


def test_reconciliation_drills_down_to_the_offending_order_and_account(app, client):
    from sqlalchemy import text

    from backend.db import db

    admin_h = staff_headers(app, client)
    load_catalogue(client, admin_h)
    setup = _settlement(app, client, admin_h)
    finance = _signed_in(app, "finance")
    run_job(app, "nightly_reconciliation")
    page = finance.get("/console/reconciliation")
    assert 'data-report-ok="true"' in page.text
    # an order whose row says it was never redeemed, though the ledger redeemed it
    order_id = setup["orders"][0]["id"]
    with app.app_context():
        db.session.execute(
            text("UPDATE orders SET status = 'pending', settlement_id = NULL WHERE id = :id"),
            {"id": order_id},
        )
        db.session.commit()
    run_job(app, "nightly_reconciliation")
    page = finance.get("/console/reconciliation")
    assert 'data-report-ok="false"' in page.text
    assert f'href="/console/reconciliation/orders/{order_id}"' in page.text
    merchant_id = setup["merchant"]["org_id"]
    assert f'href="/console/reconciliation/owned/order_escrow/{merchant_id}"' in page.text
    order = finance.get(f"/console/reconciliation/orders/{order_id}")
    assert order.status_code == 200
    assert "order_hold" in order.text and "order_redeem" in order.text
    escrow = finance.get(f"/console/reconciliation/owned/order_escrow/{merchant_id}")
    assert escrow.status_code == 303
    account = finance.get(escrow.headers["Location"])
    assert account.status_code == 200 and "order_escrow" in account.text
    history = finance.get("/console/reconciliation/history.json").get_json()
    assert history["ok"] == [False] and history["failed_checks"][0] >= 1


def test_a_rate_limited_form_answers_with_a_page(app, client):
    from backend.extensions import limiter

    browser = app.test_client()
    token = csrf_of(browser.get("/login").text)
    app.config["RATELIMIT_LOGIN_NAME"], before = "2 per minute", app.config["RATELIMIT_LOGIN_NAME"]
    try:
        limiter.reset()
        answers = [
            browser.post(
                "/login", data={"login": "nobody", "password": "wrong-pass", "csrf_token": token}
            ).status_code
            for _ in range(3)
        ]
        assert answers == [401, 401, 429]
        r = browser.post(
            "/login", data={"login": "nobody", "password": "wrong-pass", "csrf_token": token}
        )
        assert r.status_code == 429 and "text/html" in r.content_type and "rate_limited" in r.text
        assert "Retry-After" in r.headers
    finally:
        app.config["RATELIMIT_LOGIN_NAME"] = before
        limiter.reset()
