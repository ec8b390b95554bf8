"""One transaction per request: commit once after a successful view, roll back after an
error, and only then run side effects (the outbox relay)."""

from __future__ import annotations

import logging

from flask import Flask, Response, g
from sqlalchemy.exc import DBAPIError, IntegrityError

from backend.db import db
from backend.errors import ApiError, from_api_error, problem
from backend.idempotency import release_unfinished

log = logging.getLogger("backend.transaction")


RETRYABLE = {"40001", "40P01", "55P03"}  # serialization, deadlock, lock_timeout


def _conflict_answer(exc: DBAPIError) -> Response | None:
    if isinstance(exc, IntegrityError):
        log.warning("refused by a constraint (a concurrent request won)")
        return problem(409, "conflict", "The change conflicts with the current state; retry.")
    if getattr(exc.orig, "sqlstate", None) in RETRYABLE:
        log.warning("concurrent change won (%s)", exc.orig.sqlstate)
        return problem(409, "retry", "A concurrent change won; retry the request.")
    return None


def init_app(app: Flask) -> None:
    @app.after_request
    def _finish(response: Response) -> Response:
        if response.status_code >= 400:
            db.session.rollback()
            return response
        try:
            db.session.commit()
        except DBAPIError as exc:
            db.session.rollback()
            release_unfinished()
            answer = _conflict_answer(exc)
            if answer is None:
                raise
            return answer
        g.pop("idempotency_claim", None)
        if db.session.info.get("outbox_dirty"):
            from jobs import relay

            relay.flush()
        return response

    @app.errorhandler(DBAPIError)
    def _db_error(exc: DBAPIError):
        # A race lost inside the request (a deadlock victim, a unique row inserted by a
        # concurrent request, a lock wait past lock_timeout): 409, never a 500.
        db.session.rollback()
        answer = _conflict_answer(exc)
        if answer is None:
            raise exc
        return answer

    @app.errorhandler(ApiError)
    def _api_error(err: ApiError):
        # A few refusals must keep what they wrote (a revoked token family).
        if getattr(err, "commit_anyway", False):
            db.session.commit()
        else:
            db.session.rollback()
        return from_api_error(err)
