"""Removing a producer NIPR does not know: `npnflow producers remove NPN --by NAME`.

An NPN typed wrong in an agent file (`048905991` for `48905991`, a transposed digit) becomes a
producer NIPR answers `Not Found` for; it may already hold a portal seat and producer
assignments. Offboarding is for producers NIPR knows (it terminates appointments); this is
the correction for one it never knew. The rules (docs/decisions/0028-answers-from-the-cli.md):

- removable only when NIPR never knew it: its sync status is not `Success` / `Success - No
  Licenses`, no NIPR data was ever applied for it (licenses, lines, appointments, scope
  reports), and it is not an active PDB Alerts target;
- and nothing for it may have reached the NIPR Gateway. Strict: a line sent or answered
  (`submitted_at`, `nipr_status`, `nipr_trans`, `submission_chunk`, or a sent/final-answer
  status), or a line still to send in a batch that is approved or whose submission ledger
  (`submission_attempts`) has a row, since a run may be sending it or a reply may be lost;
- then, in the caller's one transaction: its open unsent lines (Ready to Submit, Held (JIT)
  in batches nobody approved) are `Cancelled` (kept, like every line, for the audit), its
  portal seats deleted (the seat is free and the emailed link stops working), its producer
  assignments and subscription ledger rows deleted, and the producer row deleted. Upload
  records (request rows, row errors, request rejections) are the history of the files and
  stay.

Plain SQLAlchemy on the caller's connection, no Dagster.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assets.nipr.roster import SYNCED_STATUSES
from schemas import statuses
from schemas.npns import canonical_npn
from schemas.tables import (
    appointments,
    license_loas,
    licenses,
    nipr_scope_reports,
    nipr_subscriptions,
    portal_users,
    producer_assignments,
    producers,
    submission_attempts,
    transaction_batches,
    transactions,
)

#: Statuses a line only has once it went to the Gateway (or NIPR answered about it).
SENT_STATUSES: frozenset[str] = frozenset(
    {
        statuses.SUBMITTED,
        statuses.PENDING_STATE_REVIEW,
        statuses.ACCEPTED,
        statuses.REJECTED,
        statuses.ERROR,
    }
)
#: Lines a batch never sends, whatever happens to the batch.
NEVER_SENT_STATUSES: frozenset[str] = frozenset(
    {statuses.NOT_ELIGIBLE, statuses.RECORDED, statuses.CANCELLED, statuses.HELD_JIT}
)
#: The columns copied into the audit record (never the SSN's token or last four).
AUDITED_PRODUCER_COLUMNS = (
    "npn",
    "first_name",
    "last_name",
    "email",
    "agency_npn",
    "agent_type",
    "sync_status",
    "last_synced_at",
    "created_at",
)


class RemovalRefused(RuntimeError):
    """The producer cannot be removed; the message says why and what to do instead."""


@dataclass(frozen=True)
class Removal:
    """What one removal did."""

    npn: str
    typed: str
    removed_by: str
    removed_at: dt.datetime
    producer: dict[str, Any]  # AUDITED_PRODUCER_COLUMNS of the removed row
    rows_removed: dict[str, int] = field(default_factory=dict)  # table -> rows deleted
    transactions_cancelled: list[str] = field(default_factory=list)
    portal_seats_freed: list[str] = field(default_factory=list)  # portal ids

    def audit_record(self) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            return value.isoformat() if isinstance(value, dt.datetime | dt.date) else value

        return {
            "action": "producer removed",
            "npn": self.npn,
            "npn_as_typed": self.typed,
            "removed_by": self.removed_by,
            "removed_at": self.removed_at.isoformat(),
            "producer": {k: plain(v) for k, v in self.producer.items()},
            "rows_removed": self.rows_removed,
            "transactions_cancelled": self.transactions_cancelled,
            "portal_seats_freed": self.portal_seats_freed,
        }


def _count(connection: Connection, table: sa.Table, *where: Any) -> int:
    return int(
        connection.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()
    )


def _sent_lines(connection: Connection, npn: str) -> list[str]:
    """The producer's lines that may have reached the Gateway, each with why."""
    attempted = sa.select(submission_attempts.c.batch_id).distinct()
    lines = connection.execute(
        sa.select(
            transactions.c.transaction_id,
            transactions.c.status,
            transactions.c.submitted_at,
            transactions.c.nipr_status,
            transactions.c.nipr_trans,
            transactions.c.submission_chunk,
            transaction_batches.c.status.label("batch_status"),
            transaction_batches.c.batch_id.in_(attempted).label("batch_attempted"),
        )
        .join(transaction_batches, transaction_batches.c.batch_id == transactions.c.batch_id)
        .where(transactions.c.npn == npn)
        .order_by(transactions.c.transaction_id)
    ).all()
    found: list[str] = []
    for line in lines:
        if line.status in SENT_STATUSES:
            found.append(f"{line.transaction_id} ({line.status})")
        elif any(
            value is not None
            for value in (
                line.submitted_at,
                line.nipr_status,
                line.nipr_trans,
                line.submission_chunk,
            )
        ):
            found.append(f"{line.transaction_id} (recorded as sent to NIPR)")
        elif line.status not in NEVER_SENT_STATUSES and (
            line.batch_attempted or line.batch_status != statuses.BATCH_PENDING_REVIEW
        ):
            found.append(
                f"{line.transaction_id} ({line.status} in batch {line.batch_status}: a "
                "submission run may be sending it)"
            )
    return found


