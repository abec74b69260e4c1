"""Reading and writing producers, agencies and producer assignments for onboarding.

Every function takes an open connection, or an NPN scope on one (resources/scoped_reads.py:
the file's NPNs staged once for every read of them), so the caller decides the transaction: the upload
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
from resources.bulk_writes import delete_keys, insert_frame, upsert_frame, upsert_new_frame
from resources.scoped_reads import NpnScope
from schemas.tables import agencies, producer_assignments, producers

_ASSIGNMENT_KEY = tuple(c.name for c in producer_assignments.primary_key.columns)
_ASSIGNMENT_NPN = ASSIGNMENT_COLUMNS.index("npn")
# Bound parameters per IN list: far below SQLite's 32,766 and PostgreSQL's 65,535.
_CHUNK = 5_000


def _chunks(values: Sequence[str], size: int = _CHUNK) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


def read_existing_producers(scope: NpnScope) -> pd.DataFrame:
    """The stored producers among the scope's NPNs, `EXISTING_COLUMNS`, as object columns
    holding the stored values (compared with the planned ones as they are)."""
    return scope.objects(producers.name, EXISTING_COLUMNS)


def read_existing_agencies(connection: Connection, agency_npns: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(sorted(set(agency_npns))):
        found.update(
            connection.execute(
                sa.select(agencies.c.agency_npn).where(agencies.c.agency_npn.in_(chunk))
            ).scalars()
        )
    return found


def write_onboarding(scope: NpnScope, plan: OnboardingPlan) -> None:
    """Write a plan: new agencies, producers upserted, assignments of the named NPNs replaced.
    `scope`: the NPNs of the file the plan was made from (`replace_assignments_for` among
    them), on the connection to write with; their stored assignments are read through it.
    Only what differs from the stored rows is written: a roster uploaded again, or a file
    that changes a few producers, rewrites those few (PostgreSQL writes a new version of every
    updated row and its index entries, even when the values are the same)."""
    connection = scope.connection
    upsert_frame(connection, agencies, plan.agencies, ["agency_npn"])
    # created_at is set on insert only; every other planned column is the producer's new state.
    update = [c for c in plan.producers.columns if c not in ("npn", "created_at")]
    to_write = plan.producers_to_write
    stored = to_write["npn"].isin(plan.known_npns)
    upsert_frame(connection, producers, to_write[stored], ["npn"], update)
    upsert_new_frame(connection, producers, to_write[~stored], ["npn"], update)
    _replace_assignments(scope, plan)


def _replace_assignments(scope: NpnScope, plan: OnboardingPlan) -> None:
    """The named NPNs' assignments become the plan's: of a known producer, the stored rows the
    plan does not hold are deleted and the planned rows not stored inserted; a new producer's
    are deleted (none are expected) and inserted."""
    connection = scope.connection
    known = {npn for npn in plan.replace_assignments_for if npn in plan.known_npns}
    new = [npn for npn in plan.replace_assignments_for if npn not in plan.known_npns]
    planned = plan.assignments.reindex(columns=list(ASSIGNMENT_COLUMNS))
    if known:
        # The stored rows as plain tuples, compared with the planned ones as they are.
        stored_rows = [
            row
            for row in scope.rows(producer_assignments.name, ASSIGNMENT_COLUMNS)
            if row[_ASSIGNMENT_NPN] in known
        ]
        planned_rows = _row_tuples(planned)
        wanted = set(planned_rows)
        stale = pd.DataFrame(
            [row for row in stored_rows if row not in wanted],
            columns=list(ASSIGNMENT_COLUMNS),
            dtype=object,
        )
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
