"""The SQLAlchemy base, the shared column types, and the session every service uses.

Services never commit: the request wrapper (`backend.transaction`) or the job runner
commits once, then runs side effects.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import BigInteger, DateTime, Integer, MetaData, TypeDecorator, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# 64-bit ids and amounts on PostgreSQL; SQLite's INTEGER is already 64-bit and is the
# only type it auto-increments.
BigId = BigInteger().with_variant(Integer, "sqlite")
Amount = BigInteger().with_variant(Integer, "sqlite")


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC timestamps on every database (SQLite keeps them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTCDateTime column")
            value = value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)


def utcnow() -> datetime:
    return datetime.now(UTC)


def is_sqlite() -> bool:
    return db.engine.dialect.name == "sqlite"


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    module = type(dbapi_connection).__module__
    if "sqlite" not in module:
        return
    # Take the write lock at BEGIN: SQLite then serialises writers cleanly instead of
    # failing a read-then-write transaction with "database is locked".
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin_immediate(conn):
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def dialect_insert(model):
    """The dialect's INSERT (it has `on_conflict_do_nothing`), PostgreSQL or SQLite."""
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(model)


def insert_ignore(model, values: dict | list[dict], conflict_columns: tuple[str, ...]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING of one row or many, on PostgreSQL and SQLite."""
    stmt = dialect_insert(model).on_conflict_do_nothing(index_elements=conflict_columns)
    if isinstance(values, list):
        if values:
            db.session.execute(stmt, values)
    else:
        db.session.execute(stmt.values(**values))
