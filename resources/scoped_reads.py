"""Reading producer-scoped tables for a set of NPNs, on the caller's connection, by a join.

The requested NPNs go into a temporary table of the caller's connection (one per scope, with a
name of its own, dropped when the scope ends), filled the cheapest way the driver knows
(`COPY` on PostgreSQL; on SQLite, one statement from a JSON array); every table is then read with
`SELECT t.* FROM <table> t JOIN <scope> r ON r.npn = t.npn`. One plan whatever the number of
NPNs: ten or a whole book, the database walks its npn-leading keys, and nothing outside the
scope is ever read into Python (a long `IN (...)` list is slow to bind and plan, and reading
the whole table to filter it in pandas costs the book's memory).

Inside the caller's transaction, so the reads share it with the write that follows them; the
scope's table is visible to that connection only and is dropped when the scope ends.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from operator import itemgetter
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from pandas.core.internals.construction import convert_object_array
from sqlalchemy.engine import Connection

from resources.column_values import copy_text_rows
from schemas.tables import metadata

SCOPE_TABLE_PREFIX = "npn_scope_"
_FETCH_ROWS = 50_000  # rows per fetch: bounded driver buffers, few round trips


class NpnScope:
    """The requested NPNs (and, when given, the requested (NPN, state) pairs) as temporary
    tables of one connection; `read` (a book's worth, a chunk at a time), `objects` and `rows`
    (a read bounded by the caller's input, in one fetch) join a table to them."""

    def __init__(self, connection: Connection, name: str, *, with_states: bool) -> None:
        self.connection = connection
        self.name = name
        self._npns = sa.table(name, sa.column("npn", sa.String))
        self._pairs = (
            sa.table(f"{name}_states", sa.column("npn", sa.String), sa.column("state_code"))
            if with_states
            else None
        )

    def _select(
        self, name: str, columns: Iterable[str] | None, where: Any, by_state: bool
    ) -> tuple[sa.Select[Any], list[sa.Column[Any]]]:
        """The SELECT of table `name`'s rows (it has an `npn` column) of the scope's NPNs, and
        its columns: every column, or these; `where` (a condition on the table's columns)
        narrows the rows further in SQL; `by_state`: only the rows of the requested (NPN,
        state) pairs (the table has a `state_code` column; a scope made without states reads
        all the NPNs' rows)."""
        table = metadata.tables[name]
        selected = [table.c[c] for c in columns] if columns else list(table.c)
        if by_state and self._pairs is not None:
            pairs = self._pairs
            on = sa.and_(pairs.c.npn == table.c.npn, pairs.c.state_code == table.c.state_code)
            statement = sa.select(*selected).join_from(table, pairs, on)
        else:
            statement = sa.select(*selected).join_from(
                table, self._npns, self._npns.c.npn == table.c.npn
            )
        return (statement if where is None else statement.where(where)), selected

    def read(
        self,
        name: str,
        columns: Iterable[str] | None = None,
        *,
        where: Any = None,
        by_state: bool = False,
    ) -> pd.DataFrame:
        """The rows of table `name` of the scope's NPNs (`_select` says which) as `read_table`
        returns them, read a chunk of rows at a time (a book's worth may be asked for)."""
        return _frame(self.connection, *self._select(name, columns, where, by_state))

    def objects(self, name: str, columns: Iterable[str] | None = None) -> pd.DataFrame:
        """The rows of table `name` of the scope's NPNs as object columns holding the values as
        SQLAlchemy gives them (`read_object_frame`): for a read bounded by the caller's own
        input, such as the producers of an uploaded file."""
        return read_object_frame(self.connection, *self._select(name, columns, None, False))

    def rows(self, name: str, columns: Iterable[str] | None = None) -> list[tuple[Any, ...]]:
        """The rows of table `name` of the scope's NPNs as plain tuples (`read_rows`)."""
        return read_rows(self.connection, *self._select(name, columns, None, False))


def _frame(
    connection: Connection, statement: sa.Select[Any], selected: list[sa.Column[Any]]
) -> pd.DataFrame:
    """The statement's rows as `read_table` returns them: the same values, built into a frame
    the same way (pandas from a list of tuples), at a fraction of the time and memory."""
    return _from_columns([c.name for c in selected], read_columns(connection, statement, selected))


def read_columns(
    connection: Connection, statement: sa.Select[Any], selected: Iterable[sa.ColumnElement[Any]]
) -> list[list[Any]]:
    """The statement's result, one list per selected column, holding the values SQLAlchemy's
    result rows hold (its own converters applied), read at a fraction of the time and memory.

    - The driver's plain tuples, fetched a chunk at a time (PostgreSQL: a server-side
      cursor), not SQLAlchemy's result rows, which cost more than the read itself at a book's
      size. The columns SQLAlchemy converts (dates and booleans on SQLite, ...) go through
      SQLAlchemy's own converters, one column at a time.
    - Equal values share one object: a driver returns a new string for every cell, and a
      book's state codes, line codes, class codes and NPNs repeat on millions of rows
      (a third of the memory of the frames a whole book's request reads).
    """
    selected = list(selected)
    dialect = connection.dialect
    text, parameters = _driver_statement(connection, statement)
    # Column by column: the driver's rows turned into columns once, never back into rows.
    columns: list[list[Any]] = [[] for _ in selected]
    # One dict of shared values per column: across columns 1, 1.0 and True are one key.
    shared: list[dict[Any, Any]] = [{} for _ in selected]
    server_side = dialect.name == "postgresql"
    dbapi_connection = connection.connection
    cursor = (
        dbapi_connection.cursor(f"{SCOPE_TABLE_PREFIX}read")
        if server_side
        else dbapi_connection.cursor()
    )
    try:
        cursor.execute(text, parameters)
        converters: list[Any] | None = None
        while chunk := cursor.fetchmany(_FETCH_ROWS):
            if converters is None:
                # The driver's type of each column, as SQLAlchemy passes it to its converter.
                converters = _converters(dialect, selected, cursor.description)
            for at, (column, same, convert) in enumerate(
                zip(columns, shared, converters, strict=True)
            ):
                # One column of the chunk by `itemgetter`: less than half of `zip(*chunk)`.
                values = list(map(itemgetter(at), chunk))
                if convert is not None:
                    values = list(map(convert, values))
                column.extend(map(same.setdefault, values, values))
    finally:
        cursor.close()
    return columns


def _driver_statement(connection: Connection, statement: sa.Select[Any]) -> tuple[str, Any]:
    """The statement's text and parameters as the driver takes them: expanding parameters
    (IN lists) rendered as plain ones, so the driver runs the text as it is."""
    compiled = statement.compile(
        dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
    )
    parameters: Any = compiled.params
    if compiled.positiontup is not None:
        parameters = tuple(compiled.params[key] for key in compiled.positiontup)
    return str(compiled), parameters


def _converters(
    dialect: sa.Dialect, selected: Sequence[sa.ColumnElement[Any]], description: Any
) -> list[Any]:
    """SQLAlchemy's converter of each selected column's driver values (None where it takes
    them as they are), given the driver's type of each column as SQLAlchemy passes it."""
    return [
        c.type.dialect_impl(dialect).result_processor(dialect, d[1])
        for c, d in zip(selected, description, strict=True)
    ]


def _fetch_all(
    connection: Connection,
    statement: sa.Select[Any],
    selected: Sequence[sa.ColumnElement[Any]],
    probe_keys: bool,
) -> tuple[list[tuple[Any, ...]], list[Any]]:
    """Every row of the statement as the driver's plain tuples (one client-side fetch), and
    the columns' converters."""
    text, parameters = _driver_statement(connection, statement)
    cursor = connection.connection.cursor()
    try:
        with index_probes(cursor, probe_keys and connection.dialect.name == "postgresql"):
            cursor.execute(text, parameters)
            rows = list(cursor.fetchall())
            # Taken here: putting the planner's settings back runs a statement of its own.
            description = cursor.description
        return rows, _converters(connection.dialect, selected, description)
    finally:
        cursor.close()


def read_rows(
    connection: Connection,
    statement: sa.Select[Any],
    selected: Sequence[sa.ColumnElement[Any]],
    *,
    probe_keys: bool = False,
) -> list[tuple[Any, ...]]:
    """The statement's rows as plain tuples of the values SQLAlchemy's rows hold (its
    converter of a column applied to that column's values, where it has one), from one
    client-side fetch, without a SQLAlchemy row object per row (building them costs more than
    the read). For a read bounded by the caller's own input, compared or indexed row by row;
    a book's worth goes through `read_columns`. `probe_keys`: `index_probes` on PostgreSQL."""
    rows, converters = _fetch_all(connection, statement, selected, probe_keys)
    if not rows or not any(converters):
        return rows
    columns = [
        list(map(convert, values)) if convert is not None else values
        for values, convert in zip(zip(*rows, strict=True), converters, strict=True)
    ]
    return list(zip(*columns, strict=True))


def read_object_frame(
    connection: Connection,
    statement: sa.Select[Any],
    selected: Sequence[sa.ColumnElement[Any]],
    *,
    probe_keys: bool = False,
) -> pd.DataFrame:
    """`read_rows` as a frame of object columns holding the values as they are (no dtype
    inferred: the caller compares them with values of its own)."""
    rows, converters = _fetch_all(connection, statement, selected, probe_keys)
    frame = object_frame([str(c.name) for c in selected], rows)
    for column, convert in zip(selected, converters, strict=True):
        if convert is not None and len(frame):
            name = str(column.name)
            frame[name] = pd.Series(
                list(map(convert, frame[name])), index=frame.index, dtype=object
            )
    return frame


def object_frame(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> pd.DataFrame:
    """Rows as a frame of object columns holding the values as they are."""
    if not rows:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    # Plain tuples: pandas builds the frame in C (a SQLAlchemy row would be probed for
    # named-tuple fields one at a time).
    plain = rows if isinstance(rows[0], tuple) else [tuple(row) for row in rows]
    return pd.DataFrame(plain, columns=list(columns), dtype=object)


@contextmanager
def index_probes(cursor: Any, wanted: bool) -> Iterator[None]:
    """PostgreSQL, for one statement: a nested loop over the keys probing the table's
    primary key, not a hash join over a scan of the whole table. The planner prices the
    probes of a day's thousands of keys above a scan of a table of a few hundred thousand
    rows (cached, the scan is 3 to 5 times slower: 160-250 ms against 35-70 ms per table at
    700k rows), and the scan grows with the book while the day does not.

    Sequential scans are turned off too: with only the join methods turned off, the planner
    may still put the whole table on the outside of the loop and probe the keys for each of
    its rows (`appointments`, whose four-column key is probed by its (npn, state) prefix:
    253k rows looped over, 180 ms, where probing the key for the day's 5,000 scopes takes
    20 ms). The keys' own table is then read through its primary key, which costs nothing at
    its size. The settings are the transaction's (`set_config(..., true)`) and put back as
    they were right after."""
    if not wanted:
        yield
        return
    names = ("enable_hashjoin", "enable_mergejoin", "enable_seqscan")
    cursor.execute("SELECT " + ", ".join(f"current_setting('{n}')" for n in names))
    before = cursor.fetchone()
    cursor.execute("SELECT " + ", ".join(f"set_config('{n}', 'off', true)" for n in names))
    try:
        yield
    finally:
        cursor.execute(
            "SELECT " + ", ".join(f"set_config('{n}', %s, true)" for n in names), tuple(before)
        )


def _from_columns(names: list[str], columns: list[list[Any]]) -> pd.DataFrame:
    """The frame pandas builds from the rows (`pd.DataFrame(rows, columns=names)`): the same
    dtype inference, each column an object array of its own (no rows to transpose)."""
    if not columns or not columns[0]:
        return pd.DataFrame([], columns=names)
    arrays = []
    for values in columns:
        array = np.empty(len(values), dtype=object)
        array[:] = values
        arrays.append(array)
    # The conversion pandas applies to the columns of a list of rows (its own function).
    converted = convert_object_array(arrays, dtype=None)
    return pd.DataFrame(dict(zip(names, converted, strict=True)), columns=names, copy=False)


def create_key_table(
    connection: Connection, name: str, columns: tuple[str, ...], rows: list[tuple[str, ...]]
) -> None:
    """A temporary table of these text columns (together the primary key), filled with these
    rows of text values (none missing); `name` is the caller's own, never user input."""
    listed = ", ".join(columns)
    if connection.dialect.name == "postgresql":
        typed = ", ".join(f"{c} VARCHAR" for c in columns)
        connection.exec_driver_sql(f"CREATE TEMPORARY TABLE {name} ({typed})")
        if rows:
            data = io.StringIO(copy_text_rows(rows))
            cursor = connection.connection.cursor()
            try:
                cursor.copy_expert(f"COPY {name} ({listed}) FROM STDIN", data)
            finally:
                cursor.close()
        # The key made after the rows are in: one sort, at half the cost of inserting each
        # of 100,000 keys into the index as it is copied.
        connection.exec_driver_sql(f"ALTER TABLE {name} ADD PRIMARY KEY ({listed})")
        if rows:
            # The planner's row estimate of a fresh temporary table is a guess: a few rows
            # or a book's worth decide between an index walk and a hash join.
            connection.exec_driver_sql(f"ANALYZE {name}")
        return
    # One statement that creates and fills the table from a JSON array bound as one
    # parameter. Not CREATE then INSERT: Python's sqlite3 opens a transaction before an INSERT,
    # and the reads after it would then hold the database's read lock until the caller's
    # commit, where the caller's reads ran without one: two callers that read and then write
    # (a JIT release) would deadlock on the write lock, "database is locked".
    values = ", ".join(
        f"CAST(json_extract(value, '$[{i}]') AS TEXT) AS {c}" for i, c in enumerate(columns)
    )
    connection.exec_driver_sql(
        f"CREATE TEMP TABLE {name} AS SELECT DISTINCT {values} FROM json_each(?)",
        (json.dumps(rows),),
    )
    connection.exec_driver_sql(f"CREATE UNIQUE INDEX temp.{name}_key ON {name} ({listed})")


def drop_key_table(connection: Connection, name: str) -> None:
    schema = "" if connection.dialect.name == "postgresql" else "temp."
    connection.exec_driver_sql(f"DROP TABLE IF EXISTS {schema}{name}")


def _text(value: Any) -> str | None:
    return None if value is None or not str(value) else str(value)


@contextmanager
def npn_scope(
    connection: Connection, npns: Iterable[Any], state_codes: Iterable[Any] | None = None
) -> Iterator[NpnScope]:
    """A temporary table of these NPNs (distinct, text; None and '' left out) on `connection`,
    for as long as the `with` block runs; `NpnScope.read` reads a table's rows for them.

    `state_codes`, one per NPN (a request's state): also a table of the (NPN, state) pairs,
    for `read(..., by_state=True)`."""
    npns = [_text(n) for n in npns]
    name = f"{SCOPE_TABLE_PREFIX}{uuid.uuid4().hex}"
    created: list[str] = []
    try:
        create_key_table(connection, name, ("npn",), [(n,) for n in sorted(set(npns) - {None})])
        created.append(name)
        if state_codes is not None:
            pairs = {
                (n, s)
                for n, s in zip(npns, map(_text, state_codes), strict=True)
                if n is not None and s is not None
            }
            create_key_table(connection, f"{name}_states", ("npn", "state_code"), sorted(pairs))
            created.append(f"{name}_states")
        yield NpnScope(connection, name, with_states=state_codes is not None)
    except BaseException:
        # Dropped where the connection still can (a Python error); after a failed statement
        # the transaction's rollback removes them (PostgreSQL, and SQLite inside a transaction).
        for table in created:
            with suppress(sa.exc.SQLAlchemyError):
                drop_key_table(connection, table)
        raise
    for table in created:
        drop_key_table(connection, table)


def read_for_npns(connection: Connection, name: str, npns: Iterable[Any]) -> pd.DataFrame:
    """A producer-scoped table's rows for these NPNs only (the table has an `npn` column)."""
    with npn_scope(connection, npns) as scope:
        return scope.read(name)
