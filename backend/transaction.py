"""One transaction per request: commit once after a successful view, roll back after an
error, and only then run side effects (the outbox relay)."""

from __future__ import annotations

import logging

from flask import Flask, Response
from sqlalchemy.exc import DBAPIError, IntegrityError

from backend.db import db
from backend.errors import ApiError, from_api_error, problem

log = logging.getLogger("backend.transaction")


def init_app(app: Flask) -> None:
    @app.after_request
    def _finish(response: Response) -> Response:
        if response.status_code >= 400:
            db.session.rollback()
            return response
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            log.warning("commit refused by a constraint")
            return problem(409, "conflict", "The change conflicts with the current state; retry.")
        except DBAPIError as exc:
            db.session.rollback()
            if getattr(exc.orig, "sqlstate", None) in {"40001", "40P01"}:
                return problem(409, "retry", "A concurrent change won; retry the request.")
            raise
        if db.session.info.get("outbox_dirty"):
            from jobs import relay

            relay.flush()
        return response

    @app.errorhandler(ApiError)
    def _api_error(err: ApiError):
        # A few refusals must keep what they wrote (a revoked token family).
        if getattr(err, "commit_anyway", False):
            db.session.commit()
        else:
            db.session.rollback()
        return from_api_error(err)
