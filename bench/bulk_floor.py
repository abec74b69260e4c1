"""The floor of the bulk-write benchmarks: rows already in the database's own form, written
back into their (freshly emptied) tables the cheapest way each backend has.

SQLite: the rows read back as the sqlite3 driver holds them (plain tuples, dates and
timestamps as the stored text), then one `executemany` per table. PostgreSQL: each table
copied out with `COPY ... TO STDOUT` into memory, then `COPY ... FROM STDIN` back. Nothing of
the application is on this path: no pandas, no type conversion, no SQLAlchemy statement.
"""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa


def snapshot(engine: sa.Engine, tables: Sequence[str]) -> dict[str, Any]:
    """Each table's rows in the driver's own form (tuples, or COPY text on PostgreSQL)."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        taken: dict[str, Any] = {}
        for name in tables:
            if engine.dialect.name == "postgresql":
                buffer = io.StringIO()
                cursor.copy_expert(f'COPY "{name}" TO STDOUT', buffer)
                taken[name] = buffer.getvalue()
            else:
                cursor.execute(f'SELECT * FROM "{name}"')
                taken[name] = ([d[0] for d in cursor.description], cursor.fetchall())
        raw.commit()
        return taken
    finally:
        raw.close()


def empty(engine: sa.Engine, tables: Sequence[str]) -> None:
    """Empty `tables` as if new, so the floor pays no dead rows or index entries of the
    path's write: TRUNCATE on PostgreSQL; on SQLite, DELETE (children first: name them
    parents first) and VACUUM."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            names = ", ".join(f'"{name}"' for name in tables)
            connection.exec_driver_sql(f"TRUNCATE {names} CASCADE")
            for name in tables:
                connection.exec_driver_sql(f'ANALYZE "{name}"')
        return
    with engine.begin() as connection:
        for name in reversed(tables):
            connection.exec_driver_sql(f'DELETE FROM "{name}"')
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM")


def write(engine: sa.Engine, taken: dict[str, Any]) -> float:
    """Seconds to write the snapshot back (parents first), in one transaction, committed."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        started = time.perf_counter()
        for name, rows in taken.items():
            if engine.dialect.name == "postgresql":
                cursor.copy_expert(f'COPY "{name}" FROM STDIN', io.StringIO(rows))
            else:
                columns, tuples = rows
                marks = ", ".join("?" for _ in columns)
                cursor.executemany(f'INSERT INTO "{name}" VALUES ({marks})', tuples)
        raw.commit()
        return time.perf_counter() - started
    finally:
        raw.close()


def rows_in(taken: dict[str, Any]) -> dict[str, int]:
    return {
        name: (rows.count("\n") if isinstance(rows, str) else len(rows[1]))
        for name, rows in taken.items()
    }
