"""Reading and writing producers, agencies and producer assignments for onboarding.

Every function takes an open connection, so the caller decides the transaction: the upload
assets write everything of one upload in one. Bulk statements only (the rows through
resources/bulk_writes.py: upserts as one INSERT ... SELECT ... ON CONFLICT from a staging
table, new producers copied straight in on PostgreSQL), and only what differs from the stored
rows (decision 0037), so a 100,000-row file loads in seconds on either backend.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assets.onboarding.onboarding import ASSIGNMENT_COLUMNS, EXISTING_COLUMNS, OnboardingPlan
from resources.bulk_writes import (
    delete_keys,
    insert_frame,
    staged_rows,
    upsert_frame,
    upsert_new_frame,
)
from resources.scoped_reads import read_for_npns
from schemas.tables import agencies, producer_assignments, producers

_ASSIGNMENT_KEY = tuple(c.name for c in producer_assignments.primary_key.columns)
# Bound parameters per IN list: far below SQLite's 32,766 and PostgreSQL's 65,535.
_CHUNK = 5_000


def _chunks(values: Sequence[str], size: int = _CHUNK) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


def read_existing_producers(connection: Connection, npns: Sequence[str]) -> pd.DataFrame:
    columns = [producers.c[name] for name in EXISTING_COLUMNS]
    wanted = sorted(set(npns))
    rows: list[tuple[Any, ...]] = []
    # fetchall, then plain tuples: iterating the result fetches one row per call.
    if len(wanted) <= _CHUNK:
        result = connection.execute(sa.select(*columns).where(producers.c.npn.in_(wanted)))
        rows.extend(tuple(row) for row in result.fetchall())
    else:
        # Many NPNs (a whole agent file): joined from a staging table, one statement.
        with staged_rows(connection, producers, pd.DataFrame({"npn": wanted})) as staged:
            result = connection.execute(
                sa.select(*columns).join(staged, staged.c.npn == producers.c.npn)
            )
            rows.extend(tuple(row) for row in result.fetchall())
    # Plain tuples: pandas probes SQLAlchemy rows for namedtuple fields, row by row.
    return pd.DataFrame(rows, columns=list(EXISTING_COLUMNS))


def read_existing_agencies(connection: Connection, agency_npns: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(sorted(set(agency_npns))):
        found.update(
            connection.execute(
                sa.select(agencies.c.agency_npn).where(agencies.c.agency_npn.in_(chunk))
            ).scalars()
        )
    return found


def write_onboarding(connection: Connection, plan: OnboardingPlan) -> None:
    """Write a plan: new agencies, producers upserted, assignments of the named NPNs replaced.
    Only what differs from the stored rows is written: a roster uploaded again, or a file
    that changes a few producers, rewrites those few (PostgreSQL writes a new version of every
    updated row and its index entries, even when the values are the same)."""
    upsert_frame(connection, agencies, plan.agencies, ["agency_npn"])
    # created_at is set on insert only; every other planned column is the producer's new state.
    update = [c for c in plan.producers.columns if c not in ("npn", "created_at")]
    to_write = plan.producers_to_write
    stored = to_write["npn"].isin(plan.known_npns)
    upsert_frame(connection, producers, to_write[stored], ["npn"], update)
    upsert_new_frame(connection, producers, to_write[~stored], ["npn"], update)
    _replace_assignments(connection, plan)


def _replace_assignments(connection: Connection, plan: OnboardingPlan) -> None:
    """The named NPNs' assignments become the plan's: of a known producer, the stored rows the
    plan does not hold are deleted and the planned rows not stored inserted; a new producer's
    are deleted (none are expected) and inserted."""
    known = [npn for npn in plan.replace_assignments_for if npn in plan.known_npns]
    new = [npn for npn in plan.replace_assignments_for if npn not in plan.known_npns]
    planned = plan.assignments.reindex(columns=list(ASSIGNMENT_COLUMNS))
    if known:
        stored = read_for_npns(connection, producer_assignments.name, known)
        stored_rows = _row_tuples(stored)
        planned_rows = _row_tuples(planned)
        wanted = set(planned_rows)
        stale = stored[[row not in wanted for row in stored_rows]]
        held = set(stored_rows)
        planned = planned[[row not in held for row in planned_rows]]
        delete_keys(connection, producer_assignments, stale[list(_ASSIGNMENT_KEY)])
    delete_keys(connection, producer_assignments, pd.DataFrame({"npn": new}, dtype=object))
    insert_frame(connection, producer_assignments, planned)


def _row_tuples(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    """The rows as tuples of plain values, None for empty, built column by column (a pandas
    string column yields its values one `__getitem__` at a time)."""
    columns: list[list[Any]] = []
    for name in ASSIGNMENT_COLUMNS:
        if name not in frame:
            columns.append([None] * len(frame))
            continue
        values = frame[name].to_numpy(dtype=object, copy=True)
        values[pd.isna(values)] = None
        columns.append(values.tolist())
    return list(zip(*columns, strict=True))
