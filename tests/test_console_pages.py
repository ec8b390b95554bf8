"""The console's other forms, over Flask's test client: organisations and logins (create,
freeze and unfreeze with reasons, disable, rotate an operator client's secret), the audit
log's search, the working-day calendar's form, executing a transfer and deciding uses;
the registry: retiring a methodology version, deregistering a scenario on the centre's
own finding, the nightly double-claiming check's list.
Each form calls the API's rule under the API's role; a refusal is shown on the page
again with nothing written."""

from __future__ import annotations

import re

import pytest

from tests.browser.steps import pending_settlement
from tests.helpers import CATALOGUE, bearer, credit_code, login, make_staff, staff_headers
from tests.helpers import load_catalogue as load
from tests.web_helpers import csrf_of, post_form, sign_in

PASSWORD = "staff-password"


def _browser(app, *roles: str):
    name = "page-" + "-".join(roles)
    make_staff(app, name, PASSWORD, roles=roles)
    browser = app.test_client()
    sign_in(browser, name, PASSWORD)
    return browser


def _follow(browser, response, status: int = 303):
    assert response.status_code == status, response.text
    return browser.get(response.headers["Location"])


@pytest.mark.sqlite
def test_organisations_and_logins_are_managed_on_their_pages(app, client):
    admin_h = staff_headers(app, client)
    load(client, admin_h)
    admin = _browser(app, "admin")
    code = credit_code(777)
    form = {"name": "园区绿色家居商城", "kind": "merchant", "credit_code": code}
    page = _follow(
        admin, post_form(admin, "/console/organizations", "/console/organizations", form)
    )
    assert "机构已登记" in page.text and code in page.text
    org_id = int(re.search(r"#(\d+) · merchant", page.text).group(1))
    # the same code again is refused on the page, and nothing is written
    again = post_form(admin, "/console/organizations", "/console/organizations", form)
    assert again.status_code == 409 and "credit_code_taken" in again.text
    # a bad code is the API's 422, field by field
    bad = post_form(
        admin, "/console/organizations", "/console/organizations", form | {"credit_code": "123"}
    )
    assert bad.status_code == 422 and "credit_code" in bad.text

    org_page = f"/console/organizations/{org_id}"
    made = post_form(
        admin, org_page, f"{org_page}/logins", {"login": "home-till-1", "password": "till-password"}
    )
    page = _follow(admin, made)
    assert "home-till-1" in page.text
    till = app.test_client()
    sign_in(till, "home-till-1", "till-password")
    assert till.get("/merchant").status_code == 200

    # frozen with a public reason: the till is out at once, the sanction is public
    page = _follow(
        admin, post_form(admin, org_page, f"{org_page}/freeze", {"reason": "虚构核销记录"})
    )
    assert 'data-org-status="frozen"' in page.text
    assert till.get("/merchant").status_code == 403
    assert "虚构核销记录" in client.get("/sanctions").text
    empty = post_form(admin, org_page, f"{org_page}/unfreeze", {})
    assert empty.status_code == 422  # a reason is required
    page = _follow(admin, post_form(admin, org_page, f"{org_page}/unfreeze", {"reason": "已整改"}))
    assert 'data-org-status="active"' in page.text
    assert till.get("/merchant").status_code == 200

    # disabling the login ends its session at once
    user_id = int(re.search(r'action="/console/logins/(\d+)/disable"', page.text).group(1))
    done = post_form(admin, org_page, f"/console/logins/{user_id}/disable", {"kind": "merchant"})
    assert "会话立即失效" in _follow(admin, done).text
    assert till.get("/merchant").status_code == 303

    # the auditor reads the same pages and gets no buttons
    auditor = _browser(app, "auditor")
    page = auditor.get(org_page)
    assert page.status_code == 200 and "<form" not in page.text.split("<main")[1]
    assert auditor.post(f"{org_page}/freeze", data={"reason": "x"}).status_code == 403


