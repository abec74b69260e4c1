"""What an upload's batches page says: its batches as the database holds them NOW.

The batches asset's partition of an upload (`core_appointments__batches`,
`core_terminations__batches`) is written once, by the upload's run; the batches then move on
(approved, sent, answered by NIPR, completed) in other runs and from the CLI. So the page is
never a snapshot of the plan: the upload's materialization and every later observation
(`observation.py`) are built by this one reading of the database, and the latest one shows
the current status, NIPR's answers and the next step.

No Dagster here: a SQLAlchemy read and plain rules on the frame it returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assets.batches.detail import format_money, money
from assets.keys import APPROVED_BATCH_SENSOR_NAME, TAG_BATCH_ID
from schemas import statuses
from schemas.tables import TABLES

#: The template column that approves a batch at upload, per transaction kind (the messages).
AUTO_SUBMIT_COLUMN = {"appointment": "Submit", "termination": "Submit Immediately"}

#: One row per batch, in reading order: what the page's `batches_table` shows.
PAGE_COLUMNS = (
    "batch_id",
    "cocode",
    "status",
    "approval",
    "to_send",
    "held",
    "not_eligible",
    "in_flight",
    "accepted",
    "rejected",
    "error",
    "cancelled",
    "fees",
    "nipr_fees",
)
# The per-status counts of the page, with the transaction statuses each one adds up.
_COUNTED: Mapping[str, frozenset[str]] = {
    "to_send": frozenset({statuses.READY_TO_SUBMIT}),
    "held": frozenset({statuses.HELD_JIT}),
    "not_eligible": frozenset({statuses.NOT_ELIGIBLE}),
    "in_flight": statuses.IN_FLIGHT_TRANSACTION_STATUSES,
    "accepted": frozenset({statuses.ACCEPTED}),
    "rejected": frozenset({statuses.REJECTED}),
    "error": frozenset({statuses.ERROR}),
    "cancelled": frozenset({statuses.CANCELLED}),
}
_DONE = frozenset({statuses.BATCH_COMPLETED, statuses.BATCH_REJECTED})
_SHOWN_WHEN_ANY = frozenset({"held", "error", "cancelled"})


@dataclass(frozen=True)
class BatchesPage:
    """An upload's batches of one kind, read now."""

    upload_id: str
    kind: str  # appointment | termination
    batches: pd.DataFrame  # PAGE_COLUMNS plus approved_by, approval_version, submit_immediately

    @property
    def batch_ids(self) -> list[str]:
        return [str(b) for b in self.batches["batch_id"]]

    def total(self, count: str) -> int:
        return int(self.batches[count].sum()) if len(self.batches) else 0

    @property
    def fees_to_send(self) -> Decimal:
        return money(sum(self.batches["fees_to_send"], Decimal("0")))

    @property
    def nipr_fees_to_send(self) -> Decimal:
        return money(sum(self.batches["nipr_fees_to_send"], Decimal("0")))

    @property
    def status(self) -> str:
        """One word when every batch agrees ("Completed"), else how many are in each status."""
        return status_summary(self.batches["status"].tolist())

    @property
    def next_step(self) -> str:
        return next_step(self.batches, AUTO_SUBMIT_COLUMN.get(self.kind, "Submit"))

    def table(self) -> pd.DataFrame:
        """The batches table; counts that are 0 for every batch and rarely anything else
        (held, error, cancelled) are left out, so the table fits the asset page."""
        shown = [
            column
            for column in PAGE_COLUMNS
            if column not in _SHOWN_WHEN_ANY or self.batches[column].gt(0).any()
        ]
        return self.batches[shown]


def status_summary(batch_statuses: list[str]) -> str:
    if not batch_statuses:
        return "No batches"
    counts = pd.Series(batch_statuses).value_counts()
    if len(counts) == 1:
        return str(counts.index[0])
    # In lifecycle order, so "1 Pending Review, 1 Completed" reads as what is left to do first.
    order = {status: i for i, status in enumerate(statuses.BATCH_STATUSES)}
    ranked = sorted(counts.items(), key=lambda item: order.get(str(item[0]), len(order)))
    return ", ".join(f"{n} {status}" for status, n in ranked)


