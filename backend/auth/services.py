"""Registering, logging in, refreshing and revoking; operator client credentials.

Rules live here; callers commit."""

from __future__ import annotations

import hmac
import uuid
from datetime import timedelta

from sqlalchemy import select, update

from backend.auth.models import OperatorClient, RefreshToken, User
from backend.auth.passwords import hash_password, verify_password
from backend.auth.phones import is_phone, mask, phone_hash
from backend.auth.tokens import Principal, issue_access, new_secret, sha256
from backend.db import db, utcnow
from backend.errors import Conflict, Invalid, NotFound, Unauthorized
from backend.runtime import setting, token_config


class BadCredentials(Unauthorized):
    code, title = "bad_credentials", "Wrong login or password"


class RefreshReused(Unauthorized):
    """A spent refresh token came back: the family is revoked, and that must stick."""

    code, title = "refresh_token_reused", "Refresh token reused"
    commit_anyway = True


def principal_of(user: User) -> Principal:
    return Principal(
        kind=user.kind,
        id=user.id,
        roles=tuple(user.role_list),
        organization_id=user.organization_id,
    )


def register_resident(phone: str, password: str, display_name: str | None) -> User:
    if not is_phone(phone):
        raise Invalid(errors={"phone": ["Not a mainland mobile number."]})
    key = phone_hash(phone, setting("PII_KEY"))
    if db.session.execute(select(User.id).where(User.phone_hash == key)).first():
        raise Conflict("This phone number is registered already.", code="phone_taken")
    user = User(
        kind="resident",
        phone_hash=key,
        phone_masked=mask(phone),
        password_hash=hash_password(password),
        display_name=display_name,
    )
    db.session.add(user)
    db.session.flush()
    return user


def create_login_user(
    kind: str,
    login: str,
    password: str,
    *,
    roles: list[str] | None = None,
    organization_id: int | None = None,
) -> User:
    if is_phone(login):
        raise Invalid(errors={"login": ["A staff or merchant login may not look like a phone."]})
    if db.session.execute(select(User.id).where(User.login == login)).first():
        raise Conflict("This login is taken.", code="login_taken")
    user = User(
        kind=kind,
        login=login,
        password_hash=hash_password(password),
        roles=",".join(roles or []),
        organization_id=organization_id,
    )
    db.session.add(user)
    db.session.flush()
    return user


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
    cfg = token_config()
    return {
        "access_token": issue_access(cfg, principal_of(user)),
        "refresh_token": refresh,
        "token_type": "Bearer",
        "expires_in": cfg.access_seconds,
    }


def login(login_name: str, password: str) -> dict:
    if is_phone(login_name):
        stmt = select(User).where(User.phone_hash == phone_hash(login_name, setting("PII_KEY")))
    else:
        stmt = select(User).where(User.login == login_name)
    user = db.session.execute(stmt).scalar_one_or_none()
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.active:
        raise BadCredentials("Wrong login or password.")
    return _issue_pair(user)


def refresh(token: str) -> dict:
    row = db.session.execute(
        select(RefreshToken).where(RefreshToken.token_hash == sha256(token)).with_for_update()
    ).scalar_one_or_none()
    now = utcnow()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise Unauthorized("The refresh token is not valid.", code="bad_refresh_token")
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
        raise Unauthorized("The refresh token is not valid.", code="bad_refresh_token")
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


def create_operator_client(organization_id: int, scenario_id: int) -> tuple[OperatorClient, str]:
    secret = new_secret()
    client = OperatorClient(
        client_id="op_" + new_secret(12),
        secret_hash=sha256(secret),
        organization_id=organization_id,
        scenario_id=scenario_id,
    )
    db.session.add(client)
    db.session.flush()
    return client, secret


def client_token(client_id: str, client_secret: str) -> dict:
    client = db.session.execute(
        select(OperatorClient).where(OperatorClient.client_id == client_id)
    ).scalar_one_or_none()
    expected = client.secret_hash if client else sha256("no-such-client")
    if (
        not hmac.compare_digest(expected, sha256(client_secret))
        or client is None
        or not client.active
    ):
        raise BadCredentials("Wrong client id or secret.")
    cfg = token_config()
    token = issue_access(
        cfg,
        Principal(
            kind="operator",
            id=client.client_id,
            organization_id=client.organization_id,
            scenario_id=client.scenario_id,
        ),
    )
    return {"access_token": token, "token_type": "Bearer", "expires_in": cfg.access_seconds}


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound()
    return user
