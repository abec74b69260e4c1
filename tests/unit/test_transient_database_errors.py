"""Which database errors are worth a retry (`resources.database.is_transient_database_error`).

Real SQLite errors from an in-memory database shared by two connections (no file): one holds
the write lock, the other is refused. PostgreSQL's are in
tests/integration/test_transient_database_errors.py, against a real server.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from resources.database import is_transient_database_error


@pytest.fixture
def two_connections() -> Iterator[tuple[sqlite3.Connection, sqlite3.Connection]]:
    name = f"file:{uuid.uuid4().hex}?mode=memory&cache=shared"
    first = sqlite3.connect(name, uri=True, timeout=0.05, isolation_level=None)
    second = sqlite3.connect(name, uri=True, timeout=0.05, isolation_level=None)
    first.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    first.execute("INSERT INTO t VALUES (1)")
    yield first, second
    second.close()
    first.close()


def _raised(connection: sqlite3.Connection, sql: str) -> sqlite3.Error:
    with pytest.raises(sqlite3.Error) as raised:
        connection.execute(sql)
    return raised.value


def _as_sqlalchemy(orig: sqlite3.Error, **flags: bool) -> sa.exc.DBAPIError:
    # What SQLAlchemy raises around a driver's error.
    cls = (
        sa.exc.IntegrityError
        if isinstance(orig, sqlite3.IntegrityError)
        else sa.exc.OperationalError
    )
    return cls("INSERT INTO t VALUES (2)", {}, orig, **flags)


def test_a_write_lock_held_by_another_connection_is_transient(two_connections):
    first, second = two_connections
    first.execute("BEGIN IMMEDIATE")
    first.execute("INSERT INTO t VALUES (2)")
    locked = _raised(second, "INSERT INTO t VALUES (3)")
    assert "locked" in str(locked)
    assert is_transient_database_error(_as_sqlalchemy(locked))


def test_errors_that_come_back_every_time_are_not_transient(two_connections):
    first, _ = two_connections
    missing = _raised(first, "SELECT * FROM no_such_table")
    duplicate = _raised(first, "INSERT INTO t VALUES (1)")
    assert not is_transient_database_error(_as_sqlalchemy(missing))
    assert not is_transient_database_error(_as_sqlalchemy(duplicate))
    assert not is_transient_database_error(RuntimeError("database is locked"))  # no driver error


def test_a_lost_connection_is_transient_whatever_the_driver_said(two_connections):
    first, _ = two_connections
    missing = _raised(first, "SELECT * FROM no_such_table")
    assert is_transient_database_error(_as_sqlalchemy(missing, connection_invalidated=True))


def test_an_error_raised_from_a_transient_one_is_transient(two_connections):
    first, second = two_connections
    first.execute("BEGIN IMMEDIATE")
    first.execute("INSERT INTO t VALUES (2)")
    locked = _as_sqlalchemy(_raised(second, "INSERT INTO t VALUES (3)"))
    try:
        try:
            raise locked
        except sa.exc.OperationalError as error:
            raise ValueError("could not record the upload") from error
    except ValueError as wrapped:
        assert is_transient_database_error(wrapped)
