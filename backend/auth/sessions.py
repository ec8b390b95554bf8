"""Sessions: logging in, refreshing (rotation; a reused refresh token revokes its whole
family) and logging out. Rules live here; callers commit."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select, update

from backend.auth import lockout
from backend.auth.models import RefreshToken, User
from backend.auth.passwords import verify_password
from backend.auth.phones import is_phone, phone_hash
from backend.auth.subjects import refuse_frozen
from backend.auth.tokens import config_from_app, issue_access, new_secret, sha256
from backend.auth.users import principal_of
from backend.db import db, utcnow
from backend.errors import Unauthorized
from backend.runtime import setting


class BadRefreshToken(Unauthorized):
    code, title = "bad_refresh_token", "The refresh token is not valid"


class BadCredentials(Unauthorized):
    code, title = "bad_credentials", "Wrong login or password"


class RefreshReused(Unauthorized):
    """A spent refresh token came back: the family is revoked, and that must stick."""

    code, title = "refresh_token_reused", "Refresh token reused"
    commit_anyway = True


def _issue_pair(user: User, family_id: str | None = None) -> dict:
    refresh = new_secret()
    db.session.add(
        RefreshToken(
            user_id=user.id,
            family_id=family_id or str(uuid.uuid4()),
            token_hash=sha256(refresh),
            expires_at=utcnow() + timedelta(seconds=setting("REFRESH_TOKEN_SECONDS")),
        )
    )
    db.session.flush()
    cfg = config_from_app()
    return {
        "access_token": issue_access(cfg, principal_of(user)),
        "refresh_token": refresh,
        "token_type": "Bearer",
        "expires_in": cfg.access_seconds,
    }


def authenticate(login_name: str, password: str) -> User:
    """The user behind a login and password, under the lockout (429 `login_locked`);
    401 `bad_credentials` for a wrong pair or a disabled login, 403 for a frozen one.
    The API's login and the pages' sign-in both start here."""
    lockout.check(login_name)
    if is_phone(login_name):
        stmt = select(User).where(User.phone_hash == phone_hash(login_name, setting("PII_KEY")))
    else:
        stmt = select(User).where(User.login == login_name)
    user = db.session.execute(stmt).scalar_one_or_none()
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.active:
        lockout.failed(login_name)
        raise BadCredentials("Wrong login or password.")
    lockout.succeeded(login_name)
    refuse_frozen(user)
    return user


def login(login_name: str, password: str) -> dict:
    return _issue_pair(authenticate(login_name, password))


def refresh(token: str) -> dict:
    row = db.session.execute(
        select(RefreshToken).where(RefreshToken.token_hash == sha256(token)).with_for_update()
    ).scalar_one_or_none()
    now = utcnow()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise BadRefreshToken("The refresh token is not valid.")
    if row.spent_at is not None:
        _revoke_family(row.family_id)
        raise RefreshReused("This refresh token was used before; its sessions are revoked.")
    spent = db.session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == row.id, RefreshToken.spent_at.is_(None))
        .values(spent_at=now)
    )
    if spent.rowcount != 1:  # lost a race with another use of the same token
        _revoke_family(row.family_id)
        raise RefreshReused("This refresh token was used before; its sessions are revoked.")
    user = db.session.get(User, row.user_id)
    if user is None or not user.active:
        raise BadRefreshToken("The refresh token is not valid.")
    refuse_frozen(user)
    return _issue_pair(user, row.family_id)


def _revoke_family(family_id: str) -> None:
    db.session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def logout(token: str) -> None:
    row = db.session.execute(
        select(RefreshToken).where(RefreshToken.token_hash == sha256(token))
    ).scalar_one_or_none()
    if row is not None:
        _revoke_family(row.family_id)
