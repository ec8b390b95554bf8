"""One transaction per request: commit once after a successful view, roll back after an
error, and only then run side effects: the after-commit hooks (`after_commit`; the app
factory hangs the outbox relay there)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, Response, current_app, g
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


def after_commit(app: Flask, hook: Callable[[], object]) -> None:
    """Run `hook` after every request whose transaction committed."""
    app.extensions.setdefault("after_commit", []).append(hook)


def run_after_commit_hooks() -> None:
    """Called once a transaction committed (by the request wrapper, and by the job
    runner after a job)."""
    for hook in current_app.extensions.get("after_commit", ()):
        hook()


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
        run_after_commit_hooks()
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
