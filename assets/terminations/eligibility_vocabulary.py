"""Termination eligibility's words (SPEC section 7): statuses, reasons and the result's columns.

The strings the engine writes on a transaction, the reasons' wording (with the state, code or
date they quote), and the columns of what it returns, in one place: the store and the tests
import them rather than retyping them. Separate from the rules so that the wording can be read
(and changed) without reading how a check is computed. Pure, no Dagster.
"""

from __future__ import annotations

from assets.rules import outcomes

# The effective-date reasons are worded once for both engines.
from assets.rules.effective_dates import backdate_reason as backdate_reason
from assets.rules.effective_dates import date_not_specifiable_reason as date_not_specifiable_reason
from assets.rules.effective_dates import future_date_reason as future_date_reason
from assets.rules.effective_dates import unreadable_date_reason as unreadable_date_reason
from schemas import statuses

OPEN_STATUSES = statuses.OPEN_TRANSACTION_STATUSES

REASON_APPOINTMENT_NOT_FOUND = "Appointment Not Found"
REASON_REASON_REQUIRED = "Termination Reason Required"
REASON_IN_GOOD_STANDING = outcomes.REASON_IN_GOOD_STANDING

REPEAT_OF_OPEN_TRANSACTION = outcomes.REPEAT_OF_OPEN_TRANSACTION
REPEAT_IN_REQUESTS = "Repeats an earlier request row for the same line"
REPEAT_OF_ACCEPTED = "Repeats a termination NIPR already accepted (the NIPR sync will show it)"

APPOINTMENT_APPOINTED = outcomes.APPOINTMENT_APPOINTED
TRANSACTION_KIND = "termination"
BATCH_AUTO = outcomes.BATCH_AUTO
BATCH_REVIEW = outcomes.BATCH_REVIEW

# A termination's line: what an appointment, an open transaction and a request share.
KEY = ["npn", "state_code", "cocode", "loa_code"]

RESULT_COLUMNS = (
    "request_row",
    "npn",
    "state_code",
    "cocode",
    "company_name",
    "loa_code",
    "loa_name",
    "termination_reason_code",
    "is_resident",
    "eligibility_reason",
    "status",
    "estimated_fee",
    "estimated_nipr_fee",
    "auto_submit",
    "batch_key",
    "effective_date",
)
REPEAT_COLUMNS = (
    "request_row",
    "npn",
    "state_code",
    "cocode",
    "loa_code",
    "repeats_transaction_id",
    "repeats_request_row",
    "reason",
)


def not_accepted_reason(reason_code: str, state_code: str) -> str:
    """The state does not take this termination reason code."""
    return f"Termination Reason {reason_code} Not Accepted In {state_code}"


def not_via_nipr_reason(state_code: str) -> str:
    """The state's terminations are not filed through NIPR (`terminations_via_nipr` false)."""
    return f"Terminations Not Filed Through NIPR In {state_code}"


def batch_key(cocode: str, auto_submit: bool) -> str:
    """The batch a transaction goes to within its upload (the caller prefixes the upload)."""
    return outcomes.batch_key(TRANSACTION_KIND, cocode, auto_submit)
