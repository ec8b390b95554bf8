"""Demo data for the embedded default (`./scripts/serve.sh`): a platform that has run for
two months, made by the real rules, never by writing rows: logins, operators with
clients, a merchant with a dozen items, residents with 60 days of trips uploaded by the
operators and accrued into points, orders redeemed, cancelled, expired and pending, a
settled batch, and in the registry a project with an issuance, a transfer, a retirement
with its certificate and an application in public notice.

The past is built by running the rules under a moved clock (`backend.db.clock_at`): an
upload of last Tuesday's trips runs as of last Tuesday night. Each part is one
transaction and is made only when it is missing, so a second start changes nothing
(and a start that died half-way finishes the parts it had not made).

`load_demo()` returns what serve.py prints: one line per login, with what it can do."""

from __future__ import annotations

import hashlib
import json
import logging
import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from backend.activity import bind_tokens, consent, ingest
from backend.activity.accrual import accrue_chunk
from backend.activity.models import Activity
from backend.applications import review, submission
from backend.applications.models import Application
from backend.applications.schemas import ApplicationIn
from backend.audit.context import Actor, set_actor
from backend.auth import clients
from backend.auth import users as auth
from backend.auth.models import OperatorClient, User
from backend.auth.phones import phone_hash
from backend.db import clock_at, db
from backend.errors import ApiError
from backend.reductions import transfers, uses
from backend.registry import catalogue, organizations
from backend.registry.credit_code import check_char
from backend.registry.models import Organization, Project, Scenario
from backend.runtime import setting
from backend.transaction import run_after_commit_hooks
from config.settings import DEFAULT_CATALOGUE
from mall import items, orders, redemption, settlement
from mall.models import Item, Order

log = logging.getLogger("backend.demo")
SH = ZoneInfo("Asia/Shanghai")
DAYS = 60  # of trips

# Staff: (login, password, roles, what it can do)
STAFF = [
    (
        "admin",
        "admin-demo-pass",
        ["admin"],
        "accounts and organisations, operator clients, "
        "merchant and org logins, freezing, the catalogue, order expiry",
    ),
    (
        "reviewer",
        "reviewer-demo-pass",
        ["reviewer"],
        "the registry's review queue: pre-review, "
        "public notices, decisions, objections, deregistration",
    ),
    ("expert1", "expert-demo-pass", ["expert"], "expert opinions on applications"),
    ("expert2", "expert-demo-pass", ["expert"], "expert opinions on applications"),
    ("expert3", "expert-demo-pass", ["expert"], "expert opinions on applications"),
    (
        "finance",
        "finance-demo-pass",
        ["finance"],
        "settlements, executing transfers, "
        "approving uses (retirements and their certificates), reconciliation",
    ),
    (
        "auditor",
        "auditor-demo-pass",
        ["auditor"],
        "reads every staff route and the audit log; writes nothing",
    ),
]
# Operator clients per scenario of the default catalogue: (client_id, secret, user_ref)
OPERATORS = {
    "SIP-S-METRO": ("op_demo_metro", "operator-demo-secret", "metro-card-0001"),
    "SIP-S-BUS": ("op_demo_bus", "operator-demo-bus-secret", "bus-card-0001"),
    "SIP-S-BIKE": ("op_demo_bike", "operator-demo-bike-secret", "bike-user-0001"),
    "SIP-S-WALK": ("op_demo_walk", "operator-demo-walk-secret", "walker-0001"),
    "SIP-S-EVCHARGE": ("op_demo_ev", "operator-demo-ev-secret", "ev-driver-0001"),
}
MERCHANT_ORG = "苏州工业园区低碳示范商户（演示）"
MERCHANT_USER = ("demo-merchant", "merchant-demo-pass")
PROJECT_OWNER = ("苏州工业园区示范能源有限公司（演示）", "91320594MA1DEM002")
PROJECT_OWNER_USER = ("demo-energy", "org-demo-pass")
BUYER = ("苏州工业园区示范制造有限公司（演示）", "91320594MA1DEM003")
BUYER_USER = ("demo-buyer", "org-demo-pass")
RESIDENT = ("13800000000", "resident-demo-pass", "演示居民")
NEIGHBOURS = [
    ("13800000001", "resident-demo-pass", "演示邻居甲"),
    ("13800000002", "resident-demo-pass", "演示邻居乙"),
]
OPERATOR = OPERATORS["SIP-S-METRO"][:2]  # (client_id, secret), as before
# (title, points, stock, per-resident limit, description)
ITEMS = [
    ("地铁单程票兑换券", 300, None, None, "园区地铁任意单程一次。"),
    ("公交一日票", 500, None, 2, "园区公交当日不限次。"),
    ("可重复使用咖啡杯", 800, 50, 1, "随行杯，替代一次性纸杯。"),
    ("环保帆布袋", 600, 100, 2, "替代塑料袋。"),
    ("共享单车月卡", 1500, 30, 1, "30 天内每次骑行前 30 分钟免费。"),
    ("社区菜场 10 元代金券", 1000, 200, 5, "满 30 元可用。"),
    ("旧衣回收上门服务", 200, None, None, "预约一次上门回收。"),
    ("LED 节能灯泡", 1200, 40, 2, "9 W，替代 60 W 白炽灯。"),
    ("植树认养证书", 5000, 10, 1, "以您的名义在阳澄湖畔种一棵树。"),
    ("充电桩 20 度电券", 3000, 20, 1, "园区公共充电桩可用。"),
    ("低碳生活手册", 100, None, None, "电子版。"),
    ("金鸡湖游船票", 8000, 5, 1, "限周末。"),
]
METHODOLOGY = "SIP-M-EVSTATION"
PROJECT = "SIP-P-EVSTATION"
IN_NOTICE = "SIP-S-TRAM"


