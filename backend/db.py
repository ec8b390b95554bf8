"""The SQLAlchemy base, the shared column types, and the session every service uses.

Services never commit: the request wrapper (`backend.transaction`) or the job runner
commits once, then runs side effects.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Integer,
    MetaData,
    String,
    TypeDecorator,
    any_,
    bindparam,
    event,
    text,
    update,
)
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


def storable(text_value: str) -> bool:
    """Can a text column hold it? No NUL (PostgreSQL refuses it) and valid UTF-8 (JSON's
    lone surrogates such as "\\ud800" decode in Python but encode nowhere)."""
    if "\x00" in text_value:
        return False
    try:
        text_value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def nul_fields(value, path: tuple[str, ...] = ()) -> Iterator[str]:
    """The dotted paths of the strings in decoded JSON `value` that no text column can
    hold (a NUL, or a lone surrogate that is not UTF-8)."""
    if isinstance(value, str):
        if not storable(value):
            yield ".".join(path) or "_schema"
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from nul_fields(item, (*path, str(key)))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from nul_fields(item, (*path, str(i)))


_CLOCK_SHIFT: ContextVar[timedelta] = ContextVar("clock_shift", default=timedelta(0))


def utcnow() -> datetime:
    """Now, in UTC: every rule's clock (`clock_at` moves it)."""
    return datetime.now(UTC) + _CLOCK_SHIFT.get()


@contextmanager
def clock_at(moment: datetime) -> Iterator[None]:
    """Within the block (this thread or task only), `utcnow()` starts at `moment` and
    runs on from there. For building a past with the real rules (the demo data); never
    used while serving."""
    token = _CLOCK_SHIFT.set(moment - datetime.now(UTC))
    try:
        yield
    finally:
        _CLOCK_SHIFT.reset(token)


def is_sqlite() -> bool:
    return db.engine.dialect.name == "sqlite"


def rollback_quietly() -> None:
    """Roll the session back after a failure; if even that fails (its connection died
    on the way), drop the session: the next use starts afresh from the pool."""
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the transaction is gone either way
        logging.getLogger("backend.db").warning("rollback failed; session dropped", exc_info=True)
        db.session.remove()


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


# -- bulk statements --------------------------------------------------------------------
# On PostgreSQL a list of rows travels as one array per column and is unnested in the
# server: one short statement, whatever the row count (SQLAlchemy's multi-row VALUES
# would send thousands of parameters that the driver parses anew each time). SQLite
# gets the same result by executemany.


def _pg_array_type(column) -> str:
    # text, not varchar(n): a cast to varchar(n) would cut an over-long value silently;
    # as text the column itself refuses it
    if isinstance(column.type, JSON | String):
        return "text"
    return column.type.compile(dialect=db.session.get_bind().dialect)


def _pg_value(column, value):
    if value is not None and isinstance(column.type, JSON):
        return json.dumps(value)
    return value


def _pg_select_expr(column, alias: str) -> str:
    return f"CAST(v.{alias} AS json)" if isinstance(column.type, JSON) else f"v.{alias}"


def _pg_unnest(table, columns: list[str], rows: list[dict]) -> tuple[str, dict]:
    params, arrays = {}, []
    for i, name in enumerate(columns):
        col = table.c[name]
        params[f"a{i}"] = [_pg_value(col, r[name]) for r in rows]
        arrays.append(f"CAST(:a{i} AS {_pg_array_type(col)}[])")
    aliases = ", ".join(f"c{i}" for i in range(len(columns)))
    return f"unnest({', '.join(arrays)}) AS v({aliases})", params


def bulk_insert(
    model, rows: list[dict], *, returning: tuple[str, ...] = (), on_conflict=None
) -> list:
    """INSERT many rows (all with the same keys); with `on_conflict` (column names) rows
    that conflict are skipped; returns the `returning` columns of the inserted rows."""
    if not rows:
        return []
    table = model.__table__ if hasattr(model, "__table__") else model
    columns = list(rows[0])
    if db.session.get_bind().dialect.name != "postgresql":
        stmt = dialect_insert(table)
        if on_conflict:
            stmt = stmt.on_conflict_do_nothing(index_elements=on_conflict)
        if returning:
            stmt = stmt.returning(*(table.c[c] for c in returning))
            return list(db.session.execute(stmt, rows).all())
        db.session.execute(stmt, rows)
        return []
    source, params = _pg_unnest(table, columns, rows)
    select_list = ", ".join(
        _pg_select_expr(table.c[name], f"c{i}") for i, name in enumerate(columns)
    )
    # names come from our own table metadata; every value is a bound array parameter
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT {select_list} FROM {source}"  # noqa: S608
    if on_conflict:
        sql += f" ON CONFLICT ({', '.join(on_conflict)}) DO NOTHING"
    if returning:
        sql += f" RETURNING {', '.join(returning)}"
        return list(db.session.execute(text(sql), params).all())
    db.session.execute(text(sql), params)
    return []


def bulk_update(model, key: str, rows: list[dict], *, only_where_null: str | None = None) -> None:
    """UPDATE many rows by `key` (each row: the key and the new values); with
    `only_where_null` a row changes only while that column is still NULL."""
    if not rows:
        return
    table = model.__table__ if hasattr(model, "__table__") else model
    columns = list(rows[0])
    values = [c for c in columns if c != key]
    if db.session.get_bind().dialect.name != "postgresql":
        stmt = update(table).where(table.c[key] == bindparam(f"_{key}"))
        if only_where_null:
            stmt = stmt.where(table.c[only_where_null].is_(None))
        stmt = stmt.values({c: bindparam(f"_{c}") for c in values})
        db.session.execute(stmt, [{f"_{k}": v for k, v in r.items()} for r in rows])
        return
    source, params = _pg_unnest(table, columns, rows)
    sets = ", ".join(f"{c} = {_pg_select_expr(table.c[c], f'c{columns.index(c)}')}" for c in values)
    match = f"{table.name}.{key} = v.c{columns.index(key)}"
    sql = f"UPDATE {table.name} SET {sets} FROM {source} WHERE {match}"  # noqa: S608
    if only_where_null:
        sql += f" AND {table.name}.{only_where_null} IS NULL"
    db.session.execute(text(sql), params)


def in_values(column, values: list):
    """`column IN (values)`: on PostgreSQL as `= ANY(array)`, one parameter."""
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(list(values))
