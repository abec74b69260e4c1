"""Offboarding in the operational database: the reads and the writes of one producer's step.

Every function takes the caller's connection and leaves the database transaction to it:
`service.py` runs all of one producer's steps in ONE transaction, so a producer is offboarded
whole or not at all. The rules (which lines, which batches) are `rules.py`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assets.batches.events import droppers_of_upload
from assets.batches.planning import BatchPlan
from assets.batches.store import gate_automatic_approvals, record_creation_events
from assets.offboarding.rules import UNSENT_STATUSES, CancelledLine, RevokedSeat
from assets.portal.invitations import SEAT_HOLDING_STATUSES, STATUS_REVOKED
from resources.bulk_writes import insert_frame
from schemas import statuses
from schemas.tables import TABLES

producers = TABLES["producers"]
transactions = TABLES["transactions"]
batches = TABLES["transaction_batches"]
portal_users = TABLES["portal_users"]
companies = TABLES["companies"]


@dataclass(frozen=True)
class ProducerState:
    npn: str
    is_active: bool | None
    offboarded_at: dt.datetime | None
    offboarded_by: str | None


def read_producer(connection: Connection, npn: str) -> ProducerState | None:
    row = connection.execute(
        sa.select(
            producers.c.npn,
            producers.c.is_active,
            producers.c.offboarded_at,
            producers.c.offboarded_by,
        ).where(producers.c.npn == npn)
    ).first()
    if row is None:
        return None
    return ProducerState(row.npn, row.is_active, row.offboarded_at, row.offboarded_by)


def company_cocodes(connection: Connection) -> list[str]:
    """The customer's companies (loaded from config/companies.yaml)."""
    return sorted(connection.execute(sa.select(companies.c.cocode)).scalars())


def mark_offboarded(connection: Connection, npn: str, *, by: str, now: dt.datetime) -> bool:
    """Mark the producer offboarded (not active, when, by whom), unless it already is: False
    then (or when there is no such producer). The first write of the producer's transaction:
    on PostgreSQL its row lock makes a second offboarding of the same producer wait, then
    find it offboarded and change nothing."""
    result = connection.execute(
        producers.update()
        .where(producers.c.npn == npn, producers.c.offboarded_at.is_(None))
        .values(is_active=False, offboarded_at=now, offboarded_by=by, updated_at=now)
    )
    return result.rowcount == 1


def unsent_batches_in_submission(connection: Connection, npn: str) -> list[str]:
    """Batches a submission run may be sending (Approved, Submitting, Submitted) that hold a
    line of this producer never sent: their submission lock is taken before cancelling it."""
    rows: Sequence[object] = (
        connection.execute(
            sa.select(transactions.c.batch_id)
            .distinct()
            .select_from(transactions.join(batches, batches.c.batch_id == transactions.c.batch_id))
            .where(
                transactions.c.npn == npn,
                transactions.c.status.in_(UNSENT_STATUSES),
                batches.c.status.in_(sorted(statuses.BATCH_IN_SUBMISSION_STATUSES)),
            )
            .order_by(transactions.c.batch_id)
        )
        .scalars()
        .all()
    )
    return [str(batch_id) for batch_id in rows]


def cancel_unsent_lines(
    connection: Connection, npn: str, *, now: dt.datetime, keep_batches: Sequence[str] = ()
) -> list[CancelledLine]:
    """Cancel the producer's appointment lines never sent (Ready to Submit, Held (JIT)).

    Appointment lines only: an open termination of the producer is what offboarding wants
    to happen anyway (the termination engine reports it as a repeat instead of filing the
    line twice). `keep_batches` (the offboarding's own new batches) are never touched."""
    where = [
        transactions.c.npn == npn,
        transactions.c.kind == "appointment",
        transactions.c.status.in_(UNSENT_STATUSES),
    ]
    if keep_batches:
        where.append(transactions.c.batch_id.not_in(list(keep_batches)))
    rows = connection.execute(
        sa.select(
            transactions.c.transaction_id,
            transactions.c.batch_id,
            transactions.c.kind,
            transactions.c.state_code,
            transactions.c.cocode,
            transactions.c.loa_category,
            transactions.c.loa_code,
            transactions.c.status,
        )
        .where(*where)
        .order_by(transactions.c.batch_id, transactions.c.transaction_id)
    ).all()
    if not rows:
        return []
    ids = [r.transaction_id for r in rows]
    # Conditional on the status read: a line that moved meanwhile is not cancelled blindly.
    changed = connection.execute(
        transactions.update()
        .where(transactions.c.transaction_id.in_(ids), transactions.c.status.in_(UNSENT_STATUSES))
        .values(status=statuses.CANCELLED, completed_at=now)
    ).rowcount
    if changed != len(ids):
        raise RuntimeError(
            f"NPN {npn}: {len(ids) - changed} unsent line(s) changed while being cancelled; "
            "nothing of this producer was offboarded. Offboard it again."
        )
    return [
        CancelledLine(
            r.transaction_id,
            r.batch_id,
            r.kind,
            r.state_code,
            r.cocode,
            r.loa_category or r.loa_code,
            r.status,
        )
        for r in rows
    ]


