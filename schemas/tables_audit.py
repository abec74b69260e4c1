"""Tables of the audit trail (issue 19, docs/security.md).

Defined on `schemas.tables.metadata` (imported at the bottom of `schemas/tables.py`, so the
metadata always holds every table); changed only by Alembic migrations (revision 0018).

- `batch_events`: append-only, one row per thing that happened to a batch (created, approved,
  rejected, retried, released, submitted, answered; `schemas/statuses.py` spells them), written
  in the same database transaction as the change it records (`assets/batches/events.py`).
  No foreign key to `transaction_batches`: a re-evaluated upload replaces its unapproved batches,
  and the events of the replaced ones stay. On PostgreSQL a trigger refuses UPDATE and DELETE
  (migration 0018); on SQLite a trigger does the same with RAISE(ABORT).
- `upload_droppers`: who dropped a file's bytes (`npnflow drop --by NAME`), by content hash, so
  `four_eyes` in config/approvers.yaml can keep them from approving its batches.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, String, Table, Text

from schemas.tables import metadata

batch_events = Table(
    "batch_events",
    metadata,
    # BIGINT on PostgreSQL, INTEGER (the rowid) on SQLite: the order events were written in.
    Column(
        "event_id",
        BigInteger().with_variant(Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    Column("batch_id", String, nullable=False),
    Column("event", String, nullable=False),  # statuses.BATCH_EVENTS
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    # The name given: --by, the Launchpad config, a sensor or job, the upload's dropper.
    Column("actor", Text, nullable=False),
    Column("door", String, nullable=False),  # statuses.EVENT_DOORS
    # PostgreSQL's session_user of the writing connection; NULL on SQLite. Not named
    # `session_user`: that is a reserved word there, and an unquoted query would read the function.
    Column("db_session_user", Text, nullable=True),
    Column("approval_version", Integer, nullable=False),
    Column("detail", Text, nullable=True),
    Index("ix_batch_events_batch_id", "batch_id", "event_id"),
)

upload_droppers = Table(
    "upload_droppers",
    metadata,
    Column("content_sha256", String, primary_key=True),
    Column("dropped_by", Text, primary_key=True),
    Column("object_key", Text, nullable=False),
    Column("dropped_at", DateTime(timezone=True), nullable=False),
)
