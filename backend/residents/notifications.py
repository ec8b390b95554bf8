"""Notifications a resident's app polls (`GET /api/v1/me/notifications`), written in
the same transaction as the event they tell of, so none is lost and none tells of
something that rolled back:
- `credit`: accrual credited a day's grams (and the points auto-convert gave);
- `order_refunded`, `order_expired`: an order was cancelled or expired, points back;
- `consent_granted`, `consent_withdrawn`: a consent changed;
- `points_expired`: the expiry job took points whose time had come;
- `points_expiring`: the daily reminder of points expiring within 30 days (once per
  expiry date, by its `dedupe_key`).
Each has a short Chinese and English text and its figures in `data`. `sent_at` is
NULL until a push job sends it (a later job reads the unsent ones by the partial index
`ix_notifications_unsent`, sends, and sets `sent_at`). Callers commit."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Select, delete, select

from backend.db import bulk_insert, db, insert_ignore, utcnow
from backend.residents.models import Notification


def row(
    user_id: int,
    kind: str,
    text_zh: str,
    text_en: str,
    data: dict | None = None,
    dedupe_key: str | None = None,
) -> dict:
    return {
        "user_id": user_id,
        "kind": kind,
        "text_zh": text_zh[:300],
        "text_en": text_en[:300],
        "data": data,
        "dedupe_key": dedupe_key,
        "created_at": utcnow(),
    }


def add(rows: list[dict]) -> None:
    """Write notifications (dicts from `row`); one whose `dedupe_key` exists is skipped."""
    once = [r for r in rows if r["dedupe_key"] is not None]
    plain = [r for r in rows if r["dedupe_key"] is None]
    if plain:
        bulk_insert(Notification, plain)
    if once:
        insert_ignore(Notification, once, ("dedupe_key",))


def of_resident(user_id: int) -> Select:
    return select(Notification).where(Notification.user_id == user_id)


def erase(user_id: int) -> int:
    """Delete the resident's notifications (account closure)."""
    result = db.session.execute(
        delete(Notification)
        .where(Notification.user_id == user_id)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


# -- the texts ------------------------------------------------------------------------


def credit(user_id: int, scenario_code: str, day: date, grams: int, points: int) -> dict:
    zh = f"{day.isoformat()} {scenario_code} 减排量 {grams} 克已入账"
    en = f"{grams} g CO2e credited for {day.isoformat()} ({scenario_code})"
    if points:
        zh += f"，已自动兑换为 {points} 积分"
        en += f", auto-converted into {points} points"
    return row(
        user_id,
        "credit",
        zh + "。",
        en + ".",
        {"scenario_code": scenario_code, "day": day.isoformat(), "grams": grams, "points": points},
    )


def order_closed(user_id: int, order_id: int, points: int, status: str) -> dict:
    if status == "expired":
        return row(
            user_id,
            "order_expired",
            f"订单 #{order_id} 已过期未核销，{points} 积分已退回（保留原到期日）。",
            f"Order #{order_id} expired unredeemed: {points} points are back, with their "
            "original expiry dates.",
            {"order_id": order_id, "points": points},
        )
    return row(
        user_id,
        "order_refunded",
        f"订单 #{order_id} 已取消，{points} 积分已退回（保留原到期日）。",
        f"Order #{order_id} was cancelled: {points} points are back, with their original "
        "expiry dates.",
        {"order_id": order_id, "points": points},
    )


def consent(user_id: int, consent_id: int, scenario_code: str, granted: bool) -> dict:
    if granted:
        return row(
            user_id,
            "consent_granted",
            f"您已授权 {scenario_code} 的运营方报送您的出行数据，用于核算减排量。",
            f"You consented to {scenario_code}'s operator reporting your trips to account "
            "for your reductions.",
            {"consent_id": consent_id, "scenario_code": scenario_code},
        )
    return row(
        user_id,
        "consent_withdrawn",
        f"您已撤回对 {scenario_code} 的授权，此后的数据不再计入。",
        f"You withdrew your consent to {scenario_code}: its reports no longer count.",
        {"consent_id": consent_id, "scenario_code": scenario_code},
    )


def points_expiring(user_id: int, points: int, on: date) -> dict:
    return row(
        user_id,
        "points_expiring",
        f"您有 {points} 积分将于 {on.isoformat()} 到期，请及时使用。",
        f"{points} of your points expire on {on.isoformat()}: use them before then.",
        {"points": points, "on": on.isoformat()},
        dedupe_key=f"points-expiring:{user_id}:{on.isoformat()}",
    )


def points_expired(user_id: int, points: int, month: str, entry_id: int) -> dict:
    return row(
        user_id,
        "points_expired",
        f"{points} 积分已到期（{month} 月末到期）。",
        f"{points} points expired (due at the end of {month}).",
        {"points": points, "month": month, "entry_id": entry_id},
    )
