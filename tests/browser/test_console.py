"""The staff console and the merchant's till in headless Chromium (network off, the
pages' own CSP): a reviewer takes a scenario application from submitted to registered
through a public notice and a dismissed objection filed on the public notice page;
finance approves a settlement; a merchant redeems a code typed at the till; the
reconciliation history chart renders. Guards: a page the role may not see is a 403
page, and a form posted without its CSRF token is refused."""

from __future__ import annotations

import pytest

from tests.browser.steps import (
    assert_labelled,
    merchant_with_orders,
    notices_can_start,
    pending_settlement,
    sign_in,
    sign_out,
    staff_login,
    stage,
    stored_reports,
)
from tests.registry_helpers import act, apply, end_notice, organization, scenario_body, staff

pytestmark = pytest.mark.browser

# A refused htmx request (409) is a failed resource load to Chromium, which says so on the
# console; that is the page working as meant, not an error of the page.
REFUSED_LOAD = "Failed to load resource: the server responded with a status of 409"


def _drawn(page, selector: str) -> bool:
    return page.evaluate(
        """(sel) => {
            const c = document.querySelector(sel);
            const px = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
            return px.some((v, i) => i % 4 === 3 && v !== 0);
        }""",
        selector,
    )


def test_a_reviewer_takes_a_scenario_to_registered_through_notice_and_objection(
    app, client, page, offsite_requests, console_errors, screenshot
):
    staged = stage(app, client)
    notices_can_start(app)
    reviewer = staff_login(app, "reviewer")
    experts = [staff(app, client, ["expert"]) for _ in range(3)]
    operator = organization(client, staged["admin"], "operator", name="园区水上巴士运营公司")
    body = scenario_body(
        "SIP-S-FERRY",
        [{"kind": "station", "id": "JJH-PIER-01"}],
        title="金鸡湖水上巴士低碳出行",
        activity_types=["bus"],
    )
    application_id = apply(client, operator, body)["id"]

    # the queue, filtered to submitted scenarios, leads to the application
    sign_in(page, reviewer, lands="/console")
    page.goto("/console/applications")
    page.get_by_label("类型").select_option("scenario")
    page.get_by_label("状态").select_option("submitted")
    page.wait_for_url("**/console/applications?type=scenario&status=submitted")
    assert "submitted" in page.locator("#queue caption").inner_text()
    with page.expect_navigation():
        page.locator("#queue").get_by_role("link", name="金鸡湖水上巴士低碳出行").click()
    # a reviewer gives no opinion; accepting is the one step open
    assert page.locator("form[data-action=opinion]").count() == 0
    assert page.locator("form[data-action=notice]").count() == 0
    assert_labelled(page)
    with page.expect_navigation():
        page.get_by_role("button", name="受理 Accept").click()
    assert page.get_by_role("status").filter(has_text="已受理").is_visible()
    assert page.locator(".badge.s-accepted").first.is_visible()

    # three experts approve (over the API), then the reviewer starts the notice
    for expert in experts:
        act(
            client,
            expert["headers"],
            application_id,
            "opinions",
            {"conclusion": "approve", "text": "数据来源与方法学一致。"},
            expect=201,
        )
    page.reload()
    with page.expect_navigation():
        page.get_by_role("button", name="开始公示 Start the notice").click()
    assert page.get_by_role("status").filter(has_text="公示已开始").is_visible()
    assert page.get_by_text("/notices/").count() == 1
    assert page.locator("form[data-action=decide]").count() == 0  # the notice runs
    sign_out(page)

    # anyone objects on the public notice page, without an account
    page.goto("/notices")
    with page.expect_navigation():
        page.get_by_role("link", name="金鸡湖水上巴士低碳出行").click()
    assert_labelled(page)
    page.get_by_label("异议内容").fill("该码头同时申报了其他减排机制，存在重复计算风险。")
    page.get_by_label("联系方式（选填）").fill("objector@example.org")
    with page.expect_navigation():
        page.get_by_role("button", name="提交异议 Submit the objection").click()
    reference = page.locator("[data-reference]").inner_text()
    assert reference.startswith("OBJ-")
    assert "objector@example.org" not in page.content()  # the contact is never published
    screenshot(page, "site-notice-objection")

    # the reviewer sees it (with the contact), dismisses it, and decides after the notice
    sign_in(page, reviewer)
    page.goto(f"/console/applications/{application_id}")
    assert_labelled(page)
    objection = page.locator(f"[data-objection='{reference}']")
    assert "objector@example.org" in objection.inner_text()
    objection.get_by_label("处理").select_option("dismissed")
    objection.get_by_label("说明（公开）").fill("经核实，该码头未在其他机制登记，异议不成立。")
    with page.expect_navigation():
        objection.get_by_role("button", name="处理异议 Resolve").click()
    assert page.get_by_role("status").filter(has_text="异议已处理").is_visible()
    end_notice(app, application_id)  # five working days pass
    page.reload()
    decide = page.locator("form[data-action=decide]")
    decide.get_by_label("理由（公开）").fill("公示期满，异议不成立，予以登记。")
    with page.expect_navigation():
        decide.get_by_role("button", name="批准 Approve").click()
    assert page.get_by_role("status").filter(has_text="已批准并公布").is_visible()
    assert page.locator(".badge.s-approved").first.is_visible()
    assert page.locator("form[data-action]").count() == 0  # nothing left to press
    screenshot(page, "console-application", full_page=True)

    # registered, in the public list; the objection's outcome is public
    page.goto("/scenarios")
    row = page.get_by_role("row").filter(has_text="SIP-S-FERRY")
    assert "registered" in row.inner_text()
    page.goto(f"/notices/{application_id}")
    assert reference in page.content() and "dismissed" in page.content()
    assert offsite_requests == []
    assert console_errors == []


