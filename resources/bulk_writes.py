"""Frames into tables the fast way, inside the caller's SQLAlchemy transaction.

One path for every bulk write (issue 17): cells are converted column by column, by the
column's SQL type (`resources/column_values.py`: vectorised numpy/pandas operations wherever
the frame's dtype allows, the per-cell conversion of `frame_to_rows` only as the fallback for
mixed object columns), and then sent the cheapest way each backend offers:

- PostgreSQL: `COPY ... FROM STDIN` in text format on the raw psycopg2 cursor of the caller's
  connection (one round trip per chunk instead of one statement per row), its rows converted
  a piece at a time as the driver sends them;
- SQLite: one prepared `executemany` of plain tuples on the raw sqlite3 cursor, the values
  already in the form SQLAlchemy's SQLite types would have bound them (dates and timestamps as
  ISO text, decimals as floats, booleans as 0/1).

The values that reach the database are the same as through `table.insert()` with
`frame_to_rows` (tests/unit/test_bulk_writes.py writes every column type both ways).

Upserts and deletes by many keys go through a temporary staging table: the rows are written
to it with the fast path, then one `INSERT ... SELECT ... ON CONFLICT` (or one `DELETE ...
WHERE (keys) IN (SELECT ...)`) does the rest on the database. SQLite upserts skip the staging
table: its prepared `INSERT ... ON CONFLICT` by executemany is already one pass in process.
"""

from __future__ import annotations

import io
import itertools
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from resources.column_values import copy_column, driver_value, sqlite_column

# Rows converted and sent at a time: bounds the memory of the converted values and of a COPY
# buffer while keeping the number of round trips small.
CHUNK_ROWS = 50_000

# Rows converted to COPY text at a time within one chunk's COPY (see `_CopyPieces`): large
# enough that the conversion stays vectorised, small enough that the server always has the
# previous piece to store meanwhile.
COPY_PIECE_ROWS = 10_000

# Below this many keys a delete needs no staging table (its create, fill and drop cost a few
# statements): one IN list for a single key column, an executemany of DELETEs for several
# (as `write_application` clears a producer's few states during a sync).
STAGED_DELETE_MIN_KEYS = 2_000


def _quoted(connection: Connection, name: str) -> str:
    return str(connection.dialect.identifier_preparer.quote(name))


def _driver_cursor(connection: Connection) -> Any:
    """A raw DBAPI cursor of the caller's connection, so the rows share its transaction."""
    return connection.connection.driver_connection.cursor()  # type: ignore[union-attr]


def _check_columns(frame: pd.DataFrame, table: sa.Table) -> list[sa.Column[Any]]:
    unknown = [c for c in frame.columns if c not in table.c]
    if unknown:
        raise ValueError(f"table {table.name} has no column(s) {', '.join(map(str, unknown))}")
    return [table.c[str(name)] for name in frame.columns]


def insert_frame(
    connection: Connection, table: sa.Table, frame: pd.DataFrame, *, chunk_rows: int = CHUNK_ROWS
) -> int:
    """Insert every row of `frame` (its columns named as `table`'s) into `table`, in the
    caller's transaction; returns the rows written. Columns the frame lacks get the table's
    server defaults."""
    return _write_frame(connection, table, frame, chunk_rows=chunk_rows)


def _write_frame(
    connection: Connection,
    table: sa.Table,
    frame: pd.DataFrame,
    *,
    chunk_rows: int = CHUNK_ROWS,
    sqlite_on_conflict: str = "",
) -> int:
    columns = _check_columns(frame, table)
    if frame.empty:
        return 0
    if connection.dialect.name == "postgresql":
        write: Callable[[Any, pd.DataFrame], None] = _copier(connection, table, columns)
    elif connection.dialect.name == "sqlite":
        write = _sqlite_writer(connection, table, columns, sqlite_on_conflict)
    else:  # pragma: no cover - npnflow runs on SQLite and PostgreSQL only
        raise NotImplementedError(f"no bulk insert for the {connection.dialect.name} dialect")
    cursor = _driver_cursor(connection)
    try:
        for start in range(0, len(frame), chunk_rows):
            write(cursor, frame.iloc[start : start + chunk_rows])
    except connection.dialect.loaded_dbapi.Error as error:
        raise _as_sqlalchemy_error(connection, error, cursor, table) from error
    finally:
        cursor.close()
    return len(frame)