def _code(first17: str) -> str:
    return first17 + check_char(first17)


def _today() -> date:
    return datetime.now(SH).date()


def _at(days_ago: int, hour: int, minute: int = 0) -> datetime:
    """A moment `days_ago` days before today, Asia/Shanghai."""
    return datetime.combine(_today() - timedelta(days=days_ago), time(hour, minute), SH)


def _as(actor: str, role: str) -> None:
    set_actor(db.session, Actor(actor, role, None))


def _commit() -> None:
    db.session.commit()
    run_after_commit_hooks()


def _doc(title: str) -> dict:
    return {"title": title, "sha256": hashlib.sha256(title.encode()).hexdigest()}


def _user(login: str) -> User | None:
    return db.session.execute(select(User).where(User.login == login)).scalar_one_or_none()


def _resident(phone: str) -> User | None:
    key = phone_hash(phone, setting("PII_KEY"))
    return db.session.execute(select(User).where(User.phone_hash == key)).scalar_one_or_none()


def _org(credit_code: str) -> Organization | None:
    return db.session.execute(
        select(Organization).where(Organization.credit_code == credit_code)
    ).scalar_one_or_none()


def _scenario(code: str) -> Scenario:
    return db.session.execute(select(Scenario).where(Scenario.code == code)).scalar_one()


# --- people and places ------------------------------------------------------------------


def _people() -> None:
    """Staff, organisations and their logins, operator clients, the merchant's items,
    residents: made on the first day of the demo's past."""
    with clock_at(_at(DAYS + 2, 9)):
        _as("cli:demo", "admin")
        for login, password, roles, _ in STAFF:
            if _user(login) is None:
                auth.create_staff(login, password, roles)
        for scenario_code, (client_id, secret, _) in OPERATORS.items():
            found = db.session.execute(
                select(OperatorClient).where(OperatorClient.client_id == client_id)
            ).first()
            if found is None:
                scenario = _scenario(scenario_code)
                clients.create_for_scenario(
                    scenario.operator_id, scenario_code, client_id=client_id, secret=secret
                )
        merchant = _org(_code("91320594MA1DEM001"))
        if merchant is None:
            merchant = organizations.register(MERCHANT_ORG, "merchant", _code("91320594MA1DEM001"))
        if _user(MERCHANT_USER[0]) is None:
            auth.create_merchant_user(merchant.id, *MERCHANT_USER)
        for (name, code), kind, (login, password) in (
            (PROJECT_OWNER, "project_owner", PROJECT_OWNER_USER),
            (BUYER, "other", BUYER_USER),
        ):
            org = _org(_code(code)) or organizations.register(name, kind, _code(code))
            if _user(login) is None:
                auth.create_org_user(org.id, login, password)
        _as(f"merchant:{_user(MERCHANT_USER[0]).id}", "merchant")
        titles = set(
            db.session.execute(select(Item.title).where(Item.merchant_id == merchant.id)).scalars()
        )
        for title, price, stock, limit, description in ITEMS:
            if title not in titles:
                items.create(
                    merchant.id,
                    {
                        "title": title,
                        "points_price": price,
                        "stock": stock,
                        "per_resident_limit": limit,
                        "description": description,
                    },
                )
        for phone, password, name in (RESIDENT, *NEIGHBOURS):
            if _resident(phone) is None:
                auth.register_resident(phone, password, name)
    _commit()


