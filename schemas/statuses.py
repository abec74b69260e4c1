"""Status vocabularies of transactions, batches and request rows (SPEC sections 3, 6 and 8).

The database stores these as plain strings (see `schemas/tables.py`: no enums), so this module
is the one place their spelling lives; everything that writes or filters a status imports it.
Plain constants, no Dagster, no I/O.
"""

from __future__ import annotations

# --- transactions.status ---------------------------------------------------------------------
READY_TO_SUBMIT = "Ready to Submit"
HELD_JIT = "Held (JIT)"
NOT_ELIGIBLE = "Not Eligible"
SUBMITTED = "Submitted"
PENDING_STATE_REVIEW = "Pending State Review"
ACCEPTED = "Accepted"
REJECTED = "Rejected"
ERROR = "Error"
CANCELLED = "Cancelled"
#: An appointment in a state that does not take it through NIPR (a registry state such as IL:
#: the carrier keeps its own register). Eligible, never sent, no fee; final.
RECORDED = "Recorded"

TRANSACTION_STATUSES: tuple[str, ...] = (
    READY_TO_SUBMIT,
    HELD_JIT,
    NOT_ELIGIBLE,
    SUBMITTED,
    PENDING_STATE_REVIEW,
    ACCEPTED,
    REJECTED,
    ERROR,
    CANCELLED,
    RECORDED,
)
#: Nothing more will happen to these: never sent again, never block a new request.
FINAL_TRANSACTION_STATUSES: frozenset[str] = frozenset(
    {NOT_ELIGIBLE, ACCEPTED, REJECTED, ERROR, CANCELLED, RECORDED}
)
#: Not final: a new request for the same line repeats one of these (SPEC 6 step 6).
OPEN_TRANSACTION_STATUSES: frozenset[str] = frozenset(TRANSACTION_STATUSES) - (
    FINAL_TRANSACTION_STATUSES
)
#: Waiting for a decision of ours (approval or rejection of their batch); nothing sent yet.
AWAITING_REVIEW_TRANSACTION_STATUSES: frozenset[str] = frozenset({READY_TO_SUBMIT, HELD_JIT})
#: Sent to NIPR, its final answer not yet in.
IN_FLIGHT_TRANSACTION_STATUSES: frozenset[str] = frozenset({SUBMITTED, PENDING_STATE_REVIEW})

# --- request_rejections.status (a request row that created no transaction) ------------------
REQUEST_REJECTED = "Request Rejected"

# --- transaction_batches.status --------------------------------------------------------------
BATCH_PENDING_REVIEW = "Pending Review"
BATCH_APPROVED = "Approved"
BATCH_SUBMITTING = "Submitting"
BATCH_SUBMITTED = "Submitted"
BATCH_COMPLETED = "Completed"
BATCH_REJECTED = "Rejected"

BATCH_STATUSES: tuple[str, ...] = (
    BATCH_PENDING_REVIEW,
    BATCH_APPROVED,
    BATCH_SUBMITTING,
    BATCH_SUBMITTED,
    BATCH_COMPLETED,
    BATCH_REJECTED,
)
#: An approval was given and its run may not have finished: what a retry starts again from.
BATCH_IN_SUBMISSION_STATUSES: frozenset[str] = frozenset(
    {BATCH_APPROVED, BATCH_SUBMITTING, BATCH_SUBMITTED}
)

TRANSACTION_KINDS: tuple[str, ...] = ("appointment", "termination")

#: The statuses of a line NIPR receives (or will, on approval): Ready to Submit and what
#: follows it. Cancelled is left out: a line cancelled before it was sent was never charged.
#: Here, beside the statuses, so the fee rules and the pandas-free CLI read one definition.
NIPR_FEE_STATUSES: frozenset[str] = frozenset(
    {READY_TO_SUBMIT} | IN_FLIGHT_TRANSACTION_STATUSES | {ACCEPTED, REJECTED, ERROR}
)

# --- batch_events.event: what happened to a batch (the audit trail, issue 19) ----------------
EVENT_CREATED = "created"
EVENT_APPROVED = "approved"
EVENT_REJECTED = "rejected"
EVENT_RETRIED = "retried"
EVENT_RELEASED = "released"
EVENT_SUBMITTED = "submitted"
EVENT_ANSWERED = "answered"
BATCH_EVENTS: tuple[str, ...] = (
    EVENT_CREATED,
    EVENT_APPROVED,
    EVENT_REJECTED,
    EVENT_RETRIED,
    EVENT_RELEASED,
    EVENT_SUBMITTED,
    EVENT_ANSWERED,
)

# --- batch_events.door: through which door it happened ---------------------------------------
DOOR_CLI = "cli"
DOOR_LAUNCHPAD = "launchpad"
DOOR_SENSOR = "sensor"
DOOR_UPLOAD = "upload"
DOOR_OFFBOARDING = "offboarding"
EVENT_DOORS: tuple[str, ...] = (
    DOOR_CLI,
    DOOR_LAUNCHPAD,
    DOOR_SENSOR,
    DOOR_UPLOAD,
    DOOR_OFFBOARDING,
)
