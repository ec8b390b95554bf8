"""Serve the embedded default: migrate, load the demo data (`backend.demo`: made by the real
rules, once), run the periodic jobs on a thread,
and serve the API (`python -m backend.serve`).

Everything it says is a JSON log line (`backend.request_log.JsonFormatter`), the banner
included: where the API and its docs are, the database, and each demo line."""

from __future__ import annotations

import logging
import os

from dotenv import load_dotenv

log = logging.getLogger("backend.serve")


def _safe_url(url: str) -> str:
    """The database URL without its password."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is not printed at all
        return "(unparsable)"


def banner(app, base: str, demo_lines: list[dict | str]) -> None:
    log.info(
        f"SIP Carbon Points is serving at {base}",
        extra={
            "fields": {
                "url": base,
                "docs": f"{base}/api/docs",
                "redoc": f"{base}/api/redoc",
                "openapi": f"{base}/api/openapi.json",
                "database": _safe_url(app.config["SQLALCHEMY_DATABASE_URI"]),
                "jobs": "rq" if app.config.get("REDIS_URL") else "in-process",
            }
        },
    )
    for line in demo_lines:  # each login, with its password and what it can do
        if isinstance(line, str):
            line = {"msg": line}
        fields = {k: v for k, v in line.items() if k != "msg"}
        log.info(line["msg"], extra={"fields": {"demo": True, **fields}})


def main() -> None:
    load_dotenv()
    from flask_migrate import upgrade
    from werkzeug.serving import make_server

    from backend.app import create_app
    from backend.db import db
    from backend.demo import load_demo
    from jobs import inprocess

    app = create_app()
    # Our own request line (backend.request_log) replaces werkzeug's, which is plain
    # text with ANSI colours; werkzeug still logs its errors.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))
    with app.app_context():
        upgrade()
        lines = load_demo()
        db.session.commit()
    if not app.config.get("REDIS_URL"):
        inprocess.start(app)
    server = make_server(host, port, app, threaded=True)
    banner(app, f"http://{host}:{server.server_port}", lines)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        log.info("stopped")


if __name__ == "__main__":
    main()
