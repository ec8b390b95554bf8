"""Freezing (Art. 24: "a participant who breaks the rules seriously loses the right to
take part") and unfreezing an organisation or a resident. Callers commit: all of it is
one transaction.

Freezing an organisation:
- its users and operator clients lose access at once (every request checks the
  organisation's status; no new tokens are given);
- every outgoing move of its accounts is refused (409 `account_frozen`: the ledger
  checks the `frozen` flag of the accounts it locks; a new account of a frozen owner
  opens frozen), while incoming value still lands, so nothing is lost;
- its uploads stop: new ones are refused with its clients, queued ones are failed;
- its pending orders are cancelled (points back to the residents, stock back) and its
  settlement batches not yet settled are cancelled (their orders released, to be
  settled once it is unfrozen);
- the sanction (reason, dates) is public.
Freezing a resident: no access, outgoing moves refused, pending orders cancelled with
refunds; the sanction is never public. Unfreezing restores access and moves, not what
was cancelled. Every freeze and unfreeze is audited.

Orders racing a freeze: the pending orders are cancelled once, then the accounts are
frozen and (an organisation) its escrow locked, then what committed meanwhile is
cancelled too; an order placed after that sees the freeze (`mall.orders.place`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, select, update

from backend.activity.models import UploadBatch
from backend.audit import log as audit
from backend.auth.models import OperatorClient, User
from backend.db import db, utcnow
from backend.errors import Conflict, NotFound
from backend.ledger import Account, lock
from backend.ledger.accounts import OWNED_BY_ORG, OWNED_BY_USER
from backend.reductions import transfers, uses
from backend.registry.models import Organization
from backend.registry.organizations import OrganizationNotFound
from backend.sanctions.models import Sanction
from mall import escrow, orders, settlement


class AlreadyFrozen(Conflict):
    code, title = "already_frozen", "Already frozen"


class NotFrozen(Conflict):
    code, title = "not_frozen", "Not frozen"


def _lock_org(org_id: int) -> Organization:
    org = db.session.execute(
        select(Organization)
        .where(Organization.id == org_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if org is None:
        raise OrganizationNotFound("No such organisation.")
    return org


def _lock_resident(user_id: int) -> User:
    user = db.session.execute(
        select(User)
        .where(User.id == user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if user is None or user.kind != "resident":
        raise NotFound("No such resident.", code="resident_not_found")
    return user


def _set_accounts_frozen(kinds, owner_id: int, frozen: bool) -> list[int]:
    return sorted(
        db.session.execute(
            update(Account)
            .where(Account.kind.in_([k.value for k in kinds]), Account.owner_id == owner_id)
            .values(frozen=frozen)
            .returning(Account.id)
            .execution_options(synchronize_session=False)
        ).scalars()
    )


def _open_sanction(subject_type: str, subject_id: int) -> Sanction | None:
    return db.session.execute(
        select(Sanction).where(
            Sanction.subject_type == subject_type,
            Sanction.subject_id == subject_id,
            Sanction.lifted_at.is_(None),
        )
    ).scalar_one_or_none()


def _stop_uploads(org_id: int, now: datetime) -> list[str]:
    clients = select(OperatorClient.client_id).where(OperatorClient.organization_id == org_id)
    return sorted(
        db.session.execute(
            update(UploadBatch)
            .where(UploadBatch.status == "queued", UploadBatch.client_id.in_(clients))
            .values(
                status="failed",
                error="organization_frozen: not processed",
                payload=None,
                finished_at=now,
            )
            .returning(UploadBatch.id)
            .execution_options(synchronize_session=False)
        ).scalars()
    )


def _result(sanction: Sanction, **lists) -> dict:
    return {
        "sanction_id": sanction.id,
        "subject_type": sanction.subject_type,
        "subject_id": sanction.subject_id,
        "status": "frozen" if sanction.lifted_at is None else "active",
        "reason": sanction.reason,
        "frozen_at": sanction.frozen_at,
        "lifted_at": sanction.lifted_at,
        **lists,
    }


def freeze_organization(org_id: int, reason: str, *, actor: str) -> dict:
    now = utcnow()
    org = _lock_org(org_id)
    if org.status == "frozen":
        raise AlreadyFrozen("The organisation is frozen already.")
    before = org.status
    org.status = "frozen"
    sanction = Sanction(
        subject_type="organization",
        subject_id=org.id,
        reason=reason,
        frozen_at=now,
        frozen_by=actor,
    )
    db.session.add(sanction)
    db.session.flush()
    batches = settlement.cancel_open(org.id, reason=f"organization frozen: {reason}", now=now)
    cancelled = orders.cancel_all_pending(merchant_id=org.id, actor=actor)
    uploads = _stop_uploads(org.id, now)
    # reductions it reserved for a transfer it sells or a use come back to it first
    # (moving them is an outgoing move of its reserved account, refused once frozen)
    transfers_cancelled = [
        transfers.cancel(org.id, t.id, actor=actor).id
        for t in db.session.execute(transfers.pending_of_seller(org.id)).scalars()
    ]
    uses_rejected = [
        uses.reject(u.id, f"organization frozen: {reason}", actor=actor).id
        for u in db.session.execute(uses.of_organization(org.id, "pending")).scalars()
    ]
    accounts = _set_accounts_frozen(OWNED_BY_ORG, org.id, True)
    if org.kind == "merchant":
        lock([escrow.escrow(org.id)])  # orders placed from now on see the freeze
    cancelled += orders.cancel_all_pending(merchant_id=org.id, actor=actor)
    lists = {
        "orders_cancelled": cancelled,
        "settlements_cancelled": batches,
        "uploads_stopped": uploads,
        "transfers_cancelled": transfers_cancelled,
        "uses_rejected": uses_rejected,
        "accounts_frozen": accounts,
    }
    audit.record(
        "organization.freeze",
        "organization",
        org.id,
        before={"status": before},
        after={"status": "frozen", "reason": reason, "sanction_id": sanction.id, **lists},
    )
    return _result(sanction, **lists)


def unfreeze_organization(org_id: int, reason: str, *, actor: str) -> dict:
    org = _lock_org(org_id)
    if org.status != "frozen":
        raise NotFrozen("The organisation is not frozen.")
    org.status = "active"
    accounts = _set_accounts_frozen(OWNED_BY_ORG, org.id, False)
    sanction = _lift("organization", org.id, reason, actor)
    audit.record(
        "organization.unfreeze",
        "organization",
        org.id,
        before={"status": "frozen"},
        after={
            "status": "active",
            "reason": reason,
            "sanction_id": sanction.id,
            "accounts_unfrozen": accounts,
        },
    )
    return _result(sanction, accounts_unfrozen=accounts)


def freeze_resident(user_id: int, reason: str, *, actor: str) -> dict:
    now = utcnow()
    user = _lock_resident(user_id)
    if user.frozen:
        raise AlreadyFrozen("The resident is frozen already.")
    user.frozen = True
    sanction = Sanction(
        subject_type="resident", subject_id=user.id, reason=reason, frozen_at=now, frozen_by=actor
    )
    db.session.add(sanction)
    db.session.flush()
    cancelled = orders.cancel_all_pending(user_id=user.id, actor=actor)
    accounts = _set_accounts_frozen(OWNED_BY_USER, user.id, True)
    cancelled += orders.cancel_all_pending(user_id=user.id, actor=actor)
    lists = {"orders_cancelled": cancelled, "accounts_frozen": accounts}
    audit.record(
        "resident.freeze",
        "user",
        user.id,
        before={"frozen": False},
        after={"frozen": True, "reason": reason, "sanction_id": sanction.id, **lists},
    )
    return _result(sanction, **lists)


def unfreeze_resident(user_id: int, reason: str, *, actor: str) -> dict:
    user = _lock_resident(user_id)
    if not user.frozen:
        raise NotFrozen("The resident is not frozen.")
    user.frozen = False
    accounts = _set_accounts_frozen(OWNED_BY_USER, user.id, False)
    sanction = _lift("resident", user.id, reason, actor)
    audit.record(
        "resident.unfreeze",
        "user",
        user.id,
        before={"frozen": True},
        after={
            "frozen": False,
            "reason": reason,
            "sanction_id": sanction.id,
            "accounts_unfrozen": accounts,
        },
    )
    return _result(sanction, accounts_unfrozen=accounts)


def _lift(subject_type: str, subject_id: int, reason: str, actor: str) -> Sanction:
    sanction = _open_sanction(subject_type, subject_id)
    if sanction is None:  # frozen by hand in the database: record the lifting all the same
        sanction = Sanction(
            subject_type=subject_type,
            subject_id=subject_id,
            reason="(no recorded sanction)",
            frozen_at=utcnow(),
            frozen_by="unknown",
        )
        db.session.add(sanction)
    sanction.lifted_at = utcnow()
    sanction.lifted_by = actor
    sanction.lift_reason = reason
    db.session.flush()
    return sanction


def public_query() -> Select:
    """Organisations' sanctions, open and lifted (never residents')."""
    return (
        select(
            Sanction.id,
            Organization.name.label("organization_name"),
            Organization.credit_code,
            Sanction.reason,
            Sanction.frozen_at,
            Sanction.lifted_at,
            Sanction.lift_reason,
        )
        .join(Organization, Organization.id == Sanction.subject_id)
        .where(Sanction.subject_type == "organization")
    )


def staff_query(subject_type: str | None = None, open_only: bool = False) -> Select:
    stmt = select(Sanction)
    if subject_type:
        stmt = stmt.where(Sanction.subject_type == subject_type)
    if open_only:
        stmt = stmt.where(Sanction.lifted_at.is_(None))
    return stmt


def of_subject(subject_type: str, subject_id: int) -> Select:
    """The sanctions of one organisation or resident, open and lifted."""
    return select(Sanction).where(
        Sanction.subject_type == subject_type, Sanction.subject_id == subject_id
    )
