"""Marshmallow schemas of the published signing keys."""

from __future__ import annotations

import marshmallow as ma

from backend.http import LocalDateTime, ex


class PublicKeyOut(ma.Schema):
    """One published key, as a JWK (RFC 8037 OKP key; `kid` is its RFC 7638 thumbprint)
    with its status and dates."""

    kty = ma.fields.String(required=True, metadata={"example": "OKP"})
    crv = ma.fields.String(required=True, metadata={"example": "Ed25519"})
    x = ma.fields.String(
        required=True,
        metadata=ex("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "public key, base64url"),
    )
    kid = ma.fields.String(
        required=True,
        metadata=ex("kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k", "RFC 7638 thumbprint"),
    )
    alg = ma.fields.String(required=True, metadata={"example": "Ed25519"})
    use = ma.fields.String(required=True, metadata={"example": "sig"})
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(["current", "retired"]))
    created_at = LocalDateTime(required=True)
    retired_at = LocalDateTime(required=True, allow_none=True)


class PublicKeysOut(ma.Schema):
    keys = ma.fields.List(ma.fields.Nested(PublicKeyOut), required=True)


class SerialStateOut(ma.Schema):
    serial = ma.fields.String(required=True)
    claimed = ma.fields.String(
        required=True, metadata=ex("retired", "The state the certificate claims.")
    )
    now = ma.fields.List(
        ma.fields.String(), required=True, metadata=ex(["retired"], "The serials' states now.")
    )
    ok = ma.fields.Boolean(required=True)


class CertificateOut(ma.Schema):
    """A certificate, its signed document (re-check it with `/public/keys`), and the
    current state of its serials."""

    number = ma.fields.String(required=True, metadata={"example": "SIP-C-2026-000001"})
    purpose = ma.fields.String(required=True, metadata=ex("retirement"))
    owner = ma.fields.Dict(
        required=True,
        metadata=ex({"name": "园区示范能源有限公司", "credit_code": "91320594MA1XDM0189"}),
    )
    beneficiary = ma.fields.String(allow_none=True, metadata=ex("苏州工业园区某科技有限公司"))
    recipient = ma.fields.Dict(allow_none=True, metadata=ex(None))
    amount_g = ma.fields.Integer(required=True)
    amount_tco2e = ma.fields.String(required=True, metadata=ex("1.250000"))
    serials = ma.fields.List(
        ma.fields.String(), required=True, metadata=ex(["CN-SIP-P1-2026-1-1250000"])
    )
    methodology = ma.fields.List(
        ma.fields.Dict(), required=True, metadata=ex([{"code": "SIP-M-PV", "version": "1.0"}])
    )
    issued_at = ma.fields.String(required=True, metadata=ex("2026-05-01T08:30:00+08:00"))
    signature = ma.fields.String(
        required=True, metadata=ex("hT0x2...base64url-Ed25519-signature", "base64url")
    )
    key_id = ma.fields.String(
        required=True, metadata=ex("kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k")
    )
    verify_url = ma.fields.String(
        required=True, metadata=ex("https://sip-carbon-points.example/verify/SIP-C-2026-000001")
    )
    document = ma.fields.Dict(
        required=True,
        metadata=ex(
            {"certificate": {"number": "SIP-C-2026-000001"}, "signatures": [{"key_id": "..."}]},
            "The signed document (RFC 8785 canonical JSON + Ed25519).",
        ),
    )
    state = ma.fields.List(ma.fields.Nested(SerialStateOut), required=True)


class DocumentCheckIn(ma.Schema):
    document = ma.fields.Dict(
        required=True,
        metadata=ex(
            {"certificate": {"number": "SIP-C-2026-000001"}, "signatures": [{"key_id": "..."}]},
            "A certificate's signed document, as `GET /public/certificates/{number}` gave it.",
        ),
    )


class DocumentCheckOut(ma.Schema):
    signature_valid = ma.fields.Boolean(required=True, metadata=ex(True))
    signature_reason = ma.fields.String(required=True, metadata=ex("ok"))
    key_id = ma.fields.String(
        allow_none=True, metadata=ex("kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k")
    )
    issued_here = ma.fields.Boolean(required=True, metadata=ex(True))
