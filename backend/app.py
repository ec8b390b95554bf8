"""The app factory."""

from __future__ import annotations

from flask import Flask

from config import settings as settings_module


def create_app(profile: str | None = None, overrides: dict | None = None) -> Flask:
    settings = settings_module.load(profile)
    app = Flask(__name__, instance_path=str(settings_module.INSTANCE))
    app.config.update(settings.as_flask_config())
    app.json.sort_keys = False
    if overrides:
        app.config.update(overrides)
        if "DATABASE_URL" in overrides:
            app.config["SQLALCHEMY_DATABASE_URI"] = overrides["DATABASE_URL"]
            app.config["SQLALCHEMY_ENGINE_OPTIONS"] = settings_module.engine_options(
                overrides["DATABASE_URL"]
            )
        if "REDIS_URL" in overrides:
            app.config["RATELIMIT_STORAGE_URI"] = overrides["REDIS_URL"] or "memory://"

    from backend import (
        models,  # noqa: F401  (every table, for Alembic)
        request_log,
        transaction,
    )
    from backend.db import db
    from backend.extensions import api, limiter, migrate

    request_log.init_app(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(settings_module.ROOT / "migrations"))
    limiter.init_app(app)
    api.init_app(
        app,
        spec_kwargs={
            "components": {
                "securitySchemes": {
                    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
                }
            }
        },
    )
    transaction.init_app(app)

    from backend.health import blp as health

    app.register_blueprint(health)
    for blueprint in _api_blueprints():
        api.register_blueprint(blueprint)

    from backend import cli

    cli.init_app(app)
    return app


def _api_blueprints():
    from backend.admin.resources import blp as admin
    from backend.auth.resources import blp as auth
    from backend.operators.resources import blp as operator
    from backend.public.resources import blp as public
    from backend.residents.resources import blp as me
    from mall.resources import blueprints as mall_blueprints

    return [auth, admin, public, operator, me, *mall_blueprints]
