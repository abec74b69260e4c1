"""The rows a current-state quality check reads, and what the database answers for it.

A check looks at one of two scopes:

- the scopes a daily sync run applied (`CheckScope.days`): in the run that applied PDB Alerts
  days, each table's check validates the rows of the (npn, state_code) scopes those days
  applied, so the checks cost what the day changed, not the book;
- the whole table (`CheckScope.whole_table()`): in a run of the checks alone (on demand, or
  the weekly schedule), every row.

Which scopes a run applied: the `nipr_scope_reports` rows whose `report_date` is one of the
days the run applied. Applying a day writes a ledger row for every scope it applies (changed
or merely re-reported) with that day as `report_date`, in the same transaction as the rows
themselves; a scope the day skipped as older keeps the newer day's `report_date`, and an
Entity Info sync records none. So these are exactly the scopes whose rows the run wrote (or
confirmed), read back from what the transaction committed. The Application's in-memory
`changed_scopes` would be a subset (it leaves out re-reported scopes), but it lives in another
step's process and is gone by the time the checks run.

The scopes go into a temporary table, and the rows are read by joining it on the database.
Every key of these tables starts with (npn, state_code) (producers: npn), so the rows of a
scope hold every row of the table with the same key: key uniqueness checked over them is key
uniqueness across the whole table for those keys. The database answers what needs every row
at once, and the rows reach pandas in parts of `PART_ROWS`, so memory stays bounded whatever
the table:
- duplicate keys: for the day's scopes, none when the live table's primary key is the key (the
  database refused them); otherwise, and always for the whole table (the weekly check then
  verifies the constraint itself), GROUP BY ... HAVING;
- the table's row count: the daily apply step's own count when the caller has it, else
  SELECT count(*).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assets.nipr.parsing import APPOINTMENTS, DEMOGRAPHICS, LICENSING
from assets.nipr.quality import KeyDuplicates
from resources.scoped_reads import index_probes
from schemas.expectations import TABLE_KEYS
from schemas.tables import metadata, nipr_scope_reports

__all__ = ["PART_ROWS", "CheckScope", "ScopedRows", "scoped_rows"]

PART_ROWS = 100_000  # rows per frame handed to Great Expectations
DUPLICATE_SAMPLE = 5

CATEGORY_OF_TABLE = {
    "producers": DEMOGRAPHICS,
    "licenses": LICENSING,
    "license_loas": LICENSING,
    "appointments": APPOINTMENTS,
}
# The columns a table's rows are joined to its scopes on.
SCOPE_COLUMNS = {
    "producers": ("npn",),
    "licenses": ("npn", "state_code"),
    "license_loas": ("npn", "state_code"),
    "appointments": ("npn", "state_code"),
}
_SCOPE_TABLE = "npnflow_checked_scopes"


@dataclass(frozen=True)
class CheckScope:
    """The report days whose applied scopes are checked; None: the whole table."""

    days: tuple[dt.date, ...] | None

    @classmethod
    def whole_table(cls) -> CheckScope:
        return cls(None)

    @classmethod
    def of_days(cls, days: Sequence[dt.date]) -> CheckScope:
        return cls(tuple(sorted(set(days))))


@dataclass
class ScopedRows:
    """What a check needs of its table, within its scope."""

    table: str
    scope: CheckScope
    scope_count: int | None  # scopes checked (None: the whole table)
    table_row_count: int  # every row of the table (the day-over-day bound)
    duplicates: KeyDuplicates
    _connection: Connection
    _query: sa.Select[Any]

    def parts(self, columns: Sequence[str]) -> Iterator[pd.DataFrame]:
        """The scope's rows, `columns` only, in frames of at most PART_ROWS rows."""
        source = metadata.tables[self.table]
        names = [name for name in columns if name in source.c]
        query = self._query.with_only_columns(*(source.c[name] for name in names))
        # On the statement, not the connection: a connection's options stay with it, and
        # every later statement would go through a server-side cursor too.
        # The day's scopes on PostgreSQL: the table's key probed per scope, not a hash join
        # over a scan of the whole table (resources/scoped_reads.py::index_probes says why).
        probes = self.scope.days is not None and self._connection.dialect.name == "postgresql"
        settings = self._connection.connection.cursor()
        with closing(settings), index_probes(settings, probes):
            result = self._connection.execute(
                query.execution_options(stream_results=True, yield_per=PART_ROWS)
            )
            for rows in result.partitions(PART_ROWS):
                # Plain tuples: pandas probes each SQLAlchemy row for named-tuple fields,
                # which costs more than the rows themselves.
                yield pd.DataFrame([tuple(row) for row in rows], columns=names)

    def describe(self, rows_checked: int) -> str:
        if self.scope.days is None:
            return f"whole table, rows: {rows_checked:,}"
        days = ", ".join(day.isoformat() for day in self.scope.days) or "none"
        return f"changed scopes: {self.scope_count:,} (report days {days}), rows: {rows_checked:,}"


