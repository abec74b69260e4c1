"""Appointment eligibility's words (SPEC section 6): statuses, reasons and the result's columns.

The strings the engine writes on a transaction, and the columns of what it returns, in one
place: the SQL binds them as parameters, the store and the tests import them rather than
retyping them. Separate from the rules so that a reader of a reason's wording need not read
SQL, and the store can import the vocabulary without the engine. Pure, no Dagster.
"""

from __future__ import annotations

from assets.nipr.roster import NOT_FOUND
from assets.rules import outcomes
from schemas import statuses
from schemas.statuses import HELD_JIT, READY_TO_SUBMIT

ELIGIBLE_STATUSES = (READY_TO_SUBMIT, HELD_JIT)
# The shared status groups, as sorted tuples (stable SQL parameters and test ids).
OPEN_STATUSES = tuple(sorted(statuses.OPEN_TRANSACTION_STATUSES))
FINAL_STATUSES = tuple(sorted(statuses.FINAL_TRANSACTION_STATUSES))

REASON_PRODUCER_NOT_FOUND = "Producer Not Found"
REASON_PRODUCER_NOT_SYNCED = "Producer Not Synced"
REASON_PRODUCER_INACTIVE = "Producer Inactive"
REASON_COCODE_NOT_FOUND = "CoCode Not Found"
# "<company_name> does not appoint in the requested State: <state_code>"
REASON_NOT_IN_STATE_MIDDLE = " does not appoint in the requested State: "
REASON_COMPANY_LOAS = "Company Does Not Appoint for requested loas"
REASON_OUTSIDE_ASSIGNMENT = "Outside Producer Assignment"
REASON_LICENSE_NOT_FOUND = "Required License Not Found"
REASON_LICENSE_NOT_ACTIVE = "Required License Not Active"
REASON_NO_ACTIVE_RESIDENT_LICENSE = "No Active Resident License"
REASON_ALREADY_APPOINTED = "Already Appointed"
REASON_IN_GOOD_ORDER = "In Good Order"
REASON_IN_GOOD_STANDING = outcomes.REASON_IN_GOOD_STANDING
# An eligible line of a state whose appointments are not filed through NIPR
# (`state_appointment_rules.appointment_filing` other than `nipr`): recorded, never sent.
FILING_NIPR = "nipr"
REASON_REGISTRY_RECORDED = "Registry State: Recorded Without NIPR Filing"


def not_filed_through_nipr_reason(filing: str) -> str:
    """The reason of an eligible line whose state files appointments elsewhere than NIPR:
    `registry` (IL) gives REASON_REGISTRY_RECORDED, another way its own words."""
    if filing == "registry":
        return REASON_REGISTRY_RECORDED
    words = " ".join(part.capitalize() for part in filing.replace("_", " ").split())
    return f"{words} Filing: Recorded Without NIPR Filing"


REJECTION_REASONS = (
    REASON_PRODUCER_NOT_FOUND,
    REASON_PRODUCER_NOT_SYNCED,
    REASON_PRODUCER_INACTIVE,
)

# Why an eligible transaction was left out (result.attrs["repeats"]).
REPEAT_OF_OPEN_TRANSACTION = outcomes.REPEAT_OF_OPEN_TRANSACTION
REPEAT_IN_REQUESTS = "Repeats an earlier request row for the same line and license"

SYNC_STATUS_NOT_FOUND = NOT_FOUND  # NIPR does not know the NPN (the sync's own status)
APPOINTMENT_APPOINTED = outcomes.APPOINTMENT_APPOINTED
AGENT_TYPE_PRODUCER = "Producer"
AGENT_TYPE_AGENCY = "Agency"
TRANSACTION_KIND = "appointment"
BATCH_AUTO = outcomes.BATCH_AUTO
BATCH_REVIEW = outcomes.BATCH_REVIEW

RESULT_COLUMNS = (
    "request_row",
    "npn",
    "state_code",
    "cocode",
    "company_name",
    "loa_category",
    "loa_code",
    "license_number",
    "license_class_code",
    "is_resident",
    "agent_type",
    "eligibility_reason",
    "status",
    "is_jit",
    "auto_submit",
    "estimated_fee",
    "estimated_nipr_fee",
    "batch_key",
    "effective_date",
)
REPEAT_COLUMNS = (
    "request_row",
    "npn",
    "state_code",
    "cocode",
    "loa_category",
    "loa_code",
    "license_number",
    "repeats_transaction_id",
    "repeats_request_row",
    "reason",
)


def company_not_in_state_reason(company_name: str, state_code: str) -> str:
    """SPEC 6.3 check 2's reason: the company has no settings for the state."""
    return f"{company_name}{REASON_NOT_IN_STATE_MIDDLE}{state_code}"


def batch_key(cocode: str, auto_submit: bool) -> str:
    """The batch a transaction goes to within its upload (the caller prefixes the upload)."""
    return outcomes.batch_key(TRANSACTION_KIND, cocode, auto_submit)