# --- trips ----------------------------------------------------------------------------------


def _trips_of(who: int, day: date) -> dict[str, list[dict]]:
    """One resident's records of one day, by scenario: weekday commutes by metro and
    bus, weekend rides and walks, a Saturday charge (times never overlap)."""
    rnd = random.Random(f"{who}:{day.isoformat()}")
    out: dict[str, list[dict]] = {}

    def add(scenario, kind, start, minutes, **measures):
        ref = OPERATORS[scenario][2] + (f"-{who}" if who else "")
        begin = datetime.combine(day, start, SH)
        out.setdefault(scenario, []).append(
            {
                "external_id": f"demo-{who}-{kind}-{day.isoformat()}-{start.hour}",
                "user_ref": ref,
                "activity_type": kind,
                "started_at": begin.isoformat(),
                "ended_at": (begin + timedelta(minutes=minutes)).isoformat(),
                **measures,
            }
        )

    weekday = day.weekday() < 5
    if who == 0:
        if weekday:
            add("SIP-S-METRO", "metro", time(8, 5), 35, distance_m=rnd.randrange(9000, 13000))
            add("SIP-S-BUS", "bus", time(18, 10), 40, distance_m=rnd.randrange(6000, 9000))
        else:
            add("SIP-S-BIKE", "bike_share", time(10, 0), 25, distance_m=rnd.randrange(3000, 5000))
            add("SIP-S-WALK", "walk", time(16, 0), 50, distance_m=rnd.randrange(3000, 4500))
        if day.weekday() == 5:
            add(
                "SIP-S-EVCHARGE",
                "ev_charging",
                time(21, 0),
                90,
                energy_wh=rnd.randrange(20000, 35000),
            )
    elif who == 1 and weekday:
        add("SIP-S-METRO", "metro", time(7, 40), 30, distance_m=rnd.randrange(7000, 15000))
        add("SIP-S-METRO", "metro", time(17, 50), 30, distance_m=rnd.randrange(7000, 15000))
    elif who == 2:
        if weekday:
            add("SIP-S-BUS", "bus", time(8, 30), 30, distance_m=rnd.randrange(4000, 8000))
        add("SIP-S-WALK", "walk", time(19, 0), 45, distance_m=rnd.randrange(2500, 4000))
    return out


def _trips() -> bool:
    """Consents by bind tokens, then every week's trips uploaded by each operator on the
    week's last evening and accrued; the neighbours join later. Made once."""
    residents = [_resident(RESIDENT[0])] + [_resident(n[0]) for n in NEIGHBOURS]
    done = db.session.execute(
        select(func.count()).select_from(Activity).where(Activity.user_id == residents[0].id)
    ).scalar_one()
    if done:
        return False
    joined = {0: DAYS + 1, 1: 35, 2: 21}  # days ago each resident linked their accounts
    for who, resident in enumerate(residents):
        with clock_at(_at(joined[who], 20)):
            for scenario_code, (_, _, ref) in OPERATORS.items():
                if who and scenario_code not in ("SIP-S-METRO", "SIP-S-BUS", "SIP-S-WALK"):
                    continue
                user_ref = ref + (f"-{who}" if who else "")
                _as(f"operator:{OPERATORS[scenario_code][0]}", "operator")
                token, _ = bind_tokens.issue(_scenario(scenario_code).id, user_ref)
                _as(f"resident:{resident.id}", "resident")
                consent.grant(resident.id, token)
    ago = list(range(DAYS, 0, -1))  # 60 days ago .. yesterday, a week per upload
    for chunk in (ago[i : i + 7] for i in range(0, len(ago), 7)):
        days = [_today() - timedelta(days=a) for a in chunk]
        with clock_at(_at(chunk[-1], 23, 30)):
            for scenario_code, (client_id, _, _) in OPERATORS.items():
                records = [
                    r
                    for who in range(len(residents))
                    for day in days
                    if (_today() - day).days <= joined[who]
                    for r in _trips_of(who, day).get(scenario_code, [])
                ]
                if records:
                    _as(f"operator:{client_id}", "operator")
                    batch = ingest.new_batch(
                        _scenario(scenario_code).id, client_id, records, queued=False
                    )
                    ingest.process(batch, records)
            _as("system:backend.activity.accrual.accrue", "system")
            while accrue_chunk().activities:
                pass
    _commit()
    return True


