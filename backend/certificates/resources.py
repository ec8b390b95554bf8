"""/api/v1/public/keys: the keys that sign certificates, current and retired (no login)."""

from __future__ import annotations

from backend.certificates import signing
from backend.certificates.schemas import PublicKeysOut
from backend.http import Blueprint

blp = Blueprint(
    "certificates",
    __name__,
    url_prefix="/api/v1/public",
    description="Certificates and the keys that sign them",
)
blueprints = [blp]


@blp.route("/keys", methods=["GET"])
@blp.response(200, PublicKeysOut)
def public_keys():
    """Every key that ever signed a certificate, oldest first: a JWK set (kty OKP, crv
    Ed25519, x, kid) with each key's status (`current` or `retired`) and dates. A
    certificate signed with a retired key stays verifiable with it."""
    return {"keys": signing.public_keys()}
