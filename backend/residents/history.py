"""A resident's history as one time line a person can read, newest first, in cursor
pages: trips (with how their grams were computed), the days' credits (with what the
daily cap cut), conversions (accrual's auto-conversion and the resident's own),
orders (points spent), refunds, redemptions, expiries and a closure.

Lines come from three indexed reads, each a keyset page of its own, merged by time:
- the resident's activities (`ix_activities_user_id_id`), at the time they were
  recorded;
- the journal entries that touched the resident's reductions or points account (from
  `ix_postings_account_id_id`), one line per entry: a conversion is one line with both
  of its sides, and accrual's credit and its auto-conversion are two entries, so two
  lines;
- the resident's redeemed orders, at their redemption.
The cursor is the last line's (time, source, id): stable while new lines arrive."""

from __future__ import annotations

import base64
import binascii
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import and_, func, or_, select, true
from sqlalchemy.orm import selectinload

import scenarios_adapters
from backend.activity.models import Activity
from backend.db import db, in_values
from backend.errors import ApiError
from backend.ledger import Account, AccountKind, JournalEntry, Posting
from backend.registry.models import Organization, Scenario
from mall.models import Order
from scenarios_adapters.base import number

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# the order of lines of one instant, newest first: entries after the trips they credit
TRIP, ENTRY, REDEMPTION = 0, 1, 2

MODES = {
    "metro": ("地铁", "Metro"),
    "bus": ("公交", "Bus"),
    "bike_share": ("共享单车", "Shared bike"),
    "walk": ("步行", "Walk"),
    "ev_charging": ("新能源汽车充电", "EV charging"),
}


class BadCursor(ApiError):
    status, code, title = 400, "bad_cursor", "Bad cursor"


@dataclass(frozen=True)
class Key:
    at: datetime
    source: int
    id: int

    def encode(self) -> str:
        us = (self.at - EPOCH) // timedelta(microseconds=1)
        raw = f"{us}:{self.source}:{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, cursor: str) -> Key:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
            us, source, ident = (int(x) for x in raw.split(":"))
            at = EPOCH + timedelta(microseconds=us)
        except (ValueError, binascii.Error, UnicodeDecodeError, OverflowError) as exc:
            raise BadCursor("The cursor is not one this API gave out.") from exc
        if source not in (TRIP, ENTRY, REDEMPTION) or ident < 0:
            raise BadCursor("The cursor is not one this API gave out.")
        return cls(at, source, ident)

    def sort(self) -> tuple:
        return (self.at, self.source, self.id)


def _before(at_col, id_col, source: int, cursor: Key | None):
    """The keyset condition: lines of `source` older than the cursor's."""
    if cursor is None:
        return true()
    if source < cursor.source:
        return at_col <= cursor.at
    if source > cursor.source:
        return at_col < cursor.at
    return or_(at_col < cursor.at, and_(at_col == cursor.at, id_col < cursor.id))


def _accounts(user_id: int) -> dict[int, str]:
    """The resident's reductions and points accounts: id -> unit."""
    return dict(
        db.session.execute(
            select(Account.id, Account.unit).where(
                Account.owner_id == user_id,
                Account.kind.in_(
                    [AccountKind.RESIDENT_REDUCTIONS.value, AccountKind.RESIDENT_POINTS.value]
                ),
            )
        ).all()
    )


def page(user_id: int, limit: int = 50, cursor: str | None = None) -> dict:
    """One page of the resident's history: `{"items": [...], "next_cursor"}`."""
    after = Key.decode(cursor) if cursor else None
    accounts = _accounts(user_id)
    keys: list[Key] = []
    trips = db.session.execute(
        select(Activity.created_at, Activity.id)
        .where(
            Activity.user_id == user_id,
            _before(Activity.created_at, Activity.id, TRIP, after),
        )
        .order_by(Activity.created_at.desc(), Activity.id.desc())
        .limit(limit + 1)
    ).all()
    keys += [Key(at, TRIP, i) for at, i in trips]
    if accounts:
        touched = select(Posting.entry_id).where(in_values(Posting.account_id, list(accounts)))
        entries = db.session.execute(
            select(JournalEntry.created_at, JournalEntry.id)
            .where(
                JournalEntry.id.in_(touched),
                _before(JournalEntry.created_at, JournalEntry.id, ENTRY, after),
            )
            .order_by(JournalEntry.created_at.desc(), JournalEntry.id.desc())
            .limit(limit + 1)
        ).all()
        keys += [Key(at, ENTRY, i) for at, i in entries]
    redeemed = db.session.execute(
        select(Order.fulfilled_at, Order.id)
        .where(
            Order.user_id == user_id,
            Order.fulfilled_at.is_not(None),
            _before(Order.fulfilled_at, Order.id, REDEMPTION, after),
        )
        .order_by(Order.fulfilled_at.desc(), Order.id.desc())
        .limit(limit + 1)
    ).all()
    keys += [Key(at, REDEMPTION, i) for at, i in redeemed]
    keys.sort(key=Key.sort, reverse=True)
    more = len(keys) > limit
    keys = keys[:limit]
    lines = _hydrate(keys, accounts)
    return {
        "items": [lines[(k.source, k.id)] for k in keys],
        "next_cursor": keys[-1].encode() if more else None,
    }


