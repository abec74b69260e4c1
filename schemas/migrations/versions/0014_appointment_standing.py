"""Continuous compliance: the standing of every Appointed line of the customer's companies.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07

A new table, `appointment_standing` (schemas/tables_compliance.py): one row per Appointed
(npn, state, cocode, line), whether its license, resident license and line still hold by the
eligibility engine's checks, why not, and since when. No existing table changes. Issue 18.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "appointment_standing",
        sa.Column("npn", sa.String(), nullable=False),
        sa.Column("state_code", sa.String(), nullable=False),
        sa.Column("cocode", sa.String(), nullable=False),
        sa.Column("loa_code", sa.String(), nullable=False),
        sa.Column("company_name", sa.String(), nullable=True),
        sa.Column("license_number", sa.String(), nullable=True),
        sa.Column("license_class_code", sa.String(), nullable=True),
        sa.Column("license_ok", sa.Boolean(), nullable=False),
        sa.Column("resident_ok", sa.Boolean(), nullable=False),
        sa.Column("line_ok", sa.Boolean(), nullable=False),
        sa.Column("is_at_risk", sa.Boolean(), nullable=False),
        sa.Column("risk_reason", sa.Text(), nullable=True),
        sa.Column("at_risk_since", sa.Date(), nullable=True),
        sa.Column("renewal_date", sa.Date(), nullable=True),
        sa.Column("evaluated_as_of", sa.Date(), nullable=False),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "npn", "state_code", "cocode", "loa_code", name=op.f("pk_appointment_standing")
        ),
    )


def downgrade() -> None:
    op.drop_table("appointment_standing")