def test_finance_approves_a_settlement_with_the_orders_behind_it(
    app, client, page, offsite_requests, console_errors, screenshot
):
    staged = stage(app, client)
    settled = pending_settlement(app, client, staged["admin"])
    sign_in(page, staff_login(app, "finance"))
    page.goto("/console/settlements?status=pending")
    with page.expect_navigation():
        page.get_by_role("link", name=str(settled["batch"]["id"]), exact=True).click()
    orders = page.get_by_role("table").filter(has_text="批次中的订单").locator("tbody tr")
    assert orders.count() == 2
    assert "可重复使用咖啡杯" in orders.first.inner_text()
    with page.expect_navigation():
        page.get_by_role("button", name="批准 Approve").click()
    assert page.get_by_role("status").filter(has_text="结算已批准并入账").is_visible()
    assert page.locator("[data-status=settled]").is_visible()
    assert "600 g" in page.content()  # 600 points back as 600 g at 1000 points per kg
    screenshot(page, "console-settlement", full_page=True)
    assert page.get_by_role("button", name="批准 Approve").count() == 0
    assert offsite_requests == []
    assert console_errors == []


def test_a_merchant_redeems_a_code_typed_at_the_till(
    app, client, page, offsite_requests, console_errors, screenshot
):
    staged = stage(app, client)
    shop = merchant_with_orders(app, client, staged["admin"], redeemed=0, pending=1)
    code = shop["orders"][0]["redemption_code"]
    sign_in(page, shop["merchant"]["login"], "till-password", lands="/merchant")
    assert "worker-src blob:" in page.request.get("/merchant").headers["content-security-policy"]
    assert_labelled(page)
    typed = "-".join(code[i : i + 4] for i in range(0, len(code), 4)).lower()
    page.get_by_label("兑换码").fill(typed)
    page.get_by_role("button", name="核销 Redeem").click()
    done = page.locator("[data-redeemed]")
    done.wait_for()
    assert "可重复使用咖啡杯" in done.inner_text() and "300" in done.inner_text()
    assert page.url.endswith("/merchant")  # htmx: the till stays where it is
    assert page.locator("#balance-points").inner_text() == "300"
    assert page.locator("[data-balance=escrow]").inner_text() == "0"
    assert page.get_by_label("兑换码").input_value() == ""  # ready for the next customer
    screenshot(page, "merchant-till")

    # the same code again is refused on the page
    page.get_by_label("兑换码").fill(code)
    page.get_by_role("button", name="核销 Redeem").click()
    page.locator("[data-refused=already_redeemed]").wait_for()

    page.get_by_role("link", name="订单 Orders").click()
    assert "fulfilled" in page.get_by_role("table").inner_text()
    page.get_by_role("link", name="商品 Items").click()
    assert page.locator(f"[data-stock='{shop['item']['id']}']").inner_text() == "19"
    page.get_by_role("link", name="结算 Settlements").click()
    with page.expect_navigation():
        page.get_by_role(
            "button", name="申请结算全部已核销订单 Apply to settle every redeemed order"
        ).click()
    assert page.get_by_role("row").filter(has_text="pending").count() == 1
    assert offsite_requests == []
    assert [e for e in console_errors if REFUSED_LOAD not in e] == []


def test_the_reconciliation_chart_renders(
    app, client, page, offsite_requests, console_errors, screenshot
):
    staged = stage(app, client)
    pending_settlement(app, client, staged["admin"])
    stored_reports(app, days=5)
    sign_in(page, staff_login(app, "auditor"))
    page.goto("/console/reconciliation")
    page.locator("#chart-reconciliation[data-drawn=true]").wait_for()
    assert _drawn(page, "#chart-reconciliation")
    assert page.locator("[data-report-ok=true]").is_visible()
    page.get_by_text("数据表 Data table").click()
    rows = page.locator("[data-table-for=chart-reconciliation] tbody tr")
    assert rows.count() == 5
    assert "700" in rows.last.inner_text()  # points outstanding: 600 at the merchant, 100 left
    screenshot(page, "console-reconciliation", full_page=True)
    assert offsite_requests == []
    assert console_errors == []


def test_a_page_the_role_may_not_see_is_403_and_a_form_without_its_token_is_refused(
    app, client, page, offsite_requests, screenshot
):
    staged = stage(app, client)
    settled = pending_settlement(app, client, staged["admin"])
    sign_in(page, staff_login(app, "expert"))
    answer = page.goto("/console/settlements")
    assert answer.status == 403
    assert page.get_by_role("heading", name="无权访问").is_visible()
    assert page.get_by_role("link", name="结算 Settlements").count() == 0  # not in the menu
    screenshot(page, "console-403")
    sign_out(page)

    sign_in(page, staff_login(app, "finance"))
    page.goto(f"/console/settlements/{settled['batch']['id']}")
    page.locator("form[data-action=approve] input[name=csrf_token]").evaluate("e => e.remove()")
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="批准 Approve").click()
    assert navigation.value.status == 403
    assert "csrf_refused" in page.content()
    page.goto(f"/console/settlements/{settled['batch']['id']}")
    assert page.locator("[data-status=pending]").is_visible()  # nothing moved
    assert offsite_requests == []
