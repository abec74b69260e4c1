"""Rows of the NIPR sync tables for a set of NPNs, read by a join on a temporary table.

The NPNs go into a temporary table of the caller's connection (`COPY` on PostgreSQL, one
prepared `executemany` on SQLite), and each table is read with one semi-join, `SELECT t.*
FROM t WHERE t.npn IN (SELECT npn FROM scope)`: one statement per table whatever the number
of NPNs (not one `IN (...)` list per 500 of them), walking the tables' npn-leading primary
keys.

The rows come from the driver's cursor as plain tuples and are turned into columns with
SQLAlchemy's own converter of each column (dates and booleans on SQLite), so the values are
exactly those a `select()` returns, without building a SQLAlchemy row object per row (which
cost more than the read itself, and pandas probes each one for fields it does not have).
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

__all__ = ["NpnJoin", "npn_join", "object_frame"]

TEMPORARY_TABLE_PREFIX = "nipr_npns_"
# Up to this many NPNs, an IN list: a temporary table's DDL (and ANALYZE) costs more than
# binding a short list; one statement per table either way.
LISTED_NPNS = 100


def _copy_text(value: str) -> str:
    """A value in PostgreSQL's COPY text format (backslash, tab and line ends escaped)."""
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def object_frame(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> pd.DataFrame:
    """Rows as a frame of object columns holding the values as they are."""
    if not rows:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    # Plain tuples: pandas builds the frame in C (a SQLAlchemy row would be probed for
    # named-tuple fields one at a time).
    plain = rows if isinstance(rows[0], tuple) else [tuple(row) for row in rows]
    return pd.DataFrame(plain, columns=list(columns), dtype=object)


class NpnJoin:
    """A temporary table of NPNs on one connection (`read` joins a table to it), or, for a
    few NPNs, the NPNs themselves (`read` filters by an `IN` list)."""

    def __init__(self, connection: Connection, name: str | None, npns: Sequence[str]) -> None:
        self.connection = connection
        self.npns = sa.table(name or "", sa.column("npn", sa.String))
        self._listed = None if name else list(npns)

    def _select(self, table: sa.Table, selected: list[sa.Column[Any]]) -> sa.Select[Any]:
        if self._listed is not None:
            return sa.select(*selected).where(table.c.npn.in_(self._listed))
        # A semi-join (IN a subquery) rather than a JOIN: SQLite's planner, which has no
        # statistics of the temporary table, would scan the whole table and probe the NPNs;
        # this way both databases walk the table's npn-leading key for each NPN.
        return sa.select(*selected).where(table.c.npn.in_(sa.select(self.npns.c.npn)))

    def read(self, table: sa.Table, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The rows of `table` (it has an `npn` column) of the joined NPNs: every column,
        or these, as object columns holding what SQLAlchemy's `select` would return."""
        selected = [table.c[c] for c in columns] if columns else list(table.c)
        dialect = self.connection.dialect
        # IN lists rendered as plain bound parameters, so the driver runs the text as is.
        compiled = self._select(table, selected).compile(
            dialect=dialect, compile_kwargs={"render_postcompile": True}
        )
        parameters: Any = compiled.params
        if compiled.positiontup is not None:
            parameters = tuple(compiled.params[key] for key in compiled.positiontup)
        cursor = self.connection.connection.cursor()
        try:
            cursor.execute(str(compiled), parameters)
            rows = cursor.fetchall()
            description = cursor.description
        finally:
            cursor.close()
        frame = object_frame([c.name for c in selected], rows)
        for column, described in zip(selected, description, strict=True):
            convert = column.type.dialect_impl(dialect).result_processor(dialect, described[1])
            if convert is not None and len(frame):
                frame[column.name] = pd.Series(
                    list(map(convert, frame[column.name])), index=frame.index, dtype=object
                )
        return frame

    def npns_in(self, table: sa.Table) -> set[str]:
        """Which of the joined NPNs have a row in `table`."""
        return set(self.connection.execute(self._select(table, [table.c.npn])).scalars())


@contextmanager
def npn_join(connection: Connection, npns: Sequence[str]) -> Iterator[NpnJoin]:
    """`npns` (distinct strings) as a temporary table of `connection` while the block runs,
    inside the caller's transaction; dropped at its end (a few NPNs: no table, an IN list)."""
    if len(npns) <= LISTED_NPNS:
        yield NpnJoin(connection, None, npns)
        return
    # The name is generated here (a prefix and hex digits), never user input.
    name = f"{TEMPORARY_TABLE_PREFIX}{uuid.uuid4().hex[:16]}"
    postgres = connection.dialect.name == "postgresql"
    created = False
    try:
        if postgres:
            connection.exec_driver_sql(f"CREATE TEMPORARY TABLE {name} (npn VARCHAR PRIMARY KEY)")
            created = True
            cursor = connection.connection.cursor()
            try:
                text = "".join(f"{_copy_text(n)}\n" for n in npns)
                cursor.copy_expert(f"COPY {name} (npn) FROM STDIN", io.StringIO(text))
            finally:
                cursor.close()
            # A fresh temporary table has no statistics: the planner would guess its size.
            connection.exec_driver_sql(f"ANALYZE {name}")
        else:
            connection.exec_driver_sql(f"CREATE TEMP TABLE {name} (npn TEXT PRIMARY KEY)")
            created = True
            if npns:
                connection.exec_driver_sql(
                    f"INSERT INTO temp.{name} (npn) VALUES (?)", [(n,) for n in npns]
                )
        yield NpnJoin(connection, name, npns)
    finally:
        if created:
            # After a failed statement the transaction's rollback removes it instead.
            with suppress(sa.exc.SQLAlchemyError):
                connection.exec_driver_sql(
                    f"DROP TABLE IF EXISTS {'' if postgres else 'temp.'}{name}"
                )
