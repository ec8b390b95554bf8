"""Taking access away, and giving it back: disabling and enabling a login (resident,
merchant user, staff) or an operator client, rotating a client's secret, and a
resident signing out everywhere.

Access tokens carry their subject's token generation (`gen`); every request compares
it with the subject's row (`backend.auth.subjects`), so bumping the generation refuses
every earlier token at once. Disabling also revokes every refresh-token family, so
enabling again does not bring old sessions back. Callers commit."""

from __future__ import annotations

from sqlalchemy import select, update

from backend.audit import log as audit
from backend.auth.models import OperatorClient, RefreshToken, User
from backend.auth.tokens import new_secret, sha256
from backend.db import db, utcnow
from backend.errors import Conflict, NotFound


class OperatorClientNotFound(NotFound):
    code, title = "operator_client_not_found", "No such operator client"


class CannotDisableSelf(Conflict):
    code, title = "cannot_disable_self", "Staff cannot disable their own login"


def _lock_user(kind: str, user_id: int) -> User:
    user = db.session.execute(
        select(User)
        .where(User.id == user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if user is None or user.kind != kind:
        raise NotFound(f"No such {kind}.", code=f"{kind}_not_found")
    return user


def revoke_sessions(user_id: int) -> None:
    """Every refresh-token family of the user revoked, every access token refused."""
    db.session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(User)
        .where(User.id == user_id)
        .values(token_gen=User.token_gen + 1)
        .execution_options(synchronize_session=False)
    )


def sign_out_everywhere(user_id: int) -> None:
    """The user's own act: all refresh families and access tokens end now."""
    revoke_sessions(user_id)


def set_user_active(kind: str, user_id: int, active: bool, *, acting_user_id: int) -> User:
    """Disable (every session ends at once) or enable a login of `kind`."""
    user = _lock_user(kind, user_id)
    if not active and user.id == acting_user_id:
        raise CannotDisableSelf("Staff cannot disable their own login.")
    before = user.active
    user.active = active
    db.session.flush()
    if not active:
        revoke_sessions(user.id)
    audit.record(
        f"{kind}.{'enable' if active else 'disable'}",
        "user",
        user.id,
        before={"active": before},
        after={"active": active},
    )
    return _reload(user.id)


def _reload(user_id: int) -> User:
    return db.session.execute(
        select(User).where(User.id == user_id).execution_options(populate_existing=True)
    ).scalar_one()


def _lock_client(client_id: str) -> OperatorClient:
    client = db.session.execute(
        select(OperatorClient)
        .where(OperatorClient.client_id == client_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if client is None:
        raise OperatorClientNotFound("No such operator client.")
    return client


def set_client_active(client_id: str, active: bool) -> OperatorClient:
    """Disable (its tokens stop at once) or enable an operator client."""
    client = _lock_client(client_id)
    before = client.active
    client.active = active
    if not active:
        client.token_gen = client.token_gen + 1
    db.session.flush()
    audit.record(
        f"operator_client.{'enable' if active else 'disable'}",
        "operator_client",
        client.client_id,
        before={"active": before},
        after={"active": active},
    )
    return client


def rotate_secret(client_id: str) -> dict:
    """A new secret for the client (in the answer and nowhere else); the old secret and
    every token issued with it stop working at once."""
    client = _lock_client(client_id)
    secret = new_secret()
    client.secret_hash = sha256(secret)
    client.token_gen = client.token_gen + 1
    db.session.flush()
    audit.record(
        "operator_client.rotate_secret",
        "operator_client",
        client.client_id,
        after={"rotated_at": utcnow().isoformat()},
    )
    return {"client_id": client.client_id, "client_secret": secret}
