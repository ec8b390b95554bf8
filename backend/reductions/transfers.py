"""Agreement transfers (Art. 17, 21): the seller proposes (the grams are reserved at once,
so they can't be spent twice), the buyer accepts, staff with `finance` execute; either
side may cancel before execution (the grams come back). Blocks split and move in the same
transaction as the ledger entry. Each transfer has a public record: amount, serials and
dates, never a price."""

from __future__ import annotations

from sqlalchemy import Select, or_, select

from backend.audit import log as audit
from backend.db import db, utcnow
from backend.errors import CURRENT_STATUS, Conflict, Invalid, NotFound
from backend.ledger import AccountKind, Leg, account_for, post
from backend.reductions import blocks
from backend.reductions.models import Transfer
from backend.registry import organizations


class TransferNotFound(NotFound):
    code, title = "transfer_not_found", "No such transfer"


class TransferState(Conflict):
    code, title = "transfer_state", "The transfer is not in a state that allows this"
    extras = CURRENT_STATUS


def _lock(transfer_id: int) -> Transfer:
    transfer = db.session.execute(
        select(Transfer)
        .where(Transfer.id == transfer_id)
        .with_for_update(of=Transfer)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if transfer is None:
        raise TransferNotFound("No such transfer.")
    return transfer


def _state(transfer: Transfer, *allowed: str) -> None:
    if transfer.status not in allowed:
        raise TransferState(
            f"The transfer is {transfer.status}.", extra={"current_status": transfer.status}
        )


def _audit(transfer: Transfer, before: str) -> None:
    audit.record(
        f"transfer.{transfer.status}",
        "transfer",
        transfer.id,
        before={"status": before},
        after={"status": transfer.status},
    )


def propose(seller_id: int, to_credit_code: str, amount_g: int, note: str | None, *, actor: str):
    buyer = organizations.by_credit_code(to_credit_code)
    if buyer.id == seller_id:
        raise Invalid(errors={"to_credit_code": ["A transfer needs two parties."]})
    transfer = Transfer(
        seller_id=seller_id,
        buyer_id=buyer.id,
        amount_g=amount_g,
        note=note,
        status="proposed",
        proposed_by=actor,
        proposed_at=utcnow(),
    )
    db.session.add(transfer)
    db.session.flush()
    held = account_for(AccountKind.ORG_REDUCTIONS, seller_id)
    reserved = account_for(AccountKind.ORG_RESERVED, seller_id)
    blocks.take(held, amount_g, reserved, status="reserved", reserved_for=("transfer", transfer.id))
    post(
        kind="transfer_reserve",
        idempotency_key=f"transfer:{transfer.id}:reserve",
        legs=[Leg(held, -amount_g), Leg(reserved, amount_g)],
        ref_type="transfer",
        ref_id=transfer.id,
        actor=actor,
        memo=f"reserved for transfer {transfer.id}",
    )
    _audit(transfer, "new")
    return transfer


def accept(buyer_id: int, transfer_id: int, *, actor: str) -> Transfer:
    transfer = _lock(transfer_id)
    if transfer.buyer_id != buyer_id:
        raise TransferNotFound("No such transfer.")
    _state(transfer, "proposed")
    transfer.status, transfer.accepted_by, transfer.accepted_at = "accepted", actor, utcnow()
    _audit(transfer, "proposed")
    db.session.flush()
    return transfer


def execute(transfer_id: int, *, actor: str) -> Transfer:
    transfer = _lock(transfer_id)
    _state(transfer, "accepted")
    reserved = account_for(AccountKind.ORG_RESERVED, transfer.seller_id)
    buyer = account_for(AccountKind.ORG_REDUCTIONS, transfer.buyer_id)
    moved = blocks.move_reserved(("transfer", transfer.id), buyer, status="held")
    post(
        kind="transfer",
        idempotency_key=f"transfer:{transfer.id}:execute",
        legs=[Leg(reserved, -transfer.amount_g), Leg(buyer, transfer.amount_g)],
        ref_type="transfer",
        ref_id=transfer.id,
        actor=actor,
        memo=f"transfer {transfer.id} executed",
    )
    transfer.status, transfer.executed_by, transfer.executed_at = "executed", actor, utcnow()
    transfer.serials = blocks.summary(moved)
    _audit(transfer, "accepted")
    db.session.flush()
    return transfer


def cancel(org_id: int, transfer_id: int, *, actor: str) -> Transfer:
    transfer = _lock(transfer_id)
    if org_id not in (transfer.seller_id, transfer.buyer_id):
        raise TransferNotFound("No such transfer.")
    _state(transfer, "proposed", "accepted")
    before = transfer.status
    reserved = account_for(AccountKind.ORG_RESERVED, transfer.seller_id)
    held = account_for(AccountKind.ORG_REDUCTIONS, transfer.seller_id)
    blocks.move_reserved(("transfer", transfer.id), held, status="held")
    post(
        kind="transfer_release",
        idempotency_key=f"transfer:{transfer.id}:cancel",
        legs=[Leg(reserved, -transfer.amount_g), Leg(held, transfer.amount_g)],
        ref_type="transfer",
        ref_id=transfer.id,
        actor=actor,
        memo=f"transfer {transfer.id} cancelled",
    )
    transfer.status, transfer.cancelled_by, transfer.cancelled_at = "cancelled", actor, utcnow()
    _audit(transfer, before)
    db.session.flush()
    return transfer


def get_own(org_id: int, transfer_id: int) -> Transfer:
    transfer = db.session.get(Transfer, transfer_id)
    if transfer is None or org_id not in (transfer.seller_id, transfer.buyer_id):
        raise TransferNotFound("No such transfer.")
    return transfer


def get(transfer_id: int) -> Transfer:
    transfer = db.session.get(Transfer, transfer_id)
    if transfer is None:
        raise TransferNotFound("No such transfer.")
    return transfer


def of_organization(org_id: int, status: str | None = None) -> Select:
    stmt = select(Transfer).where(or_(Transfer.seller_id == org_id, Transfer.buyer_id == org_id))
    return stmt.where(Transfer.status == status) if status else stmt


def pending_of_seller(org_id: int) -> Select:
    return select(Transfer).where(
        Transfer.seller_id == org_id, Transfer.status.in_(("proposed", "accepted"))
    )


def staff_query(status: str | None = None) -> Select:
    stmt = select(Transfer)
    return stmt.where(Transfer.status == status) if status else stmt


def public_query() -> Select:
    return select(Transfer).where(Transfer.status == "executed")
