"""Reviewing, approving, rejecting and retrying transaction batches (SPEC section 8).

Every function takes a SQLAlchemy `Connection` and leaves the database transaction to its
caller (the CLI opens one per command, a Dagster op would do the same), so one command is
atomic: a refusal raised half-way rolls everything back.

Why the state changes look the way they do:
- Approval costs real fees, so every change of a batch's status is a *conditional* UPDATE on
  the status and `approval_version` read a moment before. Two analysts approving at once
  (or one approving while another rejects) cannot both succeed: on PostgreSQL the second
  UPDATE waits for the first's row lock, re-checks its WHERE and matches nothing; we then
  refuse with what happened instead.
- `approval_version` goes up by one on every approval and retry: the submission sensor
  requests exactly one run per (batch_id, approval_version), so a bump is what asks for a run,
  and nothing else does.
- Refusals are for people: they name the batch, its current status, who approved it and when,
  and what to do instead.

Timestamps are stored in UTC (SQLite keeps no offset, so a mixed store could not be read back
unambiguously); naive datetimes read back are therefore UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assets.keys import APPROVED_BATCH_SENSOR_NAME, TAG_BATCH_ID
from schemas import statuses
from schemas.tables import TABLES

CENT = Decimal("0.01")

TRANSACTION_COLUMNS = (
    "transaction_id",
    "request_row",
    "npn",
    "state_code",
    "loa_category",
    "loa_code",
    "license_number",
    "is_jit",
    "termination_reason_code",
    "effective_date",
    "eligibility_reason",
    "status",
    "estimated_fee",
    "nipr_status",
    "nipr_message",
)
REJECTION_COLUMNS = (
    "request_row",
    "npn",
    "state_code",
    "loa_category",
    "loa_code",
    "eligibility_reason",
    "status",
)
LIST_COLUMNS = (
    "batch_id",
    "kind",
    "cocode",
    "company_name",
    "upload_id",
    "upload_object_key",
    "status",
    "approval_version",
    "submit_immediately",
    "transactions",
    "ready_to_submit",
    "held_jit",
    "not_eligible",
    "submitted",
    "final",
    "estimated_fees",
    "fees_to_send",
    "fees_held",
    "approved_by",
    "approved_at",
    "created_at",
)


class BatchNotFound(LookupError):
    """No batch has this id."""

    def __init__(self, batch_id: str) -> None:
        self.batch_id = batch_id
        super().__init__(
            f"No batch {batch_id!r}. `npnflow batches list` shows the batches and their ids."
        )


class BatchActionRefused(RuntimeError):
    """An approval, rejection or retry that must not happen; the message says why, for people."""

    def __init__(self, message: str, *, batch_id: str | None = None, status: str | None = None):
        self.batch_id = batch_id
        self.status = status
        super().__init__(message)


@dataclass(frozen=True)
class BatchDetail:
    """One batch as an analyst reviews it before approving."""

    batch: dict[str, Any]  # the transaction_batches row, with company_name and upload_object_key
    transactions: pd.DataFrame  # TRANSACTION_COLUMNS, in request order
    counts: pd.DataFrame  # eligibility_reason, status, transactions, estimated_fees
    fees_to_send: Decimal  # over `Ready to Submit`: what approval would send and be billed
    fees_held: Decimal  # over `Held (JIT)`: not sent by approval
    request_rejections: pd.DataFrame  # the upload's rows (this CoCode) that made no transaction

    @property
    def batch_id(self) -> str:
        return str(self.batch["batch_id"])

    @property
    def status(self) -> str:
        return str(self.batch["status"])

    def count(self, status: str) -> int:
        """How many of the batch's transactions have this status."""
        return _count(self.counts, status)


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


@dataclass(frozen=True)
class RejectionResult:
    batch_id: str
    rejected_by: str
    rejected_at: dt.datetime  # UTC
    transactions_cancelled: int  # Ready to Submit and Held (JIT), now Cancelled
    fees_not_sent: Decimal  # what approval would have sent
    transactions_not_eligible: int  # kept as they are, for audit


# ============================================================================================
# Formatting shared by messages and the CLI
# ============================================================================================


