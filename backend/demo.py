"""Demo data for the embedded default: the default catalogue, a staff login, a merchant
with a login, a resident, and an operator client for the metro scenario. Idempotent."""

from __future__ import annotations

import json

from sqlalchemy import select

from backend.auth import users as auth
from backend.auth.models import OperatorClient, User
from backend.auth.phones import phone_hash
from backend.auth.tokens import sha256
from backend.db import db
from backend.registry import catalogue
from backend.registry.models import Organization, Scenario
from backend.runtime import setting
from config.settings import DEFAULT_CATALOGUE

STAFF = ("admin", "admin-demo-pass")  # role admin: accounts and organisations
FINANCE = ("finance", "finance-demo-pass")  # role finance: settlements
AUDITOR = ("auditor", "auditor-demo-pass")  # role auditor: reads everything, the audit log
MERCHANT_USER = ("demo-merchant", "merchant-demo-pass")
RESIDENT = ("13800000000", "resident-demo-pass")
OPERATOR = ("op_demo_metro", "operator-demo-secret")
MERCHANT_ORG = "苏州工业园区低碳示范商户（演示）"


def _merchant_credit_code() -> str:
    from backend.registry.credit_code import check_char

    return "91320594MA1DEM001" + check_char("91320594MA1DEM001")


def load_demo() -> list[str]:
    lines = []
    counts = catalogue.load(json.loads(DEFAULT_CATALOGUE.read_text(encoding="utf-8")))
    lines.append(f"catalogue: {json.dumps(counts)}")
    for (login, password), role in ((STAFF, "admin"), (FINANCE, "finance"), (AUDITOR, "auditor")):
        if not db.session.execute(select(User).where(User.login == login)).first():
            auth.create_login_user("staff", login, password, roles=[role])
    code = _merchant_credit_code()
    merchant = db.session.execute(
        select(Organization).where(Organization.credit_code == code)
    ).scalar_one_or_none()
    if merchant is None:
        merchant = Organization(name=MERCHANT_ORG, kind="merchant", credit_code=code)
        db.session.add(merchant)
        db.session.flush()
    if not db.session.execute(select(User).where(User.login == MERCHANT_USER[0])).first():
        auth.create_login_user(
            "merchant", MERCHANT_USER[0], MERCHANT_USER[1], organization_id=merchant.id
        )
    resident_key = phone_hash(RESIDENT[0], setting("PII_KEY"))
    if not db.session.execute(select(User).where(User.phone_hash == resident_key)).first():
        auth.register_resident(RESIDENT[0], RESIDENT[1], "演示居民")
    metro = db.session.execute(
        select(Scenario).where(Scenario.code == "SIP-S-METRO")
    ).scalar_one_or_none()
    if (
        metro is not None
        and not db.session.execute(
            select(OperatorClient).where(OperatorClient.client_id == OPERATOR[0])
        ).first()
    ):
        db.session.add(
            OperatorClient(
                client_id=OPERATOR[0],
                secret_hash=sha256(OPERATOR[1]),
                organization_id=metro.operator_id,
                scenario_id=metro.id,
            )
        )
    db.session.flush()
    lines += [
        f"staff login (admin): {STAFF[0]} / {STAFF[1]}",
        f"staff login (finance): {FINANCE[0]} / {FINANCE[1]}",
        f"staff login (auditor): {AUDITOR[0]} / {AUDITOR[1]}",
        f"merchant login: {MERCHANT_USER[0]} / {MERCHANT_USER[1]}",
        f"resident login: {RESIDENT[0]} / {RESIDENT[1]}",
        f"operator client (SIP-S-METRO): {OPERATOR[0]} / {OPERATOR[1]}",
    ]
    return lines
