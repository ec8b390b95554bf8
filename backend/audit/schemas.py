"""Marshmallow schemas of the audit log."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate as v

from backend.http import LocalDateTime, PageArgs, ex

HASH = "3b5d5c3712955042212316173ccf37be800a0dd3ff5b5aa8a6f6b9d7c6a5e4f1"


class AuditQuery(PageArgs):
    actor = ma.fields.String(validate=v.Length(min=1, max=80))
    object_type = ma.fields.String(validate=v.Length(min=1, max=40))
    object_id = ma.fields.String(validate=v.Length(min=1, max=64))
    action = ma.fields.String(validate=v.Length(min=1, max=80))


class AuditRecordOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    at = LocalDateTime(required=True)
    actor = ma.fields.String(required=True)
    role = ma.fields.String(required=True, metadata=ex("finance", "The role it acted in."))
    action = ma.fields.String(required=True)
    object_type = ma.fields.String(required=True)
    object_id = ma.fields.String(required=True)
    before = ma.fields.Dict(allow_none=True, metadata=ex({"status": "pending"}))
    after = ma.fields.Dict(allow_none=True, metadata=ex({"status": "approved"}))
    request_id = ma.fields.String(allow_none=True, metadata=ex("7daf6683d3aa4e72a383c87fe10e42fc"))
    prev_hash = ma.fields.String(required=True, metadata=ex(HASH, "The record before's hash."))
    hash = ma.fields.String(
        required=True, metadata=ex(HASH, "SHA-256 over this record and prev_hash.")
    )
