"""Reading and writing producers, agencies and producer assignments for onboarding.

Every function takes an open connection, so the caller decides the transaction: the upload
assets write everything of one upload in one. Bulk statements only (executemany of plain
dicts, upserts through the dialect's ON CONFLICT), so a 100,000-row file loads in seconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as postgresql_dml
from sqlalchemy.dialects import sqlite as sqlite_dml
from sqlalchemy.engine import Connection

from assets.onboarding.onboarding import EXISTING_COLUMNS, OnboardingPlan
from schemas.tables import agencies, producer_assignments, producers

# Bound parameters per IN list: far below SQLite's 32,766 and PostgreSQL's 65,535.
_CHUNK = 5_000


def _chunks(values: Sequence[str], size: int = _CHUNK) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Plain dicts for executemany: missing values as None, numpy scalars as Python ones."""
    names = [str(c) for c in frame.columns]
    columns = [
        frame[name].astype(object).where(frame[name].notna(), None).tolist() for name in names
    ]
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


def read_existing_producers(connection: Connection, npns: Sequence[str]) -> pd.DataFrame:
    columns = [producers.c[name] for name in EXISTING_COLUMNS]
    parts: list[sa.Row[Any]] = []
    for chunk in _chunks(sorted(set(npns))):
        result = connection.execute(sa.select(*columns).where(producers.c.npn.in_(chunk)))
        parts.extend(result.fetchall())
    return pd.DataFrame(parts, columns=list(EXISTING_COLUMNS))


def read_existing_agencies(connection: Connection, agency_npns: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(sorted(set(agency_npns))):
        found.update(
            connection.execute(
                sa.select(agencies.c.agency_npn).where(agencies.c.agency_npn.in_(chunk))
            ).scalars()
        )
    return found


def _insert_for(
    connection: Connection, table: sa.Table
) -> sqlite_dml.Insert | postgresql_dml.Insert:
    """The dialect's INSERT, which has ON CONFLICT (both spell it the same)."""
    dialect = connection.dialect.name
    if dialect == "sqlite":
        return sqlite_dml.insert(table)
    if dialect == "postgresql":
        return postgresql_dml.insert(table)
    raise NotImplementedError(f"no upsert for the {dialect} dialect")  # pragma: no cover


def upsert(
    connection: Connection,
    table: sa.Table,
    rows: list[dict[str, Any]],
    keys: Sequence[str],
    update: Sequence[str] | None = None,
) -> None:
    """Insert `rows`; on a key conflict update the `update` columns (none: leave the row)."""
    if not rows:
        return
    statement = _insert_for(connection, table)
    if update:
        statement = statement.on_conflict_do_update(
            index_elements=list(keys), set_={c: statement.excluded[c] for c in update}
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=list(keys))
    connection.execute(statement, rows)


def write_onboarding(connection: Connection, plan: OnboardingPlan) -> None:
    """Write a plan: new agencies, producers upserted, assignments of the named NPNs replaced."""
    upsert(connection, agencies, records(plan.agencies), ["agency_npn"])
    producer_rows = records(plan.producers)
    # created_at is set on insert only; every other planned column is the producer's new state.
    update = [c for c in plan.producers.columns if c not in ("npn", "created_at")]
    upsert(connection, producers, producer_rows, ["npn"], update)
    for chunk in _chunks(plan.replace_assignments_for):
        connection.execute(
            producer_assignments.delete().where(producer_assignments.c.npn.in_(chunk))
        )
    assignment_rows = records(plan.assignments)
    if assignment_rows:
        connection.execute(producer_assignments.insert(), assignment_rows)