def money(value: Decimal | float | int | None) -> Decimal:
    """A fee as exact cents: SQLite hands back sums as floats, PostgreSQL as Decimal."""
    if value is None or pd.isna(value):
        return Decimal("0.00")
    return Decimal(str(value)).quantize(CENT)


def format_money(value: Decimal | float | int | None) -> str:
    """$1,234.50"""
    return f"${money(value):,.2f}"


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    # NaT too: a frame column of timestamps and blanks comes back as datetime64 with NaT.
    if value is None or pd.isna(value):
        return None
    if value.tzinfo is None:  # stored in UTC, read back from SQLite without an offset
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def format_timestamp(value: dt.datetime | None) -> str:
    """2026-11-24 10:02 UTC"""
    moment = as_utc(value)
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else "-"


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
# Reading
# ============================================================================================


def _status_sum(column: sa.ColumnElement, wanted: str | frozenset[str]) -> sa.ColumnElement:
    statuses_wanted = [wanted] if isinstance(wanted, str) else sorted(wanted)
    return sa.func.coalesce(sa.func.sum(sa.case((column.in_(statuses_wanted), 1), else_=0)), 0)


def _fee_sum(transactions: sa.Table, status: str) -> sa.ColumnElement:
    return sa.func.sum(
        sa.case((transactions.c.status == status, transactions.c.estimated_fee), else_=None)
    )


def _batch_counts_subquery() -> sa.Subquery:
    t = TABLES["transactions"]
    return (
        sa.select(
            t.c.batch_id,
            sa.func.count().label("transactions"),
            _status_sum(t.c.status, statuses.READY_TO_SUBMIT).label("ready_to_submit"),
            _status_sum(t.c.status, statuses.HELD_JIT).label("held_jit"),
            _status_sum(t.c.status, statuses.NOT_ELIGIBLE).label("not_eligible"),
            _status_sum(t.c.status, statuses.IN_FLIGHT_TRANSACTION_STATUSES).label("submitted"),
            _status_sum(t.c.status, statuses.FINAL_TRANSACTION_STATUSES).label("final"),
            _fee_sum(t, statuses.READY_TO_SUBMIT).label("fees_to_send"),
            _fee_sum(t, statuses.HELD_JIT).label("fees_held"),
        )
        .group_by(t.c.batch_id)
        .subquery("counts")
    )


def _batch_select() -> sa.Select:
    batches, companies, uploads = (
        TABLES["transaction_batches"],
        TABLES["companies"],
        TABLES["uploads"],
    )
    return sa.select(
        *batches.c,
        companies.c.company_name,
        uploads.c.object_key.label("upload_object_key"),
    ).select_from(
        batches.outerjoin(companies, companies.c.cocode == batches.c.cocode).outerjoin(
            uploads, uploads.c.upload_id == batches.c.upload_id
        )
    )


def list_batches(
    connection: Connection,
    *,
    status: str | None = None,
    kind: str | None = None,
    upload_id: str | None = None,
) -> pd.DataFrame:
    """The batches, newest first, with their transaction counts and fees (LIST_COLUMNS).

    Counts: `transactions` (all), `ready_to_submit`, `held_jit`, `not_eligible`, `submitted`
    (sent, NIPR's final answer not in yet: Submitted or Pending State Review) and `final`
    (any final status, Not Eligible and Cancelled included, so `transactions - final` is what
    is still open). Fees: `estimated_fees` as recorded when the batch was made (its Ready to
    Submit fees), `fees_to_send` over what is Ready to Submit now (what approval would send),
    `fees_held` over Held (JIT).
    """
    if status is not None and status not in statuses.BATCH_STATUSES:
        raise ValueError(
            f"unknown batch status {status!r}; one of: {', '.join(statuses.BATCH_STATUSES)}"
        )
    if kind is not None and kind not in statuses.TRANSACTION_KINDS:
        raise ValueError(
            f"unknown batch kind {kind!r}; one of: {', '.join(statuses.TRANSACTION_KINDS)}"
        )
    batches = TABLES["transaction_batches"]
    counts = _batch_counts_subquery()
    count_columns = [
        "transactions",
        "ready_to_submit",
        "held_jit",
        "not_eligible",
        "submitted",
        "final",
    ]
    statement = (
        _batch_select()
        .add_columns(
            *(sa.func.coalesce(counts.c[name], 0).label(name) for name in count_columns),
            counts.c.fees_to_send,
            counts.c.fees_held,
        )
        .outerjoin(counts, counts.c.batch_id == batches.c.batch_id)
        .order_by(batches.c.created_at.desc().nulls_last(), batches.c.batch_id.desc())
    )
    if status is not None:
        statement = statement.where(batches.c.status == status)
    if kind is not None:
        statement = statement.where(batches.c.kind == kind)
    if upload_id is not None:
        statement = statement.where(batches.c.upload_id == upload_id)
    rows = [row._mapping for row in connection.execute(statement)]
    frame = pd.DataFrame(
        [{name: row[name] for name in LIST_COLUMNS} for row in rows], columns=list(LIST_COLUMNS)
    )
    for name in count_columns + ["approval_version"]:
        frame[name] = frame[name].astype("int64")
    for name in ("estimated_fees", "fees_to_send", "fees_held"):
        frame[name] = [
            None if name == "estimated_fees" and v is None else money(v) for v in frame[name]
        ]
    for name in ("approved_at", "created_at"):
        frame[name] = [as_utc(v) for v in frame[name]]
    return frame


