"""Reads and writes of the NIPR sync tables, in SQLAlchemy Core, on a caller's Connection.

Every function takes an open `Connection`, so the caller decides the transaction: the daily
sync applies a whole run's days in one, the initial sync one per batch of producers. Values
always go as bound parameters; lists of NPNs are sent in chunks, within every backend's
parameter limit.

Timestamps are written as UTC. SQLite keeps no offset (it hands back naive values, which
mean UTC here); PostgreSQL keeps `timestamptz`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assets.nipr.current_state import (
    DATA_TABLES,
    NAME_COLUMNS,
    SCOPE_REPORT_COLUMNS,
    Application,
    CurrentRows,
    utc_series,
)
from assets.nipr.npn_join import npn_join, scope_join
from resources.bulk_writes import delete_keys, insert_frame, update_rows, upsert_frame
from resources.scoped_reads import object_frame
from schemas.tables import metadata as _metadata
from schemas.tables import nipr_report_days, nipr_scope_reports, nipr_subscriptions, producers

__all__ = [
    "count_rows",
    "producers_to_sync",
    "read_current_rows",
    "read_report_day",
    "read_roster",
    "read_scope_rows",
    "read_subscription_rows",
    "read_tracked_npns",
    "save_report_day",
    "save_subscription_rows",
    "set_sync_status",
    "set_sync_statuses",
    "utc",
    "write_application",
]

_CHUNK = 500  # NPNs per IN (...) list


def utc(value: dt.datetime | pd.Timestamp | None) -> dt.datetime | None:
    """An aware UTC datetime (naive values are taken as UTC, as SQLite returns them)."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def _chunks(values: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), _CHUNK):
        yield list(values[start : start + _CHUNK])


def _frame(result: sa.CursorResult[Any], columns: Sequence[str]) -> pd.DataFrame:
    return object_frame(columns, result.fetchall())


# --------------------------------------------------------------------------------------------
# Current state
# --------------------------------------------------------------------------------------------


def read_tracked_npns(connection: Connection, npns: Iterable[str]) -> set[str]:
    """Which of `npns` are producers we track (have a `producers` row)."""
    wanted = sorted({str(n) for n in npns})
    if not wanted:
        return set()
    with npn_join(connection, wanted) as joined:
        return joined.npns_in(producers)


def read_current_rows(connection: Connection, npns: Iterable[str]) -> CurrentRows:
    """Every current-state row of these producers, and their scope ledger rows: each table
    read by one join on a temporary table of the NPNs."""
    wanted = sorted({str(n) for n in npns})
    with npn_join(connection, wanted) as joined:
        people = joined.read(producers, ["npn", *NAME_COLUMNS])
        tables = {name: joined.read(_metadata.tables[name]) for name in DATA_TABLES}
        scopes = joined.read(nipr_scope_reports)
    return CurrentRows(producers=people, scope_reports=scopes, **tables)


def read_scope_rows(
    connection: Connection, npns: Iterable[str], scopes: Iterable[tuple[str, str]]
) -> CurrentRows:
    """What applying an Alerts report needs of these producers: their names, and the rows
    and scope ledger rows of the reported (npn, state_code) scopes only (an Alerts report
    replaces only the scopes it names; its other states are never read nor written)."""
    wanted = sorted({str(n) for n in npns})
    pairs = sorted({(str(n), str(s)) for n, s in scopes})
    with npn_join(connection, wanted) as joined:
        people = joined.read(producers, ["npn", *NAME_COLUMNS])
    with scope_join(connection, pairs) as joined:
        tables = {name: joined.read(_metadata.tables[name]) for name in DATA_TABLES}
        ledger = joined.read(nipr_scope_reports)
    return CurrentRows(producers=people, scope_reports=ledger, **tables)


