"""Database plumbing: declarative base, column types, engine and sessions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, MetaData, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT on PostgreSQL, INTEGER on SQLite (only INTEGER PRIMARY KEY autoincrements there).
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both databases (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def make_engine(
    url: str, *, pool_size: int = 10, pool_timeout: float = 30.0, echo: bool = False
) -> AsyncEngine:
    """An async engine; SQLite gets WAL, a busy timeout and write-ahead locking."""
    if url.startswith("sqlite"):
        engine = create_async_engine(
            url, echo=echo, connect_args={"timeout": 30}, poolclass=NullPool
        )
        _configure_sqlite(engine)
        return engine
    return create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=pool_timeout,
        pool_pre_ping=True,
    )


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control so every transaction can BEGIN IMMEDIATE:
        # writers queue on the database lock instead of failing on upgrade.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


# PostgreSQL error classes that say the database cannot serve (not that a request is
# wrong): 08 connection, 3D no such database, 28 login refused, 53 out of resources
# (too many connections), 57 operator intervention (shutdown, cannot connect now),
# 58 system error (I/O).
_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "3D", "28", "53", "57", "58")
# SQLite's codes for a file that cannot be opened, read or written (not a bad statement).
_UNAVAILABLE_SQLITE_CODES = (
    *("CANTOPEN", "BUSY", "LOCKED", "IOERR", "READONLY"),
    *("NOTADB", "CORRUPT", "FULL", "PERM", "AUTH"),
)
# A bad statement or value, not an unusable database (even when raised at commit).
_STATEMENT_ERRORS = (sa_exc.IntegrityError, sa_exc.DataError, sa_exc.ProgrammingError)
# The database's own modules: an OSError raised in them is the database out of reach.
_DATABASE_MODULES = ("asyncpg.", "aiosqlite.", "sqlalchemy.pool.", "sqlalchemy.engine.")


def database_unavailable(exc: BaseException) -> str | None:
    """A short reason if ``exc`` means the database cannot be reached or used right now;
    None if it is any other failure (a refusal, a bug).

    The API answers the first with 503 (core/problems.py), /readyz reports it. The
    reason names the error's kind, never its message (addresses, user names): it is
    shown to any caller.
    """
    if isinstance(exc, sa_exc.TimeoutError):
        return "no database connection became free in time"
    if isinstance(exc, sa_exc.DBAPIError):
        orig = exc.orig
        sqlstate = str(getattr(orig, "sqlstate", None) or "")
        sqlite_code = str(getattr(orig, "sqlite_errorname", None) or "")
        if (
            exc.connection_invalidated
            # Refused while connecting (e.g. "database is not accepting connections").
            or (exc.statement is None and not isinstance(exc, _STATEMENT_ERRORS))
            or sqlstate[:2] in _UNAVAILABLE_SQLSTATE_CLASSES
            or sqlite_code.removeprefix("SQLITE_").startswith(_UNAVAILABLE_SQLITE_CODES)
            # No schema at all (never migrated, or the file replaced).
            or (sqlite_code == "SQLITE_ERROR" and "no such table" in str(orig))
        ):
            code = sqlite_code or (f"SQLSTATE {sqlstate}" if sqlstate else type(orig).__name__)
            return f"the database cannot be used ({code})"
        return None
    if isinstance(exc, OSError):
        tb = exc.__traceback__
        while tb is not None:
            module = str(tb.tb_frame.f_globals.get("__name__", ""))
            if module.startswith(_DATABASE_MODULES):
                return f"the database cannot be reached ({type(exc).__name__})"
            tb = tb.tb_next
    return None
