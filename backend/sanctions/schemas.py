"""Marshmallow schemas of sanctions."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate as v

from backend.http import LocalDateTime


class ReasonIn(ma.Schema):
    reason = ma.fields.String(required=True, validate=v.Length(min=1, max=2000))


class FreezeOut(ma.Schema):
    sanction_id = ma.fields.Integer(required=True)
    subject_type = ma.fields.String(required=True)
    subject_id = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True)
    reason = ma.fields.String(required=True)
    frozen_at = LocalDateTime(required=True)
    lifted_at = LocalDateTime(allow_none=True)
    orders_cancelled = ma.fields.List(ma.fields.Integer())
    settlements_cancelled = ma.fields.List(ma.fields.Integer())
    transfers_cancelled = ma.fields.List(ma.fields.Integer())
    uses_rejected = ma.fields.List(ma.fields.Integer())
    uploads_stopped = ma.fields.List(ma.fields.String())
    accounts_frozen = ma.fields.List(ma.fields.Integer())
    accounts_unfrozen = ma.fields.List(ma.fields.Integer())


class PublicSanctionOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    organization_name = ma.fields.String(required=True)
    credit_code = ma.fields.String(required=True)
    reason = ma.fields.String(required=True)
    frozen_at = LocalDateTime(required=True)
    lifted_at = LocalDateTime(allow_none=True)
    lift_reason = ma.fields.String(allow_none=True)


class SanctionOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    subject_type = ma.fields.String(required=True)
    subject_id = ma.fields.Integer(required=True)
    reason = ma.fields.String(required=True)
    frozen_at = LocalDateTime(required=True)
    frozen_by = ma.fields.String(required=True)
    lifted_at = LocalDateTime(allow_none=True)
    lifted_by = ma.fields.String(allow_none=True)
    lift_reason = ma.fields.String(allow_none=True)


class SanctionQuery(ma.Schema):
    subject_type = ma.fields.String(validate=v.OneOf(("organization", "resident")))
    open = ma.fields.Boolean(load_default=False)
    limit = ma.fields.Integer(load_default=50, validate=v.Range(min=1, max=500))
    cursor = ma.fields.String(load_default=None, validate=v.Length(max=200))