@pytest.mark.sqlite
def test_an_operator_clients_secret_is_rotated_and_shown_once(app, client):
    admin_h = staff_headers(app, client)
    load(client, admin_h)
    metro = next(s for s in CATALOGUE["scenarios"] if s["code"] == "SIP-S-METRO")
    org = client.get(
        f"/api/v1/admin/organizations?credit_code={metro['operator_credit_code']}", headers=admin_h
    ).get_json()["items"][0]
    admin = _browser(app, "admin")
    org_page = f"/console/organizations/{org['id']}"
    made = post_form(
        admin, org_page, f"{org_page}/operator-clients", {"scenario_code": "SIP-S-METRO"}
    )
    assert made.status_code == 200 and made.headers["Cache-Control"] == "no-store"
    client_id = re.search(r"data-client-id>([^<]+)<", made.text).group(1)
    first = re.search(r"data-client-secret>([^<]+)<", made.text).group(1)
    assert (
        client.post(
            "/api/v1/auth/token", json={"client_id": client_id, "client_secret": first}
        ).status_code
        == 200
    )
    assert first not in admin.get(org_page).text  # shown once

    rotated = post_form(
        admin,
        org_page,
        f"/console/operator-clients/{client_id}/rotate-secret",
        {"organization_id": org["id"]},
    )
    assert rotated.status_code == 200
    second = re.search(r"data-client-secret>([^<]+)<", rotated.text).group(1)
    assert second != first
    token = client.post("/api/v1/auth/token", json={"client_id": client_id, "client_secret": first})
    assert token.status_code == 401
    token = client.post(
        "/api/v1/auth/token", json={"client_id": client_id, "client_secret": second}
    )
    assert token.status_code == 200

    # every act is in the audit log, searchable by actor and by object
    auditor = _browser(app, "auditor")
    log = auditor.get(f"/console/audit?object_type=operator_client&object_id={client_id}")
    assert log.status_code == 200
    assert "operator_client.create" in log.text and "operator_client.rotate_secret" in log.text
    actor = re.search(r"<td><a href=\"/console/audit\?actor=([^\"]+)\">", log.text).group(1)
    by_actor = auditor.get(f"/console/audit?actor={actor}", headers={"HX-Request": "true"})
    assert by_actor.status_code == 200 and "<html" not in by_actor.text  # the htmx fragment
    assert "operator_client.rotate_secret" in by_actor.text
    assert auditor.get("/console/audit?object_id=" + "x" * 65).status_code == 422


@pytest.mark.sqlite
def test_the_next_years_working_days_are_entered_on_the_calendar_page(app, client):
    reviewer = _browser(app, "reviewer")
    page = reviewer.get("/console/calendar")
    assert page.status_code == 200 and "chinesecalendar" in page.text
    form = {
        "year": "2031",
        "notice_title": "国务院办公厅关于2031年部分节假日安排的通知",
        "holidays": "2031-01-01\n2031-05-01\n2031-05-02",
        "makeup_workdays": "",
    }
    refused = post_form(reviewer, "/console/calendar", "/console/calendar", form)
    assert refused.status_code == 422 and "2031-10-01" in refused.text  # the fixed holidays
    form["holidays"] += "\n2031-10-01, 2031-10-02 2031-10-03"
    form["makeup_workdays"] = "2031-09-28"  # a Sunday
    entered = _follow(reviewer, post_form(reviewer, "/console/calendar", "/console/calendar", form))
    assert "年度工作日历已录入" in entered.text and "2031-09-28" in entered.text
    # an expert reads the calendar but enters nothing
    expert = _browser(app, "expert")
    assert expert.get("/console/calendar").status_code == 200
    assert post_form(expert, "/console/calendar", "/console/calendar", form).status_code == 403


