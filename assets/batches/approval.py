"""Approving, rejecting and retrying transaction batches (SPEC section 8): the actions.

Every action takes a SQLAlchemy `Connection` and leaves the database transaction to its
caller (`approve_in_transaction` and `reject_in_transaction` open one for the CLI and the
Dagster op, `retry_in_transaction` one under the batch's submission lock), so one command is
atomic: a refusal raised half-way rolls everything back. After the commit, each of the three
records the batch's page in the UI (`observation.py`) with what changed. Reading a batch
and showing it is `detail.py`; its public names are re-exported here, so a caller that reviews
then approves imports one module.

Why the state changes look the way they do:
- Approval costs real fees, so every change of a batch's status is a *conditional* UPDATE on
  the status and `approval_version` read a moment before. Two analysts approving at once
  (or one approving while another rejects) cannot both succeed: on PostgreSQL the second
  UPDATE waits for the first's row lock, re-checks its WHERE and matches nothing; we then
  refuse with what happened instead.
- `approval_version` goes up by one on every approval and retry: the submission sensor
  requests exactly one run per (batch_id, approval_version), so a bump is what asks for a run,
  and nothing else does.
- A retry is refused while a run holds the batch's submission lock (`retry_in_transaction`
  takes the lock for its whole transaction): a bump under a run that is still sending would
  stop that run half-way and leave the new version's run to fail on the lock.
- Refusals are for people: they name the batch, its current status, who approved it and when,
  and what to do instead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy.engine import Connection, Engine

from assets.batches.approvers import (
    ApproverPolicy,
    ApproversConfigError,
    approval_refusal,
    load_approvers,
)
from assets.batches.detail import (
    LIST_COLUMNS,
    NIPR_FEES,
    REJECTION_COLUMNS,
    TRANSACTION_COLUMNS,
    BatchDetail,
    BatchNotFound,
    as_utc,
    batch_detail,
    count_in,
    fees_in,
    format_money,
    format_timestamp,
    list_batches,
    money,
    read_batch,
    transaction_counts,
)
from assets.batches.events import BatchEvent, droppers_of_upload, record_event
from assets.batches.observation import RecordObservation, record_batch_pages
from assets.keys import APPROVED_BATCH_SENSOR_NAME, TAG_BATCH_ID
from assets.submissions.lock import BatchBusy, batch_lock
from schemas import statuses
from schemas.tables import TABLES

__all__ = [
    "LIST_COLUMNS",
    "REJECTION_COLUMNS",
    "TRANSACTION_COLUMNS",
    "ApprovalResult",
    "BatchActionRefused",
    "BatchDetail",
    "BatchNotFound",
    "RejectionResult",
    "approve_batch",
    "approve_in_transaction",
    "as_utc",
    "batch_detail",
    "format_money",
    "format_timestamp",
    "list_batches",
    "money",
    "reject_batch",
    "reject_in_transaction",
    "retry_batch",
    "retry_in_transaction",
]

# The actions read the batch through this module's own name: the one read that each
# conditional update is checked against (the race tests put a stale read in its place).
_read_batch = read_batch


class BatchActionRefused(RuntimeError):
    """An approval, rejection or retry that must not happen; the message says why, for people."""

    def __init__(self, message: str, *, batch_id: str | None = None, status: str | None = None):
        self.batch_id = batch_id
        self.status = status
        super().__init__(message)


@dataclass(frozen=True)
class ApprovalResult:
    """What an approval or a retry did; the submission run follows from `approval_version`."""

    batch_id: str
    action: str  # "approved" or "retried"
    status: str
    approval_version: int
    by: str
    at: dt.datetime  # UTC
    transactions_to_send: int  # Ready to Submit
    fees_to_send: Decimal
    transactions_in_flight: int  # Submitted / Pending State Review: the run asks NIPR about them
    transactions_held: int  # Held (JIT): approval does not send them
    fees_held: Decimal
    approved_by: str | None  # the approval a retry carries on (a retry is not a new approval)
    approved_at: dt.datetime | None
    # NIPR's own fee of the Ready to Submit lines, invoiced by NIPR apart from `fees_to_send`.
    nipr_fees_to_send: Decimal = Decimal("0.00")


@dataclass(frozen=True)
class RejectionResult:
    batch_id: str
    rejected_by: str
    rejected_at: dt.datetime  # UTC
    transactions_cancelled: int  # Ready to Submit and Held (JIT), now Cancelled
    fees_not_sent: Decimal  # what approval would have sent
    transactions_not_eligible: int  # kept as they are, for audit
    nipr_fees_not_sent: Decimal = Decimal("0.00")  # NIPR's own fee of the same lines


def _require_utc(now: dt.datetime) -> dt.datetime:
    # A naive `now` could be local time; recording it as UTC would misdate an approval.
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware, e.g. datetime.now(datetime.UTC)")
    return now.astimezone(dt.UTC)


def _require_name(name: str | None, role: str) -> str:
    cleaned = (name or "").strip()
    if not cleaned:
        # Who decided is the audit trail of a fee-bearing action: it cannot be blank.
        raise BatchActionRefused(f"Say who {role}: a name is required and is recorded.")
    return cleaned


# ============================================================================================
# Refusal messages
# ============================================================================================


def _approval_clause(batch: Mapping[str, Any]) -> str:
    if batch["approved_by"]:
        return (
            f"approved by {batch['approved_by']} at {format_timestamp(batch['approved_at'])}"
            f" (version {batch['approval_version']})"
        )
    return "never approved"


def _describe_state(batch: Mapping[str, Any]) -> str:
    """The batch's current state, in a sentence, with what can still be done."""
    batch_id, status = batch["batch_id"], batch["status"]
    retry = f"`npnflow batches retry {batch_id} --by NAME`"
    if status == statuses.BATCH_APPROVED:
        return (
            f"{batch_id} is already Approved, {_approval_clause(batch)}; the {APPROVED_BATCH_SENSOR_NAME} "
            f"submits it (Dagster UI, Runs, tag {TAG_BATCH_ID}={batch_id}). If its run failed, "
            f"retry it with {retry}."
        )
    if status == statuses.BATCH_SUBMITTING:
        return (
            f"{batch_id} is being submitted (Submitting), {_approval_clause(batch)}. Let its "
            f"run finish; if the run failed, retry it with {retry}."
        )
    if status == statuses.BATCH_SUBMITTED:
        return (
            f"{batch_id} was already Submitted to NIPR, {_approval_clause(batch)}; NIPR's "
            f"answers are on the way. If its run failed before every answer came in, retry it "
            f"with {retry}."
        )
    if status == statuses.BATCH_COMPLETED:
        return (
            f"{batch_id} is Completed ({_approval_clause(batch)}): every transaction is final "
            "(answered by NIPR, cancelled or never eligible). Nothing more can be sent from it; "
            "request the lines again with a new upload."
        )
    if status == statuses.BATCH_REJECTED:
        return (
            f"{batch_id} was Rejected by {batch['rejected_by'] or 'someone'} at "
            f"{format_timestamp(batch['rejected_at'])}; its open transactions were cancelled. "
            "A rejected batch cannot be approved or retried; request the lines again with a new "
            "upload."
        )
    if status == statuses.BATCH_PENDING_REVIEW:
        return (
            f"{batch_id} is Pending Review: it was never approved, so no run was started. "
            f"Review it with `npnflow batches show {batch_id}`, then approve it with "
            f"`npnflow batches approve {batch_id} --by NAME` or reject it."
        )
    return f"{batch_id} has status {status!r}, which npnflow does not recognise."


