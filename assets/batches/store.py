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

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

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


def write_batch_plan(connection: Connection, plan: BatchPlan) -> None:
    """Replace the upload's (unapproved) batches, transactions and rejections with the plan."""
    batches = TABLES["transaction_batches"]
    transactions = TABLES["transactions"]
    rejections = TABLES["request_rejections"]
    old = existing_batches(connection, plan.upload_id, plan.kind)
    if not old.replaceable:
        raise ValueError(f"upload {plan.upload_id}: {old.why_not}")
    if old.batch_ids:
        connection.execute(transactions.delete().where(transactions.c.batch_id.in_(old.batch_ids)))
        connection.execute(batches.delete().where(batches.c.batch_id.in_(old.batch_ids)))
    connection.execute(
        rejections.delete().where(
            rejections.c.upload_id == plan.upload_id, rejections.c.kind == plan.kind
        )
    )
    for table, frame in (
        (batches, plan.batches),
        (transactions, plan.transactions),
        (rejections, plan.rejections),
    ):
        insert_frame(connection, table, frame)


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
