"""Acting in the registry over HTTP: staff with given roles, organisations with a login,
applications walked through their steps."""

from __future__ import annotations

import hashlib
import itertools
from datetime import UTC, datetime, timedelta

from tests.helpers import bearer, credit_code, login

API = "/api/v1"
_seq = itertools.count(1)


def staff(app, client, roles: list[str], login_name: str | None = None) -> dict:
    """A staff login holding exactly `roles`; returns its headers and id."""
    from backend.auth.users import create_login_user
    from backend.db import db

    login_name = login_name or f"{'-'.join(roles)}{next(_seq)}"
    with app.app_context():
        user = create_login_user("staff", login_name, "staff-password", roles=roles)
        db.session.commit()
        user_id = user.id
    return {
        "id": user_id,
        "headers": bearer(login(client, login_name, "staff-password")["access_token"]),
    }


def organization(client, admin_h, kind: str = "operator", name: str | None = None) -> dict:
    """An organisation and one login of it (an org user, or a till login for a merchant)."""
    n = next(_seq)
    r = client.post(
        f"{API}/admin/organizations",
        json={"name": name or f"组织 {n}", "kind": kind, "credit_code": credit_code(500_000 + n)},
        headers=admin_h,
    )
    assert r.status_code == 201, r.get_json()
    org_id = r.get_json()["id"]
    login_name = f"org{n}x{org_id}"
    r = client.post(
        f"{API}/admin/org-users",
        json={"organization_id": org_id, "login": login_name, "password": "org-password"},
        headers=admin_h,
    )
    assert r.status_code == 201, r.get_json()
    tokens = login(client, login_name, "org-password")
    return {"id": org_id, "headers": bearer(tokens["access_token"]), "login": login_name}


def doc(title: str = "方法学文本") -> dict:
    return {"title": title, "sha256": hashlib.sha256(title.encode()).hexdigest()}


COMMITMENT = {"no_other_scheme": True, "no_green_power_trading": True, "no_gec": True}


def methodology_body(code: str, **over) -> dict:
    body = {
        "type": "methodology",
        "code": code,
        "title": "低碳出行方法学（测试）",
        "kind": "scenario",
        "formula": "transit",
        "parameters": {"baseline_g_per_km": 60, "modes": {"metro": 13.3, "bus": 33.1}},
        "documents": [doc()],
    }
    return body | over


def scenario_body(code: str, assets: list[dict], **over) -> dict:
    body = {
        "type": "scenario",
        "code": code,
        "title": "测试地铁场景",
        "methodology": "SIP-M-TRANSIT",
        "methodology_version": "1.0",
        "assets": assets,
        "commitment": COMMITMENT,
        "activity_types": ["metro"],
        "daily_cap_g": 5000,
        "window_days": 30,
        "personal_data_basis": "consent",
    }
    return body | over


def apply(client, org: dict, body: dict, expect: int = 201):
    r = client.post(f"{API}/org/applications", json=body, headers=org["headers"])
    assert r.status_code == expect, r.get_json()
    return r.get_json()


def act(client, headers: dict, application_id: int, step: str, body=None, expect: int = 200):
    r = client.post(f"{API}/admin/applications/{application_id}/{step}", json=body, headers=headers)
    assert r.status_code == expect, (step, r.get_json())
    return r.get_json()


def end_notice(app, application_id: int) -> None:
    """Time passes: the notice's end moves to a moment just past."""
    from backend.applications.models import Application
    from backend.db import db

    with app.app_context():
        row = db.session.get(Application, application_id)
        row.notice_starts_at = datetime.now(UTC) - timedelta(days=10)
        row.notice_ends_at = datetime.now(UTC) - timedelta(seconds=1)
        db.session.commit()


def through_review(client, reviewer: dict, experts: list[dict], application_id: int) -> None:
    """Accepted, and approved by every expert given."""
    act(client, reviewer["headers"], application_id, "pre-review", {"decision": "accept"})
    for expert in experts:
        act(
            client,
            expert["headers"],
            application_id,
            "opinions",
            {"conclusion": "approve", "text": "符合方法学要求。"},
            expect=201,
        )


def approve_fully(app, client, reviewer, experts, application_id: int) -> dict:
    through_review(client, reviewer, experts, application_id)
    act(client, reviewer["headers"], application_id, "notice")
    end_notice(app, application_id)
    return act(
        client,
        reviewer["headers"],
        application_id,
        "decide",
        {"decision": "approve", "reasons": "公示期满无异议。"},
    )
