"""Evidence: the rows that decided an eligibility outcome, kept as data (issue 19). Pure.

A compliance analyst asks "why is this Not Eligible?", an examiner "what did you know when you
approved this?". Both engines therefore return, beside each row's reason, the rows the decision
read: the license considered, its line, check 7's resident license, the business rule and the
company's state setting, the producer assignment, the appointment found, the state rule and fee
rows with their `source` and `is_assumption`, NIPR's `data_as_of` for the producer and state,
and the engine's version. `decided_by` names which of those rows decided the outcome.

In an engine's result the fields are columns named `evidence_<field>` (`EVIDENCE_COLUMNS`, after
`RESULT_COLUMNS`), NULL where a field does not apply (a request rejected for its producer has
no license). The store keeps them, without the prefix, in `transaction_evidence`, one row per
transaction (`schemas/tables_evidence.py`); `npnflow explain` and the batch export read them
back. One list for both engines and the store, so they cannot drift.
"""

from __future__ import annotations

import hashlib
import inspect
from types import ModuleType
from typing import Final

# --- Which row decided (`decided_by`) ------------------------------------------------------
# SPEC 6.1: the producer row (Not Found, Not Synced, Inactive).
DECIDED_BY_PRODUCER: Final = "producer"
# SPEC 6.3 check 1: no company of that CoCode.
DECIDED_BY_COMPANY: Final = "company"
# Check 2: the company has no setting for the state.
DECIDED_BY_COMPANY_STATE: Final = "company_state_setting"
# Check 3: the company does not appoint for the category (or the line names no category).
DECIDED_BY_COMPANY_CATEGORY: Final = "company_loa_category"
# Check 3, further: the company's business rules have no active line of the category there.
DECIDED_BY_BUSINESS_RULE: Final = "business_rule"
# Check 4: no producer assignment naming this company covers the line.
DECIDED_BY_ASSIGNMENT: Final = "producer_assignment"
# Check 5 (no license in the state of the rule's class) and check 6 (inactive or expired).
DECIDED_BY_LICENSE: Final = "license"
# Check 7: no active resident license anywhere.
DECIDED_BY_RESIDENT_LICENSE: Final = "resident_license"
# Check 8: the license does not hold the line, active.
DECIDED_BY_LICENSE_LINE: Final = "license_line"
# Check 9 (Already Appointed) and SPEC 7 check 1 (Appointment Not Found); also the appointment
# an eligible termination ends.
DECIDED_BY_APPOINTMENT: Final = "appointment"
# The state's rules: effective-date limits (check 10, SPEC 7 check 5), filing outside NIPR.
DECIDED_BY_STATE_RULE: Final = "state_rule"
# SPEC 7 checks 3-4: the state's termination reasons.
DECIDED_BY_TERMINATION_REASON: Final = "state_termination_reason"
# The request itself (an unreadable effective date).
DECIDED_BY_REQUEST: Final = "request"
# Eligible: every check passed; the evidence is the rows that passed them.
DECIDED_BY_ALL_CHECKS: Final = "all_checks"
# A transaction already filed for the same line (open, or one NIPR accepted): an offboarding
# keeps such a line on record as Not Eligible rather than filing it twice.
DECIDED_BY_OPEN_TRANSACTION: Final = "open_transaction"

DECIDED_BY: Final = (
    DECIDED_BY_PRODUCER,
    DECIDED_BY_COMPANY,
    DECIDED_BY_COMPANY_STATE,
    DECIDED_BY_COMPANY_CATEGORY,
    DECIDED_BY_BUSINESS_RULE,
    DECIDED_BY_ASSIGNMENT,
    DECIDED_BY_LICENSE,
    DECIDED_BY_RESIDENT_LICENSE,
    DECIDED_BY_LICENSE_LINE,
    DECIDED_BY_APPOINTMENT,
    DECIDED_BY_STATE_RULE,
    DECIDED_BY_TERMINATION_REASON,
    DECIDED_BY_REQUEST,
    DECIDED_BY_ALL_CHECKS,
    DECIDED_BY_OPEN_TRANSACTION,
)

# Where an appointment found came from (`appointment_source`).
APPOINTMENT_FROM_NIPR: Final = "nipr"  # the synced `appointments` table
APPOINTMENT_FROM_ACCEPTED: Final = "accepted transaction"  # NIPR accepted it since the sync
APPOINTMENT_FROM_REGISTRY: Final = "recorded transaction"  # a registry state's own register

# --- The fields, in the order they are shown ------------------------------------------------
# (name, kind): kind is text, flag, date, money or timestamp; the table's column types follow.
EVIDENCE_FIELDS: Final[tuple[tuple[str, str], ...]] = (
    ("decided_by", "text"),
    # SPEC 6.1: the producer row
    ("producer_sync_status", "text"),
    ("producer_is_active", "flag"),
    # the license considered (checks 5-6)
    ("license_number", "text"),
    ("license_class_code", "text"),
    ("license_is_resident", "flag"),
    ("license_is_active", "flag"),
    ("license_issue_date", "date"),
    ("license_expiration_date", "date"),
    # the line on that license (check 8): NULL when the license does not hold it at all
    ("loa_code", "text"),
    ("loa_is_active", "flag"),
    ("loa_issue_date", "date"),
    # check 7: the active resident license used (NULL: none)
    ("resident_state_code", "text"),
    ("resident_license_number", "text"),
    ("resident_expiration_date", "date"),
    # the company: business rule matched and its state setting
    ("rule_license_class_code", "text"),  # the Gateway rule's class; NULL: any class
    ("rule_loa_category", "text"),
    ("company_in_state", "flag"),
    ("company_is_jit", "flag"),
    # check 4
    ("assignment_required", "flag"),
    ("assignment_found", "flag"),
    # check 9 / SPEC 7 check 1: the appointment found (NULL: none)
    ("appointment_status", "text"),
    ("appointment_effective_date", "date"),
    ("appointment_source", "text"),
    # SPEC 7 checks 3-4: the reason code the state's table gave (NULL: none)
    ("state_reason_code", "text"),
    # the state rule row (config/reference/state_appointment_rules.csv)
    ("state_rule_source", "text"),
    ("state_rule_is_assumption", "flag"),
    # the state fee row (config/reference/state_fees.csv)
    ("fee_resident", "money"),
    ("fee_nonresident", "money"),
    ("fee_per_loa", "flag"),
    ("fee_source", "text"),
    ("fee_is_assumption", "flag"),
    # NIPR's data for the producer and state, when it was current (nipr_scope_reports)
    ("licensing_data_as_of", "timestamp"),
    ("appointments_data_as_of", "timestamp"),
    ("engine_version", "text"),
)
EVIDENCE_PREFIX: Final = "evidence_"
EVIDENCE_NAMES: Final = tuple(name for name, _kind in EVIDENCE_FIELDS)
#: The engines' result columns, after their `RESULT_COLUMNS`.
EVIDENCE_COLUMNS: Final = tuple(EVIDENCE_PREFIX + name for name in EVIDENCE_NAMES)


def engine_version(kind: str, *modules: ModuleType) -> str:
    """`<kind> rules <12 hex>`: a digest of the rule modules' source text, so a decision names
    the exact rules that made it and changes whenever a rule does (no number to forget)."""
    digest = hashlib.sha256()
    for module in modules:
        digest.update(inspect.getsource(module).encode())
    return f"{kind} rules {digest.hexdigest()[:12]}"
