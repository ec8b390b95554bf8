"""/healthz (the process is up) and /readyz (the database and, where set, Redis answer)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from backend.db import db
from backend.errors import problem

blp = Blueprint("health", __name__)


@blp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@blp.get("/readyz")
def readyz():
    checks = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception:  # noqa: BLE001 - any failure means not ready
        checks["database"] = "down"
    if current_app.config.get("REDIS_URL"):
        from jobs.relay import redis_connection

        try:
            redis_connection().ping()
            checks["redis"] = "ok"
        except Exception:  # noqa: BLE001
            checks["redis"] = "down"
    if all(v == "ok" for v in checks.values()):
        return jsonify(status="ready", checks=checks)
    return problem(503, "not_ready", "A dependency does not answer.", extra={"checks": checks})
