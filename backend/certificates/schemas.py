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
