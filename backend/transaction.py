"""One transaction per request: commit once after a successful view, roll back after an
error, and only then run side effects: the after-commit hooks (`after_commit`; the app
factory hangs the outbox relay there).

Database failures answer by what the client can do about them, never a 500:
- a constraint refusal (a concurrent request won) -> 409 `conflict`;
- a serialization failure, a deadlock victim, a lock wait past `lock_timeout` -> 409
  `retry`;
- the database out of reach (a connection terminated or lost, refused, the pool
  exhausted) -> 503 `retry` with `Retry-After`. `pool_pre_ping` replaces a pooled
  connection that died while idle before it is used, so only a request whose own
  connection dies mid-way sees this.
An `Idempotency-Key` claim is released on each of these paths (`backend.idempotency`)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, Response, current_app
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from backend.db import db, rollback_quietly
from backend.errors import ApiError, from_api_error, problem

log = logging.getLogger("backend.transaction")


RETRYABLE = {"40001", "40P01", "55P03"}  # serialization, deadlock, lock_timeout
RETRY_AFTER_SECONDS = 1


def unavailable(exc: BaseException) -> bool:
    """Is `exc` the database being out of reach (rather than a bug or a lost race)?"""
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)
    return isinstance(exc, PoolTimeout)


def db_error_answer(exc: BaseException) -> Response | None:
    """The answer to a database failure, or None for one that is a bug (a 500)."""
    if isinstance(exc, IntegrityError):
        log.warning("refused by a constraint (a concurrent request won)")
        return problem(409, "conflict", "The change conflicts with the current state; retry.")
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None)
    if sqlstate in RETRYABLE:
        log.warning("concurrent change won (%s)", sqlstate)
        return problem(409, "retry", "A concurrent change won; retry the request.")
    if unavailable(exc):
        log.warning("database out of reach (%s): 503", type(getattr(exc, "orig", exc)).__name__)
        return problem(
            503,
            "retry",
            "The database is out of reach for a moment; retry the request (with the same"
            " Idempotency-Key where it has one).",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    return None


def after_commit(app: Flask, hook: Callable[[], object]) -> None:
    """Run `hook` after every request whose transaction committed."""
    app.extensions.setdefault("after_commit", []).append(hook)


def run_after_commit_hooks() -> None:
    """Called once a transaction committed (by the request wrapper, and by the job
    runner after a job). A hook that fails is logged and does not undo the commit: what
    it does is also done by a schedule (the outbox is relayed periodically)."""
    for hook in current_app.extensions.get("after_commit", ()):
        try:
            hook()
        except Exception:  # noqa: BLE001 - the transaction has committed already
            log.exception("an after-commit hook failed; its schedule will catch up")
            rollback_quietly()


def init_app(app: Flask) -> None:
    @app.after_request
    def _finish(response: Response) -> Response:
        if response.status_code >= 400:
            rollback_quietly()
            return response
        try:
            db.session.commit()
        except Exception as exc:
            rollback_quietly()
            answer = db_error_answer(exc)
            if answer is None:
                raise
            return answer
        run_after_commit_hooks()
        return response

    def _db_error(exc: Exception):
        # A race lost inside the request (a deadlock victim, a unique row inserted by a
        # concurrent request, a lock wait past lock_timeout): 409; the database out of
        # reach: 503. Never a 500.
        rollback_quietly()
        answer = db_error_answer(exc)
        if answer is None:
            raise exc
        return answer

    app.register_error_handler(DBAPIError, _db_error)
    app.register_error_handler(PoolTimeout, _db_error)

    @app.errorhandler(ApiError)
    def _api_error(err: ApiError):
        # A few refusals must keep what they wrote (a revoked token family).
        if getattr(err, "commit_anyway", False):
            try:
                db.session.commit()
            except DBAPIError as exc:
                rollback_quietly()
                answer = db_error_answer(exc)
                if answer is None:
                    raise
                return answer
        else:
            rollback_quietly()
        return from_api_error(err)
