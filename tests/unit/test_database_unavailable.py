"""Which failures mean "the database is away" (503) and which are anything else.

The outages themselves are produced for real in tests/api/test_readiness.py; here the
line between the two is kept: a bad statement or a conflict never hides behind a 503.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy import exc as sa_exc

from services.engine.core.db import database_unavailable


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


def _sqlite(message: str, name: str) -> sqlite3.OperationalError:
    err = sqlite3.OperationalError(message)
    err.sqlite_errorname = name
    return err


def test_connection_failures_are_the_database_away() -> None:
    for sqlstate in ("08006", "3D000", "28P01", "53300", "57P01", "57P03"):
        err = sa_exc.DBAPIError("SELECT 1", {}, _PgError(sqlstate))
        assert database_unavailable(err) == f"the database cannot be used (SQLSTATE {sqlstate})"
    refused_on_connect = sa_exc.DBAPIError(None, None, _PgError("55000"))
    assert database_unavailable(refused_on_connect)
    dropped = sa_exc.DBAPIError("SELECT 1", {}, _PgError("XX000"), connection_invalidated=True)
    assert database_unavailable(dropped)
    assert database_unavailable(sa_exc.TimeoutError("pool"))
    cannot_open = _sqlite("unable to open database file", "SQLITE_CANTOPEN")
    assert database_unavailable(sa_exc.OperationalError("SELECT 1", {}, cannot_open))
    locked = _sqlite("database is locked", "SQLITE_BUSY")
    assert database_unavailable(sa_exc.OperationalError("SELECT 1", {}, locked))


def test_other_failures_are_not() -> None:
    conflict = sa_exc.IntegrityError("INSERT", {}, _PgError("23505"))
    assert database_unavailable(conflict) is None
    at_commit = sa_exc.IntegrityError(None, None, _PgError("23503"))
    assert database_unavailable(at_commit) is None
    out_of_range = sa_exc.DataError("SELECT", {}, _PgError("22003"))
    assert database_unavailable(out_of_range) is None
    bad_column = _sqlite("no such column: x", "SQLITE_ERROR")
    assert database_unavailable(sa_exc.OperationalError("SELECT x", {}, bad_column)) is None
    # An OSError of the engine's own (a file, a socket to a partner) is not the database.
    try:
        open("/nonexistent/jiaohao/voice.wav", "rb")  # noqa: SIM115
    except OSError as err:
        assert database_unavailable(err) is None
    assert database_unavailable(ValueError("x")) is None