def _read_batch(connection: Connection, batch_id: str) -> dict[str, Any]:
    batches = TABLES["transaction_batches"]
    row = connection.execute(_batch_select().where(batches.c.batch_id == batch_id)).first()
    if row is None:
        raise BatchNotFound(batch_id)
    batch = dict(row._mapping)
    for name in ("approved_at", "rejected_at", "created_at"):
        batch[name] = as_utc(batch[name])
    return batch


def _counts(connection: Connection, batch_id: str) -> pd.DataFrame:
    t = TABLES["transactions"]
    rows = connection.execute(
        sa.select(
            t.c.eligibility_reason,
            t.c.status,
            sa.func.count().label("transactions"),
            sa.func.sum(t.c.estimated_fee).label("estimated_fees"),
        )
        .where(t.c.batch_id == batch_id)
        # In SQL, not pandas: pandas' groupby would silently drop a NULL reason.
        .group_by(t.c.eligibility_reason, t.c.status)
    ).all()
    frame = pd.DataFrame(
        [
            (
                r.eligibility_reason,
                r.status,
                int(r.transactions),
                # None, not $0.00, when no fee was estimated (Not Eligible: never charged).
                None if r.estimated_fees is None else money(r.estimated_fees),
            )
            for r in rows
        ],
        columns=["eligibility_reason", "status", "transactions", "estimated_fees"],
    )
    # Lifecycle order (what will be sent first), then the largest groups.
    order = {s: i for i, s in enumerate(statuses.TRANSACTION_STATUSES)}
    frame["_order"] = frame["status"].map(lambda s: order.get(s, len(order)))
    frame = frame.sort_values(
        ["_order", "transactions", "eligibility_reason"],
        ascending=[True, False, True],
        na_position="last",
    )
    return frame.drop(columns="_order").reset_index(drop=True)


def _count(counts: pd.DataFrame, *wanted: str) -> int:
    """Transactions in any of these statuses, from the (reason, status) counts."""
    return int(counts.loc[counts["status"].isin(wanted), "transactions"].sum())


def _fees(counts: pd.DataFrame, status: str) -> Decimal:
    fees = counts.loc[counts["status"] == status, "estimated_fees"]
    return money(sum((f for f in fees if f is not None), Decimal(0)))


def batch_detail(connection: Connection, batch_id: str) -> BatchDetail:
    """The batch, its transactions, its counts and fees, and its upload's rejected rows."""
    batch = _read_batch(connection, batch_id)
    t = TABLES["transactions"]
    transactions = pd.DataFrame(
        connection.execute(
            sa.select(*(t.c[name] for name in TRANSACTION_COLUMNS))
            .where(t.c.batch_id == batch_id)
            .order_by(t.c.request_row, t.c.state_code, t.c.loa_code, t.c.transaction_id)
        ).all(),
        columns=list(TRANSACTION_COLUMNS),
    )
    counts = _counts(connection, batch_id)
    return BatchDetail(
        batch=batch,
        transactions=transactions,
        counts=counts,
        fees_to_send=_fees(counts, statuses.READY_TO_SUBMIT),
        fees_held=_fees(counts, statuses.HELD_JIT),
        request_rejections=_request_rejections(connection, batch),
    )


