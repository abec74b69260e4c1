"""The evidence of every transaction's eligibility decision (issue 19, docs/eligibility.md).

Defined on `schemas.tables.metadata` (imported at the bottom of `schemas/tables.py`); changed
only by Alembic migrations (revision 0019).

- `transaction_evidence`: one row per transaction, written in the same database transaction as
  the transaction itself, by the batch store. The columns are the fields of
  `assets/rules/evidence.py` (`EVIDENCE_FIELDS`, a test holds the two lists equal): the rows the
  engine read when it decided (the license, its line, check 7's resident license, the business
  rule, the company's state setting, the producer assignment, the appointment found, the state
  rule and fee rows with their `source` and `is_assumption`, NIPR's `data_as_of`), `decided_by`
  naming the one that decided, and the engine's version. Copied, not referenced: the license
  or rule rows change with the next sync or configuration, and the evidence is what was known
  when the decision was made.
- `request_rejections` keeps its own evidence (producer_sync_status, producer_is_active,
  decided_by, engine_version: added to that table by the same migration): a rejected request
  has no transaction, and its deciding row is always the producer's.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, DateTime, ForeignKey, Numeric, String, Table, Text

from schemas.tables import metadata

transaction_evidence = Table(
    "transaction_evidence",
    metadata,
    Column(
        "transaction_id",
        String,
        ForeignKey("transactions.transaction_id"),
        primary_key=True,
    ),
    Column("decided_by", String, nullable=False),
    Column("producer_sync_status", String, nullable=True),
    Column("producer_is_active", Boolean, nullable=True),
    Column("license_number", String, nullable=True),
    Column("license_class_code", String, nullable=True),
    Column("license_is_resident", Boolean, nullable=True),
    Column("license_is_active", Boolean, nullable=True),
    Column("license_issue_date", Date, nullable=True),
    Column("license_expiration_date", Date, nullable=True),
    Column("loa_code", String, nullable=True),
    Column("loa_is_active", Boolean, nullable=True),
    Column("loa_issue_date", Date, nullable=True),
    Column("resident_state_code", String, nullable=True),
    Column("resident_license_number", String, nullable=True),
    Column("resident_expiration_date", Date, nullable=True),
    Column("rule_license_class_code", String, nullable=True),
    Column("rule_loa_category", String, nullable=True),
    Column("company_in_state", Boolean, nullable=True),
    Column("company_is_jit", Boolean, nullable=True),
    Column("assignment_required", Boolean, nullable=True),
    Column("assignment_found", Boolean, nullable=True),
    Column("appointment_status", String, nullable=True),
    Column("appointment_effective_date", Date, nullable=True),
    Column("appointment_source", String, nullable=True),
    Column("state_reason_code", String, nullable=True),
    Column("state_rule_source", Text, nullable=True),
    Column("state_rule_is_assumption", Boolean, nullable=True),
    Column("fee_resident", Numeric(10, 2), nullable=True),
    Column("fee_nonresident", Numeric(10, 2), nullable=True),
    Column("fee_per_loa", Boolean, nullable=True),
    Column("fee_source", Text, nullable=True),
    Column("fee_is_assumption", Boolean, nullable=True),
    Column("licensing_data_as_of", DateTime(timezone=True), nullable=True),
    Column("appointments_data_as_of", DateTime(timezone=True), nullable=True),
    Column("engine_version", String, nullable=False),
)

#: The evidence columns added to `request_rejections` (its deciding row is the producer's).
REJECTION_EVIDENCE_COLUMNS = (
    "decided_by",
    "producer_sync_status",
    "producer_is_active",
    "engine_version",
)

# `request_rejections` is defined in schemas/tables.py; its evidence columns are added here,
# beside the evidence table, so both halves of the evidence read in one place.
for _column in (
    Column("decided_by", String, nullable=True),
    Column("producer_sync_status", String, nullable=True),
    Column("producer_is_active", Boolean, nullable=True),
    Column("engine_version", String, nullable=True),
):
    metadata.tables["request_rejections"].append_column(_column)
