"""Every authenticated request re-checks its subject: one indexed read (the user by
primary key, or the operator client by its unique client id, each joined to its
organisation) refuses a subject that does not exist, is disabled, or whose token
generation moved on (signed out everywhere, disabled, secret rotated), and one that is
frozen (Art. 24). The roles and the organisation come from that row, not from the
token, so a change takes effect at once."""

from __future__ import annotations

from sqlalchemy import select

from backend.auth.models import OperatorClient, User
from backend.auth.tokens import Principal
from backend.db import db
from backend.errors import Forbidden, Unauthorized
from backend.registry.models import Organization


class SubjectInactive(Unauthorized):
    code, title = "subject_inactive", "The account behind this token is not active"


class SubjectFrozen(Forbidden):
    code, title = "account_frozen", "The account is frozen"


class OrganizationFrozen(Forbidden):
    code, title = "organization_frozen", "The organisation is frozen"


def _fetch(stmt):
    """One row of `stmt`. On SQLite a transaction takes the write lock at BEGIN, so the
    read runs on a short connection of its own: the request's own transaction, and an
    Idempotency-Key claim made on another connection, do not wait behind it."""
    if db.session.get_bind().dialect.name == "sqlite":
        with db.engine.connect() as conn:
            return conn.execute(stmt).one_or_none()
    return db.session.execute(stmt).one_or_none()


def _inactive() -> SubjectInactive:
    return SubjectInactive("This token's account does not exist, is disabled or signed out.")


def load(claimed: Principal) -> Principal:
    """The principal as the database has it now (raises when it may not act)."""
    if claimed.kind == "operator":
        return _operator(claimed)
    return _user(claimed)


def _user(claimed: Principal) -> Principal:
    row = _fetch(
        select(
            User.kind,
            User.active,
            User.frozen,
            User.token_gen,
            User.roles,
            User.organization_id,
            Organization.status,
        )
        .outerjoin(Organization, Organization.id == User.organization_id)
        .where(User.id == claimed.id)
    )
    if row is None or row.kind != claimed.kind or not row.active or row.token_gen != claimed.gen:
        raise _inactive()
    if row.frozen:
        raise SubjectFrozen("This account is frozen; contact the service centre.")
    if row.status == "frozen":
        raise OrganizationFrozen("This organisation is frozen; contact the service centre.")
    return Principal(
        kind=row.kind,
        id=claimed.id,
        roles=tuple(r for r in (row.roles or "").split(",") if r),
        organization_id=row.organization_id,
        gen=row.token_gen,
    )


def _operator(claimed: Principal) -> Principal:
    row = _fetch(
        select(
            OperatorClient.active,
            OperatorClient.token_gen,
            OperatorClient.organization_id,
            OperatorClient.scenario_id,
            Organization.status,
        )
        .join(Organization, Organization.id == OperatorClient.organization_id)
        .where(OperatorClient.client_id == str(claimed.id))
    )
    if row is None or not row.active or row.token_gen != claimed.gen:
        raise _inactive()
    if row.status == "frozen":
        raise OrganizationFrozen("This organisation is frozen; contact the service centre.")
    return Principal(
        kind="operator",
        id=claimed.id,
        organization_id=row.organization_id,
        scenario_id=row.scenario_id,
        gen=row.token_gen,
    )


def organization_frozen(organization_id: int | None) -> bool:
    if organization_id is None:
        return False
    status = db.session.execute(
        select(Organization.status).where(Organization.id == organization_id)
    ).scalar_one_or_none()
    return status == "frozen"


def refuse_frozen(user: User) -> None:
    """Raised at sign-in (after the password was checked): a frozen resident, or a user
    of a frozen organisation, gets no new tokens."""
    if user.frozen:
        raise SubjectFrozen("This account is frozen; contact the service centre.")
    if organization_frozen(user.organization_id):
        raise OrganizationFrozen("This organisation is frozen; contact the service centre.")