def _request_rejections(connection: Connection, batch: Mapping[str, Any]) -> pd.DataFrame:
    r = TABLES["request_rejections"]
    if batch["upload_id"] is None:
        return pd.DataFrame(columns=list(REJECTION_COLUMNS))
    return pd.DataFrame(
        connection.execute(
            sa.select(*(r.c[name] for name in REJECTION_COLUMNS))
            .where(
                r.c.upload_id == batch["upload_id"],
                r.c.cocode == batch["cocode"],
                r.c.kind == batch["kind"],
            )
            .order_by(r.c.request_row, r.c.state_code, r.c.id)
        ).all(),
        columns=list(REJECTION_COLUMNS),
    )


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
    connection: Connection, batch_id: str, *, approved_by: str, now: dt.datetime
) -> ApprovalResult:
    """Approve a `Pending Review` batch: the submission sensor then starts its run.

    Refused (BatchActionRefused) for any other status, for a blank name, and for a batch with
    nothing Ready to Submit: approval sends only Ready to Submit transactions, so approving a
    batch of held or ineligible ones would start a run that files nothing.
    """
    approved_by = _require_name(approved_by, "approves")
    now = _require_utc(now)
    batch = _read_batch(connection, batch_id)
    if batch["status"] != statuses.BATCH_PENDING_REVIEW:
        raise _refuse(batch, "approved")
    counts = _counts(connection, batch_id)
    ready = _count(counts, statuses.READY_TO_SUBMIT)
    held = _count(counts, statuses.HELD_JIT)
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
    return ApprovalResult(
        batch_id=batch_id,
        action="approved",
        status=statuses.BATCH_APPROVED,
        approval_version=version,
        by=approved_by,
        at=now,
        transactions_to_send=ready,
        fees_to_send=_fees(counts, statuses.READY_TO_SUBMIT),
        transactions_in_flight=0,
        transactions_held=held,
        fees_held=_fees(counts, statuses.HELD_JIT),
        approved_by=approved_by,
        approved_at=now,
    )


def retry_batch(
    connection: Connection, batch_id: str, *, requested_by: str, now: dt.datetime
) -> ApprovalResult:
    """Ask for a new submission run of an approved batch whose run failed (e.g. NIPR was down).

    Only for `Approved`, `Submitting` or `Submitted` batches that still have transactions to
    send or to hear back about (Ready to Submit, Submitted, Pending State Review). The new run
    first asks NIPR what it already has, so nothing is sent twice. The original approval (who
    authorised the fees, and when) is kept: a retry carries it on, it is not a new approval.
    """
    requested_by = _require_name(requested_by, "asks for the retry")
    now = _require_utc(now)
    batch = _read_batch(connection, batch_id)
    if batch["status"] not in statuses.BATCH_IN_SUBMISSION_STATUSES:
        raise _refuse(batch, "retried")
    counts = _counts(connection, batch_id)
    ready = _count(counts, statuses.READY_TO_SUBMIT)
    in_flight = _count(counts, *statuses.IN_FLIGHT_TRANSACTION_STATUSES)
    held = _count(counts, statuses.HELD_JIT)
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
    return ApprovalResult(
        batch_id=batch_id,
        action="retried",
        status=statuses.BATCH_APPROVED,
        approval_version=version,
        by=requested_by,
        at=now,
        transactions_to_send=ready,
        fees_to_send=_fees(counts, statuses.READY_TO_SUBMIT),
        transactions_in_flight=in_flight,
        transactions_held=held,
        fees_held=_fees(counts, statuses.HELD_JIT),
        approved_by=batch["approved_by"],
        approved_at=batch["approved_at"],
    )


def reject_batch(
    connection: Connection, batch_id: str, *, rejected_by: str, now: dt.datetime
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
    counts = _counts(connection, batch_id)
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
    return RejectionResult(
        batch_id=batch_id,
        rejected_by=rejected_by,
        rejected_at=now,
        transactions_cancelled=int(cancelled),
        fees_not_sent=_fees(counts, statuses.READY_TO_SUBMIT),
        transactions_not_eligible=_count(counts, statuses.NOT_ELIGIBLE),
    )
