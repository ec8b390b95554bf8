"""Mainland mobile numbers: validation, the keyed hash used to find an account, masking."""

from __future__ import annotations

import hashlib
import hmac
import re

PHONE_RE = re.compile(r"^1[3-9]\d{9}$")


def is_phone(value: str) -> bool:
    return bool(PHONE_RE.match(value))


def phone_hash(phone: str, key: str) -> str:
    return hmac.new(key.encode(), phone.encode(), hashlib.sha256).hexdigest()


def mask(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}"
