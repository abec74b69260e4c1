"""Batches in the operational database: writing an upload's batch plan, and the look-ups the
sensors and the submission asset make.

Every function takes a SQLAlchemy `Connection` and leaves the database transaction to its
caller. Separate from `planning.py` (pure) because this is the I/O half.

Re-evaluating an upload replaces its batches only while nothing of it was approved or sent;
once a batch has moved on, the upload's transactions are history and are left alone. This rule
and the writing are the same for every transaction kind, so both kinds reach the one
submission path alike.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assets.batches.approvers import approval_refusal, auto_approval_refusal, load_approvers
from assets.batches.events import BatchEvent, droppers_of_upload, record_events
from assets.batches.planning import BatchPlan
from resources.bulk_writes import insert_frame
from schemas import statuses
from schemas.tables import TABLES


@dataclass(frozen=True)
class ExistingBatches:
    batch_ids: list[str]
    replaceable: bool
    why_not: str = ""


def existing_batches(
    connection: Connection, upload_id: str, kind: str | None = None
) -> ExistingBatches:
    """This upload's batches (of `kind`, or of any kind: an upload has one kind), and whether
    a re-evaluation may replace them."""
    batches = TABLES["transaction_batches"]
    attempts = TABLES["submission_attempts"]
    statement = (
        sa.select(batches.c.batch_id, batches.c.status, batches.c.approval_version)
        .where(batches.c.upload_id == upload_id)
        .order_by(batches.c.batch_id)
    )
    if kind is not None:
        statement = statement.where(batches.c.kind == kind)
    rows = connection.execute(statement).all()
    ids = [r.batch_id for r in rows]
    if not ids:
        return ExistingBatches([], True)
    sent = connection.execute(
        sa.select(sa.func.count()).select_from(attempts).where(attempts.c.batch_id.in_(ids))
    ).scalar_one()
    moved = [
        r.batch_id
        for r in rows
        if r.status not in (statuses.BATCH_PENDING_REVIEW, statuses.BATCH_COMPLETED)
        or (r.status == statuses.BATCH_COMPLETED and r.approval_version)
    ]
    if sent or moved:
        return ExistingBatches(
            ids,
            False,
            f"batch(es) {', '.join(moved or ids)} were already approved or sent; the upload's "
            "transactions are kept as they are",
        )
    return ExistingBatches(ids, True)


# The two-int4 key of the open-line claim's advisory lock (a key space apart from the one-bigint
# keys of the submission lock, assets/submissions/lock.py).
_LINE_CLAIM_LOCK = (13, 1)


def serialise_line_claims(connection: Connection) -> None:
    """Make this transaction the only one creating open transactions until it ends.

    The repeat check (SPEC 6 step 6: no second open transaction for a line) reads and then
    writes; two uploads evaluated at once both read "no open transaction" and both wrote, and
    the line went to NIPR twice (issue 13). Called first in the writing transaction, before the
    evaluation reads the open transactions: on PostgreSQL a transaction-scoped advisory lock
    (released at commit or rollback, so a crashed run never keeps it); on SQLite the caller's
    first statement is a write, which already holds the database's single write lock.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(
            sa.text("SELECT pg_advisory_xact_lock(:namespace, :key)"),
            {"namespace": _LINE_CLAIM_LOCK[0], "key": _LINE_CLAIM_LOCK[1]},
        )


def write_batch_plan(
    connection: Connection, plan: BatchPlan, *, door: str = statuses.DOOR_UPLOAD
) -> None:
    """Replace the upload's (unapproved) batches, transactions and rejections with the plan.

    The new batches' `created` (and automatic `approved`) events are written in the same
    transaction, by the upload's dropper(s) when `npnflow drop --by` named them; with
    config/approvers.yaml an automatic approval the dropper may not give waits for a person
    (`gate_automatic_approvals`)."""
    batches = TABLES["transaction_batches"]
    transactions = TABLES["transactions"]
    rejections = TABLES["request_rejections"]
    evidence = TABLES["transaction_evidence"]
    old = existing_batches(connection, plan.upload_id, plan.kind)
    if not old.replaceable:
        raise ValueError(f"upload {plan.upload_id}: {old.why_not}")
    if old.batch_ids:
        replaced = sa.select(transactions.c.transaction_id).where(
            transactions.c.batch_id.in_(old.batch_ids)
        )
        connection.execute(evidence.delete().where(evidence.c.transaction_id.in_(replaced)))
        connection.execute(transactions.delete().where(transactions.c.batch_id.in_(old.batch_ids)))
        connection.execute(batches.delete().where(batches.c.batch_id.in_(old.batch_ids)))
    connection.execute(
        rejections.delete().where(
            rejections.c.upload_id == plan.upload_id, rejections.c.kind == plan.kind
        )
    )
    droppers = droppers_of_upload(connection, plan.upload_id)
    notes = gate_automatic_approvals(plan.batches, droppers, approver=None)
    for table, frame in (
        (batches, plan.batches),
        (transactions, plan.transactions),
        (evidence, plan.evidence),
        (rejections, plan.rejections),
    ):
        insert_frame(connection, table, frame)
    record_creation_events(
        connection,
        plan.batches,
        who=", ".join(droppers) or "unknown dropper",
        door=door,
        origin=f"upload {plan.upload_id}",
        notes=notes,
    )


