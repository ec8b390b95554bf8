"""Demo data for the embedded default: the default catalogue, staff logins (admin,
finance, auditor, a reviewer and three experts), a merchant with a till login, residents,
an operator client for the metro scenario; and, once, some life through the real rules:
four weeks of consented trips credited by accrual (points by auto-conversion), orders,
redemptions at the till, a settlement approved and posted, a retirement with its
certificate, and a project application on public notice. So the public site opens on
non-zero totals and charts. Idempotent."""

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
REVIEWER = ("reviewer", "reviewer-demo-pass")  # role reviewer: the registry's review work
EXPERTS = [(f"expert{i}", "expert-demo-pass") for i in (1, 2, 3)]  # role expert
MERCHANT_ORG = "苏州工业园区低碳示范商户（演示）"
MORE_RESIDENTS = [f"1380000000{i}" for i in range(1, 6)]  # password as RESIDENT's
APPLICANT = "苏州工业园区示范水上巴士运营有限公司（演示）"
APPLIED_CODE = "SIP-S-DEMO-FERRY"


def _merchant_credit_code() -> str:
    from backend.registry.credit_code import check_char

    return "91320594MA1DEM001" + check_char("91320594MA1DEM001")


def load_demo() -> list[str]:
    lines = []
    counts = catalogue.load(json.loads(DEFAULT_CATALOGUE.read_text(encoding="utf-8")))
    lines.append(f"catalogue: {json.dumps(counts)}")
    staff_logins = [(STAFF, "admin"), (FINANCE, "finance"), (AUDITOR, "auditor")]
    staff_logins += [(REVIEWER, "reviewer")] + [(e, "expert") for e in EXPERTS]
    for (login, password), role in staff_logins:
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
    lines += _demo_life(merchant)
    lines += [
        f"staff login (admin): {STAFF[0]} / {STAFF[1]}",
        f"staff login (finance): {FINANCE[0]} / {FINANCE[1]}",
        f"staff login (auditor): {AUDITOR[0]} / {AUDITOR[1]}",
        f"staff login (reviewer): {REVIEWER[0]} / {REVIEWER[1]}",
        f"staff logins (expert): {', '.join(e[0] for e in EXPERTS)} / {EXPERTS[0][1]}",
        f"merchant login: {MERCHANT_USER[0]} / {MERCHANT_USER[1]}",
        f"resident login: {RESIDENT[0]} / {RESIDENT[1]}",
        f"operator client (SIP-S-METRO): {OPERATOR[0]} / {OPERATOR[1]}",
        "pages: / (public site), /console (staff), /merchant (the till)",
    ]
    return lines


def _user_id(login_or_phone: str) -> int | None:
    if login_or_phone.isdigit():
        key = phone_hash(login_or_phone, setting("PII_KEY"))
        return db.session.execute(select(User.id).where(User.phone_hash == key)).scalar()
    return db.session.execute(select(User.id).where(User.login == login_or_phone)).scalar()


# (scenario, activity type, km per trip, the residents' trip days out of every 7)
_TRIPS = [
    ("SIP-S-METRO", "metro", (6.5, 9.0, 12.4, 14.8, 7.7, 10.2), 5),
    ("SIP-S-BUS", "bus", (3.2, 4.8, 6.1, 2.7, 5.5, 3.9), 3),
    ("SIP-S-BIKE", "bike_share", (1.8, 2.6, 3.4, 2.2, 1.5, 2.9), 4),
]


