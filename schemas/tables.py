"""The operational database: every table of SPEC section 3, as SQLAlchemy Core tables.

Table and column names are a contract (dbt models, reports and tests read them), so they are
spelled here exactly as in the SPEC; extra columns are additions, never renames. Every change
goes through an Alembic migration in `schemas/migrations/versions/`, and
`tests/integration/test_migrations.py` fails when this module and the migrations drift apart.

Choices that hold for every table:
- Codes (state, license class, LOA, CoCode, reason) and NPNs are text: NPNs and CoCodes can
  carry leading zeros and are identifiers, not quantities.
- Status vocabularies are plain strings, not database enums: adding a value to an enum needs
  a migration (and, on PostgreSQL, one that cannot run inside a transaction). Allowed values
  are listed beside each column and enforced by the code that writes them.
- No foreign keys from NIPR-synced tables to the reference tables: NIPR sends codes our copy of
  its workbook may not know yet, and a sync must not fail on them. Foreign keys only guard
  relations inside our own data (batches, uploads, portals, companies).
- Constraint and index names come from `NAMING_CONVENTION`, so Alembic migrations name them
  the same way on SQLite and PostgreSQL.

Import this module freely: it only builds metadata, it never connects. Issue 18's tables are
in `tables_compliance.py` (this module is at its size limit).
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

#: The uploads that hold their content's claim (`uq_uploads_content_claim`).
CONTENT_CLAIM_WHERE = "status IN ('Received', 'Processed')"


def _timestamp(name: str, *, nullable: bool = True) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


def _money(name: str) -> Column[object]:
    return Column(name, Numeric(10, 2), nullable=True)


def _flag(name: str, *, default: bool) -> Column[object]:
    """A not-null boolean with the same default in Python and in the database."""
    return Column(
        name,
        Boolean,
        nullable=False,
        default=default,
        server_default=true() if default else false(),
    )


def _provenance() -> tuple[Column[object], Column[object]]:
    """Where a shipped reference row comes from, and whether it is our assumption."""
    return (
        Column("source", Text, nullable=True),
        _flag("is_assumption", default=False),
    )


# --- Reference and configuration ----------------------------------------------------------

jurisdictions = Table(
    "jurisdictions",
    metadata,
    Column("state_code", String, primary_key=True),
    Column("name", String, nullable=False),
)

license_classes = Table(
    "license_classes",
    metadata,
    Column("state_code", String, primary_key=True),
    Column("license_class_code", String, primary_key=True),
    Column("license_class", String, nullable=True),
)

lines_of_authority = Table(
    "lines_of_authority",
    metadata,
    Column("state_code", String, primary_key=True),
    Column("loa_code", String, primary_key=True),
    Column("loa_name", String, nullable=True),
)

# Many-to-many. loa_category: Life, Accident & Health, Property, Casualty, Personal Lines,
# Variable Life & Annuity, Credit, Title, Travel, Crop, Surety, Car Rental, Surplus Lines, Other.
loa_categories = Table(
    "loa_categories",
    metadata,
    Column("state_code", String, primary_key=True),
    Column("loa_code", String, primary_key=True),
    Column("loa_category", String, primary_key=True),
)

# Which lines of authority a license class can carry in a state (NIPR's workbook).
license_class_loas = Table(
    "license_class_loas",
    metadata,
    Column("state_code", String, primary_key=True),
    Column("license_class_code", String, primary_key=True),
    Column("loa_code", String, primary_key=True),
)

# The license classes that count as a producer license (as opposed to adjuster, etc.).
producer_license_classes = Table(
    "producer_license_classes",
    metadata,
    Column("state_code", String, primary_key=True),
    Column("license_class_code", String, primary_key=True),
    Column("residency", String, nullable=False),  # R, NR or any
    Column("note", Text, nullable=True),
)

companies = Table(
    "companies",
    metadata,
    Column("cocode", String, primary_key=True),  # 5-digit NAIC code, as text
    Column("company_name", String, nullable=False),
    Column("fein", String, nullable=True),
    _flag("producer_assignment_required", default=False),
)

company_loa_categories = Table(
    "company_loa_categories",
    metadata,
    Column("cocode", String, ForeignKey("companies.cocode"), primary_key=True),
    Column("loa_category", String, primary_key=True),
)

# A missing row means the company does not appoint in that state.
company_state_settings = Table(
    "company_state_settings",
    metadata,
    Column("cocode", String, ForeignKey("companies.cocode"), primary_key=True),
    Column("state_code", String, primary_key=True),
    Column("state_company_id", String, nullable=True),
    _flag("jit", default=False),
)

gateway_business_rules = Table(
    "gateway_business_rules",
    metadata,
    Column("cocode", String, primary_key=True),
    Column("state_code", String, primary_key=True),
    Column("license_class_code", String, primary_key=True),
    Column("loa_code", String, primary_key=True),
    Column("loa_category", String, nullable=True),
    _flag("active", default=True),
)

termination_reasons = Table(
    "termination_reasons",
    metadata,
    Column("reason_code", String, primary_key=True),
    Column("description", Text, nullable=True),
    Column("source", Text, nullable=True),
)

state_termination_reasons = Table(
    "state_termination_reasons",
    metadata,
    Column("state_code", String, primary_key=True),
    Column("reason_code", String, primary_key=True),
    _flag("is_default", default=False),
    *_provenance(),
)

state_fees = Table(
    "state_fees",
    metadata,
    Column("state_code", String, primary_key=True),
    Column("transaction_kind", String, primary_key=True),  # appointment, termination
    _money("resident_fee"),
    _money("nonresident_fee"),
    _flag("per_loa", default=False),
    _flag("billed_by_state", default=False),
    *_provenance(),
)

# NIPR's own fee per Gateway transaction, one row per kind (appointment, termination): NIPR
# invoices it apart from the state fees (DOMAIN 2.4). Added by migration 0008.
nipr_transaction_fees = Table(
    "nipr_transaction_fees",
    metadata,
    Column("transaction_kind", String, primary_key=True),
    _money("nipr_fee"),
    *_provenance(),
)

# How each state takes appointments and terminations (docs/state_appointment_rules.md).
state_appointment_rules = Table(
    "state_appointment_rules",
    metadata,
    Column("state_code", String, primary_key=True),
    Column("appointment_filing", String, nullable=False),  # nipr, registry, not_via_nipr
    Column("jit_allowed", Boolean, nullable=False),
    Column("jit_deadline_days", Integer, nullable=True),
    Column("jit_trigger", Text, nullable=True),
    Column("effective_date_specifiable", Boolean, nullable=True),
    Column("max_backdate_days", Integer, nullable=True),
    Column("allows_future_effective_date", Boolean, nullable=True),
    Column("terminations_via_nipr", Boolean, nullable=False),
    Column("termination_date_specifiable", Boolean, nullable=True),
    Column("termination_max_backdate_days", Integer, nullable=True),
    *_provenance(),
)

# --- Producers and NIPR data --------------------------------------------------------------

agencies = Table(
    "agencies",
    metadata,
    Column("agency_npn", String, primary_key=True),
    Column("agency_name", String, nullable=True),
)

producers = Table(
    "producers",
    metadata,
    Column("npn", String, primary_key=True),
    Column("first_name", String, nullable=True),
    Column("last_name", String, nullable=True),
    Column("email", String, nullable=True),
    Column("agency_npn", String, nullable=True),
    Column("agent_type", String, nullable=True),
    Column("is_active", Boolean, nullable=True),
    # Not Started, Success, Success - No Licenses, NIPR Error, Not Found
    Column("sync_status", String, nullable=False, server_default="Not Started"),
    _timestamp("last_synced_at"),
    # Never a plaintext SSN: last four digits, encrypted token, keyed fingerprint (0020).
    Column("ssn_last4", String, nullable=True),
    Column("ssn_encrypted", Text, nullable=True),
    Column("ssn_fingerprint", String, nullable=True),
    _timestamp("created_at"),
    _timestamp("updated_at"),
    # Added by migration 0009: when and by whom the producer was offboarded (`npnflow
    # offboard`, an offboard upload); both cleared when an agent file onboards it again.
    _timestamp("offboarded_at"),
    Column("offboarded_by", String, nullable=True),
    # The sync picks producers by status ("Not Started", "NIPR Error").
    Index(None, "sync_status"),
    Index(None, "agency_npn"),
)

# Look-ups by npn are served by the primary keys of licenses, license_loas, appointments and
# producer_assignments, whose first column is npn; a separate npn index would only slow writes.
licenses = Table(
    "licenses",
    metadata,
    Column("npn", String, primary_key=True),
    Column("state_code", String, primary_key=True),
    Column("license_number", String, primary_key=True),
    Column("license_class_code", String, primary_key=True),
    Column("license_class", String, nullable=True),
    Column("is_resident", Boolean, nullable=True),
    Column("is_active", Boolean, nullable=True),
    Column("issue_date", Date, nullable=True),
    Column("expiration_date", Date, nullable=True),
    _timestamp("nipr_updated_at"),
)

# A line hangs under one class of a license number: NIPR files one number under several
# classes, each with its own lines and statuses, so the class is part of the key (ADR 0023).
license_loas = Table(
    "license_loas",
    metadata,
    Column("npn", String, primary_key=True),
    Column("state_code", String, primary_key=True),
    Column("license_number", String, primary_key=True),
    Column("license_class_code", String, primary_key=True),
    Column("loa_code", String, primary_key=True),
    Column("loa_name", String, nullable=True),
    Column("is_active", Boolean, nullable=True),
    Column("issue_date", Date, nullable=True),
)

appointments = Table(
    "appointments",
    metadata,
    Column("npn", String, primary_key=True),
    Column("state_code", String, primary_key=True),
    Column("cocode", String, primary_key=True),
    Column("loa_code", String, primary_key=True),
    Column("company_name", String, nullable=True),
    Column("status", String, nullable=True),  # Appointed, Terminated
    Column("effective_date", Date, nullable=True),
    Column("termination_reason", Text, nullable=True),
    Column("status_reason_date", Date, nullable=True),
    Column("renewal_date", Date, nullable=True),
    # Company-wide views (terminations, reports) go by cocode and state.
    Index(None, "cocode", "state_code"),
)

producer_assignments = Table(
    "producer_assignments",
    metadata,
    Column("npn", String, primary_key=True),
    Column("loa_category", String, primary_key=True),
    Column("state_code", String, primary_key=True),
    Column("cocode", String, primary_key=True),
    Column("scorecard_type", String, nullable=True),
    Column("agent_type", String, nullable=True),
)

nipr_subscriptions = Table(
    "nipr_subscriptions",
    metadata,
    Column("npn", String, primary_key=True),
    Column("subscription_name", String, nullable=True),
    _timestamp("added_at"),
    _timestamp("removed_at"),
    Column("invalid_reason", Text, nullable=True),
)

# --- Uploads, transactions and submissions ------------------------------------------------

# The daily sync's ledger: which Alerts report days were fetched and applied, and for each
# (producer, state, category) how new the data now in the current-state tables is. A report
# replaces a scope only when its data is at least as new: re-applying an old day (a backfill)
# never overwrites newer data, and re-applying the same day is a no-op.
nipr_report_days = Table(
    "nipr_report_days",
    metadata,
    Column("report_date", Date, primary_key=True),
    Column("status", String, nullable=False),  # fetched, no_run_today, applied
    _timestamp("fetched_at"),
    _timestamp("applied_at"),
    Column("raw_object_keys", Text, nullable=True),  # JSON list of the raw replies' object keys
    Column("producers_reported", Integer, nullable=True),
    Column("scopes_applied", Integer, nullable=True),
    Column("scopes_skipped_as_older", Integer, nullable=True),
)

nipr_scope_reports = Table(
    "nipr_scope_reports",
    metadata,
    Column("npn", String, primary_key=True),
    Column("state_code", String, primary_key=True),
    Column("category", String, primary_key=True),  # LICENSING, APPOINTMENTS, DEMOGRAPHICS
    _timestamp("data_as_of", nullable=False),  # when NIPR's data in this scope was current
    Column("report_date", Date, nullable=True),  # the Alerts day, or None for Entity Info
    Column("source", String, nullable=False),  # alerts, entity_info
    _timestamp("applied_at"),
    Index(None, "report_date", "category"),  # the daily checks pick a day's scopes (0013)
)

uploads = Table(
    "uploads",
    metadata,
    Column("upload_id", String, primary_key=True),  # deterministic, chosen by the app
    Column("object_key", Text, nullable=False),
    Column("content_sha256", String, nullable=False),
    Column("kind", String, nullable=False),
    _timestamp("received_at", nullable=False),
    Column("status", String, nullable=False),
    Column("rows_total", Integer, nullable=True),
    Column("rows_blank", Integer, nullable=True),
    Column("rows_valid", Integer, nullable=True),
    Column("rows_rejected", Integer, nullable=True),
    Column("error_message", Text, nullable=True),
    Column("error_report_key", Text, nullable=True),
    # Added by migration 0006. When every step of the upload's kind committed (or it was
    # Rejected or Duplicate): an upload without it was cut short and is continued.
    _timestamp("completed_at"),
    # A Duplicate names the upload whose content it repeats (or continues).
    Column("duplicate_of", String, nullable=True),
    # Re-uploads of the same bytes are recognised by their hash.
    Index(None, "content_sha256"),
    # The content claim (migration 0006): one upload at a time holds a content hash while it
    # is Received or Processed, so two drops of the same bytes cannot both be processed, even
    # when their runs start together. A Rejected upload releases its claim.
    Index(
        "uq_uploads_content_claim",
        "content_sha256",
        unique=True,
        sqlite_where=text(CONTENT_CLAIM_WHERE),
        postgresql_where=text(CONTENT_CLAIM_WHERE),
    ),
)

upload_row_errors = Table(
    "upload_row_errors",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("upload_id", String, ForeignKey("uploads.upload_id"), nullable=False),
    Column("row_number", Integer, nullable=False),  # as the user sees it in the file
    Column("column", String, nullable=True),  # null when the error is about the whole row
    Column("message", Text, nullable=False),
    Index(None, "upload_id"),
)

# Migration 0005: a validated appoint/terminate/portal_invite upload's request rows, stored once
# with its status for the later steps (docs/uploads.md). Never agent rows: they hold SSNs.
upload_request_rows = Table(
    "upload_request_rows",
    metadata,
    Column("upload_id", String, ForeignKey("uploads.upload_id"), primary_key=True),
    Column("position", Integer, primary_key=True),  # the validator's order, from 0
    Column("request_row", Integer, nullable=False),  # the spreadsheet row
    Column("npn", String, nullable=False),
    Column("state_code", String, nullable=True),
    Column("cocode", String, nullable=True),
    Column("loa_category", String, nullable=True),
    Column("loa_code", String, nullable=True),
    Column("loa_name", Text, nullable=True),
    Column("line_of_authority", Text, nullable=True),  # as typed in an appoint file
    Column("agent_type", String, nullable=True),
    Column("termination_reason_code", String, nullable=True),
    Column("effective_date", Date, nullable=True),
    Column("county", Text, nullable=True),
    Column("portal_name", Text, nullable=True),
    Column("submit", Boolean, nullable=True),
    Column("submit_just_in_time", Boolean, nullable=True),
    Column("submit_immediately", Boolean, nullable=True),
)

transaction_batches = Table(
    "transaction_batches",
    metadata,
    Column("batch_id", String, primary_key=True),  # deterministic, chosen by the app
    Column("kind", String, nullable=False),  # appointment, termination
    Column("cocode", String, nullable=True),
    Column("upload_id", String, nullable=True),
    # Pending Review, Approved, Submitting, Submitted, Completed, Rejected
    Column("status", String, nullable=False),
    Column("approval_version", Integer, nullable=False, default=0, server_default="0"),
    Column("approved_by", String, nullable=True),
    _timestamp("approved_at"),
    _flag("submit_immediately", default=False),
    _money("estimated_fees"),
    _timestamp("created_at"),
    Column("rejected_by", String, nullable=True),
    _timestamp("rejected_at"),
    # The submission sensor looks for approved batches.
    Index(None, "status"),
    Index(None, "upload_id"),
)

transactions = Table(
    "transactions",
    metadata,
    Column("transaction_id", String, primary_key=True),  # deterministic, chosen by the app
    Column("batch_id", String, ForeignKey("transaction_batches.batch_id"), nullable=False),
    Column("kind", String, nullable=False),  # appointment, termination
    Column("request_row", Integer, nullable=True),
    Column("npn", String, nullable=False),
    Column("state_code", String, nullable=True),
    Column("cocode", String, nullable=True),
    Column("loa_category", String, nullable=True),
    Column("loa_code", String, nullable=True),
    Column("license_number", String, nullable=True),
    Column("is_jit", Boolean, nullable=True),
    Column("eligibility_reason", Text, nullable=True),
    Column("status", String, nullable=True),
    Column("termination_reason_code", String, nullable=True),
    Column("effective_date", Date, nullable=True),
    _money("estimated_fee"),
    # Sent to NIPR as the customer transaction id; unique so a resend can be recognised.
    Column("idempotency_key", String, nullable=True, unique=True),
    Column("nipr_status", String, nullable=True),
    Column("nipr_message", Text, nullable=True),
    _timestamp("submitted_at"),
    _timestamp("completed_at"),
    _timestamp("created_at"),
    Column("agent_type", String, nullable=True),
    Column("license_class_code", String, nullable=True),
    Column("is_resident", Boolean, nullable=True),
    # Added by migration 0003 for submission and audit.
    Column("upload_id", String, nullable=True),
    Column("auto_submit", Boolean, nullable=True),  # Submit / Submit Just In Time said so
    Column("nipr_trans", String, nullable=True),  # NIPR's own transaction id (NIPR_TRANS)
    Column("submission_chunk", Integer, nullable=True),  # the attempt that last sent it
    # Added by migration 0008: NIPR's own fee for the line (`nipr_transaction_fees`), beside the
    # state's `estimated_fee`; 0 for a line never sent (Not Eligible, Recorded, Held (JIT)).
    _money("estimated_nipr_fee"),
    # Added by migration 0010: a released JIT line's move out of its held batch
    # (docs/decisions/0026-jit-release.md) and the state's deadline for filing it.
    Column("held_batch_id", String, nullable=True),
    _timestamp("released_at"),
    Column("released_by", String, nullable=True),
    Column("jit_business_date", Date, nullable=True),
    Column("jit_due_date", Date, nullable=True),
    Column("cancelled_by", String, nullable=True),
    Index(None, "batch_id"),
    # "Is this line already requested or appointed?" checks across batches.
    Index(None, "npn", "state_code", "cocode", "loa_code"),
)

# The exactly-once ledger: one row per Gateway call, written before the call is made.
submission_attempts = Table(
    "submission_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("batch_id", String, ForeignKey("transaction_batches.batch_id"), nullable=False),
    Column("approval_version", Integer, nullable=False),
    Column("chunk", Integer, nullable=False),
    _timestamp("sent_at"),
    Column("request_digest", String, nullable=True),
    Column("response_status", String, nullable=True),
    # Added by migration 0003.
    Column("transaction_count", Integer, nullable=True),
    _timestamp("answered_at"),
    Column("error_message", Text, nullable=True),
    UniqueConstraint("batch_id", "approval_version", "chunk"),
)

# Request rows that created no transaction (SPEC section 6 step 1: `Producer Not Found`,
# `Producer Not Synced`, `Producer Inactive`, status `Request Rejected`). Kept so the outcome
# of every request row is on record, beside the transactions of the same upload.
request_rejections = Table(
    "request_rejections",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("upload_id", String, ForeignKey("uploads.upload_id"), nullable=True),
    Column("kind", String, nullable=False),  # appointment, termination
    Column("request_row", Integer, nullable=True),
    Column("npn", String, nullable=True),
    Column("state_code", String, nullable=True),
    Column("cocode", String, nullable=True),
    Column("loa_category", String, nullable=True),
    Column("loa_code", String, nullable=True),
    Column("eligibility_reason", Text, nullable=False),
    Column("status", String, nullable=False),  # Request Rejected
    _timestamp("created_at"),
    Index(None, "upload_id"),
)

portals = Table(
    "portals",
    metadata,
    Column("portal_id", String, primary_key=True),
    Column("portal_name", String, nullable=True),
    Column("seats_total", Integer, nullable=False, default=0, server_default="0"),
    # Added by migration 0004: the portal's registration page; an invitation's link is this
    # address with the single-use token appended.
    Column("registration_url", Text, nullable=True),
)

portal_users = Table(
    "portal_users",
    metadata,
    Column("npn", String, primary_key=True),
    Column("portal_id", String, ForeignKey("portals.portal_id"), primary_key=True),
    Column("email", String, nullable=True),
    Column("status", String, nullable=False),  # Invited, Registered, Revoked
    _timestamp("invited_at"),
    Column("invitation_token_hash", String, nullable=True),
    _timestamp("registered_at"),
    # Added by migration 0004: the invitation email's own ledger, so it is sent once. A row is
    # written (seat taken, token hash stored) before the email; `invitation_send_started_at` is
    # set just before the mail server is called and `invitation_sent_at` once it accepted the
    # message. Started but never sent means the outcome is unknown: never resent by itself.
    _timestamp("invitation_send_started_at"),
    _timestamp("invitation_sent_at"),
    Column("invitation_message_id", String, nullable=True),  # the email's Message-ID header
    Column("invitation_source", String, nullable=True),  # upload <id>, run <id>, or the CLI
    Column("invited_by", String, nullable=True),  # 0012: --by NAME, or upload <object key>
    _timestamp("revoked_at"),  # 0012: when offboarding revoked the seat
    Column("revoked_by", String, nullable=True),  # 0012: the offboarding's --by, or its upload
    # Seats are counted per portal.
    Index(None, "portal_id"),
    # The registration page finds an invitation by its token's hash; two invitations never
    # share one.
    Index(None, "invitation_token_hash", unique=True),
)

#: Every table by name, e.g. `TABLES["producers"]`.
TABLES: Mapping[str, Table] = metadata.tables
# Later tables, in modules of their own: imported so `metadata` always holds every table
# (tables_evidence also adds request_rejections' evidence columns, migration 0019).
from schemas import tables_audit, tables_compliance, tables_evidence  # noqa: E402,F401,I001
from schemas import tables_notifications, tables_renewals  # noqa: E402,F401