def _as_sqlalchemy_error(
    connection: Connection, error: Exception, cursor: Any, table: sa.Table
) -> sa.exc.StatementError:
    """The driver's error as SQLAlchemy raises it for its own statements (IntegrityError,
    OperationalError, ...), so callers and the transient-error retries see one kind."""
    raw = connection.connection.driver_connection
    return sa.exc.DBAPIError.instance(
        f"bulk insert into {table.name}",
        None,
        error,
        connection.dialect.loaded_dbapi.Error,
        connection_invalidated=connection.dialect.is_disconnect(error, raw, cursor),  # type: ignore[arg-type]
        dialect=connection.dialect,
    )


class _CopyPieces:
    """The file `copy_expert` reads a COPY's data from: each `read` converts the next piece of
    rows to COPY text only then. The driver sends a piece as soon as it has it, so the server
    stores one piece while this process converts the next, on the other core; converting the
    whole chunk first left the server idle meanwhile (154,000 transactions: 15 to 25% less
    time). A conversion error is kept, to be raised as itself: the driver reports it only as
    a cancelled COPY."""

    def __init__(self, pieces: Iterator[str]) -> None:
        self._pieces = pieces
        self.error: Exception | None = None

    def read(self, size: int = -1) -> str:
        try:
            return next(self._pieces, "")  # "": the end of the data
        except Exception as error:
            self.error = error
            raise


def _copy_lines(chunk: pd.DataFrame, columns: list[sa.Column[Any]]) -> str:
    fields = [copy_column(chunk[c.name], c.type) for c in columns]
    buffer = io.StringIO()
    buffer.writelines(
        itertools.chain.from_iterable(("\t".join(row), "\n") for row in zip(*fields, strict=True))
    )
    return buffer.getvalue()


def _copier(
    connection: Connection, table: sa.Table, columns: list[sa.Column[Any]]
) -> Callable[[Any, pd.DataFrame], None]:
    names = ", ".join(_quoted(connection, c.name) for c in columns)
    statement = f"COPY {_table_name(connection, table)} ({names}) FROM STDIN"

    def write(cursor: Any, chunk: pd.DataFrame) -> None:
        pieces = _CopyPieces(
            _copy_lines(chunk.iloc[start : start + COPY_PIECE_ROWS], columns)
            for start in range(0, len(chunk), COPY_PIECE_ROWS)
        )
        try:
            cursor.copy_expert(statement, pieces)
        except Exception as error:
            if pieces.error is not None:
                raise pieces.error from error
            raise

    return write


def _sqlite_writer(
    connection: Connection, table: sa.Table, columns: list[sa.Column[Any]], on_conflict: str
) -> Callable[[Any, pd.DataFrame], None]:
    names = ", ".join(_quoted(connection, c.name) for c in columns)
    marks = ", ".join("?" for _ in columns)
    statement = (
        f"INSERT INTO {_table_name(connection, table)} ({names}) VALUES ({marks}){on_conflict}"
    )

    def write(cursor: Any, chunk: pd.DataFrame) -> None:
        values = [sqlite_column(chunk[c.name], c.type) for c in columns]
        cursor.executemany(statement, zip(*values, strict=True))

    return write


def _table_name(connection: Connection, table: sa.Table) -> str:
    name = _quoted(connection, table.name)
    return f"{_quoted(connection, table.schema)}.{name}" if table.schema else name


# --- staging tables ------------------------------------------------------------------------


class _Staging:
    """A temporary table shaped like some of `table`'s columns, dropped on exit."""

    def __init__(self, connection: Connection, table: sa.Table, names: Sequence[str]) -> None:
        self.connection = connection
        self.name = f"stage_{table.name}_{uuid.uuid4().hex[:10]}"  # generated, never input
        self.table = sa.Table(
            self.name, sa.MetaData(), *(sa.Column(n, table.c[n].type) for n in names)
        )
        self.source = table
        self.names = list(names)

    def __enter__(self) -> _Staging:
        columns = ", ".join(_quoted(self.connection, n) for n in self.names)
        self.connection.exec_driver_sql(
            f"CREATE TEMPORARY TABLE {_quoted(self.connection, self.name)} AS "
            f"SELECT {columns} FROM {_table_name(self.connection, self.source)} WHERE 1 = 0"
        )
        return self

    def __exit__(self, error_type: type[BaseException] | None, *_rest: object) -> None:
        # After an error the caller's transaction is rolled back (on PostgreSQL the DROP
        # would fail and hide the error); a table left on a pooled SQLite connection has a
        # name no one else uses and goes with the connection.
        if error_type is None:
            self.connection.exec_driver_sql(f"DROP TABLE {_quoted(self.connection, self.name)}")


