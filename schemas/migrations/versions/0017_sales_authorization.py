"""Continuous compliance: may a producer sell a category for a company in a state.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07

A new table, `sales_authorization` (schemas/tables_compliance.py): one row per (npn, state,
cocode, category) the customer's companies appoint for, for producers with an Appointed line
with the company in the state: Yes/No and every line's reasons, by the rule of `npnflow
can-sell`. And `appointment_standing.at_risk_noticed_on`: the first evaluation day that found a
line at risk in its current spell (NULL while it stands), for "what became at risk since".
Issue 18.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sales_authorization",
        sa.Column("npn", sa.String(), nullable=False),
        sa.Column("state_code", sa.String(), nullable=False),
        sa.Column("cocode", sa.String(), nullable=False),
        sa.Column("loa_category", sa.String(), nullable=False),
        sa.Column("company_name", sa.String(), nullable=True),
        sa.Column("can_sell", sa.Boolean(), nullable=False),
        sa.Column("selling_lines", sa.Text(), nullable=True),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("evaluated_as_of", sa.Date(), nullable=False),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "npn", "state_code", "cocode", "loa_category", name=op.f("pk_sales_authorization")
        ),
    )


    op.add_column(
        "appointment_standing", sa.Column("at_risk_noticed_on", sa.Date(), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("appointment_standing") as batch:
        batch.drop_column("at_risk_noticed_on")
    op.drop_table("sales_authorization")
