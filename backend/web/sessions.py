"""Browser sessions (rules): open one for a user who signed in, find it from the token
its cookie holds, end it, purge old rows. Callers commit.

A session lives at most `WEB_SESSION_MAX_SECONDS` and ends after
`WEB_SESSION_IDLE_SECONDS` without a request. It remembers the user's token generation
at sign-in: anything that ends the user's API tokens (disabling, signing out
everywhere) ends its browser sessions too, and the page guard re-checks the user on
every request exactly as the API's guard does (`backend.auth.subjects`)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, or_, select

from backend.auth.models import User
from backend.auth.tokens import new_secret, sha256
from backend.db import db, utcnow
from backend.errors import Forbidden
from backend.runtime import setting
from backend.web.models import WebSession
from jobs import job

# Who has pages: staff (the console) and merchants' till logins (the merchant page).
KINDS = ("staff", "merchant")
TOUCH_EVERY = timedelta(seconds=60)  # last_seen_at is written at most once a minute
MAX_TOKEN_LENGTH = 100


class NoPages(Forbidden):
    code, title = "no_pages", "This login has no pages here"


def open_for(user: User) -> tuple[str, WebSession]:
    """A new session for `user` (already authenticated): the cookie's token (shown
    once, kept as its SHA-256) and the row, with its own CSRF token."""
    if user.kind not in KINDS:
        raise NoPages(
            "Residents and organisation logins use the app or the API; the pages are for "
            "the service centre's staff and merchants' tills."
        )
    token = new_secret(32)
    now = utcnow()
    row = WebSession(
        token_hash=sha256(token),
        user_id=user.id,
        kind=user.kind,
        token_gen=user.token_gen,
        csrf_token=new_secret(24),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(seconds=setting("WEB_SESSION_MAX_SECONDS")),
    )
    db.session.add(row)
    db.session.flush()
    return token, row


def find(token: str | None) -> WebSession | None:
    """The live session behind a cookie's token, or None (unknown, ended, expired or
    idle too long). Marks it seen."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    now = utcnow()
    row = db.session.execute(
        select(WebSession).where(
            WebSession.token_hash == sha256(token),
            WebSession.ended_at.is_(None),
            WebSession.expires_at > now,
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    if row.last_seen_at <= now - timedelta(seconds=setting("WEB_SESSION_IDLE_SECONDS")):
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
    return row


def end(row: WebSession) -> None:
    """Sign out: the session ends now (its cookie is worth nothing from here on)."""
    if row.ended_at is None:
        row.ended_at = utcnow()
        db.session.flush()


def purge(now=None) -> int:
    """Delete sessions that ended or expired more than a day ago."""
    cutoff = (now or utcnow()) - timedelta(days=1)
    result = db.session.execute(
        delete(WebSession)
        .where(or_(WebSession.expires_at < cutoff, WebSession.ended_at < cutoff))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


@job(queue="maintenance", timeout=300)
def purge_web_sessions() -> int:
    """Drop browser sessions that ended or expired more than a day ago."""
    return purge()
