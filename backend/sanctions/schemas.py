"""Marshmallow schemas of sanctions."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate as v

from backend.http import LocalDateTime, PageArgs, ex

IDS = ex([], "The ids of what the freeze changed.")


class ReasonIn(ma.Schema):
    reason = ma.fields.String(required=True, validate=v.Length(min=1, max=2000))


class FreezeOut(ma.Schema):
    sanction_id = ma.fields.Integer(required=True)
    subject_type = ma.fields.String(
        required=True, metadata=ex("organization", "organization or resident")
    )
    subject_id = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True, metadata=ex("frozen", "frozen or active"))
    reason = ma.fields.String(required=True)
    frozen_at = LocalDateTime(required=True)
    lifted_at = LocalDateTime(allow_none=True)
    orders_cancelled = ma.fields.List(ma.fields.Integer(), metadata=IDS)
    settlements_cancelled = ma.fields.List(ma.fields.Integer(), metadata=IDS)
    transfers_cancelled = ma.fields.List(ma.fields.Integer(), metadata=IDS)
    uses_rejected = ma.fields.List(ma.fields.Integer(), metadata=IDS)
    uploads_stopped = ma.fields.List(ma.fields.String(), metadata=IDS)
    accounts_frozen = ma.fields.List(ma.fields.Integer(), metadata=IDS)
    accounts_unfrozen = ma.fields.List(ma.fields.Integer(), metadata=IDS)


class PublicSanctionOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    organization_name = ma.fields.String(required=True, metadata=ex("某违规运营公司"))
    credit_code = ma.fields.String(required=True)
    reason = ma.fields.String(required=True)
    frozen_at = LocalDateTime(required=True)
    lifted_at = LocalDateTime(allow_none=True)
    lift_reason = ma.fields.String(allow_none=True, metadata=ex(None))


class SanctionOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    subject_type = ma.fields.String(
        required=True, metadata=ex("organization", "organization or resident")
    )
    subject_id = ma.fields.Integer(required=True)
    reason = ma.fields.String(required=True)
    frozen_at = LocalDateTime(required=True)
    frozen_by = ma.fields.String(required=True, metadata=ex("staff:1"))
    lifted_at = LocalDateTime(allow_none=True)
    lifted_by = ma.fields.String(allow_none=True, metadata=ex(None))
    lift_reason = ma.fields.String(allow_none=True, metadata=ex(None))


class SanctionQuery(PageArgs):
    subject_type = ma.fields.String(validate=v.OneOf(("organization", "resident")))
    open = ma.fields.Boolean(load_default=False, metadata=ex(False, "Only those not lifted."))