def next_step(batches: pd.DataFrame, auto_submit_column: str) -> str:
    """What a person (or the sensor) does next with these batches, from their statuses."""
    steps: list[str] = []
    by_status = {s: batches[batches["status"].eq(s)] for s in statuses.BATCH_STATUSES}
    pending = by_status[statuses.BATCH_PENDING_REVIEW]["batch_id"].tolist()
    if pending:
        steps.append(
            f"Review then approve: `npnflow batches show {pending[0]}`, `npnflow batches approve "
            f"{pending[0]} --by <name>` (or launch approve_batch_job)."
        )
    approved = by_status[statuses.BATCH_APPROVED]
    if len(approved):
        automatic = approved["submit_immediately"].fillna(False).astype(bool) & approved[
            "approval_version"
        ].eq(1)
        how = (
            f" ({int(automatic.sum())} approved automatically, {auto_submit_column} = TRUE)"
            if automatic.any()
            else ""
        )
        steps.append(
            f"{len(approved)} batch(es) Approved{how}: {APPROVED_BATCH_SENSOR_NAME} requests "
            f"their submission runs (Runs, tag {TAG_BATCH_ID})."
        )
    sending = by_status[statuses.BATCH_SUBMITTING]["batch_id"].tolist()
    if sending:
        steps.append(
            f"Being sent to NIPR: {', '.join(sending)} (Runs, tag {TAG_BATCH_ID}); if a run "
            f"failed, `npnflow batches retry {sending[0]} --by <name>`."
        )
    submitted = by_status[statuses.BATCH_SUBMITTED]["batch_id"].tolist()
    if submitted:
        steps.append(
            f"Sent, waiting for NIPR's final answers: {', '.join(submitted)} "
            "(submitted_batches_poll_sensor polls NIPR)."
        )
    if steps:
        return " ".join(steps)
    if len(batches) and batches["status"].isin(_DONE).all():
        return "Nothing to do: every batch is Completed or Rejected."
    return "Nothing to approve: every transaction is final."


def _approval(row: Mapping[str, Any]) -> str:
    if row["status"] == statuses.BATCH_REJECTED:
        return f"rejected by {row['rejected_by'] or 'someone'}"
    if row["approved_by"]:
        return f"{row['approved_by']} (v{int(row['approval_version'])})"
    return ""


def read_batches_page(connection: Connection, upload_id: str, kind: str) -> BatchesPage:
    """The upload's batches of this kind with their transactions counted per status now."""
    batches, t = TABLES["transaction_batches"], TABLES["transactions"]
    counted = [
        sa.func.coalesce(
            sa.func.sum(sa.case((t.c.status.in_(sorted(wanted)), 1), else_=0)), 0
        ).label(name)
        for name, wanted in _COUNTED.items()
    ]
    ready = t.c.status == statuses.READY_TO_SUBMIT
    # Each batch's own columns: selected, and grouped by.
    batch_columns = (
        batches.c.batch_id,
        batches.c.cocode,
        batches.c.status,
        batches.c.approved_by,
        batches.c.approval_version,
        batches.c.rejected_by,
        batches.c.submit_immediately,
    )
    statement = (
        sa.select(
            *batch_columns,
            *counted,
            sa.func.sum(sa.case((ready, t.c.estimated_fee), else_=None)).label("fees_to_send"),
            sa.func.sum(sa.case((ready, t.c.estimated_nipr_fee), else_=None)).label(
                "nipr_fees_to_send"
            ),
        )
        .select_from(batches.outerjoin(t, t.c.batch_id == batches.c.batch_id))
        .where(batches.c.upload_id == upload_id, batches.c.kind == kind)
        .group_by(*batch_columns)
        .order_by(batches.c.batch_id)
    )
    rows = [dict(row._mapping) for row in connection.execute(statement)]
    for row in rows:
        row["approval"] = _approval(row)
        row["fees_to_send"] = money(row["fees_to_send"])
        row["nipr_fees_to_send"] = money(row["nipr_fees_to_send"])
        row["fees"] = format_money(row["fees_to_send"])
        row["nipr_fees"] = format_money(row["nipr_fees_to_send"])
        for name in _COUNTED:
            row[name] = int(row[name])
    extra = ["approved_by", "approval_version", "submit_immediately"]
    frame = pd.DataFrame(rows, columns=[*PAGE_COLUMNS, *extra, "fees_to_send", "nipr_fees_to_send"])
    return BatchesPage(upload_id=upload_id, kind=kind, batches=frame)


def batch_pages_of(connection: Connection, batch_ids: list[str]) -> list[tuple[str, str]]:
    """(upload_id, kind) of each page these batches are on; batches of no upload have none."""
    batches = TABLES["transaction_batches"]
    rows = connection.execute(
        sa.select(batches.c.upload_id, batches.c.kind)
        .where(batches.c.batch_id.in_(batch_ids), batches.c.upload_id.is_not(None))
        .distinct()
        .order_by(batches.c.upload_id, batches.c.kind)
    ).all()
    return [(str(row.upload_id), str(row.kind)) for row in rows]
