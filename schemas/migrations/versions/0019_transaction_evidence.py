"""Evidence of every eligibility decision: `transaction_evidence`, and request_rejections'.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08

`transaction_evidence` (schemas/tables_evidence.py): one row per transaction with the rows the
eligibility engine read when it decided (assets/rules/evidence.py), `decided_by` naming the
one that decided, and the engine's version. `request_rejections` gains its own evidence: the
producer row's sync status and active flag, `decided_by` and the engine's version. Transactions
written before this revision have no evidence row (nothing is invented for them); `npnflow
explain` says so. Issue 19.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "transaction_evidence",
        sa.Column("transaction_id", sa.String(), nullable=False),
        sa.Column("decided_by", sa.String(), nullable=False),
        sa.Column("producer_sync_status", sa.String(), nullable=True),
        sa.Column("producer_is_active", sa.Boolean(), nullable=True),
        sa.Column("license_number", sa.String(), nullable=True),
        sa.Column("license_class_code", sa.String(), nullable=True),
        sa.Column("license_is_resident", sa.Boolean(), nullable=True),
        sa.Column("license_is_active", sa.Boolean(), nullable=True),
        sa.Column("license_issue_date", sa.Date(), nullable=True),
        sa.Column("license_expiration_date", sa.Date(), nullable=True),
        sa.Column("loa_code", sa.String(), nullable=True),
        sa.Column("loa_is_active", sa.Boolean(), nullable=True),
        sa.Column("loa_issue_date", sa.Date(), nullable=True),
        sa.Column("resident_state_code", sa.String(), nullable=True),
        sa.Column("resident_license_number", sa.String(), nullable=True),
        sa.Column("resident_expiration_date", sa.Date(), nullable=True),
        sa.Column("rule_license_class_code", sa.String(), nullable=True),
        sa.Column("rule_loa_category", sa.String(), nullable=True),
        sa.Column("company_in_state", sa.Boolean(), nullable=True),
        sa.Column("company_is_jit", sa.Boolean(), nullable=True),
        sa.Column("assignment_required", sa.Boolean(), nullable=True),
        sa.Column("assignment_found", sa.Boolean(), nullable=True),
        sa.Column("appointment_status", sa.String(), nullable=True),
        sa.Column("appointment_effective_date", sa.Date(), nullable=True),
        sa.Column("appointment_source", sa.String(), nullable=True),
        sa.Column("state_reason_code", sa.String(), nullable=True),
        sa.Column("state_rule_source", sa.Text(), nullable=True),
        sa.Column("state_rule_is_assumption", sa.Boolean(), nullable=True),
        sa.Column("fee_resident", sa.Numeric(10, 2), nullable=True),
        sa.Column("fee_nonresident", sa.Numeric(10, 2), nullable=True),
        sa.Column("fee_per_loa", sa.Boolean(), nullable=True),
        sa.Column("fee_source", sa.Text(), nullable=True),
        sa.Column("fee_is_assumption", sa.Boolean(), nullable=True),
        sa.Column("licensing_data_as_of", sa.DateTime(timezone=True), nullable=True),
        sa.Column("appointments_data_as_of", sa.DateTime(timezone=True), nullable=True),
        sa.Column("engine_version", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["transactions.transaction_id"],
            name=op.f("fk_transaction_evidence_transaction_id_transactions"),
        ),
        sa.PrimaryKeyConstraint("transaction_id", name=op.f("pk_transaction_evidence")),
    )
    with op.batch_alter_table("request_rejections") as batch:
        batch.add_column(sa.Column("decided_by", sa.String(), nullable=True))
        batch.add_column(sa.Column("producer_sync_status", sa.String(), nullable=True))
        batch.add_column(sa.Column("producer_is_active", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("engine_version", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("request_rejections") as batch:
        batch.drop_column("engine_version")
        batch.drop_column("producer_is_active")
        batch.drop_column("producer_sync_status")
        batch.drop_column("decided_by")
    op.drop_table("transaction_evidence")
