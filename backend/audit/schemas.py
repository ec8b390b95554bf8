"""Marshmallow schemas of the audit log."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate as v

from backend.http import LocalDateTime


class AuditQuery(ma.Schema):
    actor = ma.fields.String(validate=v.Length(min=1, max=80))
    object_type = ma.fields.String(validate=v.Length(min=1, max=40))
    object_id = ma.fields.String(validate=v.Length(min=1, max=64))
    action = ma.fields.String(validate=v.Length(min=1, max=80))
    limit = ma.fields.Integer(load_default=50, validate=v.Range(min=1, max=500))
    cursor = ma.fields.String(load_default=None, validate=v.Length(max=200))


class AuditRecordOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    at = LocalDateTime(required=True)
    actor = ma.fields.String(required=True)
    role = ma.fields.String(required=True)
    action = ma.fields.String(required=True)
    object_type = ma.fields.String(required=True)
    object_id = ma.fields.String(required=True)
    before = ma.fields.Dict(allow_none=True)
    after = ma.fields.Dict(allow_none=True)
    request_id = ma.fields.String(allow_none=True)
    prev_hash = ma.fields.String(required=True)
    hash = ma.fields.String(required=True)
