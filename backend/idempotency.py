"""`Idempotency-Key` for money-moving POSTs (HTTP layer).

The key is claimed inside the request's own transaction, with one `INSERT ... ON
CONFLICT DO NOTHING`: the claim, the work and the stored response commit together, or
none of them does. A second request with the same key meets the claim in the unique
index: while the first is in flight its insert waits for that transaction (PostgreSQL
waits on the conflicting uncommitted row; SQLite serialises writers), then sees what it
left: done with the same body -> the first response again, nothing moves; another body
-> 422 `idempotency_key_reused`; gone (the first failed) -> it claims the key itself. A
wait past `lock_timeout` answers 409 `retry`. A refused request (4xx) and every failure
(the view raising, the database dropping the connection while the claim is marked done
or at the commit) roll the claim back with the rest: the client may retry with the key.
A claim row still `in_flight` (left by an older release of this code, or a crash between
its own commit and the work) answers 409 `idempotency_in_flight`, and is taken over
after `STALE` seconds."""

from __future__ import annotations

import functools
import hashlib
import logging
import uuid
from datetime import datetime, timedelta

from flask import Response, request
from sqlalchemy import (
    Integer,
    String,
    Text,
    UniqueConstraint,
    bindparam,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.apidoc import IDEMPOTENT
from backend.auth.guards import current_principal
from backend.db import BigId, UTCDateTime, db, rollback_quietly, utcnow
from backend.errors import ApiError, Conflict, Invalid
from backend.http import annotate

log = logging.getLogger("backend.idempotency")
STALE = timedelta(seconds=60)
HEADER = "Idempotency-Key"


class IdempotencyKey(db.Model):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("principal", "key", name="principal_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    principal: Mapped[str] = mapped_column(String(80))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(10))  # in_flight | done
    # Who holds an in-flight claim: a request that lost its claim to a takeover (after
    # STALE) can neither finish nor release it.
    claim_token: Mapped[str | None] = mapped_column(String(32))
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class KeyReused(ApiError):
    status, code, title = 422, "idempotency_key_reused", "Idempotency key reused"


class InFlight(Conflict):
    code, title = "idempotency_in_flight", "A request with this key is in flight"


def _request_hash() -> str:
    h = hashlib.sha256()
    h.update(request.method.encode())
    h.update(request.path.encode())
    h.update(request.get_data(cache=True))
    return h.hexdigest()


@functools.cache
def _claim_statement(dialect: str):
    """INSERT the claim ... ON CONFLICT (principal, key) DO NOTHING RETURNING id, built
    once per dialect."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    table = IdempotencyKey.__table__
    columns = ("principal", "key", "request_hash", "state", "claim_token")
    return (
        insert(table)
        .values(
            {
                **{name: bindparam(name) for name in columns},
                "created_at": bindparam("now", type_=table.c.created_at.type),
                "updated_at": bindparam("now", type_=table.c.updated_at.type),
            }
        )
        .on_conflict_do_nothing(index_elements=["principal", "key"])
        .returning(table.c.id)
    )


def _claim(principal: str, key: str, digest: str) -> tuple[tuple | None, object | None]:
    """Returns ((claim id, token), None) when claimed, or (None, done row) to replay.
    Runs in the request's transaction (one statement when the key is new)."""
    table = IdempotencyKey.__table__
    token = uuid.uuid4().hex
    now = utcnow()
    conn = db.session.connection()
    new_id = conn.execute(
        _claim_statement(conn.dialect.name),
        {
            "principal": principal,
            "key": key,
            "request_hash": digest,
            "state": "in_flight",
            "claim_token": token,
            "now": now,
        },
    ).scalar_one_or_none()
    if new_id is not None:
        return (new_id, token), None
    row = db.session.execute(
        select(table).where(table.c.principal == principal, table.c.key == key)
    ).one_or_none()
    if row is None:  # released between our insert and this read
        raise InFlight("A request with this key was just in flight; retry.")
    if row.request_hash != digest:
        raise KeyReused("This Idempotency-Key was used with another request.")
    if row.state == "done":
        return None, row
    updated = row.updated_at if row.updated_at.tzinfo else row.updated_at.replace(tzinfo=now.tzinfo)
    if now - updated < STALE:
        raise InFlight("A request with this Idempotency-Key is still in flight.")
    taken = db.session.execute(
        update(table)
        .where(
            table.c.id == row.id,
            table.c.state == "in_flight",
            table.c.updated_at == row.updated_at,
        )
        .values(updated_at=now, claim_token=token)
    )
    if taken.rowcount != 1:
        raise InFlight("A request with this Idempotency-Key is still in flight.")
    return (row.id, token), None


_KEYS = IdempotencyKey.__table__
_FINISH = (
    update(_KEYS)
    .where(
        _KEYS.c.id == bindparam("claim_id"),
        _KEYS.c.claim_token == bindparam("token"),
        _KEYS.c.state == "in_flight",
    )
    .values(
        state="done",
        status_code=bindparam("status_code"),
        response_body=bindparam("response_body"),
        updated_at=bindparam("now", type_=_KEYS.c.updated_at.type),
        claim_token=None,
    )
)


def _finish(claim: tuple, resp: Response) -> None:
    """Mark the claim done with its response, in the request's own transaction."""
    finished = db.session.connection().execute(
        _FINISH,
        {
            "claim_id": claim[0],
            "token": claim[1],
            "status_code": resp.status_code,
            "response_body": resp.get_data(as_text=True),
            "now": utcnow(),
        },
    )
    if finished.rowcount != 1:  # taken over after STALE: the other request answers
        raise InFlight("This request took too long; its Idempotency-Key was taken over.")


def request_token() -> str:
    """A name for this request that its retries share, for a ledger key: derived from
    the caller and its `Idempotency-Key`, or fresh when the request has none."""
    key = request.headers.get(HEADER)
    if key is None:
        return uuid.uuid4().hex
    return hashlib.sha256(f"{current_principal().actor}\n{key}".encode()).hexdigest()


def idempotent(fn):
    """Wrap a view that returns a Response (put it above `@blp.response`)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return fn(*args, **kwargs)
        if not (1 <= len(key) <= 200) or not key.isprintable():
            raise Invalid(errors={HEADER: ["1 to 200 printable characters."]})
        principal = current_principal().actor
        claim, done = _claim(principal, key, _request_hash())
        if done is not None:
            resp = Response(
                done.response_body, status=done.status_code, mimetype="application/json"
            )
            resp.headers["Idempotent-Replayed"] = "true"
            return resp
        # Every way out but success rolls the claim back with the work: the view raising
        # or refusing (4xx), marking the claim done failing (a connection terminated, a
        # takeover), and the commit failing (the request wrapper rolls back).
        try:
            resp = fn(*args, **kwargs)
            if resp.status_code >= 400:
                rollback_quietly()
                return resp
            _finish(claim, resp)
        except BaseException:
            rollback_quietly()
            raise
        return resp

    wrapper.__doc__ = fn.__doc__
    return annotate(wrapper, {IDEMPOTENT: True})
