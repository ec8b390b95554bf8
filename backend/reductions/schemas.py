"""Marshmallow schemas of blocks, issuances, transfers, uses and the public registry."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate as v

from backend.http import LocalDateTime, PageArgs
from backend.reductions.beneficiaries import public_name
from backend.reductions.models import PURPOSES
from backend.registry.schemas import validate_credit_code

AMOUNT = v.Range(min=1, max=10**15)
TEXT = v.Length(min=1, max=2000)


def tco2e(grams: int) -> str:
    """Grams as tCO2e with 6 decimals (1 t = 1,000,000 g), exactly."""
    return f"{grams // 1_000_000}.{grams % 1_000_000:06d}"


class BlockOut(ma.Schema):
    serial = ma.fields.String(required=True)
    vintage = ma.fields.Integer(required=True)
    source = ma.fields.String(required=True)
    amount_g = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True)


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
    status = ma.fields.String(required=True)
    seller = ma.fields.Nested(OrgRef, required=True)
    buyer = ma.fields.Nested(OrgRef, required=True)
    amount_g = ma.fields.Integer(required=True)
    amount_tco2e = ma.fields.Function(lambda t: tco2e(t.amount_g))
    note = ma.fields.String(allow_none=True)
    blocks = ma.fields.List(ma.fields.Nested(SerialOut), attribute="serials", allow_none=True)
    proposed_at = LocalDateTime(required=True)
    accepted_at = LocalDateTime(allow_none=True)
    executed_at = LocalDateTime(allow_none=True)
    cancelled_at = LocalDateTime(allow_none=True)


class StatusQuery(PageArgs):
    status = ma.fields.String(validate=v.Length(min=1, max=12))


class EventIn(ma.Schema):
    name = ma.fields.String(required=True, validate=v.Length(min=1, max=200))
    date = ma.fields.Date(required=True)
    emissions_g = ma.fields.Integer(required=True, strict=True, validate=AMOUNT)


class UseIn(ma.Schema):
    purpose = ma.fields.String(required=True, validate=v.OneOf(PURPOSES))
    amount_g = ma.fields.Integer(required=True, strict=True, validate=AMOUNT)
    beneficiary = ma.fields.String(required=True, validate=v.Length(min=1, max=200))
    reason = ma.fields.String(required=True, validate=TEXT)
    event = ma.fields.Nested(EventIn, load_default=None)
    recipient_credit_code = ma.fields.String(load_default=None, validate=validate_credit_code)


class UseOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True)
    purpose = ma.fields.String(required=True)
    owner = ma.fields.Nested(OrgRef, required=True)
    amount_g = ma.fields.Integer(required=True)
    amount_tco2e = ma.fields.Function(lambda u: tco2e(u.amount_g))
    beneficiary = ma.fields.Function(lambda u: public_name(u.beneficiary), required=True)
    reason = ma.fields.String(required=True)
    event = ma.fields.Dict(allow_none=True)
    recipient = ma.fields.Nested(OrgRef, allow_none=True)
    blocks = ma.fields.List(ma.fields.Nested(SerialOut), attribute="serials", allow_none=True)
    certificate_number = ma.fields.String(allow_none=True)
    decision_reasons = ma.fields.String(allow_none=True)
    requested_at = LocalDateTime(required=True)
    decided_at = LocalDateTime(allow_none=True)


class ApproveUseIn(ma.Schema):
    beneficiary_name = ma.fields.String(load_default=None, validate=v.Length(min=1, max=200))


class RejectUseIn(ma.Schema):
    reasons = ma.fields.String(required=True, validate=TEXT)


class DisclosureQuery(PageArgs):
    format = ma.fields.String(load_default="json", validate=v.OneOf(("json", "csv")))


class RegistryTotalsOut(ma.Schema):
    methodologies_published = ma.fields.Integer(required=True)
    scenarios_registered = ma.fields.Integer(required=True)
    projects_registered = ma.fields.Integer(required=True)
    issued_g = ma.fields.Integer(required=True)
    settled_back_g = ma.fields.Integer(required=True)
    held_g = ma.fields.Integer(required=True)
    reserved_g = ma.fields.Integer(required=True)
    retired_g = ma.fields.Integer(required=True)
    cancelled_g = ma.fields.Integer(required=True)
    transferred_g = ma.fields.Integer(required=True)
    donated_g = ma.fields.Integer(required=True)
