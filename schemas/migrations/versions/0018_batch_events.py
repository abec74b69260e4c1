"""The audit trail: `batch_events` (append-only) and `upload_droppers`.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07

`batch_events` (schemas/tables_audit.py): one row per thing that happened to a batch, with who,
when, through which door, the approval version and, on PostgreSQL, the database session_user.
Nobody may change the past: a trigger refuses UPDATE and DELETE (PostgreSQL: a plpgsql function
raising an exception; SQLite: BEFORE UPDATE / BEFORE DELETE triggers with RAISE(ABORT)).
`upload_droppers`: who dropped which bytes (`npnflow drop --by`), for the four-eyes rule of
config/approvers.yaml. Issue 19.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY_MESSAGE = "batch_events is append-only: an event is never updated or deleted"


def upgrade() -> None:
    op.create_table(
        "batch_events",
        sa.Column(
            "event_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("batch_id", sa.String(), nullable=False),
        sa.Column("event", sa.String(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("door", sa.String(), nullable=False),
        sa.Column("db_session_user", sa.Text(), nullable=True),
        sa.Column("approval_version", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_batch_events")),
    )
    op.create_index("ix_batch_events_batch_id", "batch_events", ["batch_id", "event_id"])
    op.create_table(
        "upload_droppers",
        sa.Column("content_sha256", sa.String(), nullable=False),
        sa.Column("dropped_by", sa.Text(), nullable=False),
        sa.Column("object_key", sa.Text(), nullable=False),
        sa.Column("dropped_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "content_sha256", "dropped_by", name=op.f("pk_upload_droppers")
        ),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION batch_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER batch_events_append_only BEFORE UPDATE OR DELETE ON batch_events "
            "FOR EACH ROW EXECUTE FUNCTION batch_events_append_only()"
        )
        # TRUNCATE is not a row operation: a statement trigger refuses it too.
        op.execute(
            "CREATE TRIGGER batch_events_no_truncate BEFORE TRUNCATE ON batch_events "
            "FOR EACH STATEMENT EXECUTE FUNCTION batch_events_append_only()"
        )
    else:
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER batch_events_no_{operation.lower()} BEFORE {operation} ON "
                f"batch_events BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS batch_events_no_truncate ON batch_events")
        op.execute("DROP TRIGGER IF EXISTS batch_events_append_only ON batch_events")
        op.execute("DROP FUNCTION IF EXISTS batch_events_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS batch_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS batch_events_no_delete")
    op.drop_table("upload_droppers")
    op.drop_index("ix_batch_events_batch_id", table_name="batch_events")
    op.drop_table("batch_events")
