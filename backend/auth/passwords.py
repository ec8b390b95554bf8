"""Password hashing with argon2id. The cost comes from the settings (`ARGON2_*`; the
defaults are argon2-cffi's, RFC 9106's low-memory choice); the test profile alone uses a
cheap cost so the suite does not spend its time hashing. A hash carries its own
parameters, so any stored hash verifies whatever the current setting."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context

DEFAULT = (3, 65536, 4)  # time cost, memory (KiB), parallelism


@lru_cache(maxsize=4)
def _hasher_for(cost: tuple[int, int, int]) -> tuple[PasswordHasher, str]:
    time_cost, memory_kib, parallelism = cost
    hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
    # A hash of a random password, checked when the login is unknown so that unknown and
    # known logins take the same time.
    return hasher, hasher.hash("not-a-password-of-anyone")


def _hasher() -> tuple[PasswordHasher, str]:
    if not has_app_context():
        return _hasher_for(DEFAULT)
    c = current_app.config
    return _hasher_for(
        (
            c.get("ARGON2_TIME_COST", DEFAULT[0]),
            c.get("ARGON2_MEMORY_KIB", DEFAULT[1]),
            c.get("ARGON2_PARALLELISM", DEFAULT[2]),
        )
    )


def hash_password(password: str) -> str:
    return _hasher()[0].hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    hasher, dummy = _hasher()
    try:
        return hasher.verify(stored or dummy, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False