@contextmanager
def staged_rows(connection: Connection, table: sa.Table, frame: pd.DataFrame) -> Iterator[sa.Table]:
    """`frame`'s rows in a temporary table shaped like those columns of `table`, for one
    statement to join (a long list of keys without thousands of bound parameters)."""
    _check_columns(frame, table)
    with _Staging(connection, table, [str(c) for c in frame.columns]) as staging:
        insert_frame(connection, staging.table, frame)
        yield staging.table


def _one_row_per_key(frame: pd.DataFrame, keys: list[str], update: list[str]) -> pd.DataFrame:
    """What upserting the rows one by one would leave: the first row of a key inserted, the
    `update` columns of its last row applied over it."""
    if not frame.duplicated(keys).any():
        return frame
    first = frame.drop_duplicates(keys, keep="first").set_index(keys)
    if update:
        last = frame.drop_duplicates(keys, keep="last").set_index(keys)
        first[update] = last.loc[first.index, update]
    return first.reset_index()[list(frame.columns)]


def upsert_frame(
    connection: Connection,
    table: sa.Table,
    frame: pd.DataFrame,
    keys: Sequence[str],
    update: Sequence[str] | None = None,
) -> int:
    """Insert `frame`'s rows; where a row's `keys` already exist, set the `update` columns to
    the frame's values (none: leave the existing row as it is). Returns the frame's distinct
    keys written.

    PostgreSQL: the rows are copied into a staging table, then one INSERT ... SELECT ... ON
    CONFLICT. SQLite: the prepared INSERT ... ON CONFLICT itself, by one executemany of
    plain tuples (in process, a staging table would only write every row twice)."""
    _check_columns(frame, table)
    keys, update = list(keys), list(update or [])
    if frame.empty:
        return 0
    frame = _one_row_per_key(frame, keys, update)
    quote = lambda name: _quoted(connection, name)  # noqa: E731
    columns = ", ".join(quote(str(c)) for c in frame.columns)
    if update:
        action = "DO UPDATE SET " + ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in update)
    else:
        action = "DO NOTHING"
    conflict = f"ON CONFLICT ({', '.join(quote(k) for k in keys)}) {action}"
    if connection.dialect.name == "sqlite":
        return _write_frame(connection, table, frame, sqlite_on_conflict=" " + conflict)
    with _Staging(connection, table, [str(c) for c in frame.columns]) as staging:
        insert_frame(connection, staging.table, frame)
        # `WHERE true`: SQLite would read `ON` as the start of a join constraint without it.
        connection.exec_driver_sql(
            f"INSERT INTO {_table_name(connection, table)} ({columns}) "
            f"SELECT {columns} FROM {quote(staging.name)} WHERE true {conflict}"
        )
    return len(frame)


def upsert_new_frame(
    connection: Connection,
    table: sa.Table,
    frame: pd.DataFrame,
    keys: Sequence[str],
    update: Sequence[str] | None = None,
) -> int:
    """`upsert_frame` of rows the caller read as not stored yet. PostgreSQL: copied straight
    into the table inside a savepoint, each row written once, not into a staging table and
    then again; should one be stored after all (another transaction added it since it was
    read), the savepoint is rolled back and the rows are upserted. SQLite: `upsert_frame`,
    whose prepared upsert is already one pass."""
    if connection.dialect.name != "postgresql" or frame.empty:
        return upsert_frame(connection, table, frame, keys, update)
    try:
        with connection.begin_nested():
            return insert_frame(connection, table, frame)
    except sa.exc.IntegrityError:
        return upsert_frame(connection, table, frame, keys, update)