def _refuse(batch: Mapping[str, Any], action: str, *, raced: bool = False) -> BatchActionRefused:
    prefix = f"Not {action}: "
    if raced:
        prefix += f"someone else changed {batch['batch_id']} a moment ago. "
    elif action == "rejected":
        # Rejection is refused for reasons that are not obvious (an approved batch may
        # already be at NIPR): say the rule before the state.
        prefix += "only a Pending Review batch can be rejected. "

    return BatchActionRefused(
        prefix + _describe_state(batch), batch_id=batch["batch_id"], status=batch["status"]
    )


def _approvers(batch_id: str) -> ApproverPolicy | None:
    """config/approvers.yaml; a broken file refuses the approval (never approves unchecked)."""
    try:
        return load_approvers()
    except ApproversConfigError as error:
        raise BatchActionRefused(
            f"Not approved: {batch_id} cannot be checked against the approvers file: {error}. "
            "Fix the file, then approve again.",
            batch_id=batch_id,
        ) from None


def _conditional_update(
    connection: Connection, batch: Mapping[str, Any], values: Mapping[str, Any]
) -> bool:
    """Change the batch only if it is still as read: False when someone else got there first."""
    batches = TABLES["transaction_batches"]
    result = connection.execute(
        batches.update()
        .where(
            batches.c.batch_id == batch["batch_id"],
            batches.c.status == batch["status"],
            batches.c.approval_version == batch["approval_version"],
        )
        .values(**values)
    )
    return result.rowcount == 1