def write_application(connection: Connection, application: Application) -> None:
    """Write an `Application`: clear the replaced scopes whose content changed, insert the
    report's rows for them, update names, upsert the scope ledger (every applied scope, so
    the as-of rule sees the report's date). The caller's transaction makes it all or
    nothing."""
    for name in DATA_TABLES:
        table = _metadata.tables[name]
        cleared, inserted = application.rewrites(name)
        delete_keys(connection, table, cleared[["npn", "state_code"]])
        insert_frame(connection, table, inserted)
    updates = application.producer_updates
    if len(updates):
        names = updates[["npn", *NAME_COLUMNS]].astype(object)
        update_rows(
            connection, producers, names.assign(updated_at=dt.datetime.now(dt.UTC)), ["npn"]
        )
    scopes = application.scope_reports
    if len(scopes):
        # Column by column: the bulk writer takes datetime64 columns as they are, where Python
        # datetimes would cost a conversion per cell twice (18,000 scopes on a busy day).
        frame = scopes[list(SCOPE_REPORT_COLUMNS)].assign(
            data_as_of=utc_series(scopes["data_as_of"]),
            applied_at=utc_series(scopes["applied_at"]),
        )
        # An upsert, not a delete and an insert: a scope already in the ledger keeps its place
        # in the key's index, so only its row and its report day's index entry are rewritten
        # (the day's scopes are spread over the whole book: a delete and an insert would
        # dirty twice the pages, and SQLite writes each dirty page at commit).
        keys = ["npn", "state_code", "category"]
        upsert_frame(
            connection,
            nipr_scope_reports,
            frame,
            keys,
            [c for c in SCOPE_REPORT_COLUMNS if c not in keys],
        )


def count_rows(connection: Connection, names: Iterable[str]) -> dict[str, int]:
    return {
        name: connection.execute(
            sa.select(sa.func.count()).select_from(_metadata.tables[name])
        ).scalar_one()
        for name in names
    }


# --------------------------------------------------------------------------------------------
# Producers: initial sync
# --------------------------------------------------------------------------------------------


def producers_to_sync(connection: Connection, statuses: Sequence[str]) -> list[str]:
    """NPNs of producers in one of `statuses` that are not offboarded (is_active not false)."""
    query = (
        sa.select(producers.c.npn)
        .where(producers.c.sync_status.in_(list(statuses)))
        .where(sa.or_(producers.c.is_active.is_(None), producers.c.is_active.is_(True)))
        .order_by(producers.c.npn)
    )
    return list(connection.execute(query).scalars().all())


def set_sync_status(
    connection: Connection, npn: str, status: str, synced_at: dt.datetime | None
) -> None:
    """Set a producer's sync_status; `last_synced_at` only when given (NIPR answered)."""
    values: dict[str, Any] = {"sync_status": status, "updated_at": dt.datetime.now(dt.UTC)}
    if synced_at is not None:
        values["last_synced_at"] = utc(synced_at)
    connection.execute(producers.update().where(producers.c.npn == npn).values(values))


def set_sync_statuses(
    connection: Connection, statuses: Sequence[tuple[str, str, dt.datetime | None]]
) -> None:
    """`set_sync_status` for many producers at once: (npn, status, synced_at) each;
    `last_synced_at` is kept where synced_at is None (NIPR did not answer)."""
    if not statuses:
        return
    stamp = sa.DateTime(timezone=True)
    rows = [(npn, status, utc(synced_at)) for npn, status, synced_at in statuses]
    updated_at = dt.datetime.now(dt.UTC)
    if connection.dialect.name != "postgresql":
        # SQLite runs a prepared executemany in-process, as fast as one statement would be.
        connection.execute(
            producers.update()
            .where(producers.c.npn == sa.bindparam("k_npn"))
            .values(
                sync_status=sa.bindparam("v_status"),
                last_synced_at=sa.func.coalesce(
                    sa.bindparam("v_synced_at", type_=stamp), producers.c.last_synced_at
                ),
                updated_at=updated_at,
            ),
            [{"k_npn": n, "v_status": s, "v_synced_at": t} for n, s, t in rows],
        )
        return
    # PostgreSQL: psycopg2 sends an executemany UPDATE one statement per row; one UPDATE
    # ... FROM (VALUES ...) per few hundred producers is one round trip each.
    for start in range(0, len(rows), _STATUS_CHUNK):
        given = sa.values(
            sa.column("k_npn", sa.String),
            sa.column("v_status", sa.String),
            sa.column("v_synced_at", stamp),
            name="given",
        ).data(rows[start : start + _STATUS_CHUNK])
        connection.execute(
            producers.update()
            .where(producers.c.npn == given.c.k_npn)
            .values(
                sync_status=given.c.v_status,
                # A VALUES column of only NULLs is text to PostgreSQL: cast it back.
                last_synced_at=sa.func.coalesce(
                    sa.cast(given.c.v_synced_at, stamp), producers.c.last_synced_at
                ),
                updated_at=updated_at,
            )
        )