# -- the lines ------------------------------------------------------------------------


def _line(key: Key, kind: str, zh: str, en: str, **fields) -> dict:
    prefix = {TRIP: "trip", ENTRY: "entry", REDEMPTION: "redemption"}[key.source]
    return {
        "id": f"{prefix}-{key.id}",
        "type": kind,
        "at": key.at,
        "text_zh": zh,
        "text_en": en,
        "reductions_g": fields.pop("reductions_g", None),
        "points": fields.pop("points", None),
        "entry_id": key.id if key.source == ENTRY else None,
        **fields,
    }


def _hydrate(keys: list[Key], accounts: dict[int, str]) -> dict[tuple[int, int], dict]:
    by_source = defaultdict(list)
    for k in keys:
        by_source[k.source].append(k)
    out: dict[tuple[int, int], dict] = {}
    if by_source[TRIP]:
        out.update(_trips(by_source[TRIP]))
    if by_source[ENTRY]:
        out.update(_entries(by_source[ENTRY], accounts))
    if by_source[REDEMPTION]:
        out.update(_redemptions(by_source[REDEMPTION]))
    return out


def mode_names(activity_type: str) -> tuple[str, str]:
    return MODES.get(activity_type, (activity_type, activity_type.replace("_", " ").title()))


def _plain(value):
    """Decimals as JSON numbers."""
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral_value() else int(value)
    return value


def computation(activity: Activity) -> dict:
    """How the activity's grams were computed: the measure (None once erased), the
    factors, the methodology and its version, and the sum written out."""
    methodology = activity.methodology
    explained = scenarios_adapters.explain(
        methodology.formula, activity.activity_type, activity.measures, methodology.parameters
    )
    explained["expression"] += f" = {activity.reduction_g} g (rounded down)"
    out = {k: _plain(v) for k, v in explained.items() if k != "km"}
    out["km"] = None if explained["km"] is None else float(round(explained["km"], 3))
    out["methodology"] = methodology.code
    out["methodology_version"] = methodology.version
    return out


def _trips(keys: list[Key]) -> dict:
    rows = {
        a.id: a
        for a in db.session.execute(
            select(Activity).where(Activity.id.in_([k.id for k in keys]))
        ).scalars()
    }
    out = {}
    for k in keys:
        a = rows[k.id]
        zh_mode, en_mode = mode_names(a.activity_type)
        how = computation(a)
        km = how["km"]
        dist_zh = f" {number(Decimal(str(km)), 1)} 公里" if km is not None else ""
        dist_en = f", {number(Decimal(str(km)), 1)} km" if km is not None else ""
        zh = f"{zh_mode}{dist_zh}：减排 {a.reduction_g} 克"
        en = f"{en_mode}{dist_en}: {a.reduction_g} g CO2e avoided"
        if a.credited_g is None:
            zh += "，待入账"
            en += ", to be credited"
        elif a.credited_g < a.reduction_g:
            zh += f"，当日上限内入账 {a.credited_g} 克"
            en += f"; {a.credited_g} g credited within the daily cap"
        else:
            zh += "，已入账"
            en += ", credited"
        if a.erased:
            zh += "（原始数据已删除）"
            en += " (raw details erased)"
        out[(TRIP, k.id)] = _line(
            k,
            "trip",
            zh + "。",
            en + ".",
            trip={
                "activity_id": a.id,
                "scenario_code": a.scenario.code,
                "activity_type": a.activity_type,
                "day": a.day,
                "started_at": a.started_at,
                "reduction_g": a.reduction_g,
                "credited_g": a.credited_g,
                "flags": a.flags or [],
                "computation": how,
            },
        )
    return out


def _entries(keys: list[Key], accounts: dict[int, str]) -> dict:
    ids = [k.id for k in keys]
    entries = {
        e.id: e
        for e in db.session.execute(select(JournalEntry).where(JournalEntry.id.in_(ids))).scalars()
    }
    credits = _credits([e.id for e in entries.values() if e.kind == "accrual"])
    order_ids = sorted(
        {int(e.ref_id) for e in entries.values() if e.ref_type == "order" and e.ref_id}
    )
    orders = _orders(order_ids)
    out = {}
    for k in keys:
        e = entries[k.id]
        amounts = {"g": 0, "pt": 0}
        for p in e.postings:
            if p.account_id in accounts:
                amounts[accounts[p.account_id]] += p.amount
        out[(ENTRY, k.id)] = _entry_line(k, e, amounts, credits.get(e.id), orders)
    return out


