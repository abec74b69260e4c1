"""Initial schema: every table of SPEC section 3, plus the reference tables the rules need.

Revision ID: 0001
Revises:
Create Date: 2026-11-24

Written out in full rather than imported from schemas/tables.py: a migration is a frozen
record of one schema change and must not move when tables.py does. The drift test in
tests/integration/test_migrations.py keeps the two in step.

Booleans default through sa.false()/sa.true(), which render as 0/1 on SQLite and
false/true on PostgreSQL (a literal '0' is not a valid boolean default on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _flag(name: str, *, default: bool) -> sa.Column:
    return sa.Column(
        name,
        sa.Boolean(),
        server_default=sa.true() if default else sa.false(),
        nullable=False,
    )


def _tz(name: str, *, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _money(name: str) -> sa.Column:
    return sa.Column(name, sa.Numeric(precision=10, scale=2), nullable=True)


def upgrade() -> None:
    # ---------------------------------------------------------------- reference and configuration
    op.create_table(
        "jurisdictions",
        sa.Column("state_code", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("state_code", name=op.f("pk_jurisdictions")),
    )
    op.create_table(
        "license_classes",
        sa.Column("state_code", sa.String(), nullable=False),
        sa.Column("license_class_code", sa.String(), nullable=False),
        sa.Column("license_class", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint(
            "state_code", "license_class_code", name=op.f("pk_license_classes")
        ),
    )
    op.create_table(
        "lines_of_authority",
        sa.Column("state_code", sa.String(), nullable=False),
        sa.Column("loa_code", sa.String(), nullable=False),
        sa.Column("loa_name", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("state_code", "loa_code", name=op.f("pk_lines_of_authority")),
    )
    op.create_table(
        "loa_categories",
        sa.Column("state_code", sa.String(), nullable=False),
        sa.Column("loa_code", sa.String(), nullable=False),
        sa.Column("loa_category", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint(
            "state_code", "loa_code", "loa_category", name=op.f("pk_loa_categories")
        ),
    )
    op.create_table(
        "license_class_loas",
        sa.Column("state_code", sa.String(), nullable=False),
        sa.Column("license_class_code", sa.String(), nullable=False),
        sa.Column("loa_code", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint(
            "state_code", "license_class_code", "loa_code", name=op.f("pk_license_class_loas")
        ),
    )
    op.create_table(
        "producer_license_classes",
        sa.Column("state_code", sa.String(), nullable=False),
        sa.Column("license_class_code", sa.String(), nullable=False),
        sa.Column("residency", sa.String(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint(
            "state_code", "license_class_code", name=op.f("pk_producer_license_classes")
        ),
    )
    op.create_table(
        "companies",
        sa.Column("cocode", sa.String(), nullable=False),
        sa.Column("company_name", sa.String(), nullable=False),
        sa.Column("fein", sa.String(), nullable=True),
        _flag("producer_assignment_required", default=False),
        sa.PrimaryKeyConstraint("cocode", name=op.f("pk_companies")),
    )
    op.create_table(
        "company_loa_categories",
        sa.Column("cocode", sa.String(), nullable=False),
        sa.Column("loa_category", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cocode"],
            ["companies.cocode"],
            name=op.f("fk_company_loa_categories_cocode_companies"),
        ),
        sa.PrimaryKeyConstraint("cocode", "loa_category", name=op.f("pk_company_loa_categories")),
    )
    op.create_table(
        "company_state_settings",
        sa.Column("cocode", sa.String(), nullable=False),
        sa.Column("state_code", sa.String(), nullable=False),
        sa.Column("state_company_id", sa.String(), nullable=True),
        _flag("jit", default=False),
        sa.ForeignKeyConstraint(
            ["cocode"],
            ["companies.cocode"],
            name=op.f("fk_company_state_settings_cocode_companies"),
        ),
        sa.PrimaryKeyConstraint("cocode", "state_code", name=op.f("pk_company_state_settings")),
    )
    op.create_table(
        "gateway_business_rules",
        sa.Column("cocode", sa.String(), nullable=False),
        sa.Column("state_code", sa.String(), nullable=False),
        sa.Column("license_class_code", sa.String(), nullable=False),
        sa.Column("loa_code", sa.String(), nullable=False),
        sa.Column("loa_category", sa.String(), nullable=True),
        _flag("active", default=True),
        sa.PrimaryKeyConstraint(
            "cocode",
            "state_code",
            "license_class_code",
            "loa_code",
            name=op.f("pk_gateway_business_rules"),
        ),
    )
    op.create_table(
        "termination_reasons",
        sa.Column("reason_code", sa.String(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("reason_code", name=op.f("pk_termination_reasons")),
    )
    op.create_table(
        "state_termination_reasons",
        sa.Column("state_code", sa.String(), nullable=False),
        sa.Column("reason_code", sa.String(), nullable=False),
        _flag("is_default", default=False),
        sa.Column("source", sa.Text(), nullable=True),
        _flag("is_assumption", default=False),
        sa.PrimaryKeyConstraint(
            "state_code", "reason_code", name=op.f("pk_state_termination_reasons")
        ),
    )
    op.create_table(
        "state_fees",
        sa.Column("state_code", sa.String(), nullable=False),
        sa.Column("transaction_kind", sa.String(), nullable=False),
        _money("resident_fee"),
        _money("nonresident_fee"),
        _flag("per_loa", default=False),
        _flag("billed_by_state", default=False),
        sa.Column("source", sa.Text(), nullable=True),
        _flag("is_assumption", default=False),
        sa.PrimaryKeyConstraint("state_code", "transaction_kind", name=op.f("pk_state_fees")),
    )
    op.create_table(
        "state_appointment_rules",
        sa.Column("state_code", sa.String(), nullable=False),
        sa.Column("appointment_filing", sa.String(), nullable=False),
        sa.Column("jit_allowed", sa.Boolean(), nullable=False),
        sa.Column("jit_deadline_days", sa.Integer(), nullable=True),
        sa.Column("jit_trigger", sa.Text(), nullable=True),
        sa.Column("effective_date_specifiable", sa.Boolean(), nullable=True),
        sa.Column("max_backdate_days", sa.Integer(), nullable=True),
        sa.Column("allows_future_effective_date", sa.Boolean(), nullable=True),
        sa.Column("terminations_via_nipr", sa.Boolean(), nullable=False),
        sa.Column("termination_date_specifiable", sa.Boolean(), nullable=True),
        sa.Column("termination_max_backdate_days", sa.Integer(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        _flag("is_assumption", default=False),
        sa.PrimaryKeyConstraint("state_code", name=op.f("pk_state_appointment_rules")),
    )

    # ---------------------------------------------------------------- producers and NIPR data
    op.create_table(
        "agencies",
        sa.Column("agency_npn", sa.String(), nullable=False),
        sa.Column("agency_name", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("agency_npn", name=op.f("pk_agencies")),
    )
    op.create_table(
        "producers",
        sa.Column("npn", sa.String(), nullable=False),
        sa.Column("first_name", sa.String(), nullable=True),
        sa.Column("last_name", sa.String(), nullable=True),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("agency_npn", sa.String(), nullable=True),
        sa.Column("agent_type", sa.String(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=True),
        sa.Column("sync_status", sa.String(), server_default="Not Started", nullable=False),
        _tz("last_synced_at"),
        sa.Column("ssn_last4", sa.String(), nullable=True),
        sa.Column("ssn_encrypted", sa.Text(), nullable=True),
        _tz("created_at"),
        _tz("updated_at"),
        sa.PrimaryKeyConstraint("npn", name=op.f("pk_producers")),
    )
    op.create_index(op.f("ix_producers_sync_status"), "producers", ["sync_status"])
    op.create_index(op.f("ix_producers_agency_npn"), "producers", ["agency_npn"])
    op.create_table(
        "licenses",
        sa.Column("npn", sa.String(), nullable=False),
        sa.Column("state_code", sa.String(), nullable=False),
        sa.Column("license_number", sa.String(), nullable=False),
        sa.Column("license_class_code", sa.String(), nullable=False),
        sa.Column("license_class", sa.String(), nullable=True),
        sa.Column("is_resident", sa.Boolean(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=True),
        sa.Column("issue_date", sa.Date(), nullable=True),
        sa.Column("expiration_date", sa.Date(), nullable=True),
        _tz("nipr_updated_at"),
        sa.PrimaryKeyConstraint(
            "npn", "state_code", "license_number", "license_class_code", name=op.f("pk_licenses")
        ),
    )
    op.create_table(
        "license_loas",
        sa.Column("npn", sa.String(), nullable=False),
        sa.Column("state_code", sa.String(), nullable=False),
        sa.Column("license_number", sa.String(), nullable=False),
        sa.Column("loa_code", sa.String(), nullable=False),
        sa.Column("loa_name", sa.String(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=True),
        sa.Column("issue_date", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint(
            "npn", "state_code", "license_number", "loa_code", name=op.f("pk_license_loas")
        ),
    )
    op.create_table(
        "appointments",
        sa.Column("npn", sa.String(), nullable=False),
        sa.Column("state_code", sa.String(), nullable=False),
        sa.Column("cocode", sa.String(), nullable=False),
        sa.Column("loa_code", sa.String(), nullable=False),
        sa.Column("company_name", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=True),
        sa.Column("effective_date", sa.Date(), nullable=True),
        sa.Column("termination_reason", sa.Text(), nullable=True),
        sa.Column("status_reason_date", sa.Date(), nullable=True),
        sa.Column("renewal_date", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint(
            "npn", "state_code", "cocode", "loa_code", name=op.f("pk_appointments")
        ),
    )
    op.create_index(
        op.f("ix_appointments_cocode_state_code"), "appointments", ["cocode", "state_code"]
    )
    op.create_table(
        "producer_assignments",
        sa.Column("npn", sa.String(), nullable=False),
        sa.Column("loa_category", sa.String(), nullable=False),
        sa.Column("state_code", sa.String(), nullable=False),
        sa.Column("cocode", sa.String(), nullable=False),
        sa.Column("scorecard_type", sa.String(), nullable=True),
        sa.Column("agent_type", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint(
            "npn", "loa_category", "state_code", "cocode", name=op.f("pk_producer_assignments")
        ),
    )
    op.create_table(
        "nipr_subscriptions",
        sa.Column("npn", sa.String(), nullable=False),
        sa.Column("subscription_name", sa.String(), nullable=True),
        _tz("added_at"),
        _tz("removed_at"),
        sa.Column("invalid_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("npn", name=op.f("pk_nipr_subscriptions")),
    )

    # ---------------------------------------------------------------- uploads, transactions, submissions
    op.create_table(
        "uploads",
        sa.Column("upload_id", sa.String(), nullable=False),
        sa.Column("object_key", sa.Text(), nullable=False),
        sa.Column("content_sha256", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        _tz("received_at", nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=True),
        sa.Column("rows_blank", sa.Integer(), nullable=True),
        sa.Column("rows_valid", sa.Integer(), nullable=True),
        sa.Column("rows_rejected", sa.Integer(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("error_report_key", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("upload_id", name=op.f("pk_uploads")),
    )
    op.create_index(op.f("ix_uploads_content_sha256"), "uploads", ["content_sha256"])
    op.create_table(
        "upload_row_errors",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("upload_id", sa.String(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("column", sa.String(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["upload_id"],
            ["uploads.upload_id"],
            name=op.f("fk_upload_row_errors_upload_id_uploads"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upload_row_errors")),
    )
    op.create_index(op.f("ix_upload_row_errors_upload_id"), "upload_row_errors", ["upload_id"])
    op.create_table(
        "transaction_batches",
        sa.Column("batch_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("cocode", sa.String(), nullable=True),
        sa.Column("upload_id", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("approval_version", sa.Integer(), server_default="0", nullable=False),
        sa.Column("approved_by", sa.String(), nullable=True),
        _tz("approved_at"),
        _flag("submit_immediately", default=False),
        _money("estimated_fees"),
        _tz("created_at"),
        sa.Column("rejected_by", sa.String(), nullable=True),
        _tz("rejected_at"),
        sa.PrimaryKeyConstraint("batch_id", name=op.f("pk_transaction_batches")),
    )
    op.create_index(op.f("ix_transaction_batches_status"), "transaction_batches", ["status"])
    op.create_index(op.f("ix_transaction_batches_upload_id"), "transaction_batches", ["upload_id"])
    op.create_table(
        "transactions",
        sa.Column("transaction_id", sa.String(), nullable=False),
        sa.Column("batch_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("request_row", sa.Integer(), nullable=True),
        sa.Column("npn", sa.String(), nullable=False),
        sa.Column("state_code", sa.String(), nullable=True),
        sa.Column("cocode", sa.String(), nullable=True),
        sa.Column("loa_category", sa.String(), nullable=True),
        sa.Column("loa_code", sa.String(), nullable=True),
        sa.Column("license_number", sa.String(), nullable=True),
        sa.Column("is_jit", sa.Boolean(), nullable=True),
        sa.Column("eligibility_reason", sa.Text(), nullable=True),
        sa.Column("status", sa.String(), nullable=True),
        sa.Column("termination_reason_code", sa.String(), nullable=True),
        sa.Column("effective_date", sa.Date(), nullable=True),
        _money("estimated_fee"),
        sa.Column("idempotency_key", sa.String(), nullable=True),
        sa.Column("nipr_status", sa.String(), nullable=True),
        sa.Column("nipr_message", sa.Text(), nullable=True),
        _tz("submitted_at"),
        _tz("completed_at"),
        _tz("created_at"),
        sa.Column("agent_type", sa.String(), nullable=True),
        sa.Column("license_class_code", sa.String(), nullable=True),
        sa.Column("is_resident", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["transaction_batches.batch_id"],
            name=op.f("fk_transactions_batch_id_transaction_batches"),
        ),
        sa.PrimaryKeyConstraint("transaction_id", name=op.f("pk_transactions")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_transactions_idempotency_key")),
    )
    op.create_index(op.f("ix_transactions_batch_id"), "transactions", ["batch_id"])
    op.create_index(
        op.f("ix_transactions_npn_state_code_cocode_loa_code"),
        "transactions",
        ["npn", "state_code", "cocode", "loa_code"],
    )
    op.create_table(
        "submission_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("batch_id", sa.String(), nullable=False),
        sa.Column("approval_version", sa.Integer(), nullable=False),
        sa.Column("chunk", sa.Integer(), nullable=False),
        _tz("sent_at"),
        sa.Column("request_digest", sa.String(), nullable=True),
        sa.Column("response_status", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["transaction_batches.batch_id"],
            name=op.f("fk_submission_attempts_batch_id_transaction_batches"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submission_attempts")),
        sa.UniqueConstraint(
            "batch_id",
            "approval_version",
            "chunk",
            name=op.f("uq_submission_attempts_batch_id_approval_version_chunk"),
        ),
    )
    op.create_table(
        "portals",
        sa.Column("portal_id", sa.String(), nullable=False),
        sa.Column("portal_name", sa.String(), nullable=True),
        sa.Column("seats_total", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("portal_id", name=op.f("pk_portals")),
    )
    op.create_table(
        "portal_users",
        sa.Column("npn", sa.String(), nullable=False),
        sa.Column("portal_id", sa.String(), nullable=False),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        _tz("invited_at"),
        sa.Column("invitation_token_hash", sa.String(), nullable=True),
        _tz("registered_at"),
        sa.ForeignKeyConstraint(
            ["portal_id"], ["portals.portal_id"], name=op.f("fk_portal_users_portal_id_portals")
        ),
        sa.PrimaryKeyConstraint("npn", "portal_id", name=op.f("pk_portal_users")),
    )
    op.create_index(op.f("ix_portal_users_portal_id"), "portal_users", ["portal_id"])


def downgrade() -> None:
    # Children before parents; dropping a table drops its indexes and constraints with it.
    for table in (
        "portal_users",
        "portals",
        "submission_attempts",
        "transactions",
        "transaction_batches",
        "upload_row_errors",
        "uploads",
        "nipr_subscriptions",
        "producer_assignments",
        "appointments",
        "license_loas",
        "licenses",
        "producers",
        "agencies",
        "state_appointment_rules",
        "state_fees",
        "state_termination_reasons",
        "termination_reasons",
        "gateway_business_rules",
        "company_state_settings",
        "company_loa_categories",
        "companies",
        "producer_license_classes",
        "license_class_loas",
        "loa_categories",
        "lines_of_authority",
        "license_classes",
        "jurisdictions",
    ):
        op.drop_table(table)