@contextmanager
def scoped_rows(
    connection: Connection, table: str, scope: CheckScope, table_row_count: int | None = None
) -> Iterator[ScopedRows]:
    """The rows of `table` within `scope`, on the caller's connection (and transaction: the
    temporary table of scopes lives as long as the `with`). `table_row_count`: the table's
    rows when the caller knows them (else SELECT count(*))."""
    source = metadata.tables[table]
    if table_row_count is None:
        table_row_count = connection.execute(
            sa.select(sa.func.count()).select_from(source)
        ).scalar_one()
    if scope.days is None:
        query: sa.Select[Any] = sa.select(*source.c)
        yield ScopedRows(
            table,
            scope,
            None,
            table_row_count,
            _duplicates(connection, query, table),
            connection,
            query,
        )
        return
    scopes = _scope_table(table)
    _drop_scopes(connection)
    scopes.create(connection)
    try:
        scope_count = _fill_scopes(connection, scopes, table, scope.days)
        joined = source.join(
            scopes, sa.and_(*(source.c[name] == scopes.c[name] for name in SCOPE_COLUMNS[table]))
        )
        query = sa.select(*source.c).select_from(joined)
        yield ScopedRows(
            table,
            scope,
            scope_count,
            table_row_count,
            _KEY_HELD_BY_PRIMARY_KEY
            if _primary_key_is_the_key(connection, table)
            else _duplicates(connection, query, table),
            connection,
            query,
        )
    finally:
        # PostgreSQL drops it when the transaction ends (ON COMMIT DROP; a rollback undoes the
        # CREATE), and a failed transaction there would refuse the DROP and hide the error.
        if connection.dialect.name == "sqlite":
            _drop_scopes(connection)


def _scope_table(table: str) -> sa.Table:
    # Its own MetaData: a temporary table is no part of the schema (nor of its migrations).
    return sa.Table(
        _SCOPE_TABLE,
        sa.MetaData(),
        *(sa.Column(name, sa.String, primary_key=True) for name in SCOPE_COLUMNS[table]),
        prefixes=["TEMPORARY"],
        postgresql_on_commit="drop",
    )


def _drop_scopes(connection: Connection) -> None:
    # Plain SQL: SQLAlchemy would put the table's TEMPORARY prefix before DROP as well. SQLite
    # keeps a temporary table for the life of the (pooled) connection, so it goes explicitly
    # (and first, in case a connection still holds one from a process that died mid-check).
    connection.execute(sa.text(f"DROP TABLE IF EXISTS {_SCOPE_TABLE}"))


def _fill_scopes(
    connection: Connection, scopes: sa.Table, table: str, days: Sequence[dt.date]
) -> int:
    columns = SCOPE_COLUMNS[table]
    applied = (
        sa.select(*(nipr_scope_reports.c[name] for name in columns))
        .where(nipr_scope_reports.c.category == CATEGORY_OF_TABLE[table])
        .where(nipr_scope_reports.c.report_date.in_(list(days)))
        .distinct()
    )
    connection.execute(sa.insert(scopes).from_select(list(columns), applied))
    # A new temporary table has no statistics: without them both planners guess it large and
    # scan the whole table it is joined to (SQLite, 50k producers: 0.37 s instead of 0.001 s).
    connection.execute(sa.text(f"ANALYZE {_SCOPE_TABLE}"))
    count: int = connection.execute(sa.select(sa.func.count()).select_from(scopes)).scalar_one()
    return count


#: No key held twice: the database's own primary key constraint refuses a second row.
_KEY_HELD_BY_PRIMARY_KEY = KeyDuplicates(rows=0)


def _primary_key_is_the_key(connection: Connection, table: str) -> bool:
    """The live table's primary key is exactly the checked key, so the database has already
    refused every duplicate. Read from the database, not from our metadata: a table restored
    without its constraints would not be taken on trust. The day's checks rely on it; the
    weekly whole-table checks still count by GROUP BY, so the constraint itself is verified."""
    found = sa.inspect(connection).get_pk_constraint(table).get("constrained_columns") or []
    return sorted(found) == sorted(TABLE_KEYS[table])


def _duplicates(connection: Connection, rows: sa.Select[Any], table: str) -> KeyDuplicates:
    """Keys held by more than one of `rows`: how many rows hold them, and a few of them."""
    source = metadata.tables[table]
    key = [source.c[name] for name in TABLE_KEYS[table]]
    held = sa.func.count().label("held")
    groups = rows.with_only_columns(*key, held).group_by(*key).having(sa.func.count() > 1)
    total: int | None = connection.execute(
        sa.select(sa.func.coalesce(sa.func.sum(groups.subquery().c.held), 0))
    ).scalar_one()
    if not total:
        return KeyDuplicates(rows=0)
    sample = connection.execute(groups.order_by(*key).limit(DUPLICATE_SAMPLE)).all()
    width = len(key)
    return KeyDuplicates(
        rows=int(total),
        sample=tuple(
            (row[0] if width == 1 else tuple(row[:width]), int(row[width])) for row in sample
        ),
    )
