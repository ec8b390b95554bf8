"""The public site in headless Chromium (network off, the pages' own CSP): the home page's
charts drawn from the public JSON series, on a desktop and on a phone; a certificate
verified on its page (signature checked on the server and again in the browser); and
no public page carries a phone number, an operator's user reference or a resident's
id."""

from __future__ import annotations

import re

import pytest

from tests.browser.steps import assert_labelled, resident, retirement_certificate, stage
from tests.helpers import bind, operator_headers, trip, upload

pytestmark = pytest.mark.browser

CHARTS = ("chart-credited", "chart-points", "chart-retired", "chart-scenarios")
PUBLIC_PAGES = (
    "/",
    "/methodologies",
    "/scenarios",
    "/projects",
    "/notices",
    "/notices?status=closed",
    "/registry/issuances",
    "/registry/transfers",
    "/registry/uses",
    "/registry/units",
    "/sanctions",
    "/verify",
)


def _credited_trips(app, client, admin_h) -> list[dict]:
    """Two residents bound to the metro scenario with trips credited by accrual."""
    from datetime import UTC, datetime, timedelta

    from tests.mall_helpers import run_job  # noqa: F401  (the jobs run in-process)

    operator_h = operator_headers(client, admin_h, "SIP-S-METRO")
    people = []
    for n, phone in enumerate(("13912340001", "13912340002")):
        person = resident(client, phone)
        person["ref"] = f"metro-card-{8800 + n}"
        bind(client, operator_h, person["headers"], person["ref"])
        people.append(person)
    start = datetime.now(UTC) - timedelta(days=1)
    records = [
        trip(f"t-{n}-{k}", p["ref"], 9.5 + k, start - timedelta(hours=3 * k))
        for n, p in enumerate(people)
        for k in range(3)
    ]
    r = upload(client, operator_h, records)
    assert r.status_code == 200 and r.get_json()["accepted"] == 6, r.get_json()
    from backend.activity import accrual
    from jobs.runner import run

    with app.app_context():
        run(accrual.accrue)
    return people


def test_the_home_page_draws_its_charts_from_the_public_series(
    app, client, page, offsite_requests, console_errors, screenshot
):
    staged = stage(app, client)
    _credited_trips(app, client, staged["admin"])
    retirement_certificate(app, client, staged["admin"])
    page.goto("/")
    for chart in CHARTS:
        page.locator(f"#{chart}[data-drawn=true]").wait_for()
        assert page.evaluate(
            """(id) => {
                const c = document.getElementById(id);
                const px = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
                return px.some((v, i) => i % 4 === 3 && v !== 0);
            }""",
            chart,
        ), chart
    assert page.locator("[data-figure=residents]").inner_text() != "0"
    assert page.locator("[data-figure=credited]").inner_text() != "0.000000"
    # the data tables beside the charts carry the same (non-zero) figures
    page.get_by_text("数据表 Data table").first.click()
    credited = page.locator("[data-table-for=chart-credited] tbody tr").last.inner_text()
    assert re.search(r"[1-9]", credited.split("\t", 1)[1]), credited
    screenshot(page, "site-home", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.locator("#chart-scenarios[data-drawn=true]").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scroll
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "site-home-phone")
    assert offsite_requests == []
    assert console_errors == []


def test_a_certificate_is_verified_on_its_page(
    app, client, page, offsite_requests, console_errors, screenshot
):
    staged = stage(app, client)
    number = retirement_certificate(app, client, staged["admin"])
    page.goto("/verify")
    page.get_by_label("证书编号").fill(number)
    with page.expect_navigation():
        page.get_by_role("button", name="核验 Check").click()
    assert page.url.endswith(f"/verify/{number}")
    assert "签名有效" in page.locator("#server-verdict").inner_text()
    page.locator("#browser-verdict[data-result=valid]").wait_for()
    serials = page.get_by_role("table").filter(has_text="序列号 Serials")
    assert "retired" in serials.inner_text() and "✔" in serials.inner_text()
    assert "0.000450 tCO2e" in page.content()
    screenshot(page, "site-verify", full_page=True)
    answer = page.goto("/verify/SIP-C-2026-999999")
    assert answer.status == 404
    assert offsite_requests == []
    assert [e for e in console_errors if "status of 404" not in e] == []


def test_no_public_page_carries_a_phone_a_user_reference_or_a_resident_id(
    app, client, page, offsite_requests
):
    staged = stage(app, client)
    people = _credited_trips(app, client, staged["admin"])
    number = retirement_certificate(app, client, staged["admin"])
    secrets = set()
    for person in people:
        secrets |= {person["phone"], person["ref"], f"resident:{person['id']}"}
        secrets |= {person["phone"][:3] + "****" + person["phone"][-4:]}  # masked too
    seen = []
    for path in (*PUBLIC_PAGES, f"/verify/{number}"):
        answer = page.goto(path)
        assert answer.status == 200, path
        page.wait_for_load_state("networkidle")
        html = page.content()
        seen.append(path)
        assert_labelled(page)
        for secret in secrets:
            assert secret not in html, (path, secret)
        assert not re.search(r"resident:\d+", html), path
        assert not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", page.inner_text("body")), path
    # and the JSON the charts draw from
    for api in (
        "/api/v1/public/stats",
        "/api/v1/public/stats/monthly",
        "/api/v1/public/stats/scenarios",
    ):
        body = page.request.get(api).text()
        assert not any(secret in body for secret in secrets), api
    assert len(seen) == len(PUBLIC_PAGES) + 1
    assert offsite_requests == []
