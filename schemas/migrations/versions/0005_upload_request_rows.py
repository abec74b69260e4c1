"""Validated request rows stored once: `upload_request_rows`.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06

`core_uploads__validated` writes the valid request rows of an appoint, terminate or
portal_invite upload in the same transaction as the upload's status and counts; the
appointment, termination and portal assets read them by upload id instead of fetching the file
from the bucket and validating it a second time (docs/uploads.md). Agent rows are never stored:
they hold SSNs, and onboarding consumes them in that same transaction.

Uploads processed before this revision have no stored rows: their downstream steps ask for
`core_uploads__validated` to be materialized again for the partition.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "upload_request_rows",
        sa.Column("upload_id", sa.String(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("request_row", sa.Integer(), nullable=False),
        sa.Column("npn", sa.String(), nullable=False),
        sa.Column("state_code", sa.String(), nullable=True),
        sa.Column("cocode", sa.String(), nullable=True),
        sa.Column("loa_category", sa.String(), nullable=True),
        sa.Column("loa_code", sa.String(), nullable=True),
        sa.Column("loa_name", sa.Text(), nullable=True),
        sa.Column("line_of_authority", sa.Text(), nullable=True),
        sa.Column("agent_type", sa.String(), nullable=True),
        sa.Column("termination_reason_code", sa.String(), nullable=True),
        sa.Column("effective_date", sa.Date(), nullable=True),
        sa.Column("county", sa.Text(), nullable=True),
        sa.Column("portal_name", sa.Text(), nullable=True),
        sa.Column("submit", sa.Boolean(), nullable=True),
        sa.Column("submit_just_in_time", sa.Boolean(), nullable=True),
        sa.Column("submit_immediately", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["upload_id"],
            ["uploads.upload_id"],
            name="fk_upload_request_rows_upload_id_uploads",
        ),
        sa.PrimaryKeyConstraint("upload_id", "position", name="pk_upload_request_rows"),
    )


def downgrade() -> None:
    op.drop_table("upload_request_rows")
