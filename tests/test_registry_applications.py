"""The registry, part one, over HTTP: methodologies, revisions, scenarios, projects and
deregistrations through pre-review, expert opinions, public notice, objections and
decision; steps that can't be skipped; two reviewers racing; the promise against double
claiming; deregistration stopping uploads."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.helpers import (
    bind,
    load_catalogue,
    register_resident,
    staff_headers,
    trip,
    upload,
)
from tests.mall_helpers import race
from tests.registry_helpers import (
    API,
    COMMITMENT,
    act,
    apply,
    approve_fully,
    doc,
    end_notice,
    methodology_body,
    organization,
    scenario_body,
    staff,
    through_review,
)

SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture()
def desk(app, client):
    """The catalogue, an admin, a reviewer, three experts, an auditor and an operator."""
    admin_h = staff_headers(app, client)
    load_catalogue(client, admin_h)
    return {
        "admin": admin_h,
        "reviewer": staff(app, client, ["reviewer"]),
        "experts": [staff(app, client, ["expert"]) for _ in range(3)],
        "auditor": staff(app, client, ["auditor"]),
        "operator": organization(client, admin_h, "operator"),
    }


def _history(client, org, application_id):
    r = client.get(f"{API}/org/applications/{application_id}", headers=org["headers"])
    assert r.status_code == 200, r.get_json()
    return r.get_json()


@pytest.mark.sqlite
def test_a_methodology_goes_through_review_notice_and_decision(app, client, desk):
    org = desk["operator"]
    created = apply(client, org, methodology_body("SIP-M-TEST"))
    assert created["status"] == "submitted" and created["type"] == "methodology"
    aid = created["id"]
    through_review(client, desk["reviewer"], desk["experts"], aid)
    notice = act(client, desk["reviewer"]["headers"], aid, "notice")
    assert notice["status"] == "in_notice"
    ends = datetime.fromisoformat(notice["notice"]["ends_at"])
    assert ends.astimezone(SH).time() == datetime.min.time()  # 24:00 Shanghai
    assert ends - datetime.fromisoformat(notice["notice"]["starts_at"]) >= timedelta(days=6)
    # the notice is public while it runs
    r = client.get(f"{API}/public/notices?status=open")
    assert [n["id"] for n in r.get_json()["items"]] == [aid]
    # a decision before it ends is refused
    r = client.post(
        f"{API}/admin/applications/{aid}/decide",
        json={"decision": "approve", "reasons": "x"},
        headers=desk["reviewer"]["headers"],
    )
    assert r.status_code == 409 and r.get_json()["code"] == "notice_running"
    assert client.get(f"{API}/public/methodologies").get_json()["items"][0]["code"] != "SIP-M-TEST"
    end_notice(app, aid)
    decided = act(
        client,
        desk["reviewer"]["headers"],
        aid,
        "decide",
        {"decision": "approve", "reasons": "公示期满无异议。"},
    )
    assert decided["status"] == "approved"
    published = client.get(f"{API}/public/methodologies").get_json()["items"]
    mine = [m for m in published if m["code"] == "SIP-M-TEST"]
    assert len(mine) == 1 and mine[0]["version"] == "1.0"
    history = _history(client, org, aid)
    assert [h["status"] for h in history["history"]] == [
        "submitted",
        "accepted",
        "in_review",
        "in_review",
        "in_review",
        "in_notice",
        "approved",
    ]
    assert {h["role"] for h in history["history"]} == {"applicant", "reviewer", "expert"}
    assert history["result"]["type"] == "methodology"
    # closed notices list it now
    closed = client.get(f"{API}/public/notices?status=closed").get_json()["items"]
    assert [n["id"] for n in closed] == [aid]


def test_a_returned_application_ends_with_the_reasons_shown(client, desk):
    org = desk["operator"]
    aid = apply(client, org, methodology_body("SIP-M-RET"))["id"]
    act(
        client,
        desk["reviewer"]["headers"],
        aid,
        "pre-review",
        {"decision": "return", "reasons": "缺少参数来源说明。"},
    )
    seen = _history(client, org, aid)
    assert seen["status"] == "returned"
    assert seen["history"][-1]["note"] == "缺少参数来源说明。"
    assert seen["allowed"] == []
    for step, body in (
        ("pre-review", {"decision": "accept"}),
        ("notice", None),
        ("decide", {"decision": "approve", "reasons": "x"}),
    ):
        r = client.post(
            f"{API}/admin/applications/{aid}/{step}", json=body, headers=desk["reviewer"]["headers"]
        )
        assert r.status_code == 409 and r.get_json()["code"] == "step_not_allowed", step
    r = client.post(f"{API}/org/applications/{aid}/withdraw", headers=org["headers"])
    assert r.status_code == 409


def test_every_skipped_step_is_refused(client, desk):
    reviewer, expert = desk["reviewer"]["headers"], desk["experts"][0]["headers"]
    aid = apply(client, desk["operator"], methodology_body("SIP-M-SKIP"))["id"]
    skipped = [
        (reviewer, "notice", None),
        (reviewer, "decide", {"decision": "approve", "reasons": "x"}),
        (expert, "opinions", {"conclusion": "approve", "text": "x"}),
    ]
    for headers, step, body in skipped:
        r = client.post(f"{API}/admin/applications/{aid}/{step}", json=body, headers=headers)
        assert r.status_code == 409, (step, r.get_json())
        problem = r.get_json()
        assert problem["code"] == "step_not_allowed"
    act(client, reviewer, aid, "pre-review", {"decision": "accept"})
    # accepted: no notice and no approval before the experts
    for step, body in (("notice", None), ("decide", {"decision": "approve", "reasons": "x"})):
        r = client.post(f"{API}/admin/applications/{aid}/{step}", json=body, headers=reviewer)
        assert r.status_code == 409 and r.get_json()["code"] == "step_not_allowed", step
    r = client.post(
        f"{API}/admin/applications/{aid}/pre-review", json={"decision": "accept"}, headers=reviewer
    )
    assert r.status_code == 409
    act(client, expert, aid, "opinions", {"conclusion": "approve", "text": "可"}, expect=201)
    # one opinion is not a quorum, and approval still needs the notice
    r = client.post(f"{API}/admin/applications/{aid}/notice", headers=reviewer)
    assert r.status_code == 409 and r.get_json()["code"] == "expert_quorum"
    r = client.post(
        f"{API}/admin/applications/{aid}/decide",
        json={"decision": "approve", "reasons": "x"},
        headers=reviewer,
    )
    assert r.status_code == 409 and r.get_json()["code"] == "step_not_allowed"
    # the same expert twice is refused
    r = client.post(
        f"{API}/admin/applications/{aid}/opinions",
        json={"conclusion": "approve", "text": "again"},
        headers=expert,
    )
    assert r.status_code == 409 and r.get_json()["code"] == "opinion_exists"


def test_experts_majority_against_means_no_notice_and_a_rejection(client, desk):
    reviewer = desk["reviewer"]["headers"]
    aid = apply(client, desk["operator"], methodology_body("SIP-M-NO"))["id"]
    act(client, reviewer, aid, "pre-review", {"decision": "accept"})
    for expert, conclusion in zip(desk["experts"], ("approve", "reject", "revise"), strict=True):
        act(
            client,
            expert["headers"],
            aid,
            "opinions",
            {"conclusion": conclusion, "text": "t"},
            expect=201,
        )
    r = client.post(f"{API}/admin/applications/{aid}/notice", headers=reviewer)
    assert r.status_code == 409 and r.get_json()["code"] == "expert_quorum"
    assert r.get_json()["approvals"] == 1
    done = act(client, reviewer, aid, "decide", {"decision": "reject", "reasons": "专家未通过。"})
    assert done["status"] == "rejected"


@pytest.mark.sqlite
def test_an_upheld_objection_rejects_and_releases_the_assets(app, client, desk):
    org = desk["operator"]
    reviewer = desk["reviewer"]["headers"]
    assets = [{"kind": "station", "id": "SZ-GYY-001"}]
    aid = apply(client, org, scenario_body("SIP-S-OBJ", assets))["id"]
    through_review(client, desk["reviewer"], desk["experts"], aid)
    act(client, reviewer, aid, "notice")
    r = client.post(
        f"{API}/public/notices/{aid}/objections",
        json={"text": "该站点已在其他平台申报。", "contact": "13900001111"},
    )
    assert r.status_code == 201, r.get_json()
    reference = r.get_json()["reference"]
    notice = client.get(f"{API}/public/notices/{aid}").get_json()
    assert notice["objections"] == [{"reference": reference, "status": "open", "outcome": None}]
    assert "13900001111" not in str(notice)
    end_notice(app, aid)
    r = client.post(
        f"{API}/admin/applications/{aid}/decide",
        json={"decision": "approve", "reasons": "x"},
        headers=reviewer,
    )
    assert r.status_code == 409 and r.get_json()["code"] == "objection_open"
    objections = client.get(f"{API}/admin/objections?status=open", headers=reviewer).get_json()
    (objection,) = objections["items"]
    assert objection["contact"] == "13900001111"  # staff see it, the public never does
    r = client.post(
        f"{API}/admin/objections/{objection['id']}/resolve",
        json={"outcome": "upheld", "text": "经核实，该站点重复申报。"},
        headers=reviewer,
    )
    assert r.status_code == 200, r.get_json()
    seen = _history(client, org, aid)
    assert seen["status"] == "rejected"
    assert seen["objections"] == [
        {"reference": reference, "status": "upheld", "outcome": "经核实，该站点重复申报。"}
    ]
    # the asset is free again
    again = apply(client, org, scenario_body("SIP-S-OBJ2", assets))
    assert again["status"] == "submitted"
    # objections to a closed notice are refused
    r = client.post(f"{API}/public/notices/{aid}/objections", json={"text": "late"})
    assert r.status_code == 409 and r.get_json()["code"] == "notice_closed"


def test_a_withdrawn_application_takes_no_more_steps(client, desk):
    org = desk["operator"]
    aid = apply(client, org, scenario_body("SIP-S-WD", [{"kind": "meter", "id": "M-1"}]))["id"]
    through_review(client, desk["reviewer"], desk["experts"][:1], aid)
    r = client.post(f"{API}/org/applications/{aid}/withdraw", headers=org["headers"])
    assert r.status_code == 200 and r.get_json()["status"] == "withdrawn"
    r = client.post(
        f"{API}/admin/applications/{aid}/opinions",
        json={"conclusion": "approve", "text": "x"},
        headers=desk["experts"][1]["headers"],
    )
    assert r.status_code == 409 and r.get_json()["code"] == "step_not_allowed"
    # another organisation cannot see it
    other = organization(client, desk["admin"], "operator")
    r = client.get(f"{API}/org/applications/{aid}", headers=other["headers"])
    assert r.status_code == 404
    assert client.get(f"{API}/org/applications", headers=other["headers"]).get_json()["items"] == []


def test_a_revision_publishes_1_1_beside_an_unchanged_1_0(app, client, desk):
    org = desk["operator"]
    before = {
        m["version"]: m
        for m in client.get(f"{API}/public/methodologies").get_json()["items"]
        if m["code"] == "SIP-M-TRANSIT"
    }
    params = dict(before["1.0"]["parameters"])
    params["baseline_g_per_km"] = 65.0
    aid = apply(
        client,
        org,
        {
            "type": "methodology_revision",
            "code": "SIP-M-TRANSIT",
            "parameters": params,
            "documents": [doc("修订说明")],
            "changes": "基准排放因子更新为65 g/km。",
        },
    )["id"]
    approve_fully(app, client, desk["reviewer"], desk["experts"], aid)
    after = {
        m["version"]: m
        for m in client.get(f"{API}/public/methodologies").get_json()["items"]
        if m["code"] == "SIP-M-TRANSIT"
    }
    assert set(after) == {"1.0", "1.1"}
    assert after["1.0"] == before["1.0"]
    assert after["1.1"]["parameters"]["baseline_g_per_km"] == 65.0


@pytest.mark.sqlite
def test_scenario_registered_then_deregistered_stops_uploads(app, client, desk):
    org = desk["operator"]
    aid = apply(client, org, scenario_body("SIP-S-NEW", [{"kind": "station", "id": "NEW-1"}]))["id"]
    approve_fully(app, client, desk["reviewer"], desk["experts"], aid)
    codes = [s["code"] for s in client.get(f"{API}/public/scenarios").get_json()["items"]]
    assert "SIP-S-NEW" in codes
    r = client.post(
        f"{API}/admin/operator-clients",
        json={"organization_id": org["id"], "scenario_code": "SIP-S-NEW"},
        headers=desk["admin"],
    )
    assert r.status_code == 201, r.get_json()
    op = client.post(f"{API}/auth/token", json=r.get_json()).get_json()
    op_h = {"Authorization": f"Bearer {op['access_token']}"}
    resident = register_resident(client)
    bind(client, op_h, resident["headers"], "rider-1")
    start = datetime.now(SH) - timedelta(hours=3)
    first = upload(client, op_h, [trip("t1", "rider-1", 10, start)])
    assert first.get_json()["accepted"] == 1
    # the operator asks to deregister; review and decision, no notice
    dereg = apply(
        client, org, {"type": "deregistration", "subject_code": "SIP-S-NEW", "reason": "停运"}
    )["id"]
    reviewer = desk["reviewer"]["headers"]
    act(client, reviewer, dereg, "pre-review", {"decision": "accept"})
    r = client.post(f"{API}/admin/applications/{dereg}/notice", headers=reviewer)
    assert r.status_code == 409 and r.get_json()["code"] == "step_not_allowed"
    act(client, reviewer, dereg, "decide", {"decision": "approve", "reasons": "同意注销。"})
    r = upload(client, op_h, [trip("t2", "rider-1", 10, start + timedelta(hours=1))])
    assert r.status_code == 409 and r.get_json()["code"] == "scenario_not_registered"
    r = client.post(f"{API}/operator/bind-tokens", json={"user_ref": "x"}, headers=op_h)
    assert r.status_code == 409 and r.get_json()["code"] == "scenario_not_registered"
    codes = [s["code"] for s in client.get(f"{API}/public/scenarios").get_json()["items"]]
    assert "SIP-S-NEW" not in codes
    # what was credited before stays
    activities = client.get(f"{API}/me/activities", headers=resident["headers"]).get_json()
    assert [a["reduction_g"] for a in activities["items"]] == [467]
    # the station is free for another scenario now
    assert apply(client, org, scenario_body("SIP-S-NEW2", [{"kind": "station", "id": "new-1"}]))


def test_staff_deregister_on_their_own_finding(client, desk):
    r = client.post(
        f"{API}/admin/deregistrations",
        json={"subject_code": "SIP-S-BUS", "cause": "non_compliance", "reasons": "数据造假。"},
        headers=desk["reviewer"]["headers"],
    )
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "deregistered"
    r = client.post(
        f"{API}/admin/deregistrations",
        json={"subject_code": "SIP-S-BUS", "cause": "non_compliance", "reasons": "again"},
        headers=desk["reviewer"]["headers"],
    )
    assert r.status_code == 409 and r.get_json()["code"] == "not_registered"


def test_two_reviewers_deciding_at_once_give_one_decision(app, client, desk):
    aid = apply(client, desk["operator"], methodology_body("SIP-M-RACE"))["id"]
    through_review(client, desk["reviewer"], desk["experts"], aid)
    act(client, desk["reviewer"]["headers"], aid, "notice")
    end_notice(app, aid)
    second = staff(app, client, ["reviewer"])

    def decide(headers, decision):
        def call(c):
            r = c.post(
                f"{API}/admin/applications/{aid}/decide",
                json={"decision": decision, "reasons": decision},
                headers=headers,
            )
            return r.status_code, r.get_json().get("code")

        return call

    results = race(
        app,
        [decide(desk["reviewer"]["headers"], "approve"), decide(second["headers"], "reject")],
    )
    assert sorted(code for code, _ in results) == [200, 409]
    assert [c for s, c in results if s == 409] == ["step_not_allowed"]
    seen = client.get(
        f"{API}/admin/applications/{aid}", headers=desk["reviewer"]["headers"]
    ).get_json()
    assert [h["action"] for h in seen["history"]].count("approve") + [
        h["action"] for h in seen["history"]
    ].count("reject") == 1
    published = [
        m
        for m in client.get(f"{API}/public/methodologies").get_json()["items"]
        if m["code"] == "SIP-M-RACE"
    ]
    assert len(published) == (1 if seen["status"] == "approved" else 0)


def test_an_asset_held_elsewhere_is_refused_naming_the_holder(app, client, desk):
    org = desk["operator"]
    apply(client, org, scenario_body("SIP-S-A1", [{"kind": "plate", "id": "苏E·12345"}]))
    r = client.post(
        f"{API}/org/applications",
        json=scenario_body("SIP-S-A2", [{"kind": "plate", "id": "苏e 12345"}]),
        headers=organization(client, desk["admin"], "operator")["headers"],
    )
    assert r.status_code == 409, r.get_json()
    problem = r.get_json()
    assert problem["code"] == "asset_already_registered"
    assert problem["held_by"] == "SIP-S-A1"
    # a project claiming the same green certificate as a registered one
    owner = organization(client, desk["admin"], "project_owner")
    project = {
        "type": "project",
        "code": "SIP-P-SOLAR",
        "title": "屋顶光伏项目",
        "methodology": "SIP-M-PV",
        "methodology_version": "1.0",
        "assets": [{"kind": "gec_project", "id": "12345678901234567"}],
        "commitment": COMMITMENT,
    }
    pv = apply(
        client,
        owner,
        methodology_body(
            "SIP-M-PV",
            kind="project",
            formula="pv_generation",
            parameters={"grid_g_per_kwh": 561.7},
        ),
    )["id"]
    approve_fully(app, client, desk["reviewer"], desk["experts"], pv)
    pid = apply(client, owner, project)["id"]
    approve_fully(app, client, desk["reviewer"], desk["experts"], pid)
    assert [p["code"] for p in client.get(f"{API}/public/projects").get_json()["items"]] == [
        "SIP-P-SOLAR"
    ]
    r = client.post(
        f"{API}/org/applications",
        json=project | {"code": "SIP-P-COPY"},
        headers=organization(client, desk["admin"], "project_owner")["headers"],
    )
    assert r.status_code == 409 and r.get_json()["held_by"] == "SIP-P-SOLAR"
    r = client.post(
        f"{API}/org/applications",
        json=project | {"code": "SIP-P-BAD", "assets": [{"kind": "gec_project", "id": "123"}]},
        headers=owner["headers"],
    )
    assert r.status_code == 422


def test_a_retired_methodology_takes_no_new_scenarios_but_old_ones_run(client, desk):
    r = client.post(
        f"{API}/admin/methodologies/SIP-M-TRANSIT/1.0/retire",
        json={"reasons": "被1.1版本取代。"},
        headers=desk["reviewer"]["headers"],
    )
    assert r.status_code == 200 and r.get_json()["status"] == "retired"
    r = client.post(
        f"{API}/org/applications",
        json=scenario_body("SIP-S-LATE", [{"kind": "station", "id": "L-1"}]),
        headers=desk["operator"]["headers"],
    )
    assert r.status_code == 409 and r.get_json()["code"] == "methodology_retired"
    retired = client.get(f"{API}/public/methodologies?status=retired").get_json()["items"]
    assert [(m["code"], m["retirement_reasons"]) for m in retired] == [
        ("SIP-M-TRANSIT", "被1.1版本取代。")
    ]
    codes = [s["code"] for s in client.get(f"{API}/public/scenarios").get_json()["items"]]
    assert "SIP-S-METRO" in codes  # it keeps running


def test_the_catalogue_is_on_file_as_approved_applications(client, desk):
    r = client.get(f"{API}/admin/applications?status=approved", headers=desk["auditor"]["headers"])
    items = r.get_json()["items"]
    assert {a["type"] for a in items} == {"methodology", "scenario"}
    assert all(a["history"][-1]["status"] == "approved" for a in items)
    assert all(a["history"][0]["role"] == "system" for a in items)


def test_roles_of_the_review_desk(client, desk):
    aid = apply(client, desk["operator"], methodology_body("SIP-M-ROLE"))["id"]
    expert = desk["experts"][0]["headers"]
    auditor = desk["auditor"]["headers"]
    r = client.post(
        f"{API}/admin/applications/{aid}/pre-review", json={"decision": "accept"}, headers=expert
    )
    assert r.status_code == 403
    r = client.post(
        f"{API}/admin/applications/{aid}/pre-review", json={"decision": "accept"}, headers=auditor
    )
    assert r.status_code == 403
    assert client.get(f"{API}/admin/applications/{aid}", headers=auditor).status_code == 200
    r = client.post(f"{API}/org/applications", json=methodology_body("X"), headers=expert)
    assert r.status_code == 403


def test_the_nightly_check_lists_near_duplicate_assets(app, client, desk):
    from backend.registry.duplicates import find_duplicates
    from jobs.runner import run

    org = desk["operator"]
    first = apply(client, org, scenario_body("SIP-S-D1", [{"kind": "station", "id": "M-001"}]))
    approve_fully(app, client, desk["reviewer"], desk["experts"], first["id"])
    second = apply(client, org, scenario_body("SIP-S-D2", [{"kind": "meter", "id": "m001"}]))
    approve_fully(app, client, desk["reviewer"], desk["experts"], second["id"])
    with app.app_context():
        assert run(find_duplicates)["findings"] == 1
        assert run(find_duplicates)["findings"] == 1  # a second run replaces the day's report
    r = client.get(f"{API}/admin/registry/duplicates", headers=desk["reviewer"]["headers"])
    report = r.get_json()
    assert report["count"] == 1
    (finding,) = report["findings"]
    assert finding["reason"] == "asset"
    assert finding["objects"] == ["SIP-S-D1", "SIP-S-D2"]
