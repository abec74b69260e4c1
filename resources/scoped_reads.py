"""Reading producer-scoped tables for a set of NPNs, on the caller's connection, by a join.

The requested NPNs go into a temporary table of the caller's connection (one per scope, with a
name of its own, dropped when the scope ends), filled the cheapest way the driver knows
(`COPY` on PostgreSQL, one prepared `executemany` on SQLite); every table is then read with
`SELECT t.* FROM <table> t JOIN <scope> r ON r.npn = t.npn`. One plan whatever the number of
NPNs: ten or a whole book, the database walks its npn-leading keys, and nothing outside the
scope is ever read into Python (a long `IN (...)` list is slow to bind and plan, and reading
the whole table to filter it in pandas costs the book's memory).

Inside the caller's transaction, so the reads share it with the write that follows them; the
scope's table is visible to that connection only and is dropped when the scope ends.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from schemas.tables import metadata

SCOPE_TABLE_PREFIX = "npn_scope_"
_FETCH_ROWS = 50_000  # rows per fetch: bounded driver buffers, few round trips


def _copy_text(value: str) -> str:
    """A value in PostgreSQL's COPY text format (backslash, tab and line ends escaped)."""
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


class NpnScope:
    """The requested NPNs as a temporary table of one connection; `read` joins a table to it."""

    def __init__(self, connection: Connection, name: str) -> None:
        self.connection = connection
        self.name = name
        self._table = sa.table(name, sa.column("npn", sa.String))

    def read(
        self, name: str, columns: Iterable[str] | None = None, *, where: Any = None
    ) -> pd.DataFrame:
        """The rows of table `name` (which has an `npn` column) of the scope's NPNs, as
        `read_table` returns them: every column, or these; `where` (a condition on the
        table's columns) narrows the rows further in SQL."""
        table = metadata.tables[name]
        selected = [table.c[c] for c in columns] if columns else list(table.c)
        statement = sa.select(*selected).join_from(
            table, self._table, self._table.c.npn == table.c.npn
        )
        if where is not None:
            statement = statement.where(where)
        return _frame(self.connection, statement, selected)


def _frame(
    connection: Connection, statement: sa.Select[Any], selected: list[sa.Column[Any]]
) -> pd.DataFrame:
    """The statement's rows as `read_table` returns them: the same values, built into a frame
    the same way (pandas from a list of tuples), at a fraction of the time and memory.

    - The driver's plain tuples, fetched a chunk at a time (PostgreSQL: a server-side
      cursor), not SQLAlchemy's result rows, which cost more than the read itself at a book's
      size. The columns SQLAlchemy converts (dates and booleans on SQLite, ...) go through
      SQLAlchemy's own converters, one column at a time.
    - Equal values share one object: a driver returns a new string for every cell, and a
      book's state codes, line codes, class codes and NPNs repeat on millions of rows
      (a third of the memory of the frames a whole book's request reads).
    """
    dialect = connection.dialect
    # Expanding parameters (IN lists) rendered as plain ones: the driver runs the text.
    compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    parameters: Any = compiled.params
    if compiled.positiontup is not None:
        parameters = tuple(compiled.params[key] for key in compiled.positiontup)
    names = [c.name for c in selected]
    shared: dict[Any, Any] = {}
    one = shared.setdefault
    rows: list[tuple[Any, ...]] = []
    server_side = dialect.name == "postgresql"
    dbapi_connection = connection.connection
    cursor = (
        dbapi_connection.cursor(f"{SCOPE_TABLE_PREFIX}read")
        if server_side
        else dbapi_connection.cursor()
    )
    try:
        cursor.execute(str(compiled), parameters)
        converters: list[Any] | None = None
        while chunk := cursor.fetchmany(_FETCH_ROWS):
            if converters is None:
                # The driver's type of each column, as SQLAlchemy passes it to its converter.
                converters = [
                    c.type.dialect_impl(dialect).result_processor(dialect, d[1])
                    for c, d in zip(selected, cursor.description, strict=True)
                ]
            columns = []
            for convert, values in zip(converters, zip(*chunk, strict=True), strict=True):
                if convert is not None:
                    values = tuple(map(convert, values))
                columns.append(map(one, values, values))
            rows.extend(zip(*columns, strict=True))
    finally:
        cursor.close()
    return pd.DataFrame(rows, columns=names)


def _create(connection: Connection, name: str, npns: list[str]) -> None:
    # The name is generated here (a prefix and hex digits), never user input.
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"CREATE TEMPORARY TABLE {name} (npn VARCHAR PRIMARY KEY)")
        if npns:
            data = io.StringIO("".join(_copy_text(n) + "\n" for n in npns))
            cursor = connection.connection.cursor()
            try:
                cursor.copy_expert(f"COPY {name} (npn) FROM STDIN", data)
            finally:
                cursor.close()
            # The planner's row estimate of a fresh temporary table is a guess: a few rows
            # or a book's worth decide between an index walk and a hash join.
            connection.exec_driver_sql(f"ANALYZE {name}")
        return
    connection.exec_driver_sql(f"CREATE TEMP TABLE {name} (npn TEXT PRIMARY KEY)")
    if npns:
        connection.exec_driver_sql(
            f"INSERT INTO temp.{name} (npn) VALUES (?)", [(n,) for n in npns]
        )


def _drop(connection: Connection, name: str) -> None:
    schema = "" if connection.dialect.name == "postgresql" else "temp."
    connection.exec_driver_sql(f"DROP TABLE IF EXISTS {schema}{name}")


@contextmanager
def npn_scope(connection: Connection, npns: Iterable[Any]) -> Iterator[NpnScope]:
    """A temporary table of these NPNs (distinct, text; None and '' left out) on `connection`,
    for as long as the `with` block runs; `NpnScope.read` reads a table's rows for them."""
    wanted = sorted({str(n) for n in npns if n is not None and str(n)})
    name = f"{SCOPE_TABLE_PREFIX}{uuid.uuid4().hex}"
    _create(connection, name, wanted)
    try:
        yield NpnScope(connection, name)
    except BaseException:
        # Dropped where the connection still can (a Python error); after a failed statement
        # the transaction's rollback removes it (PostgreSQL, and SQLite inside a transaction).
        with suppress(sa.exc.SQLAlchemyError):
            _drop(connection, name)
        raise
    _drop(connection, name)


def read_for_npns(connection: Connection, name: str, npns: Iterable[Any]) -> pd.DataFrame:
    """A producer-scoped table's rows for these NPNs only (the table has an `npn` column)."""
    with npn_scope(connection, npns) as scope:
        return scope.read(name)
