"""The app factory: settings, extensions, every blueprint, every job, the CLI."""

from __future__ import annotations

from flask import Flask, Response

from config import settings as settings_module


def _no_body_on_204(response: Response) -> Response:
    """A 204 is nothing: no body and no content type (views return None, which
    flask-smorest would otherwise send as a JSON `null`)."""
    if response.status_code == 204:
        response.set_data(b"")
        response.headers.pop("Content-Type", None)
        response.headers.pop("Content-Length", None)
    return response


def create_app(profile: str | None = None, overrides: dict | None = None) -> Flask:
    settings = settings_module.load(profile)
    app = Flask(__name__, instance_path=str(settings_module.INSTANCE))
    app.config.update(settings.as_flask_config())
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
        cli,
        hardening,
        models,  # noqa: F401  (every table, for Alembic)
        request_log,
        schedule,
        transaction,
    )
    from backend.audit import log as _audit  # noqa: F401  (its before-commit hook)
    from backend.audit import watched as _watched  # noqa: F401  (acts seen by their rows)
    from backend.certificates import keys
    from backend.db import db
    from backend.docs.resources import blp as docs
    from backend.extensions import api, limiter, migrate
    from backend.health import blp as health
    from jobs import install, relay

    keys.check_configuration(app.config["CERT_SIGNING_KEY"])
    if app.config.get("TRUSTED_PROXIES"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = int(app.config["TRUSTED_PROXIES"])
        # X-Forwarded-For is believed only as far as the trusted proxies set it.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    request_log.init_app(app)
    hardening.init_app(app)
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
    install(app, schedule.EVERY_JOB, schedule.PERIODIC)
    transaction.after_commit(app, relay.flush_if_pending)

    app.after_request(_no_body_on_204)
    app.register_blueprint(health)
    app.register_blueprint(docs)
    from backend.web import guards as web_guards

    web_guards.init_app(app)
    for page_blueprint in _page_blueprints():
        app.register_blueprint(page_blueprint)
    for blueprint in _api_blueprints():
        api.register_blueprint(blueprint)
    cli.init_app(app)

    from backend.activity import retention

    retention.check_at_startup(app)  # a retention shorter than a scenario window: refused
    return app


def _page_blueprints() -> list:
    """The server-rendered pages: the public site, the verify page, sign-in, the staff
    console and the merchant page (plain Flask blueprints, not in the API document)."""
    from backend.certificates import resources as certificates
    from backend.console import resources as console
    from backend.site import resources as site
    from backend.till import resources as till
    from backend.web import resources as web

    return [
        *site.blueprints,
        *certificates.page_blueprints,
        *web.blueprints,
        *console.blueprints,
        *till.blueprints,
    ]


def _api_blueprints() -> list:
    from backend.activity import resources as activity
    from backend.applications import resources as applications
    from backend.audit import resources as audit
    from backend.auth import resources as auth
    from backend.certificates import resources as certificates
    from backend.points import resources as points
    from backend.public import resources as public
    from backend.reconciliation import resources as reconciliation
    from backend.reductions import resources as reductions
    from backend.registry import resources as registry
    from backend.residents import resources as residents
    from backend.sanctions import resources as sanctions
    from backend.workdays import resources as workdays
    from mall import resources as mall

    features = (
        auth,
        registry,
        applications,
        reductions,
        public,
        certificates,
        activity,
        residents,
        points,
        mall,
        reconciliation,
        workdays,
        audit,
        sanctions,
    )
    return [blp for feature in features for blp in feature.blueprints]