def gate_automatic_approvals(
    planned: pd.DataFrame, droppers: Sequence[str], approver: str | None
) -> dict[str, str]:
    """With config/approvers.yaml: an automatically approved batch (Submit = TRUE) that its
    approver may not approve is set back to Pending Review, in place. `approver` is who asked
    (an offboarding's --by); None for an upload, approved as its dropper(s) (`approvers.py`).
    Returns batch_id -> why it waits. Without the file, nothing changes."""
    policy = load_approvers()
    if policy is None or planned.empty:
        return {}
    notes: dict[str, str] = {}
    for index, row in planned.iterrows():
        if row["status"] != statuses.BATCH_APPROVED:
            continue
        fees = Decimal(str(row["estimated_fees"] or 0)).quantize(Decimal("0.01"))
        batch_id, cocode, kind = str(row["batch_id"]), str(row["cocode"]), str(row["kind"])
        why = (
            auto_approval_refusal(
                policy, batch_id=batch_id, cocode=cocode, kind=kind, fees=fees, droppers=droppers
            )
            if approver is None
            else approval_refusal(
                policy,
                batch_id=batch_id,
                cocode=cocode,
                kind=kind,
                fees=fees,
                approver=approver,
                droppers=droppers,
            )
        )
        if why:
            planned.loc[index, ["status", "approval_version", "approved_by", "approved_at"]] = [
                statuses.BATCH_PENDING_REVIEW,
                0,
                None,
                None,
            ]
            notes[str(row["batch_id"])] = f"not approved automatically: {why}"
    return notes


def record_creation_events(
    connection: Connection,
    planned: pd.DataFrame,
    *,
    who: str,
    door: str,
    origin: str,
    notes: dict[str, str] | None = None,
) -> None:
    """`created` for every new batch, and `approved` for those approved on creation."""
    events: list[BatchEvent] = []
    for row in planned.itertuples(index=False):
        batch_id = str(row.batch_id)
        note = (notes or {}).get(batch_id)
        events.append(
            BatchEvent(
                batch_id,
                statuses.EVENT_CREATED,
                who,
                door,
                0,
                f"from {origin}; {row.status}" + (f"; {note}" if note else ""),
            )
        )
        if row.status == statuses.BATCH_APPROVED:
            events.append(
                BatchEvent(
                    batch_id,
                    statuses.EVENT_APPROVED,
                    who,
                    door,
                    int(row.approval_version),
                    f"on creation (approved_by: {row.approved_by})",
                )
            )
    if len(planned):
        created = planned["created_at"].iloc[0]
        now = created if isinstance(created, dt.datetime) else dt.datetime.now(dt.UTC)
        record_events(connection, events, now)


# ============================================================================================
# Look-ups for the sensors and the submission asset (read only)
# ============================================================================================


def _batches_in_status(connection: Connection, status: str, limit: int) -> list[tuple[str, int]]:
    """(batch_id, approval_version) of the oldest batches in `status`."""
    batches = TABLES["transaction_batches"]
    rows = connection.execute(
        sa.select(batches.c.batch_id, batches.c.approval_version)
        .where(batches.c.status == status)
        .order_by(batches.c.approved_at, batches.c.batch_id)
        .limit(limit)
    ).all()
    return [(r.batch_id, int(r.approval_version or 0)) for r in rows]


def approved_batches(connection: Connection, limit: int) -> list[tuple[str, int]]:
    """(batch_id, approval_version) of at most `limit` Approved batches, oldest approval first:
    what `approved_batch_sensor` requests submission runs for."""
    return _batches_in_status(connection, statuses.BATCH_APPROVED, limit)


def submitted_batches(connection: Connection, limit: int) -> list[tuple[str, int]]:
    """(batch_id, approval_version) of at most `limit` Submitted batches (NIPR's answers still
    pending), oldest approval first: what `submitted_batches_poll_sensor` polls."""
    return _batches_in_status(connection, statuses.BATCH_SUBMITTED, limit)


def current_approval_version(connection: Connection, batch_id: str) -> int | None:
    """The batch's approval_version; None when there is no such batch."""
    batches = TABLES["transaction_batches"]
    version = connection.execute(
        sa.select(batches.c.approval_version).where(batches.c.batch_id == batch_id)
    ).scalar_one_or_none()
    return None if version is None else int(version)
