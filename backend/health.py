"""/healthz (the process is up) and /readyz (the database answers; where Redis is set, it
answers and a periodic scheduler has sent a heartbeat in the last two minutes; with Redis
down there is no scheduler to ask about, and `redis: down` is enough to say 503)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from backend.db import db
from backend.errors import problem
from jobs.relay import redis_connection
from jobs.worker import scheduler_alive

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
        try:
            conn = redis_connection()
            conn.ping()
            checks["redis"] = "ok"
            checks["scheduler"] = "ok" if scheduler_alive(conn) else "down"
        except Exception:  # noqa: BLE001
            checks["redis"] = "down"
    if all(v == "ok" for v in checks.values()):
        return jsonify(status="ready", checks=checks)
    return problem(
        503,
        "not_ready",
        "A dependency does not answer.",
        extra={"checks": checks},
        headers={"Retry-After": "5"},
    )
