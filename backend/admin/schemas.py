from __future__ import annotations

import marshmallow as ma
from marshmallow import validate as v

from backend.http import MAX_ID

# Ids are 64-bit in the database: a larger one is refused (422), never a 500.
ID = v.Range(min=1, max=MAX_ID)


class OperatorClientIn(ma.Schema):
    organization_id = ma.fields.Integer(required=True, strict=True, validate=ID)
    scenario_code = ma.fields.String(required=True, validate=v.Length(min=1, max=40))


class OperatorClientOut(ma.Schema):
    client_id = ma.fields.String(required=True)
    client_secret = ma.fields.String(required=True)


class MerchantUserIn(ma.Schema):
    organization_id = ma.fields.Integer(required=True, strict=True, validate=ID)
    login = ma.fields.String(
        required=True,
        validate=v.Regexp(r"^[A-Za-z][A-Za-z0-9_.@-]{2,63}$", error="3-64 letters, digits, _.@-"),
    )
    password = ma.fields.String(required=True, validate=v.Length(min=8, max=128))