# ============================================================================================
# Actions
# ============================================================================================


def approve_batch(
    connection: Connection,
    batch_id: str,
    *,
    approved_by: str,
    now: dt.datetime,
    door: str = statuses.DOOR_CLI,
) -> ApprovalResult:
    """Approve a `Pending Review` batch: the submission sensor then starts its run.

    Refused (BatchActionRefused) for any other status, for a blank name, and for a batch with
    nothing Ready to Submit: approval sends only Ready to Submit transactions, so approving a
    batch of held or ineligible ones would start a run that files nothing. With
    config/approvers.yaml, also for a name not listed for the batch's CoCode and kind, a batch
    above its fee ceiling, and (four_eyes) the file's own dropper (`approvers.py`). The
    `approved` event (`door`: cli, launchpad, ...) is written in the caller's transaction.
    """
    approved_by = _require_name(approved_by, "approves")
    now = _require_utc(now)
    batch = _read_batch(connection, batch_id)
    if batch["status"] != statuses.BATCH_PENDING_REVIEW:
        raise _refuse(batch, "approved")
    counts = transaction_counts(connection, batch_id)
    ready = count_in(counts, statuses.READY_TO_SUBMIT)
    held = count_in(counts, statuses.HELD_JIT)
    if ready == 0:
        raise BatchActionRefused(
            f"Not approved: {batch_id} has nothing to send: no transaction is Ready to Submit "
            f"({held} Held (JIT), {int(counts['transactions'].sum()) - held} other). Approval "
            "sends only Ready to Submit transactions, so it would start a run that files "
            f"nothing. To drop the held ones, reject it: `npnflow batches reject {batch_id} "
            "--by NAME`.",
            batch_id=batch_id,
            status=batch["status"],
        )
    fees_to_send = fees_in(counts, statuses.READY_TO_SUBMIT)
    nipr_fees_to_send = fees_in(counts, statuses.READY_TO_SUBMIT, NIPR_FEES)
    refusal = approval_refusal(
        _approvers(batch_id),
        batch_id=batch_id,
        cocode=str(batch["cocode"]),
        kind=str(batch["kind"]),
        fees=fees_to_send + nipr_fees_to_send,
        approver=approved_by,
        droppers=droppers_of_upload(connection, batch["upload_id"]),
    )
    if refusal:
        raise BatchActionRefused(
            f"Not approved: {refusal}", batch_id=batch_id, status=batch["status"]
        )
    version = int(batch["approval_version"]) + 1
    if not _conditional_update(
        connection,
        batch,
        {
            "status": statuses.BATCH_APPROVED,
            "approved_by": approved_by,
            "approved_at": now,
            "approval_version": version,
        },
    ):
        raise _refuse(_read_batch(connection, batch_id), "approved", raced=True)
    record_event(
        connection,
        BatchEvent(
            batch_id,
            statuses.EVENT_APPROVED,
            approved_by,
            door,
            version,
            f"{ready} transaction(s) to send, ${fees_to_send:,.2f} in state fees and "
            f"${nipr_fees_to_send:,.2f} in NIPR fees; {held} held (JIT)",
        ),
        now,
    )
    return ApprovalResult(
        batch_id=batch_id,
        action="approved",
        status=statuses.BATCH_APPROVED,
        approval_version=version,
        by=approved_by,
        at=now,
        transactions_to_send=ready,
        fees_to_send=fees_to_send,
        transactions_in_flight=0,
        transactions_held=held,
        fees_held=fees_in(counts, statuses.HELD_JIT),
        approved_by=approved_by,
        approved_at=now,
        nipr_fees_to_send=nipr_fees_to_send,
    )