def test_finance_executes_a_transfer_and_decides_uses(app, client):
    admin_h = staff_headers(app, client)
    load(client, admin_h)
    staged = pending_settlement(app, client, admin_h)
    finance_h = bearer(login(client, _finance(app), PASSWORD)["access_token"])
    r = client.post(f"/api/v1/admin/settlements/{staged['batch']['id']}/approve", headers=finance_h)
    assert r.status_code == 202
    seller = staged["merchant"]["headers"]  # 600 g settled back, in serial blocks
    buyer_code = credit_code(778)
    r = client.post(
        "/api/v1/admin/organizations",
        json={"name": "园区碳中和会议公司", "kind": "other", "credit_code": buyer_code},
        headers=admin_h,
    )
    buyer_id = r.get_json()["id"]
    r = client.post(
        "/api/v1/admin/org-users",
        json={"organization_id": buyer_id, "login": "buyer-1", "password": "org-password"},
        headers=admin_h,
    )
    buyer = bearer(login(client, "buyer-1", "org-password")["access_token"])
    r = client.post(
        "/api/v1/org/transfers",
        json={"to_credit_code": buyer_code, "amount_g": 200},
        headers=seller,
    )
    transfer_id = r.get_json()["id"]
    finance = _browser(app, "finance")
    # not accepted yet: no button, and the rule refuses it on the page
    assert f"/console/transfers/{transfer_id}/execute" not in finance.get("/console/transfers").text
    early = post_form(finance, "/console/transfers", f"/console/transfers/{transfer_id}/execute")
    assert early.status_code == 409 and "transfer_state" in early.text
    assert (
        client.post(f"/api/v1/org/transfers/{transfer_id}/accept", headers=buyer).status_code == 200
    )
    page = _follow(
        finance,
        post_form(finance, "/console/transfers", f"/console/transfers/{transfer_id}/execute"),
    )
    assert "转让已执行" in page.text and "executed" in page.text

    uses = []
    for reason in ("年会碳中和", "误操作"):
        r = client.post(
            "/api/v1/org/uses",
            json={
                "purpose": "retirement",
                "amount_g": 100,
                "beneficiary": "园区碳中和会议公司 ",
                "reason": reason,
            },
            headers=buyer,
        )
        assert r.status_code == 201, r.get_json()
        uses.append(r.get_json()["id"])
    done = post_form(
        finance,
        "/console/uses?status=pending",
        f"/console/uses/{uses[0]}/approve",
        {"beneficiary_name": "苏州工业园区碳中和会议有限公司"},
    )
    page = _follow(finance, done)
    number = re.search(r'href="/verify/(SIP-C-[0-9-]+)"', page.text).group(1)
    assert client.get(f"/verify/{number}").status_code == 200
    no_reason = post_form(
        finance, "/console/uses?status=pending", f"/console/uses/{uses[1]}/reject"
    )
    assert no_reason.status_code == 422
    page = _follow(
        finance,
        post_form(
            finance,
            "/console/uses?status=pending",
            f"/console/uses/{uses[1]}/reject",
            {"reasons": "申请人撤回"},
        ),
    )
    assert "预留的减排量已退回" in page.text
    twice = post_form(
        finance, "/console/uses", f"/console/uses/{uses[1]}/reject", {"reasons": "again"}
    )
    assert twice.status_code == 409
    from tests.mall_helpers import assert_reconciled

    assert_reconciled(app)


def _finance(app) -> str:
    make_staff(app, "finance-api", PASSWORD, roles=("finance",))
    return "finance-api"


@pytest.mark.sqlite
def test_a_reviewer_retires_a_methodology_version_with_public_reasons(app, client):
    load(client, staff_headers(app, client))
    reviewer = _browser(app, "reviewer")
    assert "/console/methodologies" in reviewer.get("/console").text  # in the menu
    page = reviewer.get("/console/methodologies")
    assert page.status_code == 200
    action = "/console/methodologies/SIP-M-TRANSIT/1.0/retire"
    assert f'action="{action}"' in page.text
    # no reasons: the API's 422, nothing retired
    empty = post_form(reviewer, "/console/methodologies", action, {})
    assert empty.status_code == 422 and "reasons" in empty.text
    # no token: refused
    assert reviewer.post(action, data={"reasons": "x"}).status_code == 403
    retired = client.get("/api/v1/public/methodologies?status=retired").get_json()["items"]
    assert retired == []
    page = _follow(
        reviewer,
        post_form(reviewer, "/console/methodologies", action, {"reasons": "被1.1版本取代。"}),
    )
    assert "方法学版本已废止" in page.text and "被1.1版本取代。" in page.text
    retired = client.get("/api/v1/public/methodologies?status=retired").get_json()["items"]
    assert [(m["code"], m["version"], m["retirement_reasons"]) for m in retired] == [
        ("SIP-M-TRANSIT", "1.0", "被1.1版本取代。")
    ]
    # twice: the rule's 409 on the page; an unknown version: its 404
    twice = post_form(reviewer, "/console/methodologies", action, {"reasons": "again"})
    assert twice.status_code == 409 and "already_retired" in twice.text
    missing = post_form(
        reviewer,
        "/console/methodologies",
        "/console/methodologies/SIP-M-NONE/9.9/retire",
        {"reasons": "x"},
    )
    assert missing.status_code == 404 and "methodology_not_found" in missing.text
    # the act is in the audit log under the reviewer's name and role
    auditor = _browser(app, "auditor")
    log = auditor.get("/console/audit?action=methodology.retired")
    assert "<td>methodology.retired</td>" in log.text and "<td>reviewer</td>" in log.text
    # only the reviewer: the auditor, the admin and an expert get 403 and no menu item
    for other in (auditor, _browser(app, "admin"), _browser(app, "expert")):
        assert other.get("/console/methodologies").status_code == 403
        assert "/console/methodologies" not in other.get("/console").text
        token = csrf_of(other.get("/console/calendar").text)
        r = other.post(
            "/console/methodologies/SIP-M-EVCHARGE/1.0/retire",
            data={"reasons": "x", "csrf_token": token},
        )
        assert r.status_code == 403
    published = client.get("/api/v1/public/methodologies").get_json()["items"]
    assert [m["code"] for m in published] == ["SIP-M-EVCHARGE"]