# --- the mall ---------------------------------------------------------------------------


def _mall() -> bool:
    """Orders redeemed at the till and settled, one cancelled, one expired, one redeemed
    since the settlement and one pending. Made once."""
    resident = _resident(RESIDENT[0])
    if db.session.execute(select(Order.id).where(Order.user_id == resident.id)).first():
        return False
    merchant = _org(_code("91320594MA1DEM001"))
    till = _user(MERCHANT_USER[0])
    finance = _user("finance")
    by_title = {
        i.title: i.id
        for i in db.session.execute(select(Item).where(Item.merchant_id == merchant.id)).scalars()
    }
    me = f"resident:{resident.id}"

    def order(title: str, days_ago: int, hour: int) -> Order:
        with clock_at(_at(days_ago, hour)):
            _as(me, "resident")
            return orders.place(resident.id, by_title[title], actor=me)

    def redeem(placed: Order, days_ago: int, hour: int) -> None:
        with clock_at(_at(days_ago, hour)):
            _as(f"merchant:{till.id}", "merchant")
            redemption.redeem(
                merchant.id,
                placed.redemption_code,
                staff_user_id=till.id,
                actor=f"merchant:{till.id}",
            )

    redeem(order("环保帆布袋", 40, 12), 39, 15)
    redeem(order("地铁单程票兑换券", 33, 8), 33, 18)
    redeem(order("社区菜场 10 元代金券", 31, 9), 30, 10)
    cancelled = order("共享单车月卡", 27, 20)
    with clock_at(_at(26, 9)):
        orders.cancel(resident.id, cancelled.id, actor=me)
    with clock_at(_at(25, 10)):
        _as(f"merchant:{till.id}", "merchant")
        batch = settlement.apply(merchant.id, actor=f"merchant:{till.id}")
    with clock_at(_at(24, 10)):
        _as(f"staff:{finance.id}", "finance")
        settlement.approve(batch.id, actor=f"staff:{finance.id}")
    with clock_at(_at(24, 10, 5)):
        _as("system:mall.settlement.post_settlement", "system")
        settlement.post_batch(batch.id)
    order("LED 节能灯泡", 20, 21)  # never redeemed: it expires
    with clock_at(_at(12, 3)):
        _as("system:mall.orders.expire_orders", "system")
        orders.expire_due()
    redeem(order("可重复使用咖啡杯", 5, 12), 4, 9)
    with clock_at(datetime.now(UTC) - timedelta(hours=1)):
        _as(me, "resident")
        orders.place(resident.id, by_title["公交一日票"], actor=me)  # pending
    _commit()
    return True


# --- the registry -----------------------------------------------------------------------


class _Timeline:
    """The registry's acts, one after another from `start`: `step()` moves the clock on
    (a notice's end is waited for), and is the clock for the next act."""

    def __init__(self, start: datetime):
        self.now = start

    def step(self, hours: float = 20, *, after: datetime | None = None):
        self.now += timedelta(hours=hours)
        if after is not None:
            after = after if after.tzinfo else after.replace(tzinfo=UTC)
            self.now = max(self.now, after + timedelta(hours=2))
        if self.now > datetime.now(UTC) - timedelta(minutes=5):
            raise RuntimeError("the demo's registry history does not fit before now")
        return clock_at(self.now)


def _apply(line: _Timeline, org: Organization, raw: dict) -> Application:
    with line.step():
        _as(f"org:{org.id}", "org")
        return submission.submit(org.id, ApplicationIn().load(raw), actor=f"org:{org.id}")


