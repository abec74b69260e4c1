"""The scope ledger gets an index by report day.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07

The daily quality checks pick the scopes a run applied out of `nipr_scope_reports` by
`report_date` and `category` (assets/nipr/check_scope.py), once per checked table. Without an
index each pick scans the whole ledger, a row per (producer, state, category) of the book
(SQLite, 20k producers: 35 ms a pick, 3 ms with the index; the ledger grows with the book,
the day's scopes do not). Issue 17.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_nipr_scope_reports_report_date_category"),
        "nipr_scope_reports",
        ["report_date", "category"],
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_nipr_scope_reports_report_date_category"), table_name="nipr_scope_reports"
    )
