"""Appointment renewals: each state's renewal rule, and the renewal plan of the Appointed lines.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07

Two new tables (schemas/tables_renewals.py), no existing table changes. Issue 18:

- `state_appointment_renewals`: one row per jurisdiction, loaded by the reference job from
  `config/reference/state_appointment_renewals.csv` (renewal rule, channel, window, termination
  cut-off, fees, `source`, `is_assumption`);
- `appointment_renewal_plan`: one row per Appointed (cocode, state, npn, line) of the
  customer's companies in a renewing state, for one cycle: renewal date, cut-off, fee and the
  recommendation (`assets/renewals/plan.py`); read by the report `rpt_appointment_renewals`.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _flag(name: str) -> sa.Column[bool]:
    return sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false())


def upgrade() -> None:
    op.create_table(
        "state_appointment_renewals",
        sa.Column("state_code", sa.String(), nullable=False),
        sa.Column("renews", sa.String(), nullable=False),
        sa.Column("renewed_through", sa.String(), nullable=False),
        sa.Column("window_start", sa.String(), nullable=True),
        sa.Column("window_end", sa.String(), nullable=True),
        sa.Column("termination_cutoff", sa.String(), nullable=False),
        sa.Column("fee_resident", sa.Numeric(10, 2), nullable=True),
        sa.Column("fee_nonresident", sa.Numeric(10, 2), nullable=True),
        sa.Column("fee_basis", sa.String(), nullable=True),
        _flag("nipr_processing_fee"),
        sa.Column("source", sa.Text(), nullable=True),
        _flag("is_assumption"),
        sa.PrimaryKeyConstraint("state_code", name=op.f("pk_state_appointment_renewals")),
    )
    op.create_table(
        "appointment_renewal_plan",
        sa.Column("cocode", sa.String(), nullable=False),
        sa.Column("state_code", sa.String(), nullable=False),
        sa.Column("npn", sa.String(), nullable=False),
        sa.Column("loa_code", sa.String(), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("company_name", sa.String(), nullable=True),
        sa.Column("renews", sa.String(), nullable=False),
        sa.Column("renewed_through", sa.String(), nullable=False),
        sa.Column("renewal_date", sa.Date(), nullable=True),
        sa.Column("renewal_date_basis", sa.Text(), nullable=False),
        sa.Column("cutoff_date", sa.Date(), nullable=True),
        sa.Column("cutoff_passed", sa.Boolean(), nullable=True),
        sa.Column("is_resident", sa.Boolean(), nullable=True),
        sa.Column("fee_basis", sa.String(), nullable=False),
        sa.Column("fee", sa.Numeric(10, 2), nullable=False),
        sa.Column("fee_counted", sa.Boolean(), nullable=False),
        sa.Column("saving_if_terminated", sa.Numeric(10, 2), nullable=False),
        sa.Column("recommendation", sa.String(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("is_assumption", sa.Boolean(), nullable=False),
        sa.Column("planned_as_of", sa.Date(), nullable=False),
        sa.Column("planned_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "cocode", "state_code", "npn", "loa_code", name=op.f("pk_appointment_renewal_plan")
        ),
    )


def downgrade() -> None:
    op.drop_table("appointment_renewal_plan")
    op.drop_table("state_appointment_renewals")
