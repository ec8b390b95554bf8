"""Acting as each role over HTTP, and checking the books."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from backend.registry.credit_code import check_char

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = json.loads((ROOT / "config" / "catalogue.json").read_text(encoding="utf-8"))
_seq = itertools.count(1)


def credit_code(n: int | None = None) -> str:
    n = next(_seq) if n is None else n
    first = f"91320594MA{n:07d}"
    return first + check_char(first)


def phone(n: int | None = None) -> str:
    n = next(_seq) if n is None else n
    return f"139{n:08d}"


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def login(client, login_name: str, password: str) -> dict:
    r = client.post("/api/v1/auth/login", json={"login": login_name, "password": password})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def make_staff(
    app, login_name: str = "staff1", password: str = "staff-password", roles=("admin",)
) -> int:
    from backend.auth.users import create_login_user
    from backend.db import db

    with app.app_context():
        user = create_login_user("staff", login_name, password, roles=list(roles))
        db.session.commit()
        return user.id


def staff_headers(app, client) -> dict:
    """An `admin` staff login (accounts and organisations)."""
    make_staff(app)
    return bearer(login(client, "staff1", "staff-password")["access_token"])


def role_headers(app, client, *roles: str) -> dict:
    """A staff login holding exactly `roles` (e.g. `finance` to approve settlements)."""
    name = "staff-" + "-".join(roles)
    make_staff(app, name, "staff-password", roles=roles)
    return bearer(login(client, name, "staff-password")["access_token"])


def register_resident(client, phone_no: str | None = None, password: str = "resident-pass") -> dict:
    phone_no = phone_no or phone()
    r = client.post("/api/v1/auth/register", json={"phone": phone_no, "password": password})
    assert r.status_code == 201, r.get_json()
    tokens = login(client, phone_no, password)
    return {
        "id": r.get_json()["id"],
        "phone": phone_no,
        "headers": bearer(tokens["access_token"]),
        "tokens": tokens,
    }


def load_catalogue(client, headers) -> dict:
    r = client.post("/api/v1/admin/catalogue/import", json=CATALOGUE, headers=headers)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def assert_books_balanced(app) -> None:
    from backend.ledger import invariants

    with app.app_context():
        report = invariants()
        assert report.ok, report


def scenario_operator_org(client, staff_h, scenario_code: str) -> int:
    code = next(s for s in CATALOGUE["scenarios"] if s["code"] == scenario_code)[
        "operator_credit_code"
    ]
    r = client.get(f"/api/v1/admin/organizations?credit_code={code}", headers=staff_h)
    assert r.status_code == 200, r.get_json()
    return r.get_json()["items"][0]["id"]


def operator_headers(client, staff_h, scenario_code: str = "SIP-S-METRO") -> dict:
    org_id = scenario_operator_org(client, staff_h, scenario_code)
    r = client.post(
        "/api/v1/admin/operator-clients",
        json={"organization_id": org_id, "scenario_code": scenario_code},
        headers=staff_h,
    )
    assert r.status_code == 201, r.get_json()
    creds = r.get_json()
    r = client.post("/api/v1/auth/token", json=creds)
    assert r.status_code == 200, r.get_json()
    return bearer(r.get_json()["access_token"])


def bind(client, operator_h, resident_h, user_ref: str) -> dict:
    r = client.post("/api/v1/operator/bind-tokens", json={"user_ref": user_ref}, headers=operator_h)
    assert r.status_code == 201, r.get_json()
    r = client.post(
        "/api/v1/me/consents", json={"bind_token": r.get_json()["bind_token"]}, headers=resident_h
    )
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def trip(ext: str, ref: str, km: float, start, minutes: int = 30, kind: str = "metro") -> dict:
    from datetime import timedelta

    return {
        "external_id": ext,
        "user_ref": ref,
        "activity_type": kind,
        "started_at": start.isoformat(),
        "ended_at": (start + timedelta(minutes=minutes)).isoformat(),
        "distance_m": int(km * 1000),
    }


def upload(client, operator_h, records: list, headers: dict | None = None):
    return client.post(
        "/api/v1/operator/activities", json={"records": records}, headers=headers or operator_h
    )
