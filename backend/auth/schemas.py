from __future__ import annotations

import marshmallow as ma
from marshmallow import validate as v

from backend.auth.roles import STAFF_ROLES
from backend.http import ID, LocalDateTime, ex


class RegisterIn(ma.Schema):
    phone = ma.fields.String(
        required=True,
        validate=v.Regexp(r"^1[3-9]\d{9}$", error="Not a mainland mobile number."),
        metadata=ex("13800138000", "A mainland mobile number, 11 digits."),
    )
    password = ma.fields.String(required=True, validate=v.Length(min=8, max=128))
    display_name = ma.fields.String(load_default=None, validate=v.Length(min=1, max=64))


class IdOut(ma.Schema):
    id = ma.fields.Integer(required=True, metadata=ex(1024, "The new object's id."))


class LoginIn(ma.Schema):
    login = ma.fields.String(
        required=True,
        validate=v.Length(min=1, max=64),
        metadata=ex("13800000000", "A resident's phone number, or a staff, merchant or org login."),
    )
    password = ma.fields.String(required=True, validate=v.Length(min=1, max=128))


class RefreshIn(ma.Schema):
    refresh_token = ma.fields.String(required=True, validate=v.Length(min=1, max=200))


class TokenPairOut(ma.Schema):
    access_token = ma.fields.String(required=True)
    refresh_token = ma.fields.String(required=True)
    token_type = ma.fields.String(required=True)
    expires_in = ma.fields.Integer(required=True)


class ClientCredentialsIn(ma.Schema):
    client_id = ma.fields.String(required=True, validate=v.Length(min=1, max=64))
    client_secret = ma.fields.String(required=True, validate=v.Length(min=1, max=200))


class AccessTokenOut(ma.Schema):
    access_token = ma.fields.String(required=True)
    token_type = ma.fields.String(required=True)
    expires_in = ma.fields.Integer(required=True)


class OperatorClientIn(ma.Schema):
    organization_id = ma.fields.Integer(
        required=True, strict=True, validate=ID, metadata=ex(7, "The scenario's operator.")
    )
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


LOGIN = v.Regexp(r"^[A-Za-z][A-Za-z0-9_.@-]{2,63}$", error="3-64 letters, digits, _.@-")


class StaffIn(ma.Schema):
    login = ma.fields.String(required=True, validate=LOGIN)
    password = ma.fields.String(required=True, validate=v.Length(min=8, max=128))
    roles = ma.fields.List(
        ma.fields.String(validate=v.OneOf(STAFF_ROLES)),
        required=True,
        validate=v.Length(min=1, max=len(STAFF_ROLES)),
    )


class StaffOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    login = ma.fields.String(required=True)
    roles = ma.fields.Function(
        lambda u: u.role_list,
        required=True,
        metadata=ex(["finance"], type="array", items={"type": "string"}),
    )
    active = ma.fields.Boolean(required=True)
    created_at = LocalDateTime(required=True)


class LoginStateOut(ma.Schema):
    """A login's state after it was disabled, enabled, frozen or unfrozen."""

    id = ma.fields.Integer(required=True)
    kind = ma.fields.String(required=True, metadata=ex("resident"))
    active = ma.fields.Boolean(required=True)
    frozen = ma.fields.Boolean(required=True, metadata=ex(False, "Frozen (Art. 24)."))


class ResidentOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    phone = ma.fields.String(attribute="phone_masked", allow_none=True)
    display_name = ma.fields.String(allow_none=True)
    active = ma.fields.Boolean(required=True)
    frozen = ma.fields.Boolean(required=True, metadata=ex(False, "Frozen (Art. 24)."))
    created_at = LocalDateTime(required=True)


class OperatorClientQuery(ma.Schema):
    organization_id = ma.fields.Integer(strict=False, validate=ID)
    limit = ma.fields.Integer(load_default=50, validate=v.Range(min=1, max=500))
    cursor = ma.fields.String(load_default=None, validate=v.Length(max=200))


class OperatorClientInfoOut(ma.Schema):
    client_id = ma.fields.String(required=True)
    organization_id = ma.fields.Integer(required=True)
    scenario_id = ma.fields.Integer(required=True)
    active = ma.fields.Boolean(required=True)
    created_at = LocalDateTime(required=True)


class OrganizationBriefOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    kind = ma.fields.String(required=True)
    credit_code = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata=ex("active", "active or frozen"))


class WhoAmIOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    kind = ma.fields.String(required=True, metadata=ex("merchant"))
    login = ma.fields.String(required=True)
    roles = ma.fields.List(
        ma.fields.String(), required=True, metadata=ex([], "A staff login's roles.")
    )
    active = ma.fields.Boolean(required=True)
    organization = ma.fields.Nested(OrganizationBriefOut, allow_none=True, required=True)
