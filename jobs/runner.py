"""Runs a registered job inside the app, as one transaction, then relays the jobs it
asked for. RQ calls `execute`; the in-process relay calls it too."""

from __future__ import annotations

import logging
import os

from flask import Flask, current_app, has_app_context

from backend.db import db

log = logging.getLogger("jobs")
_app: Flask | None = None
_pid: int | None = None


def _ensure_app() -> Flask:
    global _app
    if has_app_context():
        return current_app._get_current_object()
    if _app is None:
        from backend.app import create_app

        _app = create_app()
    return _app


def execute(name: str, kwargs: dict | None = None):
    """Entry point for RQ (`jobs.runner.execute`)."""
    global _pid
    import jobs

    jobs.load_all()
    spec = jobs.REGISTRY[name]
    app = _ensure_app()
    with app.app_context():
        if _pid != os.getpid():
            # A forked work horse must not share pooled connections with its parent.
            db.engine.dispose(close=False)
            _pid = os.getpid()
        try:
            result = spec.func(**(kwargs or {}))
            db.session.commit()
        except Exception:
            db.session.rollback()
            log.exception("job failed", extra={"job": name})
            raise
        from jobs import relay

        relay.flush()
        return result
