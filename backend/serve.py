"""Serve the embedded default: migrate, load demo data, run the periodic jobs on a thread,
and serve the API (`python -m backend.serve`)."""

from __future__ import annotations

import os

from dotenv import load_dotenv


def main() -> None:
    load_dotenv()
    from flask_migrate import upgrade

    from backend.app import create_app
    from backend.db import db
    from backend.demo import load_demo
    from jobs import inprocess

    app = create_app()
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))
    with app.app_context():
        upgrade()
        lines = load_demo()
        db.session.commit()
    if not app.config.get("REDIS_URL"):
        inprocess.start(app)
    base = f"http://{host}:{port}"
    print(f"\nSIP Carbon Points is serving at {base}", flush=True)
    print(f"  API docs:  {base}/api/docs   (OpenAPI: {base}/api/openapi.json)", flush=True)
    print(f"  database:  {app.config['SQLALCHEMY_DATABASE_URI']}", flush=True)
    for line in lines:
        print(f"  {line}", flush=True)
    app.run(host=host, port=port, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