def _review(line: _Timeline, app: Application, *, notice: bool) -> None:
    reviewer = _user("reviewer")
    with line.step(2):
        _as(f"staff:{reviewer.id}", "reviewer")
        review.pre_review(app.id, "accept", None, actor=f"staff:{reviewer.id}")
    if not notice:
        return
    for n in (1, 2, 3):
        expert = _user(f"expert{n}")
        with line.step(6):
            _as(f"staff:{expert.id}", "expert")
            review.add_opinion(
                app.id, expert.id, "approve", "数据来源清楚，符合要求。", actor=f"staff:{expert.id}"
            )
    with line.step(20):
        _as(f"staff:{reviewer.id}", "reviewer")
        review.start_notice(app.id, actor=f"staff:{reviewer.id}")


def _decide(line: _Timeline, app: Application) -> None:
    reviewer = _user("reviewer")
    with line.step(after=app.notice_ends_at):
        _as(f"staff:{reviewer.id}", "reviewer")
        review.decide(app.id, "approve", "公示期满无异议，准予登记。", actor=f"staff:{reviewer.id}")


def _registry() -> bool:
    """A project methodology and a project, each through review, expert opinions and a
    public notice; an issuance into the owner's account; a transfer to a buyer; a
    retirement with its certificate. Made once (one transaction)."""
    if db.session.execute(select(Project.id).where(Project.code == PROJECT)).first():
        return False
    owner = _org(_code(PROJECT_OWNER[1]))
    buyer = _org(_code(BUYER[1]))
    finance = _user("finance")
    ev = next(
        m
        for m in json.loads(DEFAULT_CATALOGUE.read_text(encoding="utf-8"))["methodologies"]
        if m["formula"] == "ev_charging"
    )
    line = _Timeline(_at(DAYS - 2, 9).astimezone(UTC))
    methodology = _apply(
        line,
        owner,
        {
            "type": "methodology",
            "code": METHODOLOGY,
            "title": "公共充电站减排项目方法学（演示）",
            "kind": "project",
            "formula": "ev_charging",
            "parameters": ev["parameters"],
            "documents": [_doc("公共充电站减排项目方法学（演示）")],
        },
    )
    _review(line, methodology, notice=True)
    _decide(line, methodology)
    project = _apply(
        line,
        owner,
        {
            "type": "project",
            "code": PROJECT,
            "title": "星湖街公共充电站（演示）",
            "methodology": METHODOLOGY,
            "methodology_version": "1.0",
            "assets": [{"kind": "station", "id": "SIP-CS-0001"}],
            "commitment": {"no_other_scheme": True, "no_green_power_trading": True, "no_gec": True},
            "documents": [_doc("星湖街公共充电站项目设计文件（演示）")],
            "sector": "transport",
            "location": "苏州工业园区星湖街",
            "started_on": (_today() - timedelta(days=400)).isoformat(),
        },
    )
    _review(line, project, notice=True)
    _decide(line, project)
    period_end = _today() - timedelta(days=DAYS)
    issuance = _apply(
        line,
        owner,
        {
            "type": "issuance",
            "project_code": PROJECT,
            "period_start": (period_end - timedelta(days=364)).isoformat(),
            "period_end": period_end.isoformat(),
            "amount_g": 5_000_000,
            "documents": [_doc("星湖街公共充电站监测报告（演示）")],
        },
    )
    _review(line, issuance, notice=False)
    _decide(line, issuance)
    me = f"org:{owner.id}"
    with line.step(30):
        _as(me, "org")
        transfer = transfers.propose(
            owner.id, buyer.credit_code, 1_000_000, "年度协议转让（演示）", actor=me
        )
    with line.step(20):
        _as(f"org:{buyer.id}", "org")
        transfers.accept(buyer.id, transfer.id, actor=f"org:{buyer.id}")
    with line.step(20):
        _as(f"staff:{finance.id}", "finance")
        transfers.execute(transfer.id, actor=f"staff:{finance.id}")
    with line.step(48):
        _as(me, "org")
        use = uses.request(
            owner.id,
            purpose="retirement",
            amount_g=250_000,
            beneficiary="苏州工业园区示范能源有限公司（演示）",
            reason="2026 年度办公运营碳中和（演示）",
            event=None,
            recipient_credit_code=None,
            actor=me,
        )
    with line.step(20):
        _as(f"staff:{finance.id}", "finance")
        uses.approve(use.id, actor=f"staff:{finance.id}")
    _commit()
    return True


