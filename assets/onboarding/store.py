"""Reading and writing producers, agencies and producer assignments for onboarding.

Every function takes an open connection, so the caller decides the transaction: the upload
assets write everything of one upload in one. Bulk statements only (the rows through
resources/bulk_writes.py, upserts as one INSERT ... SELECT ... ON CONFLICT from a staging
table), so a 100,000-row file loads in seconds on either backend.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assets.onboarding.onboarding import EXISTING_COLUMNS, OnboardingPlan
from resources.bulk_writes import delete_keys, insert_frame, staged_rows, upsert_frame
from schemas.tables import agencies, producer_assignments, producers

# Bound parameters per IN list: far below SQLite's 32,766 and PostgreSQL's 65,535.
_CHUNK = 5_000


def _chunks(values: Sequence[str], size: int = _CHUNK) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


def read_existing_producers(connection: Connection, npns: Sequence[str]) -> pd.DataFrame:
    columns = [producers.c[name] for name in EXISTING_COLUMNS]
    wanted = sorted(set(npns))
    rows: list[tuple[Any, ...]] = []
    if len(wanted) <= _CHUNK:
        result = connection.execute(sa.select(*columns).where(producers.c.npn.in_(wanted)))
        rows.extend(tuple(row) for row in result)
    else:
        # Many NPNs (a whole agent file): joined from a staging table, one statement.
        with staged_rows(connection, producers, pd.DataFrame({"npn": wanted})) as staged:
            result = connection.execute(
                sa.select(*columns).join(staged, staged.c.npn == producers.c.npn)
            )
            rows.extend(tuple(row) for row in result)
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
    """Write a plan: new agencies, producers upserted, assignments of the named NPNs replaced."""
    upsert_frame(connection, agencies, plan.agencies, ["agency_npn"])
    # created_at is set on insert only; every other planned column is the producer's new state.
    update = [c for c in plan.producers.columns if c not in ("npn", "created_at")]
    upsert_frame(connection, producers, plan.producers, ["npn"], update)
    replaced = pd.DataFrame({"npn": list(plan.replace_assignments_for)}, dtype=object)
    delete_keys(connection, producer_assignments, replaced)
    insert_frame(connection, producer_assignments, plan.assignments)
