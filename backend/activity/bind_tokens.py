"""Bind tokens: an operator issues a one-time token for one of its own user references;
the resident spends it in the app to consent (`consent.grant`). 192 random bits, stored
as SHA-256, single-use, short-lived. Without one nobody can claim another's trips."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from backend.activity.models import BindToken
from backend.auth.tokens import new_secret, sha256
from backend.db import db, utcnow
from backend.errors import NotFound
from backend.registry import scenarios
from backend.runtime import setting


class BadBindToken(NotFound):
    code, title = "bad_bind_token", "Unknown, spent or expired bind token"


def issue(scenario_id: int, user_ref: str) -> tuple[str, datetime]:
    scenarios.require_registered(scenario_id)
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


def spend(token: str) -> BindToken:
    """Mark the token used (once: of two racing spends exactly one wins)."""
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
    return bind
