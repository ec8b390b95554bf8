"""Test harness: a throwaway PostgreSQL database per run (migrated with Alembic), the
machine's real Redis (a database number of its own), and helpers to act as each role.

`TEST_DB=sqlite` runs the same fixtures on a SQLite file (the embedded default); the
test command uses it for the tests marked `sqlite`."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import inspect, text

from tests.ledger_guards import guards_off

PG_ADMIN = os.environ.get("TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
USE_SQLITE = os.environ.get("TEST_DB") == "sqlite"
ROOT = Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(config, items):
    if USE_SQLITE:
        selected = [i for i in items if i.get_closest_marker("sqlite")]
        deselected = [i for i in items if not i.get_closest_marker("sqlite")]
        items[:] = selected
        config.hook.pytest_deselected(items=deselected)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    if USE_SQLITE:
        path = tmp_path_factory.mktemp("sqlite") / "test.sqlite3"
        yield f"sqlite:///{path}"
        return
    name = f"sip_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    yield f"{base}/{name}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_url():
    from redis import Redis

    conn = Redis.from_url(REDIS_URL)
    conn.flushdb()
    yield REDIS_URL
    conn.flushdb()


@pytest.fixture(scope="session")
def app(database_url, redis_url):
    from flask_migrate import upgrade

    from backend.app import create_app

    app = create_app(
        "test",
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": None,  # jobs in-process unless a test asks for RQ
            "RATELIMIT_STORAGE_URI": redis_url,
            "TESTING": True,
        },
    )
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
    return app


def _truncate(app):
    from backend.db import db

    with app.app_context():
        present = set(inspect(db.engine).get_table_names())
        tables = [t.name for t in db.metadata.sorted_tables if t.name in present]
        # the ledger refuses TRUNCATE and DELETE of postings and entries: the harness
        # switches its guards off for this one transaction (superuser in tests)
        with guards_off(db.session):
            if db.engine.dialect.name == "postgresql":
                db.session.execute(
                    text(
                        "TRUNCATE "
                        + ", ".join(f'"{t}"' for t in tables)
                        + " RESTART IDENTITY CASCADE"
                    )
                )
            else:
                for t in reversed(tables):
                    db.session.execute(text(f'DELETE FROM "{t}"'))
        db.session.commit()
        db.session.remove()


@pytest.fixture()
def clean(app):
    _truncate(app)
    yield
    _truncate(app)


@pytest.fixture()
def client(app, clean):
    from backend.extensions import limiter

    limiter.reset()
    return app.test_client()


@pytest.fixture()
def ctx(app, clean):
    with app.app_context():
        yield
        from backend.db import db

        db.session.rollback()
        db.session.remove()