def complete_batches_without_open_lines(
    connection: Connection, batch_ids: Sequence[str]
) -> list[str]:
    """Of these batches, those left with no open line become `Completed` (the state a batch
    whose every transaction is final has, `assets/batches/planning.py`); returns them."""
    ids = sorted(set(batch_ids))
    if not ids:
        return []
    still_open = (
        sa.select(transactions.c.transaction_id)
        .where(
            transactions.c.batch_id == batches.c.batch_id,
            transactions.c.status.in_(sorted(statuses.OPEN_TRANSACTION_STATUSES)),
        )
        .exists()
    )
    closable: list[str] = list(
        connection.execute(
            sa.select(batches.c.batch_id)
            .where(
                batches.c.batch_id.in_(ids),
                batches.c.status != statuses.BATCH_COMPLETED,
                batches.c.status != statuses.BATCH_REJECTED,
                ~still_open,
            )
            .order_by(batches.c.batch_id)
        ).scalars()
    )
    if closable:
        connection.execute(
            batches.update()
            .where(batches.c.batch_id.in_(closable))
            .values(status=statuses.BATCH_COMPLETED)
        )
    return closable


def write_batches(connection: Connection, plan: BatchPlan, *, by: str, door: str) -> None:
    """Insert the offboarding's termination batches and transactions (new rows only: an
    offboarding never replaces another's batches, unlike a re-evaluated upload), with their
    `created` (and, Submit Immediately, `approved`) events by `by`. With config/approvers.yaml a
    batch `by` may not approve waits in Pending Review (`gate_automatic_approvals`)."""
    droppers = droppers_of_upload(connection, plan.upload_id)
    notes = gate_automatic_approvals(plan.batches, droppers, approver=by)
    for table, frame in (
        (batches, plan.batches),
        (transactions, plan.transactions),
        (TABLES["transaction_evidence"], plan.evidence),
    ):
        insert_frame(connection, table, frame)
    record_creation_events(
        connection,
        plan.batches,
        who=by,
        door=door,
        origin=f"offboarding {plan.upload_id}",
        notes=notes,
    )


def revoke_portal_access(
    connection: Connection, npn: str, *, by: str, now: dt.datetime
) -> list[RevokedSeat]:
    """Every seat the producer holds becomes `Revoked` (by whom and when recorded): the seat
    counts as free again and the invitation's token hash is cleared, so its link is refused by
    the registration page."""
    rows = connection.execute(
        sa.select(portal_users.c.portal_id, portal_users.c.status)
        .where(portal_users.c.npn == npn, portal_users.c.status.in_(SEAT_HOLDING_STATUSES))
        .order_by(portal_users.c.portal_id)
    ).all()
    if rows:
        connection.execute(
            portal_users.update()
            .where(portal_users.c.npn == npn, portal_users.c.status.in_(SEAT_HOLDING_STATUSES))
            .values(
                status=STATUS_REVOKED, invitation_token_hash=None, revoked_at=now, revoked_by=by
            )
        )
    return [RevokedSeat(r.portal_id, r.status) for r in rows]


def frame_of(plan_frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """The columns of a planned frame a person reads (those it has)."""
    return plan_frame.loc[:, [c for c in columns if c in plan_frame.columns]].reset_index(drop=True)


__all__ = [
    "ProducerState",
    "cancel_unsent_lines",
    "company_cocodes",
    "complete_batches_without_open_lines",
    "frame_of",
    "mark_offboarded",
    "read_producer",
    "revoke_portal_access",
    "unsent_batches_in_submission",
    "write_batches",
]