def _demo_life(merchant: Organization) -> list[str]:
    """Trips, points, orders, a settlement and a retirement, through the real rules;
    once (the demo residents' consents say it was done)."""
    from datetime import timedelta

    from backend.activity import accrual, bind_tokens, consent, ingest
    from backend.activity.models import Consent
    from backend.db import utcnow
    from backend.reductions import uses
    from mall import items, orders, redemption, settlement

    residents = [_user_id(RESIDENT[0])]
    for number in MORE_RESIDENTS:
        user_id = _user_id(number)
        if user_id is None:
            user_id = auth.register_resident(number, RESIDENT[1], f"演示居民{number[-1]}").id
        residents.append(user_id)
    if db.session.execute(select(Consent.id).where(Consent.user_id == residents[0])).first():
        return []
    now = utcnow()
    for slot, (code, activity, distances, days_a_week) in enumerate(_TRIPS):
        scenario = db.session.execute(
            select(Scenario).where(Scenario.code == code, Scenario.status == "registered")
        ).scalar_one_or_none()
        if scenario is None:
            continue
        records = []
        for n, user_id in enumerate(residents):
            ref = f"demo-{code.lower()}-{n}"
            token, _ = bind_tokens.issue(scenario.id, ref)
            consent.grant(user_id, token)
            for day in range(1, 28):
                if (day + n) % 7 >= days_a_week:
                    continue
                start = now - timedelta(days=day, hours=(n % 3) + 1 + 4 * slot)
                km = distances[(day + n) % len(distances)]
                minutes = max(8, int(km * (3 if activity == "metro" else 4)))
                records.append(
                    {
                        "external_id": f"demo-{activity}-{n}-{day}",
                        "user_ref": ref,
                        "activity_type": activity,
                        "started_at": start.isoformat(),
                        "ended_at": (start + timedelta(minutes=minutes)).isoformat(),
                        "distance_m": int(km * 1000),
                    }
                )
        ingest.process(ingest.new_batch(scenario.id, "demo", records, queued=False), records)
    while accrual.accrue_chunk().activities:
        pass

    cup = items.create(
        merchant.id, {"title": "可重复使用咖啡杯（演示）", "points_price": 800, "stock": 50}
    )
    items.create(merchant.id, {"title": "园区公交一日票（演示）", "points_price": 1200})
    till = _user_id(MERCHANT_USER[0])
    placed = [
        orders.place(user_id, cup.id, actor=f"resident:{user_id}") for user_id in residents[:4]
    ]
    for order in placed[:3]:
        redemption.redeem(merchant.id, order.redemption_code, staff_user_id=till, actor="demo")
    batch = settlement.apply(merchant.id, actor="demo")
    settlement.approve(batch.id, actor="demo")
    settlement.post_batch(batch.id)
    use = uses.request(
        merchant.id,
        purpose="retirement",
        amount_g=1200,
        beneficiary=MERCHANT_ORG,
        reason="门店年度运营碳中和（演示） · Shop operations offset (demo)",
        event=None,
        recipient_credit_code=None,
        actor="demo",
    )
    retired = uses.approve(use.id, actor="demo", beneficiary_name=MERCHANT_ORG)
    lines = [f"demo activity: {len(residents)} residents, trips credited, 3 orders redeemed"]
    lines.append(f"demo certificate: /verify/{retired.certificate_number}")
    lines += _demo_notice()
    return lines


def _demo_notice() -> list[str]:
    """A scenario application of a demo operator, reviewed by the demo experts and on
    public notice (objections welcome on /notices)."""
    from backend.applications import review, submission
    from backend.registry import organizations
    from backend.registry.credit_code import check_char
    from backend.workdays.calendar import CalendarUnknown

    first = "91320594MA1DEMFR0"
    owner = organizations.register(APPLICANT, "operator", first + check_char(first))
    body = {
        "type": "scenario",
        "code": APPLIED_CODE,
        "title": "金鸡湖水上巴士低碳出行（演示）",
        "methodology": "SIP-M-TRANSIT",
        "methodology_version": "1.0",
        "assets": [{"kind": "station", "id": "SIP-FERRY-PIER-01"}],
        "commitment": {"no_other_scheme": True, "no_green_power_trading": True, "no_gec": True},
        "activity_types": ["bus"],
        "daily_cap_g": 2000,
        "window_days": 30,
        "personal_data_basis": "consent",
    }
    app = submission.submit(owner.id, body, actor="demo")
    reviewer = _user_id(REVIEWER[0])
    review.pre_review(app.id, "accept", None, actor=f"staff:{reviewer}")
    for login, _ in EXPERTS:
        expert = _user_id(login)
        review.add_opinion(
            app.id, expert, "approve", "数据与方法学一致（演示）。", actor=f"staff:{expert}"
        )
    try:
        review.start_notice(app.id, actor=f"staff:{reviewer}")
    except CalendarUnknown:
        return ["demo notice not started: enter next year's working-day calendar first"]
    return [f"demo notice: /notices/{app.id}"]
