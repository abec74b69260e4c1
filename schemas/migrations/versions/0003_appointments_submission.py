"""Appointments and submission: request rejections, and what a submission needs to record.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24

- `request_rejections`: request rows that created no transaction (SPEC section 6 step 1), so
  every request row's outcome is on record.
- `transactions`: `upload_id`, `auto_submit` (the request's Submit / Submit Just In Time),
  `nipr_trans` (NIPR's transaction id) and `submission_chunk` (the attempt that last sent it).
- `submission_attempts`: `transaction_count`, `answered_at` and `error_message`, so the
  ledger shows what each Gateway call carried and how it ended.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "request_rejections",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("upload_id", sa.String(), nullable=True),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("request_row", sa.Integer(), nullable=True),
        sa.Column("npn", sa.String(), nullable=True),
        sa.Column("state_code", sa.String(), nullable=True),
        sa.Column("cocode", sa.String(), nullable=True),
        sa.Column("loa_category", sa.String(), nullable=True),
        sa.Column("loa_code", sa.String(), nullable=True),
        sa.Column("eligibility_reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["upload_id"],
            ["uploads.upload_id"],
            name=op.f("fk_request_rejections_upload_id_uploads"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_rejections")),
    )
    op.create_index(op.f("ix_request_rejections_upload_id"), "request_rejections", ["upload_id"])
    with op.batch_alter_table("transactions") as batch:
        batch.add_column(sa.Column("upload_id", sa.String(), nullable=True))
        batch.add_column(sa.Column("auto_submit", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("nipr_trans", sa.String(), nullable=True))
        batch.add_column(sa.Column("submission_chunk", sa.Integer(), nullable=True))
    with op.batch_alter_table("submission_attempts") as batch:
        batch.add_column(sa.Column("transaction_count", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("error_message", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("submission_attempts") as batch:
        batch.drop_column("error_message")
        batch.drop_column("answered_at")
        batch.drop_column("transaction_count")
    with op.batch_alter_table("transactions") as batch:
        batch.drop_column("submission_chunk")
        batch.drop_column("nipr_trans")
        batch.drop_column("auto_submit")
        batch.drop_column("upload_id")
    op.drop_index(op.f("ix_request_rejections_upload_id"), table_name="request_rejections")
    op.drop_table("request_rejections")
