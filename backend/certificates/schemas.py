"""Marshmallow schemas of the published signing keys."""

from __future__ import annotations

import marshmallow as ma

from backend.http import LocalDateTime


class PublicKeyOut(ma.Schema):
    """One published key, as a JWK (RFC 8037 OKP key; `kid` is its RFC 7638 thumbprint)
    with its status and dates."""

    kty = ma.fields.String(required=True, metadata={"example": "OKP"})
    crv = ma.fields.String(required=True, metadata={"example": "Ed25519"})
    x = ma.fields.String(required=True, metadata={"description": "public key, base64url"})
    kid = ma.fields.String(required=True)
    alg = ma.fields.String(required=True, metadata={"example": "Ed25519"})
    use = ma.fields.String(required=True, metadata={"example": "sig"})
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(["current", "retired"]))
    created_at = LocalDateTime(required=True)
    retired_at = LocalDateTime(required=True, allow_none=True)


class PublicKeysOut(ma.Schema):
    keys = ma.fields.List(ma.fields.Nested(PublicKeyOut), required=True)


class SerialStateOut(ma.Schema):
    serial = ma.fields.String(required=True)
    claimed = ma.fields.String(required=True)
    now = ma.fields.List(ma.fields.String(), required=True)
    ok = ma.fields.Boolean(required=True)


class CertificateOut(ma.Schema):
    """A certificate, its signed document (re-check it with `/public/keys`), and the
    current state of its serials."""

    number = ma.fields.String(required=True, metadata={"example": "SIP-C-2026-000001"})
    purpose = ma.fields.String(required=True)
    owner = ma.fields.Dict(required=True)
    beneficiary = ma.fields.String(allow_none=True)
    recipient = ma.fields.Dict(allow_none=True)
    amount_g = ma.fields.Integer(required=True)
    amount_tco2e = ma.fields.String(required=True)
    serials = ma.fields.List(ma.fields.String(), required=True)
    methodology = ma.fields.List(ma.fields.Dict(), required=True)
    issued_at = ma.fields.String(required=True)
    signature = ma.fields.String(required=True)
    key_id = ma.fields.String(required=True)
    verify_url = ma.fields.String(required=True)
    document = ma.fields.Dict(required=True)
    state = ma.fields.List(ma.fields.Nested(SerialStateOut), required=True)


class DocumentCheckIn(ma.Schema):
    document = ma.fields.Dict(required=True)


class DocumentCheckOut(ma.Schema):
    signature_valid = ma.fields.Boolean(required=True)
    signature_reason = ma.fields.String(required=True)
    key_id = ma.fields.String(allow_none=True)
    issued_here = ma.fields.Boolean(required=True)
