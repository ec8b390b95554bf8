"""Everything the platform holds on a resident, as one JSON document (PIPL Art. 45: a
copy of one's personal information): the profile, consents (with the operator's user
references), every activity (raw details while they are kept), every posting of the
resident's accounts, orders, notifications, the points alive and when they expire,
and any sanction. Times are ISO 8601 at +08:00."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from backend.activity.consent import PURPOSE_TEXT
from backend.activity.models import Activity, Consent
from backend.auth.models import User
from backend.db import db, utcnow
from backend.errors import NotFound
from backend.ledger import Account, AccountKind, JournalEntry, Posting
from backend.points import lots
from backend.registry.models import Organization
from backend.residents.models import Notification
from backend.sanctions.models import Sanction
from mall.models import Order

FORMAT = "sip-carbon-points/resident-export/1"
CHINA = timezone(timedelta(hours=8))


def _t(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(CHINA).isoformat()


def export(user_id: int) -> dict:
    user = db.session.get(User, user_id)
    if user is None or user.kind != "resident":
        raise NotFound("No such resident.", code="resident_not_found")
    now = utcnow()
    return {
        "format": FORMAT,
        "exported_at": _t(now),
        "profile": _profile(user),
        "consents": _consents(user_id),
        "activities": _activities(user_id),
        "ledger": _ledger(user_id),
        "orders": _orders(user_id),
        "notifications": _notifications(user_id),
        "points_expiring": [
            {"on": x["on"].isoformat(), "points": x["points"]}
            for x in lots.book(user_id).upcoming(now)
        ],
        "sanctions": _sanctions(user_id),
    }


def _profile(user: User) -> dict:
    balances = dict(
        db.session.execute(
            select(Account.kind, Account.balance).where(
                Account.owner_id == user.id,
                Account.kind.in_(
                    [AccountKind.RESIDENT_REDUCTIONS.value, AccountKind.RESIDENT_POINTS.value]
                ),
            )
        ).all()
    )
    return {
        "id": user.id,
        "phone": user.phone_masked,
        "display_name": user.display_name,
        "auto_convert": user.auto_convert,
        "active": user.active,
        "frozen": user.frozen,
        "created_at": _t(user.created_at),
        "reductions_g": balances.get(AccountKind.RESIDENT_REDUCTIONS.value, 0),
        "points": balances.get(AccountKind.RESIDENT_POINTS.value, 0),
        "phone_note": "The number itself is not stored: only a keyed hash to find the "
        "account at login, and this masked form.",
    }


def _consents(user_id: int) -> list[dict]:
    return [
        {
            "id": c.id,
            "scenario_code": c.scenario.code,
            "operator": c.scenario.operator.name,
            "user_ref": c.user_ref,
            "purposes": c.purposes,
            "purpose_text": PURPOSE_TEXT,
            "granted_at": _t(c.granted_at),
            "withdrawn_at": _t(c.withdrawn_at),
        }
        for c in db.session.execute(
            select(Consent).where(Consent.user_id == user_id).order_by(Consent.id)
        ).scalars()
    ]


def _activities(user_id: int) -> list[dict]:
    return [
        {
            "id": a.id,
            "scenario_code": a.scenario.code,
            "external_id": a.external_id,
            "batch_id": a.batch_id,
            "activity_type": a.activity_type,
            "day": a.day.isoformat(),
            "started_at": _t(a.started_at),
            "ended_at": _t(a.ended_at),
            "measures": a.measures,
            "reduction_g": a.reduction_g,
            "credited_g": a.credited_g,
            "flags": a.flags,
            "methodology": a.methodology.code,
            "methodology_version": a.methodology.version,
            "accrual_entry_id": a.accrual_entry_id,
            "erased": a.erased,
            "erased_at": _t(a.erased_at),
            "created_at": _t(a.created_at),
        }
        for a in db.session.execute(
            select(Activity).where(Activity.user_id == user_id).order_by(Activity.id)
        ).scalars()
    ]


def _ledger(user_id: int) -> list[dict]:
    rows = db.session.execute(
        select(
            Posting.id,
            Posting.entry_id,
            Account.unit,
            JournalEntry.kind,
            Posting.amount,
            Posting.balance_after,
            Posting.created_at,
            JournalEntry.ref_type,
            JournalEntry.ref_id,
            JournalEntry.memo,
        )
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .join(Account, Account.id == Posting.account_id)
        .where(
            Account.owner_id == user_id,
            Account.kind.in_(
                [AccountKind.RESIDENT_REDUCTIONS.value, AccountKind.RESIDENT_POINTS.value]
            ),
        )
        .order_by(Posting.id)
    )
    return [{**r._mapping, "created_at": _t(r.created_at)} for r in rows]


def _orders(user_id: int) -> list[dict]:
    orders = list(
        db.session.execute(
            select(Order)
            .where(Order.user_id == user_id)
            .order_by(Order.id)
            .options(selectinload(Order.item))
        ).scalars()
    )
    names = dict(
        db.session.execute(
            select(Organization.id, Organization.name).where(
                Organization.id.in_({o.merchant_id for o in orders})
            )
        ).all()
    )
    return [
        {
            "id": o.id,
            "item_id": o.item_id,
            "item_title": o.item.title,
            "merchant": names.get(o.merchant_id),
            "points": o.points,
            "status": o.status,
            "redemption_code": o.redemption_code,
            "created_at": _t(o.created_at),
            "expires_at": _t(o.expires_at),
            "fulfilled_at": _t(o.fulfilled_at),
            "closed_at": _t(o.closed_at),
        }
        for o in orders
    ]


def _notifications(user_id: int) -> list[dict]:
    return [
        {
            "id": n.id,
            "kind": n.kind,
            "text_zh": n.text_zh,
            "text_en": n.text_en,
            "data": n.data,
            "created_at": _t(n.created_at),
            "sent_at": _t(n.sent_at),
        }
        for n in db.session.execute(
            select(Notification).where(Notification.user_id == user_id).order_by(Notification.id)
        ).scalars()
    ]


def _sanctions(user_id: int) -> list[dict]:
    return [
        {
            "id": s.id,
            "reason": s.reason,
            "frozen_at": _t(s.frozen_at),
            "lifted_at": _t(s.lifted_at),
        }
        for s in db.session.execute(
            select(Sanction)
            .where(Sanction.subject_type == "resident", Sanction.subject_id == user_id)
            .order_by(Sanction.id)
        ).scalars()
    ]
