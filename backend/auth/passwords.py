"""Password hashing with argon2id (argon2-cffi's defaults are argon2id)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# A hash of a random password, checked when the login is unknown so that unknown and
# known logins take the same time.
_DUMMY = _hasher.hash("not-a-password-of-anyone")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False