_STATUS_CHUNK = 1000  # producers per UPDATE ... FROM (VALUES ...) statement


def read_roster(connection: Connection) -> pd.DataFrame:
    """npn, is_active, sync_status of every producer."""
    columns = ["npn", "is_active", "sync_status"]
    return _frame(
        connection.execute(sa.select(*(producers.c[c] for c in columns)).order_by(producers.c.npn)),
        columns,
    )


# --------------------------------------------------------------------------------------------
# Report days
# --------------------------------------------------------------------------------------------


def read_report_day(connection: Connection, day: dt.date) -> dict[str, Any] | None:
    row = (
        connection.execute(sa.select(nipr_report_days).where(nipr_report_days.c.report_date == day))
        .mappings()
        .first()
    )
    if row is None:
        return None
    out = dict(row)
    out["raw_object_keys"] = json.loads(out["raw_object_keys"]) if out["raw_object_keys"] else []
    for name in ("fetched_at", "applied_at"):
        out[name] = utc(out[name])
    return out


def save_report_day(connection: Connection, day: dt.date, **values: Any) -> None:
    """Insert or update the ledger row of a report day with `values`."""
    if "raw_object_keys" in values and values["raw_object_keys"] is not None:
        values["raw_object_keys"] = json.dumps(list(values["raw_object_keys"]))
    for name in ("fetched_at", "applied_at"):
        if values.get(name) is not None:
            values[name] = utc(values[name])
    exists = connection.execute(
        sa.select(nipr_report_days.c.report_date).where(nipr_report_days.c.report_date == day)
    ).first()
    if exists is None:
        connection.execute(nipr_report_days.insert().values(report_date=day, **values))
    else:
        connection.execute(
            nipr_report_days.update().where(nipr_report_days.c.report_date == day).values(values)
        )


# --------------------------------------------------------------------------------------------
# Subscriptions
# --------------------------------------------------------------------------------------------

SUBSCRIPTION_COLUMNS = tuple(c.name for c in nipr_subscriptions.columns)


def read_subscription_rows(connection: Connection) -> pd.DataFrame:
    frame = _frame(
        connection.execute(sa.select(nipr_subscriptions).order_by(nipr_subscriptions.c.npn)),
        [c.name for c in nipr_subscriptions.c],
    )
    for name in ("added_at", "removed_at"):
        frame[name] = pd.Series([utc(v) for v in frame[name]], index=frame.index, dtype=object)
    return frame


def save_subscription_rows(connection: Connection, rows: pd.DataFrame) -> int:
    """Insert or replace `nipr_subscriptions` rows (whole rows, keyed by npn)."""
    if rows.empty:
        return 0
    frame = rows[list(SUBSCRIPTION_COLUMNS)].astype(object)
    frame = frame.where(frame.notna(), None)
    frame = frame.assign(
        added_at=[utc(v) for v in frame["added_at"]],
        removed_at=[utc(v) for v in frame["removed_at"]],
    )
    npns = [str(n) for n in frame["npn"]]
    for chunk in _chunks(npns):
        connection.execute(nipr_subscriptions.delete().where(nipr_subscriptions.c.npn.in_(chunk)))
    return insert_frame(connection, nipr_subscriptions, frame)
