"""Rows of the NIPR sync tables for a set of NPNs, read by a join on a temporary table.

The NPNs go into a temporary table of the caller's connection (`COPY` on PostgreSQL, one
statement from a JSON array on SQLite: resources/scoped_reads.py::create_key_table), and each
table is read with one semi-join, `SELECT t.* FROM t WHERE t.npn IN (SELECT npn FROM scope)`:
one statement per table whatever the number of NPNs (not one `IN (...)` list per 500 of
them), walking the tables' npn-leading primary keys.

The rows come from the driver's cursor as plain tuples and are turned into columns with
SQLAlchemy's own converter of each column (dates and booleans on SQLite), so the values are
exactly those a `select()` returns, without building a SQLAlchemy row object per row (which
cost more than the read itself, and pandas probes each one for fields it does not have):
resources/scoped_reads.py::read_object_frame, with its `index_probes` on PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from resources.scoped_reads import create_key_table, drop_key_table, read_object_frame

__all__ = ["NpnJoin", "npn_join", "scope_join"]

TEMPORARY_TABLE_PREFIX = "nipr_npns_"
# Up to this many NPNs, an IN list: a temporary table's DDL (and ANALYZE) costs more than
# binding a short list; one statement per table either way.
LISTED_NPNS = 100


class NpnJoin:
    """Keys (NPNs, or (NPN, state) pairs) as a temporary table of one connection (`read`
    joins a table to it), or, for a few keys, the keys themselves (`read` filters by an `IN`
    list)."""

    def __init__(
        self,
        connection: Connection,
        name: str | None,
        columns: tuple[str, ...],
        keys: Sequence[tuple[str, ...]],
    ) -> None:
        self.connection = connection
        self.columns = columns
        self.keys = sa.table(name or "", *(sa.column(c, sa.String) for c in columns))
        self._listed = None if name else list(keys)

    def statement(self, table: sa.Table, selected: Sequence[sa.Column[Any]]) -> sa.Select[Any]:
        """The SELECT of these columns of `table`'s rows of the joined keys."""
        own: Any = (
            table.c[self.columns[0]]
            if len(self.columns) == 1
            else sa.tuple_(*(table.c[c] for c in self.columns))
        )
        if self._listed is not None:
            listed = [key[0] for key in self._listed] if len(self.columns) == 1 else self._listed
            return sa.select(*selected).where(own.in_(listed))
        # A semi-join (IN a subquery) rather than a JOIN: SQLite's planner, which has no
        # statistics of the temporary table, would scan the whole table and probe the keys;
        # this way both databases walk the table's (npn, state)-leading key for each key.
        return sa.select(*selected).where(own.in_(sa.select(*self.keys.c)))

    def read(self, table: sa.Table, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The rows of `table` (it has the key columns) of the joined keys: every column,
        or these, as object columns holding what SQLAlchemy's `select` would return."""
        selected = [table.c[c] for c in columns] if columns else list(table.c)
        return read_object_frame(
            self.connection,
            self.statement(table, selected),
            selected,
            probe_keys=self._listed is None,
        )

    def npns_in(self, table: sa.Table) -> set[str]:
        """Which of the joined NPNs have a row in `table`."""
        return set(self.connection.execute(self.statement(table, [table.c.npn])).scalars())


@contextmanager
def npn_join(connection: Connection, npns: Sequence[str]) -> Iterator[NpnJoin]:
    """`npns` (distinct strings) as a temporary table of `connection` while the block runs,
    inside the caller's transaction; dropped at its end (a few NPNs: no table, an IN list)."""
    with _key_join(connection, ("npn",), [(n,) for n in npns]) as joined:
        yield joined


@contextmanager
def scope_join(connection: Connection, pairs: Sequence[tuple[str, str]]) -> Iterator[NpnJoin]:
    """`npn_join` of (npn, state_code) pairs (distinct): `read` gives the rows of those
    states of those producers only."""
    with _key_join(connection, ("npn", "state_code"), pairs) as joined:
        yield joined


@contextmanager
def _key_join(
    connection: Connection, columns: tuple[str, ...], keys: Sequence[tuple[str, ...]]
) -> Iterator[NpnJoin]:
    if len(keys) <= LISTED_NPNS:
        yield NpnJoin(connection, None, columns, keys)
        return
    # The name is generated here (a prefix and hex digits), never user input.
    name = f"{TEMPORARY_TABLE_PREFIX}{uuid.uuid4().hex[:16]}"
    created = False
    try:
        create_key_table(connection, name, columns, list(keys))
        created = True
        yield NpnJoin(connection, name, columns, keys)
    finally:
        if created:
            # After a failed statement the transaction's rollback removes it instead.
            with suppress(sa.exc.SQLAlchemyError):
                drop_key_table(connection, name)
