"""Consent: a resident spends an operator's bind token to consent, separately and
explicitly, for named purposes (PIPL Art. 14, 28-29), to that operator reporting one
user reference's activity; lists and withdraws consents. Withdrawal ends it at once."""

from __future__ import annotations

from sqlalchemy import Select, select

from backend.activity import bind_tokens
from backend.activity.models import Consent
from backend.db import db, utcnow
from backend.errors import Conflict, NotFound
from backend.registry import scenarios
from backend.residents import notifications


class UserRefBound(Conflict):
    code, title = "user_ref_bound", "The operator's reference is bound to another resident"


# What the consent is for (PIPL Art. 14, 17, 29: separate consent naming the purpose).
PURPOSES = ["carbon_reduction_accounting"]
PURPOSE_TEXT = (
    "The operator reports your trips (time, activity type and distance) under this user "
    "reference to the SIP carbon-inclusion platform, only to compute and credit your "
    "carbon reductions and points. Withdraw at any time; you may erase the raw details."
)


def grant(user_id: int, token: str) -> Consent:
    """Spend `token` and record the resident's consent (the same one again if it exists)."""
    now = utcnow()
    bind = bind_tokens.spend(token)
    scenarios.require_registered(bind.scenario_id)
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
        raise UserRefBound("This operator account is linked to another resident.")
    consent = Consent(
        user_id=user_id,
        scenario_id=bind.scenario_id,
        user_ref=bind.user_ref,
        purposes=list(PURPOSES),
        granted_at=now,
    )
    db.session.add(consent)
    db.session.flush()
    notifications.add([notifications.consent(user_id, consent.id, consent.scenario.code, True)])
    return consent


def of_resident(user_id: int) -> Select:
    return select(Consent).where(Consent.user_id == user_id)


def withdraw(user_id: int, consent_id: int) -> None:
    consent = db.session.get(Consent, consent_id)
    if consent is None or consent.user_id != user_id:
        raise NotFound("No such consent.")
    if consent.withdrawn_at is None:
        consent.withdrawn_at = utcnow()
        db.session.flush()
        notifications.add(
            [notifications.consent(user_id, consent.id, consent.scenario.code, False)]
        )
