"""Signed certificate documents: the payload canonicalised by RFC 8785 (JSON
Canonicalization Scheme) and signed with Ed25519.

A signed document:

    {"certificate": {...payload...},
     "signatures": [{"alg": "Ed25519", "key_id": "<RFC 7638 thumbprint>",
                     "value": "<base64url, no padding>"}]}

Each signature is over the UTF-8 bytes of `rfc8785(certificate)`, nothing else, so anyone
can check one with the published key (`GET /api/v1/public/keys`) and any JCS and Ed25519
library. `signatures` is a list so that another signature (SM2) can stand beside later;
a verifier checks the algorithms it knows and reports the others as unsupported.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

import rfc8785
from cryptography.exceptions import InvalidSignature

from backend.certificates import keys

TOP_LEVEL = {"certificate", "signatures"}
SIGNATURE_FIELDS = {"alg", "key_id", "value"}
ED25519_SIGNATURE_BYTES = 64


class NotCanonicalizable(ValueError):
    """The payload is not JSON that RFC 8785 can canonicalise (a float NaN, an integer
    beyond 2**53, a non-string key, a value that is not JSON)."""


def canonical(payload: dict) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of `payload`: what is signed."""
    try:
        return rfc8785.dumps(payload)
    except (rfc8785.CanonicalizationError, TypeError, ValueError, RecursionError) as exc:
        raise NotCanonicalizable(str(exc) or type(exc).__name__) from exc


def sign(payload: dict) -> dict:
    """Sign `payload` with the current key (published now if it never signed before; the
    caller's transaction commits it). The document's `certificate` is exactly the JSON
    that was signed."""
    if not isinstance(payload, dict):
        raise TypeError("a certificate payload is a JSON object")
    message = canonical(payload)
    key = keys.signing_key()
    value = key.private_key.sign(message)
    return {
        "certificate": json.loads(message),
        "signatures": [{"alg": keys.ALGORITHM, "key_id": key.key_id, "value": keys.b64url(value)}],
    }


def fingerprint(signature_value: str) -> str:
    """A short fingerprint of a signature for print and the verify page: the first 64 bits
    of SHA-256 over the signature bytes, as four groups of hex."""
    try:
        raw = keys.b64url_decode(signature_value)
    except ValueError:
        raw = signature_value.encode("utf-8", "replace")
    digest = hashlib.sha256(raw).hexdigest()[:16].upper()
    return "-".join(digest[i : i + 4] for i in range(0, 16, 4))


@dataclass(frozen=True)
class SignatureCheck:
    alg: str | None
    key_id: str | None
    valid: bool
    reason: str  # ok, unsupported_algorithm, unknown_key, bad_encoding, bad_signature, malformed
    key_status: str | None = None  # current | retired, for a published key


@dataclass(frozen=True)
class VerifyResult:
    """`valid`: every signature of a supported algorithm verifies, and there is at least
    one. `key_id` and `key_status` name the key of the first such signature (or of the
    first that failed); `reason` is `ok` or why the document is refused."""

    valid: bool
    reason: str
    key_id: str | None = None
    key_status: str | None = None
    checks: tuple[SignatureCheck, ...] = field(default=())

    def as_dict(self) -> dict:
        return {
            "valid": self.valid,
            "reason": self.reason,
            "key_id": self.key_id,
            "key_status": self.key_status,
            "signatures": [asdict(c) for c in self.checks],
        }


def _check(entry: object, message: bytes) -> SignatureCheck:
    if not isinstance(entry, dict):
        return SignatureCheck(None, None, False, "malformed")
    alg, key_id = entry.get("alg"), entry.get("key_id")
    alg = alg if isinstance(alg, str) else None
    key_id = key_id if isinstance(key_id, str) else None
    if alg != keys.ALGORITHM:
        return SignatureCheck(alg, key_id, False, "unsupported_algorithm")
    if set(entry) != SIGNATURE_FIELDS:
        return SignatureCheck(alg, key_id, False, "malformed")
    row = keys.find(key_id)
    if row is None:
        return SignatureCheck(alg, key_id, False, "unknown_key")
    status = keys.status(row)
    if row.algorithm != alg:
        return SignatureCheck(alg, key_id, False, "key_algorithm_mismatch", status)
    try:
        value = keys.b64url_decode(entry.get("value"))
    except ValueError:
        return SignatureCheck(alg, key_id, False, "bad_encoding", status)
    if len(value) != ED25519_SIGNATURE_BYTES:
        return SignatureCheck(alg, key_id, False, "bad_encoding", status)
    try:
        keys.public_key_of(row).verify(value, message)
    except InvalidSignature:
        return SignatureCheck(alg, key_id, False, "bad_signature", status)
    return SignatureCheck(alg, key_id, True, "ok", status)


def verify(document: object) -> VerifyResult:
    """Check a signed document against the published keys. Never raises on bad input: a
    document that is not one is refused with a reason."""
    if not isinstance(document, dict) or set(document) != TOP_LEVEL:
        return VerifyResult(False, "malformed")
    certificate, signatures = document["certificate"], document["signatures"]
    if not isinstance(certificate, dict) or not isinstance(signatures, list):
        return VerifyResult(False, "malformed")
    if not signatures:
        return VerifyResult(False, "no_signature")
    try:
        message = canonical(certificate)
    except NotCanonicalizable:
        return VerifyResult(False, "not_canonicalizable")
    checks = tuple(_check(entry, message) for entry in signatures)
    supported = [c for c in checks if c.reason != "unsupported_algorithm"]
    failed = [c for c in supported if not c.valid]
    if failed:
        first = failed[0]
        return VerifyResult(False, first.reason, first.key_id, first.key_status, checks)
    if not supported:
        return VerifyResult(False, "unsupported_algorithm", checks=checks)
    first = supported[0]
    return VerifyResult(True, "ok", first.key_id, first.key_status, checks)


def public_keys() -> list[dict]:
    """The published keys as JWKs (RFC 8037 OKP keys, RFC 7638 thumbprints as `kid`), with
    their status and dates; oldest first."""
    return [
        {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": row.public_key,
            "kid": row.key_id,
            "alg": row.algorithm,
            "use": "sig",
            "status": keys.status(row),
            "created_at": row.created_at,
            "retired_at": row.retired_at,
        }
        for row in keys.published()
    ]
