"""Login lockout per login name, in the rate limiter's storage (Redis in production,
so every web worker sees it; it survives the failed request's rollback).

Failed logins of one name are counted for a day; from the `LOGIN_LOCKOUT_AFTER`-th
on, the name is locked for `LOGIN_LOCKOUT_SECONDS`, doubling with each further failure
(up to `LOGIN_LOCKOUT_MAX_SECONDS`). While locked every attempt is refused (429
`login_locked`, with Retry-After) without looking at the password; a correct login
once the lockout has passed clears the count. Names are kept as a keyed hash (a phone
number is a login name). Off with the rate limits (`RATELIMIT_ENABLED=false`)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable

from limits.storage import MemoryStorage

from backend.errors import ApiError, integer
from backend.extensions import limiter
from backend.runtime import setting

FAIL_WINDOW = 24 * 3600
log = logging.getLogger("backend.auth.lockout")
# While the shared storage (Redis) does not answer, each process counts on its own, as
# the rate limiter itself falls back to memory: logins keep working, lockouts per process.
_FALLBACK = MemoryStorage()


def _storage(op: Callable):
    try:
        return op(limiter.storage)
    except Exception as exc:  # noqa: BLE001 - any storage failure: count in memory
        log.warning("lockout storage unavailable (%s); counting in this process", exc)
        return op(_FALLBACK)


class LoginLocked(ApiError):
    status, code, title = 429, "login_locked", "Too many failed logins"
    extras = {"retry_after": integer("Seconds until the login may be tried again.", 60)}


def now() -> int:
    """The clock (tests move it)."""
    return int(time.time())


def name_key(login_name: str) -> str:
    """A login name as a keyed hash (never the phone number itself in Redis)."""
    return hmac.new(
        setting("PII_KEY").encode(),
        login_name.strip().lower().encode("utf-8", "surrogatepass"),  # any text at all
        hashlib.sha256,
    ).hexdigest()[:40]


def _keys(login_name: str) -> tuple[str, str]:
    digest = name_key(login_name)
    return f"lockout:{digest}:fails", f"lockout:{digest}:until"


def _on() -> bool:
    return bool(setting("RATELIMIT_ENABLED")) and limiter.enabled


def check(login_name: str) -> None:
    """Raise LoginLocked while the name is locked out."""
    if not _on():
        return
    _, until_key = _keys(login_name)
    left = _storage(lambda st: st.get(until_key)) - now()
    if left > 0:
        raise LoginLocked(
            f"Too many failed logins; try again in {left} seconds.",
            headers={"Retry-After": str(left)},
            extra={"retry_after": left},
        )


def failed(login_name: str) -> None:
    if not _on():
        return
    fails_key, until_key = _keys(login_name)
    fails = _storage(lambda st: st.incr(fails_key, FAIL_WINDOW))
    after = setting("LOGIN_LOCKOUT_AFTER")
    if fails < after:
        return
    seconds = min(
        setting("LOGIN_LOCKOUT_MAX_SECONDS"),
        setting("LOGIN_LOCKOUT_SECONDS") * 2 ** min(fails - after, 30),
    )
    until = now() + seconds

    def lock(st) -> None:
        st.clear(until_key)
        st.incr(until_key, seconds + 60, amount=until)

    _storage(lock)


def succeeded(login_name: str) -> None:
    if not _on():
        return
    for key in _keys(login_name):
        _storage(lambda st, key=key: st.clear(key))
