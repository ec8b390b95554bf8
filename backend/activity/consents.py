"""Consent: operators issue one-time bind tokens for their own user references; a
resident redeems one to consent (separately, explicitly, for named purposes); the
resident lists and withdraws consents, and may erase the raw details of their
activities. Without a bind token nobody can claim another person's trips."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from backend.activity.models import Activity, BindToken, Consent
from backend.auth.tokens import new_secret, sha256
from backend.db import db, utcnow
from backend.errors import Conflict, NotFound
from backend.registry.models import Scenario
from backend.runtime import setting

# What the consent is for (PIPL Art. 14, 17, 29: separate consent naming the purpose).
PURPOSES = ["carbon_reduction_accounting"]
PURPOSE_TEXT = (
    "The operator reports your trips (time, activity type and distance) under this user "
    "reference to the SIP carbon-inclusion platform, only to compute and credit your "
    "carbon reductions and points. Withdraw at any time; you may erase the raw details."
)


class BadBindToken(NotFound):
    code, title = "bad_bind_token", "Unknown, spent or expired bind token"


def issue_bind_token(scenario_id: int, user_ref: str) -> tuple[str, datetime]:
    token = new_secret(24)
    expires_at = utcnow() + timedelta(seconds=setting("BIND_TOKEN_SECONDS"))
    db.session.add(
        BindToken(
            token_hash=sha256(token),
            scenario_id=scenario_id,
            user_ref=user_ref,
            expires_at=expires_at,
        )
    )
    db.session.flush()
    return token, expires_at


def redeem(user_id: int, token: str) -> Consent:
    now = utcnow()
    bind = db.session.execute(
        select(BindToken).where(BindToken.token_hash == sha256(token)).with_for_update()
    ).scalar_one_or_none()
    if bind is None or bind.used_at is not None or bind.expires_at <= now:
        raise BadBindToken("This bind token is unknown, spent or expired.")
    spent = db.session.execute(
        update(BindToken)
        .where(BindToken.id == bind.id, BindToken.used_at.is_(None))
        .values(used_at=now)
    )
    if spent.rowcount != 1:
        raise BadBindToken("This bind token is unknown, spent or expired.")
    active = db.session.execute(
        select(Consent).where(
            Consent.scenario_id == bind.scenario_id,
            Consent.user_ref == bind.user_ref,
            Consent.withdrawn_at.is_(None),
        )
    ).scalar_one_or_none()
    if active is not None:
        if active.user_id == user_id:
            return active
        raise Conflict(
            "This operator account is linked to another resident.", code="user_ref_bound"
        )
    consent = Consent(
        user_id=user_id,
        scenario_id=bind.scenario_id,
        user_ref=bind.user_ref,
        purposes=list(PURPOSES),
        granted_at=now,
    )
    db.session.add(consent)
    db.session.flush()
    return consent


def list_query(user_id: int):
    return select(Consent).where(Consent.user_id == user_id)


def withdraw(user_id: int, consent_id: int) -> None:
    consent = db.session.get(Consent, consent_id)
    if consent is None or consent.user_id != user_id:
        raise NotFound("No such consent.")
    if consent.withdrawn_at is None:
        consent.withdrawn_at = utcnow()
        db.session.flush()


def erase_raw_details(user_id: int) -> int:
    """Erase the measures (distances, energy) of the resident's activities at once; the
    amounts and days stay. The start and end times stay only while a record from another
    operator could still overlap them (the longest scenario window): without them one
    trip could be credited twice. The retention job erases them after that."""
    result = db.session.execute(
        update(Activity)
        .where(Activity.user_id == user_id, Activity.erased_at.is_(None))
        .values(measures=None, erased_at=utcnow())
    )
    return result.rowcount


def purge_raw_details(older_than_days: int) -> int:
    """The scheduled job: erase raw details older than the retention period, and the
    times of erased activities once no upload can overlap them any more."""
    now = utcnow()
    cutoff = now - timedelta(days=older_than_days)
    result = db.session.execute(
        update(Activity)
        .where(Activity.erased_at.is_(None), Activity.started_at < cutoff)
        .values(started_at=None, ended_at=None, measures=None, erased_at=now)
    )
    longest_window = db.session.scalar(select(func.max(Scenario.window_days))) or 0
    db.session.execute(
        update(Activity)
        .where(
            Activity.erased_at.is_not(None),
            Activity.started_at.is_not(None),
            Activity.started_at < now - timedelta(days=longest_window + 1),
        )
        .values(started_at=None, ended_at=None)
    )
    return result.rowcount
