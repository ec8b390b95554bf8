"""Browser sessions (rules): open one for a user who signed in, find it from the token
its cookie holds, end it, purge old rows. Callers commit.

A session lives at most `WEB_SESSION_MAX_SECONDS` and ends after
`WEB_SESSION_IDLE_SECONDS` without a request. It remembers the user's token generation
at sign-in: anything that ends the user's API tokens (disabling, signing out
everywhere) ends its browser sessions too, and the page guard re-checks the user on
every request exactly as the API's guard does (`backend.auth.subjects`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update

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


@dataclass(frozen=True)
class LiveSession:
    id: int
    user_id: int
    kind: str
    token_gen: int
    csrf_token: str
    last_seen_at: datetime
    login: str | None = None  # shown in the page's header


def _read(stmt):
    """One row of `stmt`. On SQLite a transaction takes the write lock at BEGIN, so the
    read runs on a short connection of its own (as `backend.auth.subjects` reads): the
    request's own transaction begins later, only if it writes."""
    if db.session.get_bind().dialect.name == "sqlite":
        with db.engine.connect() as conn:
            return conn.execute(stmt).one_or_none()
    return db.session.execute(stmt).one_or_none()


def find(token: str | None) -> LiveSession | None:
    """The live session behind a cookie's token, or None (unknown, ended, expired or
    idle too long)."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    now = utcnow()
    row = _read(
        select(
            WebSession.id,
            WebSession.user_id,
            WebSession.kind,
            WebSession.token_gen,
            WebSession.csrf_token,
            WebSession.last_seen_at,
            User.login,
        )
        .join(User, User.id == WebSession.user_id)
        .where(
            WebSession.token_hash == sha256(token),
            WebSession.ended_at.is_(None),
            WebSession.expires_at > now,
        )
    )
    if row is None:
        return None
    last_seen = row.last_seen_at
    if last_seen <= now - timedelta(seconds=setting("WEB_SESSION_IDLE_SECONDS")):
        return None
    return LiveSession(
        row.id, row.user_id, row.kind, row.token_gen, row.csrf_token, last_seen, row.login
    )


def touch(session: LiveSession) -> None:
    """Mark the session seen now (at most once a minute: one small write)."""
    now = utcnow()
    if now - session.last_seen_at < TOUCH_EVERY:
        return
    db.session.execute(
        update(WebSession)
        .where(WebSession.id == session.id, WebSession.ended_at.is_(None))
        .values(last_seen_at=now)
        .execution_options(synchronize_session=False)
    )


def end(session: LiveSession) -> None:
    """Sign out: the session ends now (its cookie is worth nothing from here on)."""
    db.session.execute(
        update(WebSession)
        .where(WebSession.id == session.id, WebSession.ended_at.is_(None))
        .values(ended_at=utcnow())
        .execution_options(synchronize_session=False)
    )


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
