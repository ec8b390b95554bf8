"""The key ring: the current Ed25519 private key (from the `CERT_SIGNING_KEY` setting: a
PEM, or the path of a PEM file) and the published public keys of every key that ever
signed (the `signing_keys` table), current or retired.

A key's id is its RFC 7638 JWK thumbprint, so anyone holding the public key can recompute
it. The configured key is published the first time it signs (in the transaction that
signs, so no certificate can exist under an unpublished key); publishing a new key
retires the one before it. A retired key never signs again: a process still holding it
is refused (`signing_key_retired`) until it loads the new one. A key file is re-read when
it changes, so `flask certificates rotate-key` takes effect without a restart when the
setting is a path.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from sqlalchemy import select, update

from backend.certificates.models import SigningKey
from backend.db import db, insert_ignore, utcnow
from backend.errors import ApiError
from backend.runtime import setting

ALGORITHM = "Ed25519"
KEY_ID = re.compile(r"^[A-Za-z0-9_-]{43}$")
PEM_MARK = "-----BEGIN"


class SigningKeyRetired(ApiError):
    status, code, title = 503, "signing_key_retired", "The signing key is retired"


class KeyConfigError(RuntimeError):
    """`CERT_SIGNING_KEY` is missing, unreadable or not an Ed25519 private key."""


# -- encodings ----------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def b64url_decode(value: str) -> bytes:
    """Strict base64url without padding: only the one canonical spelling of the bytes is
    accepted (a lenient decoder ignores the spare low bits of the last character, so two
    spellings would carry one signature)."""
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_-]*", value):
        raise ValueError("not base64url")
    try:
        data = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc
    if b64url(data) != value:
        raise ValueError("not the canonical base64url spelling")
    return data


def key_id_for(public_raw: bytes) -> str:
    """The RFC 7638 thumbprint of the key's JWK (RFC 8037: kty OKP, crv Ed25519, x)."""
    members = json.dumps(
        {"crv": "Ed25519", "kty": "OKP", "x": b64url(public_raw)}, separators=(",", ":")
    )
    return b64url(hashlib.sha256(members.encode("ascii")).digest())


def public_raw(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def generate_pem() -> bytes:
    """A new Ed25519 private key as unencrypted PKCS#8 PEM."""
    return (
        Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .strip()
        + b"\n"
    )


# -- the configured private key ---------------------------------------------------------


@dataclass(frozen=True)
class CurrentKey:
    key_id: str
    private_key: Ed25519PrivateKey
    public_raw: bytes


def is_inline_pem(source: str) -> bool:
    return source.lstrip().startswith(PEM_MARK)


def parse_pem(pem: bytes, where: str = "CERT_SIGNING_KEY") -> CurrentKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyConfigError(f"{where}: not an unencrypted PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyConfigError(f"{where}: the key is not an Ed25519 key")
    raw = public_raw(key)
    return CurrentKey(key_id=key_id_for(raw), private_key=key, public_raw=raw)


_cache: dict[tuple, CurrentKey] = {}
_cache_lock = threading.Lock()


def load(source: str) -> CurrentKey:
    """The key `source` names (a PEM, or a path to one); a file is read again whenever it
    is replaced or changed."""
    if not source or not source.strip():
        raise KeyConfigError("CERT_SIGNING_KEY is not set")
    if is_inline_pem(source):
        cache_key: tuple = ("pem", hashlib.sha256(source.encode()).hexdigest())
        reader = source.strip().encode
    else:
        path = Path(source).expanduser()
        try:
            st = path.stat()
        except OSError as exc:
            raise KeyConfigError(f"CERT_SIGNING_KEY: cannot read {path}") from exc
        cache_key = ("file", str(path), st.st_ino, st.st_mtime_ns, st.st_size)
        reader = path.read_bytes
    with _cache_lock:
        found = _cache.get(cache_key)
    if found is not None:
        return found
    try:
        pem = reader()
    except OSError as exc:
        raise KeyConfigError(f"CERT_SIGNING_KEY: cannot read {source}") from exc
    key = parse_pem(pem)
    with _cache_lock:
        if len(_cache) > 16:
            _cache.clear()
        _cache[cache_key] = key
    return key


def check_configuration(source: str) -> None:
    """Fail at start-up, not at the first certificate, when the key setting is wrong."""
    load(source)


def configured() -> CurrentKey:
    return load(setting("CERT_SIGNING_KEY"))


# -- the published ring -----------------------------------------------------------------


def publish(raw: bytes, *, at: datetime | None = None) -> SigningKey:
    """Publish a public key as the current key of its algorithm and retire the current one
    before it. Publishing the current key again changes nothing; a retired key is never
    made current again (it stays retired)."""
    key_id = key_id_for(raw)
    existing = db.session.get(SigningKey, key_id)
    if existing is not None:
        return existing
    now = at or utcnow()
    db.session.execute(
        update(SigningKey)
        .where(
            SigningKey.algorithm == ALGORITHM,
            SigningKey.retired_at.is_(None),
            SigningKey.key_id != key_id,
        )
        .values(retired_at=now)
        .execution_options(synchronize_session="fetch")
    )
    insert_ignore(
        SigningKey,
        {
            "key_id": key_id,
            "algorithm": ALGORITHM,
            "public_key": b64url(raw),
            "created_at": now,
            "retired_at": None,
        },
        ("key_id",),
    )
    return db.session.get(SigningKey, key_id, populate_existing=True)


def signing_key() -> CurrentKey:
    """The configured key, published (now, if it never signed before) and not retired."""
    key = configured()
    row = db.session.get(SigningKey, key.key_id)
    if row is None:
        publish(key.public_raw)
    elif row.retired_at is not None:
        raise SigningKeyRetired(
            f"The configured signing key {key.key_id} was retired; load the current key "
            "(CERT_SIGNING_KEY) and retry."
        )
    return key


def find(key_id: object) -> SigningKey | None:
    """The published key with this id, or None (ids that cannot be thumbprints are
    never looked up)."""
    if not isinstance(key_id, str) or not KEY_ID.match(key_id):
        return None
    return db.session.get(SigningKey, key_id)


def published() -> list[SigningKey]:
    """Every published key, oldest first."""
    return list(
        db.session.scalars(select(SigningKey).order_by(SigningKey.created_at, SigningKey.key_id))
    )


def status(row: SigningKey) -> str:
    return "current" if row.retired_at is None else "retired"


def public_key_of(row: SigningKey) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(b64url_decode(row.public_key))


# -- rotation ---------------------------------------------------------------------------


class RotationNeedsPath(KeyConfigError):
    """The key is configured inline (an environment variable): the new one needs a file."""


def write_key_file(path: Path, pem: bytes) -> None:
    """Write `pem` to `path` atomically (a new file renamed over the old), mode 0600."""
    path = path.expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def rotate(out: Path | None = None) -> tuple[CurrentKey, Path]:
    """A new current key: written to `out` (default: the configured key file), then
    published, which retires the key before it (still published, so what it signed stays
    verifiable). The caller commits. Written first: should the commit fail, the new key
    is published the first time it signs."""
    source = setting("CERT_SIGNING_KEY") or ""
    if out is None:
        if is_inline_pem(source) or not source.strip():
            raise RotationNeedsPath(
                "CERT_SIGNING_KEY holds the key itself; give --out PATH for the new key"
            )
        out = Path(source)
    pem = generate_pem()
    key = parse_pem(pem)
    write_key_file(out, pem)
    publish(key.public_raw)
    return key, out
