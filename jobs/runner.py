"""Runs an installed job inside the app that installed it, as one transaction, then
runs the after-commit hooks (the relay sends the jobs it asked for). RQ calls `execute`
in a worker's work horse (the worker, `jobs.worker`, is handed its app and runs every
job in that app's context); the in-process relay and scheduler call it in the web
process's app context."""

from __future__ import annotations

import logging

from flask import current_app, has_app_context

from backend.audit.context import Actor, set_actor
from backend.db import db
from backend.transaction import run_after_commit_hooks
from jobs import registry_of

log = logging.getLogger("jobs")


def execute(name: str, kwargs: dict | None = None):
    """Run the job `name` with `kwargs`, commit, then relay what it asked for."""
    if not has_app_context():
        raise RuntimeError("jobs run inside their app: start workers with `flask worker`")
    spec = registry_of(current_app).get(name)
    set_actor(db.session, Actor(f"system:{name}", "system"))
    try:
        result = spec.func(**(kwargs or {}))
        db.session.commit()
    except Exception:
        db.session.rollback()
        log.exception("job failed", extra={"fields": {"job": name}})
        raise
    run_after_commit_hooks()  # the relay sends the jobs this one asked for
    return result


def run(func, **kwargs):
    """Run the `@job` function `func` now, as `execute` would (tests, CLI)."""
    from jobs import spec_of

    return execute(spec_of(func).name, kwargs)
