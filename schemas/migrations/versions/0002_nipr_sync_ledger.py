"""The daily NIPR sync's ledger: report days fetched and applied, and how new each scope is.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24

A report replaces a (producer, state, category) scope only when its data is at least as new as
what the current-state tables hold, so re-applying a day is idempotent and an old stored reply
never overwrites newer data.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "nipr_report_days",
        sa.Column("report_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("raw_object_keys", sa.Text(), nullable=True),
        sa.Column("producers_reported", sa.Integer(), nullable=True),
        sa.Column("scopes_applied", sa.Integer(), nullable=True),
        sa.Column("scopes_skipped_as_older", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("report_date", name="pk_nipr_report_days"),
    )
    op.create_table(
        "nipr_scope_reports",
        sa.Column("npn", sa.String(), nullable=False),
        sa.Column("state_code", sa.String(), nullable=False),
        sa.Column("category", sa.String(), nullable=False),
        sa.Column("data_as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("report_date", sa.Date(), nullable=True),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("npn", "state_code", "category", name="pk_nipr_scope_reports"),
    )


def downgrade() -> None:
    op.drop_table("nipr_scope_reports")
    op.drop_table("nipr_report_days")