@pytest.mark.sqlite
def test_a_reviewer_deregisters_a_scenario_on_the_centres_finding(app, client):
    load(client, staff_headers(app, client))
    reviewer = _browser(app, "reviewer")
    page = reviewer.get("/console/deregistrations?code=SIP-S-BUS")
    assert page.status_code == 200 and 'value="SIP-S-BUS"' in page.text
    form = {"subject_code": "SIP-S-BUS", "cause": "non_compliance", "reasons": "数据造假。"}
    assert reviewer.post("/console/deregistrations", data=form).status_code == 403  # no token
    # staff may not give the owner's own cause: the API's 422
    bad = post_form(
        reviewer, "/console/deregistrations", "/console/deregistrations", form | {"cause": "x"}
    )
    assert bad.status_code == 422 and "cause" in bad.text
    codes = [s["code"] for s in client.get("/api/v1/public/scenarios").get_json()["items"]]
    assert "SIP-S-BUS" in codes
    page = _follow(
        reviewer, post_form(reviewer, "/console/deregistrations", "/console/deregistrations", form)
    )
    assert "已注销" in page.text
    codes = [s["code"] for s in client.get("/api/v1/public/scenarios").get_json()["items"]]
    assert "SIP-S-BUS" not in codes and "SIP-S-METRO" in codes
    from backend.db import db
    from backend.registry.models import Scenario

    with app.app_context():
        bus = db.session.query(Scenario).filter_by(code="SIP-S-BUS").one()
        assert (bus.status, bus.deregistration_cause, bus.deregistration_reasons) == (
            "deregistered",
            "non_compliance",
            "数据造假。",
        )
    twice = post_form(reviewer, "/console/deregistrations", "/console/deregistrations", form)
    assert twice.status_code == 409 and "not_registered" in twice.text
    unknown = post_form(
        reviewer,
        "/console/deregistrations",
        "/console/deregistrations",
        form | {"subject_code": "SIP-S-NONE"},
    )
    assert unknown.status_code == 404 and "subject_not_found" in unknown.text
    auditor = _browser(app, "auditor")
    log = auditor.get("/console/audit?action=scenario.deregistered")
    assert "<td>scenario.deregistered</td>" in log.text and "<td>reviewer</td>" in log.text
    # only the reviewer
    for other in (auditor, _browser(app, "admin")):
        assert other.get("/console/deregistrations").status_code == 403
        token = csrf_of(other.get("/console/calendar").text)
        metro = form | {"subject_code": "SIP-S-METRO", "csrf_token": token}
        assert other.post("/console/deregistrations", data=metro).status_code == 403
    codes = [s["code"] for s in client.get("/api/v1/public/scenarios").get_json()["items"]]
    assert "SIP-S-METRO" in codes


@pytest.mark.sqlite
def test_the_double_claiming_check_is_listed_for_reviewers_and_auditors(app, client):
    load(client, staff_headers(app, client))
    reviewer = _browser(app, "reviewer")
    page = reviewer.get("/console/duplicates")
    assert page.status_code == 200 and 'data-findings="0"' in page.text
    # the nightly job's stored report, as the job would keep it
    from datetime import date

    from backend.db import db
    from backend.registry.models import DuplicateReport

    finding = {
        "reason": "asset",
        "objects": ["SIP-S-BIKE", "SIP-S-METRO"],
        "assets": ["meter:M001", "station:M-001"],
        "key": "M001",
    }
    with app.app_context():
        db.session.add(DuplicateReport(day=date(2026, 11, 30), count=1, findings=[finding]))
        db.session.commit()
    api = client.get(
        "/api/v1/admin/registry/duplicates",
        headers=bearer(login(client, "page-reviewer", PASSWORD)["access_token"]),
    ).get_json()
    assert api["count"] == 1
    page = reviewer.get("/console/duplicates")
    assert 'data-findings="1"' in page.text
    assert "SIP-S-BIKE" in page.text and "station:M-001" in page.text
    assert "/console/deregistrations?code=SIP-S-METRO" in page.text  # the reviewer may act
    assert "/console/duplicates" in reviewer.get("/console").text
    auditor = _browser(app, "auditor")
    page = auditor.get("/console/duplicates")
    assert page.status_code == 200 and "SIP-S-BIKE" in page.text
    assert "/console/deregistrations" not in page.text  # reads only
    for role in ("admin", "finance", "expert"):
        other = _browser(app, role)
        assert other.get("/console/duplicates").status_code == 403
        assert "/console/duplicates" not in other.get("/console").text