def delete_keys(connection: Connection, table: sa.Table, keys: pd.DataFrame) -> None:
    """Delete the rows of `table` whose key columns (`keys`' columns) match a row of `keys`:
    few keys by one DELETE (an IN list; keys of several columns: joined as arrays on
    PostgreSQL, one executemany in process on SQLite), many through a staging table and one
    DELETE."""
    names = [str(c) for c in keys.columns]
    _check_columns(keys, table)
    if keys.empty:
        return
    if len(keys) < STAGED_DELETE_MIN_KEYS and len(names) == 1:
        values = keys[names[0]].drop_duplicates().tolist()
        connection.execute(table.delete().where(table.c[names[0]].in_(values)))
        return
    if len(keys) < STAGED_DELETE_MIN_KEYS and connection.dialect.name == "postgresql":
        # One statement joining the keys sent as arrays: psycopg2's executemany is a round trip
        # per key, and an IN list of row values is planned as an OR of them (1,500 keys of a
        # 750,000-row table: 15 ms this way, 55 ms as an IN list).
        rows = keys.drop_duplicates()
        quote = lambda name: _quoted(connection, name)  # noqa: E731
        arrays = ", ".join(
            f"CAST(:k{i} AS {table.c[n].type.compile(dialect=connection.dialect)}[])"
            for i, n in enumerate(names)
        )
        on = " AND ".join(f"t.{quote(n)} = k.{quote(n)}" for n in names)
        connection.execute(
            sa.text(
                f"DELETE FROM {_table_name(connection, table)} AS t "
                f"USING unnest({arrays}) AS k({', '.join(quote(n) for n in names)}) WHERE {on}"
            ),
            {f"k{i}": rows[n].tolist() for i, n in enumerate(names)},
        )
        return
    if len(keys) < STAGED_DELETE_MIN_KEYS:
        connection.execute(
            table.delete().where(*(table.c[n] == sa.bindparam(f"k_{n}") for n in names)),
            [
                {f"k_{n}": v for n, v in zip(names, row, strict=True)}
                for row in keys.itertuples(index=False, name=None)
            ],
        )
        return
    quote = lambda name: _quoted(connection, name)  # noqa: E731
    columns = ", ".join(quote(n) for n in names)
    with _Staging(connection, table, names) as staging:
        insert_frame(connection, staging.table, keys.drop_duplicates())
        connection.exec_driver_sql(
            f"DELETE FROM {_table_name(connection, table)} WHERE ({columns}) IN "
            f"(SELECT {columns} FROM {quote(staging.name)})"
        )


def update_rows(
    connection: Connection, table: sa.Table, frame: pd.DataFrame, keys: Sequence[str]
) -> None:
    """Set the other columns of `frame` on the rows of `table` whose `keys` match a row of
    `frame` (a row matching none is left out, as an UPDATE leaves it). Few rows, or SQLite
    (in process, a prepared statement per row costs no round trip): one executemany of a
    prepared UPDATE. Many rows on a server: a staging table and one UPDATE ... FROM."""
    _check_columns(frame, table)
    keys = list(keys)
    values = [str(c) for c in frame.columns if c not in keys]
    if frame.empty or not values:
        return
    if len(frame) < STAGED_DELETE_MIN_KEYS or connection.dialect.name == "sqlite":
        types = {str(name): table.c[str(name)].type for name in frame.columns}
        rows = [
            {str(name): driver_value(value, types[str(name)]) for name, value in row.items()}
            for row in frame.to_dict("records")
        ]
        connection.execute(
            table.update()
            .where(*(table.c[k] == sa.bindparam(f"k_{k}") for k in keys))
            .values({name: sa.bindparam(f"v_{name}") for name in values}),
            [
                {f"k_{k}": row[k] for k in keys} | {f"v_{name}": row[name] for name in values}
                for row in rows
            ],
        )
        return
    quote = lambda name: _quoted(connection, name)  # noqa: E731
    target = _table_name(connection, table)
    with staged_rows(connection, table, frame) as staging:
        assignments = ", ".join(f"{quote(n)} = s.{quote(n)}" for n in values)
        matches = " AND ".join(f"{target}.{quote(k)} = s.{quote(k)}" for k in keys)
        connection.exec_driver_sql(
            f"UPDATE {target} SET {assignments} FROM {quote(staging.name)} AS s WHERE {matches}"
        )
