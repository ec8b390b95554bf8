"""Marshmallow schemas of blocks, issuances, transfers, uses and the public registry."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate as v

from backend.http import LocalDateTime, PageArgs, ex
from backend.reductions.beneficiaries import public_name
from backend.reductions.models import PURPOSES
from backend.registry.schemas import validate_credit_code

AMOUNT = v.Range(min=1, max=10**15)
TCO2E = ex("1.250000", "The amount in tCO2e, 6 decimals.", type="string")
TEXT = v.Length(min=1, max=2000)


def tco2e(grams: int) -> str:
    """Grams as tCO2e with 6 decimals (1 t = 1,000,000 g), exactly."""
    return f"{grams // 1_000_000}.{grams % 1_000_000:06d}"


class BlockOut(ma.Schema):
    serial = ma.fields.String(required=True)
    vintage = ma.fields.Integer(required=True)
    source = ma.fields.String(
        required=True, metadata=ex("SIP-P-SOLAR", "The project, or the mall settlement.")
    )
    amount_g = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True, metadata=ex("held", "held or reserved"))


class OrgBalanceOut(ma.Schema):
    reductions_g = ma.fields.Integer(required=True)
    reserved_g = ma.fields.Integer(required=True)
    points = ma.fields.Integer(required=True)
    blocks = ma.fields.List(ma.fields.Nested(BlockOut), required=True)


class SerialOut(ma.Schema):
    serial = ma.fields.String(required=True)
    amount_g = ma.fields.Integer(required=True)
    vintage = ma.fields.Integer()


class TransferIn(ma.Schema):
    to_credit_code = ma.fields.String(required=True, validate=validate_credit_code)
    amount_g = ma.fields.Integer(required=True, strict=True, validate=AMOUNT)
    note = ma.fields.String(load_default=None, validate=TEXT)


class OrgRef(ma.Schema):
    name = ma.fields.String()
    credit_code = ma.fields.String()


class TransferOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    status = ma.fields.String(
        required=True, metadata=ex("proposed", "proposed, accepted, executed or cancelled")
    )
    seller = ma.fields.Nested(OrgRef, required=True)
    buyer = ma.fields.Nested(OrgRef, required=True)
    amount_g = ma.fields.Integer(required=True)
    amount_tco2e = ma.fields.Function(lambda t: tco2e(t.amount_g), metadata=TCO2E)
    note = ma.fields.String(allow_none=True)
    blocks = ma.fields.List(ma.fields.Nested(SerialOut), attribute="serials", allow_none=True)
    proposed_at = LocalDateTime(required=True)
    accepted_at = LocalDateTime(allow_none=True)
    executed_at = LocalDateTime(allow_none=True)
    cancelled_at = LocalDateTime(allow_none=True)


class StatusQuery(PageArgs):
    status = ma.fields.String(
        validate=v.Length(min=1, max=12), metadata=ex("pending", "Only those in this state.")
    )


class EventIn(ma.Schema):
    name = ma.fields.String(required=True, validate=v.Length(min=1, max=200))
    date = ma.fields.Date(required=True)
    emissions_g = ma.fields.Integer(required=True, strict=True, validate=AMOUNT)


class UseIn(ma.Schema):
    purpose = ma.fields.String(required=True, validate=v.OneOf(PURPOSES))
    amount_g = ma.fields.Integer(required=True, strict=True, validate=AMOUNT)
    beneficiary = ma.fields.String(
        required=True,
        validate=v.Length(min=1, max=200),
        metadata=ex("苏州工业园区某科技有限公司", "Whose emissions it is for."),
    )
    reason = ma.fields.String(required=True, validate=TEXT, metadata=ex("2026 年度碳中和"))
    event = ma.fields.Nested(EventIn, load_default=None)
    recipient_credit_code = ma.fields.String(load_default=None, validate=validate_credit_code)


class UseOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    status = ma.fields.String(
        required=True, metadata=ex("approved", "pending, approved or rejected")
    )
    purpose = ma.fields.String(required=True, metadata=ex("retirement", ", ".join(PURPOSES)))
    owner = ma.fields.Nested(OrgRef, required=True)
    amount_g = ma.fields.Integer(required=True)
    amount_tco2e = ma.fields.Function(lambda u: tco2e(u.amount_g), metadata=TCO2E)
    beneficiary = ma.fields.Function(
        lambda u: public_name(u.beneficiary),
        required=True,
        metadata=ex("苏州工业园区某科技有限公司", type="string"),
    )
    reason = ma.fields.String(required=True, metadata=ex("2026 年度碳中和"))
    event = ma.fields.Dict(
        allow_none=True,
        metadata=ex(
            {"name": "园区马拉松", "date": "2026-04-12", "emissions_g": 2000000},
            "An offset's event.",
        ),
    )
    recipient = ma.fields.Nested(OrgRef, allow_none=True)
    blocks = ma.fields.List(ma.fields.Nested(SerialOut), attribute="serials", allow_none=True)
    certificate_number = ma.fields.String(allow_none=True, metadata=ex("SIP-C-2026-000001"))
    decision_reasons = ma.fields.String(allow_none=True, metadata=ex(None))
    requested_at = LocalDateTime(required=True)
    decided_at = LocalDateTime(allow_none=True)


class ApproveUseIn(ma.Schema):
    beneficiary_name = ma.fields.String(
        load_default=None,
        validate=v.Length(min=1, max=200),
        metadata=ex("苏州工业园区某科技有限公司", "The public spelling of a new beneficiary."),
    )


class RejectUseIn(ma.Schema):
    reasons = ma.fields.String(required=True, validate=TEXT)


class DisclosureQuery(PageArgs):
    format = ma.fields.String(load_default="json", validate=v.OneOf(("json", "csv")))


class RegistryTotalsOut(ma.Schema):
    methodologies_published = ma.fields.Integer(required=True, metadata=ex(3))
    scenarios_registered = ma.fields.Integer(required=True, metadata=ex(5))
    projects_registered = ma.fields.Integer(required=True, metadata=ex(1))
    issued_g = ma.fields.Integer(required=True)
    settled_back_g = ma.fields.Integer(required=True)
    held_g = ma.fields.Integer(required=True)
    reserved_g = ma.fields.Integer(required=True)
    retired_g = ma.fields.Integer(required=True)
    cancelled_g = ma.fields.Integer(required=True)
    transferred_g = ma.fields.Integer(required=True)
    donated_g = ma.fields.Integer(required=True)