def _entry_line(k: Key, e: JournalEntry, amounts: dict, credit, orders: dict) -> dict:
    g, pt = amounts["g"], amounts["pt"]
    common = {"reductions_g": g or None, "points": pt or None}
    if e.kind == "accrual":
        if credit is None:
            zh = f"减排量入账 {g} 克。"
            en = f"{g} g CO2e credited."
            return _line(k, "credit", zh, en, credit=None, **common)
        day, code = credit["day"], credit["scenario_code"]
        zh = f"{day.isoformat()} {code} 减排量入账 {g} 克"
        en = f"{g} g CO2e credited for {day.isoformat()} ({code})"
        if credit["cut_by_cap_g"]:
            zh += f"（每日上限 {credit['daily_cap_g']} 克，削减 {credit['cut_by_cap_g']} 克）"
            en += f"; the daily cap of {credit['daily_cap_g']} g cut {credit['cut_by_cap_g']} g"
        return _line(k, "credit", zh + "。", en + ".", credit=credit, **common)
    if e.kind == "conversion":
        auto = (e.actor or "").startswith("job:accrual")
        zh = f"{'自动' if auto else ''}兑换：{-g} 克减排量 → {pt} 积分。"
        en = f"{'Auto-converted' if auto else 'Converted'} {-g} g CO2e into {pt} points."
        return _line(k, "conversion", zh, en, conversion={"automatic": auto}, **common)
    if e.kind in ("order_hold", "order_refund"):
        order = orders.get(int(e.ref_id)) if e.ref_id else None
        title = order["item_title"] if order else "?"
        if e.kind == "order_hold":
            zh = f"兑换「{title}」（订单 #{e.ref_id}），使用 {-pt} 积分。"
            en = f"Order #{e.ref_id}: {-pt} points for “{title}”."
            return _line(k, "order", zh, en, order=order, **common)
        closed = order["status"] if order else "cancelled"
        zh_state = "已过期" if closed == "expired" else "已取消"
        en_state = "expired" if closed == "expired" else "was cancelled"
        zh = f"订单 #{e.ref_id}「{title}」{zh_state}，退回 {pt} 积分（保留原到期日）。"
        en = f"Order #{e.ref_id} “{title}” {en_state}: {pt} points back, with their dates."
        return _line(k, "refund", zh, en, order=order, **common)
    if e.kind == "points_expiry":
        zh = f"{-pt} 积分到期失效（{e.ref_id} 月末到期）。"
        en = f"{-pt} points expired (due at the end of {e.ref_id})."
        return _line(k, "expiry", zh, en, **common)
    if e.kind == "account_closure":
        zh = f"账户注销：剩余积分 {-pt} 分、减排量 {-g} 克已注销。"
        en = f"Account closed: the {-pt} points and {-g} g left were cancelled."
        return _line(k, "closure", zh, en, **common)
    zh = f"记账（{e.kind}）：减排量 {g} 克，积分 {pt}。"
    en = f"Entry ({e.kind}): {g} g, {pt} points."
    return _line(k, "other", zh, en, **common)


def _credits(entry_ids: list[int]) -> dict[int, dict]:
    """Per accrual entry: its day, scenario, trips and what the daily cap cut."""
    if not entry_ids:
        return {}
    out = {}
    for row in db.session.execute(
        select(
            Activity.accrual_entry_id,
            Activity.day,
            Activity.scenario_id,
            func.count(),
            func.sum(Activity.reduction_g),
            func.sum(Activity.credited_g),
        )
        .where(Activity.accrual_entry_id.in_(entry_ids))
        .group_by(Activity.accrual_entry_id, Activity.day, Activity.scenario_id)
    ):
        entry_id, day, scenario_id, trips, reduction, credited = row
        out[entry_id] = {
            "day": day,
            "scenario_id": scenario_id,
            "trips": int(trips),
            "reduction_g": int(reduction or 0),
            "credited_g": int(credited or 0),
            "cut_by_cap_g": int(reduction or 0) - int(credited or 0),
        }
    if out:
        scenarios = {
            s.id: s
            for s in db.session.execute(
                select(Scenario).where(Scenario.id.in_({c["scenario_id"] for c in out.values()}))
            ).scalars()
        }
        for c in out.values():
            scenario = scenarios[c.pop("scenario_id")]
            c["scenario_code"] = scenario.code
            c["daily_cap_g"] = scenario.daily_cap_g
    return out


def _orders(order_ids: list[int]) -> dict[int, dict]:
    if not order_ids:
        return {}
    rows = db.session.execute(
        select(Order).where(Order.id.in_(order_ids)).options(selectinload(Order.item))
    ).scalars()
    orders = list(rows)
    names = dict(
        db.session.execute(
            select(Organization.id, Organization.name).where(
                Organization.id.in_({o.merchant_id for o in orders})
            )
        ).all()
    )
    return {
        o.id: {
            "id": o.id,
            "item_title": o.item.title,
            "merchant": names.get(o.merchant_id),
            "status": o.status,
            "points": o.points,
        }
        for o in orders
    }


def _redemptions(keys: list[Key]) -> dict:
    orders = _orders([k.id for k in keys])
    out = {}
    for k in keys:
        o = orders[k.id]
        zh = f"订单 #{o['id']}「{o['item_title']}」已在 {o['merchant']} 核销。"
        en = f"Order #{o['id']} “{o['item_title']}” redeemed at {o['merchant']}."
        out[(REDEMPTION, k.id)] = _line(k, "redemption", zh, en, order=o)
    return out
