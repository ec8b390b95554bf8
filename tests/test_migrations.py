"""The migrations and the models say the same thing, and every migration goes down and up
again: on the test database (PostgreSQL, or SQLite in the embedded-default run)."""

from __future__ import annotations

import os
import uuid

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tests.conftest import PG_ADMIN, ROOT, USE_SQLITE


@pytest.mark.sqlite
def test_models_match_the_migrated_schema(app):
    from backend.activity.partitions import not_a_partition
    from backend.db import db

    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": not_a_partition})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


@pytest.fixture()
def scratch_url(tmp_path):
    if USE_SQLITE:
        yield f"sqlite:///{tmp_path / 'scratch.sqlite3'}"
        return
    name = f"sip_migr_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    yield f"{base}/{name}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.sqlite
def test_every_migration_downgrades_and_upgrades_again(scratch_url):
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import inspect

    from backend.app import create_app
    from backend.db import db

    app = create_app("test", {"DATABASE_URL": scratch_url, "REDIS_URL": None})
    directory = str(ROOT / "migrations")
    with app.app_context():
        upgrade(directory=directory)
        full = set(inspect(db.engine).get_table_names())
        assert {"accounts", "postings", "journal_entries", "orders"} <= full
        downgrade(directory=directory, revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade(directory=directory)
        assert set(inspect(db.engine).get_table_names()) == full
        db.engine.dispose()
