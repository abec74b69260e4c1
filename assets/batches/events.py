"""The audit trail of batches: `batch_events`, append-only (issue 19, docs/security.md).

Every function takes the caller's SQLAlchemy `Connection`: an event is written in the SAME
database transaction as the change it records, so a rolled-back change leaves no event and an
event never exists without its change. Nothing here (or anywhere) updates or deletes an event;
the database refuses it too (migration 0018's triggers).

`who` is the name the door was given (`--by NAME`, the Launchpad config's name, a sensor's or
job's name, the upload's dropper); on PostgreSQL the database's `session_user` of the writing
connection is stored beside it, so a name typed by someone is kept next to the login that wrote
it. SQLite has no logins: NULL there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

# Who dropped a file is the uploads' ledger; re-exported for the batch doors that read it.
from assets.uploads.droppers import droppers_of_upload as droppers_of_upload
from assets.uploads.droppers import record_dropper as record_dropper
from schemas import statuses
from schemas.tables import TABLES

MAX_DETAIL = 1000  # characters kept of a detail: a sentence, not a report


@dataclass(frozen=True)
class BatchEvent:
    """One event to record: what happened to which batch, who did it, through which door."""

    batch_id: str
    event: str
    who: str
    door: str
    approval_version: int
    detail: str = ""


def session_user(connection: Connection) -> str | None:
    """PostgreSQL's session_user (the login, whatever role was SET since); None elsewhere."""
    if connection.dialect.name != "postgresql":
        return None
    return str(connection.execute(sa.text("SELECT session_user")).scalar_one())


def record_events(connection: Connection, events: Iterable[BatchEvent], now: dt.datetime) -> int:
    """Insert the events, in order, in the caller's transaction; returns how many."""
    rows = list(events)
    for event in rows:
        if event.event not in statuses.BATCH_EVENTS:
            raise ValueError(f"unknown batch event {event.event!r}")
        if event.door not in statuses.EVENT_DOORS:
            raise ValueError(f"unknown door {event.door!r}")
    if not rows:
        return 0
    login = session_user(connection)
    connection.execute(
        TABLES["batch_events"].insert(),
        [
            {
                "batch_id": e.batch_id,
                "event": e.event,
                "occurred_at": now,
                # Never blank: the door names itself when no person's name was given.
                "actor": (e.who or "").strip() or e.door,
                "door": e.door,
                "db_session_user": login,
                "approval_version": int(e.approval_version),
                "detail": (e.detail or "")[:MAX_DETAIL] or None,
            }
            for e in rows
        ],
    )
    return len(rows)


def record_event(connection: Connection, event: BatchEvent, now: dt.datetime) -> None:
    record_events(connection, [event], now)


#: The columns `batch_history` returns, in order.
HISTORY_COLUMNS: tuple[str, ...] = (
    "event_id",
    "occurred_at",
    "event",
    "door",
    "actor",
    "db_session_user",
    "approval_version",
    "detail",
)


def batch_history(connection: Connection, batch_id: str) -> Sequence[sa.Row[tuple[object, ...]]]:
    """The batch's events in the order they were written."""
    events = TABLES["batch_events"]
    return connection.execute(
        sa.select(*(events.c[name] for name in HISTORY_COLUMNS))
        .where(events.c.batch_id == batch_id)
        .order_by(events.c.event_id)
    ).all()