def _notice() -> bool:
    """An operator's scenario application, reviewed and in its public notice now."""
    found = db.session.execute(
        select(Application.id).where(Application.subject_code == IN_NOTICE)
    ).first()
    if found is not None:
        return False
    operator = db.session.get(Organization, _scenario("SIP-S-METRO").operator_id)
    line = _Timeline(_at(4, 9).astimezone(UTC))
    app = _apply(
        line,
        operator,
        {
            "type": "scenario",
            "code": IN_NOTICE,
            "title": "园区有轨电车低碳出行（演示）",
            "methodology": "SIP-M-TRANSIT",
            "methodology_version": "1.0",
            "assets": [{"kind": "station", "id": "SIP-TRAM-DEPOT-01"}],
            "commitment": {"no_other_scheme": True, "no_green_power_trading": True, "no_gec": True},
            "activity_types": ["metro"],
            "daily_cap_g": 3000,
            "window_days": 30,
            "personal_data_basis": "consent",
        },
    )
    _review(line, app, notice=True)
    _commit()
    return True


# --- the logins ---------------------------------------------------------------------------


def logins() -> list[dict]:
    """What serve.py prints: each demo login, its password and what it can do."""
    out = [
        {
            "msg": f"demo staff login: {login} / {password} ({', '.join(roles)}): {can}",
            "kind": "staff",
            "login": login,
            "password": password,
            "roles": roles,
            "can": can,
        }
        for login, password, roles, can in STAFF
    ]
    out.append(
        {
            "msg": f"demo merchant login: {MERCHANT_USER[0]} / {MERCHANT_USER[1]}: a dozen items, "
            "redeeming codes, the balance, settlements",
            "kind": "merchant",
            "login": MERCHANT_USER[0],
            "password": MERCHANT_USER[1],
            "can": "items, redemptions at the till, balance, settlements",
        }
    )
    for (name, _), (login, password) in ((PROJECT_OWNER, PROJECT_OWNER_USER), (BUYER, BUYER_USER)):
        out.append(
            {
                "msg": f"demo organisation login: {login} / {password} ({name}): applications, "
                "reductions, transfers, uses",
                "kind": "org",
                "login": login,
                "password": password,
                "can": "applications, the balance and blocks, transfers, uses",
            }
        )
    for phone, password, name in (RESIDENT, *NEIGHBOURS):
        out.append(
            {
                "msg": f"demo resident login: {phone} / {password} ({name}): consents, "
                "activities, points, the mall",
                "kind": "resident",
                "login": phone,
                "password": password,
                "can": "profile and balances, consents, activities, ledger, conversions, orders",
            }
        )
    for scenario_code, (client_id, secret, ref) in OPERATORS.items():
        out.append(
            {
                "msg": f"demo operator client ({scenario_code}): {client_id} / {secret}: bind "
                f"tokens and uploads (the demo resident is `{ref}`)",
                "kind": "operator",
                "client_id": client_id,
                "client_secret": secret,
                "scenario": scenario_code,
                "can": "bind tokens, activity uploads, batches, the scenario's rules",
            }
        )
    return out


def load_demo() -> list[dict]:
    """Make what is missing of the demo (see the module doc); returns the login lines,
    after one line saying what was made."""
    document = json.loads(DEFAULT_CATALOGUE.read_text(encoding="utf-8"))
    fresh = db.session.execute(select(Scenario.id)).first() is None
    with clock_at(_at(DAYS + 3, 9) if fresh else datetime.now(UTC)):
        _as("cli:demo", "admin")
        counts = catalogue.load(document)
    if any(c["created"] or c["updated"] for c in counts.values()):
        _commit()
    else:  # loaded already: not even an audit record of loading it again
        db.session.rollback()
    _people()
    made = {}
    for name, part in (("trips", _trips), ("mall", _mall), ("registry", _registry)):
        made[name] = part()
    try:
        made["notice"] = _notice()
    except ApiError as err:  # e.g. no working-day calendar for this year yet
        db.session.rollback()
        made["notice"] = False
        log.warning("demo: no application in public notice (%s)", err.detail, extra={"fields": {}})
    summary = {
        "msg": "demo data: "
        + (", ".join(k for k, v in made.items() if v) or "nothing new")
        + " made",
        "catalogue": counts,
        "made": made,
    }
    return [summary, *logins()]
