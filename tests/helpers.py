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


def make_staff(app, login_name: str = "staff1", password: str = "staff-password") -> None:
    from backend.auth.services import create_login_user
    from backend.db import db

    with app.app_context():
        create_login_user("staff", login_name, password, roles=["admin"])
        db.session.commit()


def staff_headers(app, client) -> dict:
    make_staff(app)
    return bearer(login(client, "staff1", "staff-password")["access_token"])


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