def remove_unknown_producer(
    connection: Connection, typed_npn: str, *, removed_by: str, now: dt.datetime
) -> Removal:
    """Remove the producer `typed_npn` names, in the caller's transaction, or refuse."""
    by = removed_by.strip()
    if not by:
        raise RemovalRefused("Say who removes the producer: --by NAME (it is recorded).")
    npn = canonical_npn(typed_npn)
    # A write first: it takes the producer's row lock on PostgreSQL and the database's write
    # lock on SQLite (where FOR UPDATE does nothing), so a second removal, an onboarding or
    # an approval of the same producer's lines waits for this transaction and sees its result.
    connection.execute(producers.update().where(producers.c.npn == npn).values(updated_at=now))
    row = connection.execute(sa.select(producers).where(producers.c.npn == npn)).first()
    if row is None:
        changed = f" (read as {npn})" if npn != typed_npn.strip() else ""
        raise RemovalRefused(
            f"No producer has NPN {typed_npn.strip()}{changed}: nothing to remove. "
            "`npnflow producers show NPN` finds a producer."
        )
    producer = dict(row._mapping)
    status = producer["sync_status"]
    if status in SYNCED_STATUSES:
        raise RemovalRefused(
            f"NPN {npn} is known to NIPR (sync status {status}): a producer NIPR knows is not "
            "removed. To stop working with it, `npnflow offboard "
            f"{npn} --by NAME` terminates its appointments and revokes its portal seats."
        )
    nipr_rows = {
        table.name: _count(connection, table, table.c.npn == npn)
        for table in (licenses, license_loas, appointments, nipr_scope_reports)
    }
    if any(nipr_rows.values()):
        held = ", ".join(f"{n} {t}" for t, n in nipr_rows.items() if n)
        raise RemovalRefused(
            f"NPN {npn} has NIPR data on record ({held}), so NIPR knew it at some point "
            f"(sync status now {status}). It is not removed; `npnflow sync now {npn}` asks "
            f"NIPR again, `npnflow offboard {npn} --by NAME` stops working with it."
        )
    if _count(
        connection,
        nipr_subscriptions,
        nipr_subscriptions.c.npn == npn,
        nipr_subscriptions.c.removed_at.is_(None),
        nipr_subscriptions.c.invalid_reason.is_(None),
    ):
        raise RemovalRefused(
            f"NPN {npn} is on a PDB Alerts target list at NIPR, so NIPR knows it. It is not "
            f"removed; `npnflow sync now {npn}` refreshes what NIPR has for it."
        )
    # The batches holding its lines, locked (PostgreSQL) before their status is read: an
    # approval of one of them waits for this transaction, or this reads it as approved.
    connection.execute(
        sa.select(transaction_batches.c.batch_id)
        .where(
            transaction_batches.c.batch_id.in_(
                sa.select(transactions.c.batch_id).where(transactions.c.npn == npn)
            )
        )
        .with_for_update()
    ).all()
    sent = _sent_lines(connection, npn)
    if sent:
        raise RemovalRefused(
            f"NPN {npn} has {len(sent)} transaction(s) that may have reached the NIPR Gateway: "
            + "; ".join(sent[:5])
            + ("; ..." if len(sent) > 5 else "")
            + ". A producer with anything sent to NIPR stays on record; wait for the batch to "
            "complete (`npnflow batches show ID`), or offboard it."
        )

    open_lines: list[str] = list(
        connection.execute(
            sa.select(transactions.c.transaction_id)
            .where(
                transactions.c.npn == npn,
                transactions.c.status.in_(sorted(statuses.AWAITING_REVIEW_TRANSACTION_STATUSES)),
            )
            .order_by(transactions.c.transaction_id)
        )
        .scalars()
        .all()
    )
    if open_lines:
        awaiting = sorted(statuses.AWAITING_REVIEW_TRANSACTION_STATUSES)
        # Conditional on the status read: a line that moved meanwhile is not cancelled blindly.
        cancelled = connection.execute(
            transactions.update()
            .where(
                transactions.c.transaction_id.in_(open_lines), transactions.c.status.in_(awaiting)
            )
            .values(status=statuses.CANCELLED, cancelled_by=by, completed_at=now)
        ).rowcount
        if cancelled != len(open_lines):
            raise RemovalRefused(
                f"NPN {npn}: {len(open_lines) - cancelled} of its unsent line(s) changed while "
                "being cancelled; nothing was removed. Look at `npnflow producers show "
                f"{npn}` and try again."
            )
    seats: list[str] = list(
        connection.execute(
            sa.select(portal_users.c.portal_id)
            .where(portal_users.c.npn == npn)
            .order_by(portal_users.c.portal_id)
        )
        .scalars()
        .all()
    )
    removed: dict[str, int] = {}
    for table in (portal_users, producer_assignments, nipr_subscriptions, producers):
        result = connection.execute(table.delete().where(table.c.npn == npn))
        removed[table.name] = int(result.rowcount or 0)
    return Removal(
        npn=npn,
        typed=typed_npn.strip(),
        removed_by=by,
        removed_at=now,
        producer={name: producer.get(name) for name in AUDITED_PRODUCER_COLUMNS},
        rows_removed=removed,
        transactions_cancelled=list(open_lines),
        portal_seats_freed=list(seats),
    )