def retry_batch(
    connection: Connection,
    batch_id: str,
    *,
    requested_by: str,
    now: dt.datetime,
    door: str = statuses.DOOR_CLI,
) -> ApprovalResult:
    """Ask for a new submission run of an approved batch whose run failed (e.g. NIPR was down).

    The caller holds the batch's submission lock, so no run is sending it meanwhile:
    `retry_in_transaction` does that. Only for `Approved`, `Submitting` or `Submitted` batches that still have transactions to
    send or to hear back about (Ready to Submit, Submitted, Pending State Review). The new run
    first asks NIPR what it already has, so nothing is sent twice. The original approval (who
    authorised the fees, and when) is kept: a retry carries it on, it is not a new approval.
    """
    requested_by = _require_name(requested_by, "asks for the retry")
    now = _require_utc(now)
    batch = _read_batch(connection, batch_id)
    if batch["status"] not in statuses.BATCH_IN_SUBMISSION_STATUSES:
        raise _refuse(batch, "retried")
    counts = transaction_counts(connection, batch_id)
    ready = count_in(counts, statuses.READY_TO_SUBMIT)
    in_flight = count_in(counts, *statuses.IN_FLIGHT_TRANSACTION_STATUSES)
    held = count_in(counts, statuses.HELD_JIT)
    if ready + in_flight == 0:
        raise BatchActionRefused(
            f"Not retried: {batch_id} ({batch['status']}, {_approval_clause(batch)}) has "
            "nothing left to send or to hear back about: every transaction is final"
            + (f" or Held (JIT) ({held} held)" if held else "")
            + ". A new run would do nothing.",
            batch_id=batch_id,
            status=batch["status"],
        )
    version = int(batch["approval_version"]) + 1
    if not _conditional_update(
        connection,
        batch,
        {"status": statuses.BATCH_APPROVED, "approval_version": version},
    ):
        raise _refuse(_read_batch(connection, batch_id), "retried", raced=True)
    record_event(
        connection,
        BatchEvent(
            batch_id,
            statuses.EVENT_RETRIED,
            requested_by,
            door,
            version,
            f"{ready} Ready to Submit, {in_flight} awaiting NIPR's answer; the approval stays "
            f"{batch['approved_by'] or 'nobody'}'s",
        ),
        now,
    )
    return ApprovalResult(
        batch_id=batch_id,
        action="retried",
        status=statuses.BATCH_APPROVED,
        approval_version=version,
        by=requested_by,
        at=now,
        transactions_to_send=ready,
        fees_to_send=fees_in(counts, statuses.READY_TO_SUBMIT),
        transactions_in_flight=in_flight,
        transactions_held=held,
        fees_held=fees_in(counts, statuses.HELD_JIT),
        approved_by=batch["approved_by"],
        approved_at=batch["approved_at"],
        nipr_fees_to_send=fees_in(counts, statuses.READY_TO_SUBMIT, NIPR_FEES),
    )


def reject_batch(
    connection: Connection,
    batch_id: str,
    *,
    rejected_by: str,
    now: dt.datetime,
    door: str = statuses.DOOR_CLI,
) -> RejectionResult:
    """Reject a `Pending Review` batch: nothing of it is ever sent.

    Its open transactions (Ready to Submit, Held (JIT)) become `Cancelled`, which is final, so
    they no longer block a new request for the same line. Not Eligible ones stay as they are.
    """
    rejected_by = _require_name(rejected_by, "rejects")
    now = _require_utc(now)
    batch = _read_batch(connection, batch_id)
    if batch["status"] != statuses.BATCH_PENDING_REVIEW:
        raise _refuse(batch, "rejected")
    counts = transaction_counts(connection, batch_id)
    if not _conditional_update(
        connection,
        batch,
        {"status": statuses.BATCH_REJECTED, "rejected_by": rejected_by, "rejected_at": now},
    ):
        raise _refuse(_read_batch(connection, batch_id), "rejected", raced=True)
    t = TABLES["transactions"]
    # After the batch row changed: on PostgreSQL its row lock now keeps an approval out.
    cancelled = connection.execute(
        t.update()
        .where(
            t.c.batch_id == batch_id,
            t.c.status.in_(sorted(statuses.AWAITING_REVIEW_TRANSACTION_STATUSES)),
        )
        .values(status=statuses.CANCELLED, completed_at=now)
    ).rowcount
    record_event(
        connection,
        BatchEvent(
            batch_id,
            statuses.EVENT_REJECTED,
            rejected_by,
            door,
            int(batch["approval_version"]),
            f"{int(cancelled)} open transaction(s) cancelled",
        ),
        now,
    )
    return RejectionResult(
        batch_id=batch_id,
        rejected_by=rejected_by,
        rejected_at=now,
        transactions_cancelled=int(cancelled),
        fees_not_sent=fees_in(counts, statuses.READY_TO_SUBMIT),
        transactions_not_eligible=count_in(counts, statuses.NOT_ELIGIBLE),
        nipr_fees_not_sent=fees_in(counts, statuses.READY_TO_SUBMIT, NIPR_FEES),
    )


