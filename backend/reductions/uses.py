"""Uses of reductions (Art. 18, 21-23): retirement (核销), offset of operations or an
event, voluntary cancellation (never usable again) and donation. The owner requests and
the grams are reserved at once; staff with `finance` approve (the grams go to the retired
or cancelled sink, or to the recipient, and a certificate is issued) or reject (they come
back). Of two uses racing for the same grams, one wins; the other finds them reserved."""

from __future__ import annotations

from sqlalchemy import Select, select

from backend.audit import log as audit
from backend.certificates import issuing
from backend.db import db, utcnow
from backend.errors import CURRENT_STATUS, Conflict, Invalid, NotFound
from backend.ledger import AccountKind, Leg, account_for, post
from backend.reductions import beneficiaries, blocks
from backend.reductions.models import Use
from backend.registry import organizations

# where approved grams go, and the state their blocks end in
SINKS = {
    "retirement": (AccountKind.RETIRED, "retired"),
    "offset": (AccountKind.RETIRED, "retired"),
    "cancellation": (AccountKind.CANCELLED, "cancelled"),
}


class UseNotFound(NotFound):
    code, title = "use_not_found", "No such use"


class UseDecided(Conflict):
    code, title = "use_decided", "The use was decided already"
    extras = CURRENT_STATUS


class OffsetExceedsEmissions(Invalid):
    code, title = "offset_exceeds_emissions", "More than the stated emissions"


def request(
    owner_id: int,
    *,
    purpose: str,
    amount_g: int,
    beneficiary: str,
    reason: str,
    event: dict | None,
    recipient_credit_code: str | None,
    actor: str,
) -> Use:
    if purpose == "offset":
        if not event:
            raise Invalid(errors={"event": ["An offset names the event or period it offsets."]})
        if amount_g > event["emissions_g"]:
            raise OffsetExceedsEmissions(
                f"{amount_g} g is more than the {event['emissions_g']} g the event emitted.",
                errors={"amount_g": ["More than the stated emissions."]},
            )
    recipient_id = None
    if purpose == "donation":
        if not recipient_credit_code:
            raise Invalid(errors={"recipient_credit_code": ["A donation names its recipient."]})
        recipient = organizations.by_credit_code(recipient_credit_code)
        if recipient.id == owner_id:
            raise Invalid(errors={"recipient_credit_code": ["Donate to someone else."]})
        recipient_id = recipient.id
    elif recipient_credit_code:
        raise Invalid(errors={"recipient_credit_code": ["Only a donation has a recipient."]})
    use = Use(
        owner_id=owner_id,
        purpose=purpose,
        amount_g=amount_g,
        beneficiary_id=beneficiaries.get_or_create(beneficiary).id,
        reason=reason,
        event=(
            {**event, "date": event["date"].isoformat()} if event and event.get("date") else event
        ),
        recipient_id=recipient_id,
        status="pending",
        requested_by=actor,
        requested_at=utcnow(),
    )
    db.session.add(use)
    db.session.flush()
    held = account_for(AccountKind.ORG_REDUCTIONS, owner_id)
    reserved = account_for(AccountKind.ORG_RESERVED, owner_id)
    blocks.take(held, amount_g, reserved, status="reserved", reserved_for=("use", use.id))
    post(
        kind="use_reserve",
        idempotency_key=f"use:{use.id}:reserve",
        legs=[Leg(held, -amount_g), Leg(reserved, amount_g)],
        ref_type="use",
        ref_id=use.id,
        actor=actor,
        memo=f"reserved for {purpose} {use.id}",
    )
    audit.record("use.requested", "use", use.id, after={"purpose": purpose, "amount_g": amount_g})
    return use


def _lock(use_id: int) -> Use:
    use = db.session.execute(
        select(Use)
        .where(Use.id == use_id)
        .with_for_update(of=Use)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if use is None:
        raise UseNotFound("No such use.")
    if use.status != "pending":
        raise UseDecided(f"The use was {use.status} already.", extra={"current_status": use.status})
    return use


def approve(use_id: int, *, actor: str, beneficiary_name: str | None = None) -> Use:
    use = _lock(use_id)
    beneficiaries.confirm(use.beneficiary, beneficiary_name, actor=actor)
    if use.purpose == "donation":
        target, status = account_for(AccountKind.ORG_REDUCTIONS, use.recipient_id), "held"
    else:
        kind, status = SINKS[use.purpose]
        target = account_for(kind)
    reserved = account_for(AccountKind.ORG_RESERVED, use.owner_id)
    moved = blocks.move_reserved(("use", use.id), target, status=status)
    post(
        kind=use.purpose,
        idempotency_key=f"use:{use.id}:approve",
        legs=[Leg(reserved, -use.amount_g), Leg(target, use.amount_g)],
        ref_type="use",
        ref_id=use.id,
        actor=actor,
        memo=f"{use.purpose} {use.id} approved",
    )
    use.status, use.decided_by, use.decided_at = "approved", actor, utcnow()
    use.serials = blocks.summary(moved)
    issuing.for_use(use)
    audit.record(
        "use.approved", "use", use.id, before={"status": "pending"}, after={"status": "approved"}
    )
    db.session.flush()
    return use


def reject(use_id: int, reasons: str, *, actor: str) -> Use:
    use = _lock(use_id)
    reserved = account_for(AccountKind.ORG_RESERVED, use.owner_id)
    held = account_for(AccountKind.ORG_REDUCTIONS, use.owner_id)
    blocks.move_reserved(("use", use.id), held, status="held")
    post(
        kind="use_release",
        idempotency_key=f"use:{use.id}:reject",
        legs=[Leg(reserved, -use.amount_g), Leg(held, use.amount_g)],
        ref_type="use",
        ref_id=use.id,
        actor=actor,
        memo=f"{use.purpose} {use.id} rejected",
    )
    use.status, use.decided_by, use.decided_at = "rejected", actor, utcnow()
    use.decision_reasons = reasons
    audit.record(
        "use.rejected", "use", use.id, before={"status": "pending"}, after={"status": "rejected"}
    )
    db.session.flush()
    return use


def get_own(owner_id: int, use_id: int) -> Use:
    use = db.session.get(Use, use_id)
    if use is None or use.owner_id != owner_id:
        raise UseNotFound("No such use.")
    return use


def get(use_id: int) -> Use:
    use = db.session.get(Use, use_id)
    if use is None:
        raise UseNotFound("No such use.")
    return use


def of_organization(owner_id: int, status: str | None = None) -> Select:
    stmt = select(Use).where(Use.owner_id == owner_id)
    return stmt.where(Use.status == status) if status else stmt


def staff_query(status: str | None = None) -> Select:
    stmt = select(Use)
    return stmt.where(Use.status == status) if status else stmt


def public_query() -> Select:
    return select(Use).where(Use.status == "approved")