class _Transactional(Protocol):
    """What opens a database transaction: the `OperationalDatabase` resource."""

    def begin(self) -> AbstractContextManager[Connection]: ...


def _record_page(
    database: _Transactional, batch_id: str, record: RecordObservation | None, because: str
) -> None:
    """After the change committed: the batch's page in the UI (its upload's partition of the
    batches asset) records the batch as it is now (`observation.py`)."""
    if record is not None:
        record_batch_pages(database, [batch_id], record, because=because)


def approve_in_transaction(
    database: _Transactional,
    batch_id: str,
    *,
    approved_by: str,
    now: dt.datetime,
    record: RecordObservation | None = None,
    door: str = statuses.DOOR_CLI,
) -> ApprovalResult:
    """`approve_batch` in one database transaction of its own: the entry point for a Dagster
    op and the CLI, which then open no transaction themselves. A refusal rolls everything
    back. Once committed, `record` (`context.log_event` in a run, the instance outside one)
    records the batch's page as it is now."""
    with database.begin() as connection:
        result = approve_batch(connection, batch_id, approved_by=approved_by, now=now, door=door)
    _record_page(
        database,
        batch_id,
        record,
        f"approved by {result.by} (version {result.approval_version})",
    )
    return result


def reject_in_transaction(
    database: _Transactional,
    batch_id: str,
    *,
    rejected_by: str,
    now: dt.datetime,
    record: RecordObservation | None = None,
    door: str = statuses.DOOR_CLI,
) -> RejectionResult:
    """`reject_batch` in one database transaction of its own; then `record` records the page."""
    with database.begin() as connection:
        result = reject_batch(connection, batch_id, rejected_by=rejected_by, now=now, door=door)
    _record_page(database, batch_id, record, f"rejected by {result.rejected_by}")
    return result


class _LockableDatabase(_Transactional, Protocol):
    """What a retry needs: transactions, and the engine the submission lock is taken on."""

    @property
    def engine(self) -> Engine: ...


def retry_in_transaction(
    database: _LockableDatabase,
    batch_id: str,
    *,
    requested_by: str,
    now: dt.datetime,
    record: RecordObservation | None = None,
    door: str = statuses.DOOR_CLI,
) -> ApprovalResult:
    """`retry_batch` in one database transaction of its own, under the batch's submission lock.

    Refused while a run holds the lock (a submission still sending, or a poll): the run may
    yet finish the batch, and a new approval version would only make it stop half-way. The lock
    is kept until the transaction has committed, so no run can start on the old version in
    between; a run that starts afterwards sees the new version. Then `record` records the page.
    """
    requested_by = _require_name(requested_by, "asks for the retry")
    try:
        with batch_lock(database.engine, batch_id), database.begin() as connection:
            result = retry_batch(
                connection, batch_id, requested_by=requested_by, now=now, door=door
            )
    except BatchBusy:
        raise BatchActionRefused(
            f"Not retried: batch {batch_id} is being submitted by a run right now (Dagster UI, "
            f"Runs, tag {TAG_BATCH_ID}={batch_id}); retry when it finishes, if it leaves "
            "anything to send.",
            batch_id=batch_id,
        ) from None
    _record_page(
        database,
        batch_id,
        record,
        f"retry requested by {result.by} (version {result.approval_version})",
    )
    return result
