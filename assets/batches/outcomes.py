"""What happened to a batch's lines, as a reviewer reads it after submission.

- `line_reason(status, eligibility_reason, nipr_message)`: the reason a line shows. A line NIPR
  Rejected (or answered with an Error) was eligible when it was sent, so its eligibility
  reason (`In Good Standing`) explains nothing; NIPR's message does. The eligibility reason
  stays in its own column for the audit.
- `reason_counts(transactions)`: a batch's lines counted per status and shown reason, with
  their fees (what `batches show` prints above the lines).
- `status_counts(connection, batch_ids)`: per batch, how many lines are in each status (what
  `batches list` prints: Accepted/Rejected for a Completed batch).
- `describe_counts(counts)`: those counts as words, in lifecycle order.

`line_reason`, `reason_counts` and `describe_counts` are pure; `status_counts` reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assets.batches.detail import is_missing_value, money

if TYPE_CHECKING:  # imported where a frame is built: `batches show` reads without pandas
    import pandas as pd
from schemas import statuses
from schemas.tables import TABLES

#: Statuses whose reason is NIPR's message, when NIPR gave one.
NIPR_REASON_STATUSES = frozenset({statuses.REJECTED, statuses.ERROR})

# How each status reads in a count ("2 ready, 1 held"), in the order counts are listed:
# what is sent or answered first, what was never sent (not eligible) last; a status not listed
# reads as itself, after these.
_COUNT_WORDS: dict[str, str] = {
    statuses.READY_TO_SUBMIT: "ready",
    statuses.HELD_JIT: "held",
    statuses.SUBMITTED: "submitted",
    statuses.PENDING_STATE_REVIEW: "pending state review",
    statuses.ACCEPTED: "accepted",
    statuses.REJECTED: "rejected",
    statuses.ERROR: "error",
    statuses.RECORDED: "recorded",
    statuses.CANCELLED: "cancelled",
    statuses.NOT_ELIGIBLE: "not eligible",
}


def _missing(value: object) -> bool:
    return value is None or (not isinstance(value, str) and is_missing_value(value))


def line_reason(status: object, eligibility_reason: object, nipr_message: object) -> str | None:
    """NIPR's message for a Rejected or Error line that has one; else the eligibility reason."""
    if status in NIPR_REASON_STATUSES and not _missing(nipr_message) and str(nipr_message).strip():
        return str(nipr_message).strip()
    return None if _missing(eligibility_reason) else str(eligibility_reason)


def reason_counts(transactions: pd.DataFrame) -> pd.DataFrame:
    """Lines per (status, shown reason): columns status, reason, transactions,
    estimated_fees, estimated_nipr_fees (None where no line has a fee), in lifecycle order,
    then the largest groups."""
    import pandas as pd

    columns = ["status", "reason", "transactions", "estimated_fees", "estimated_nipr_fees"]
    if transactions.empty:
        return pd.DataFrame(columns=columns)
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for line in transactions.to_dict("records"):
        reason = line_reason(line["status"], line["eligibility_reason"], line["nipr_message"])
        key = (str(line["status"]), reason or "")
        group = groups.setdefault(
            key, {"transactions": 0, "estimated_fees": None, "estimated_nipr_fees": None}
        )
        group["transactions"] += 1
        for total, column in (
            ("estimated_fees", "estimated_fee"),
            ("estimated_nipr_fees", "estimated_nipr_fee"),
        ):
            if not _missing(line.get(column)):
                group[total] = (group[total] or Decimal(0)) + money(line[column])
    order = {s: i for i, s in enumerate(statuses.TRANSACTION_STATUSES)}
    rows = sorted(
        groups.items(),
        key=lambda item: (order.get(item[0][0], len(order)), -item[1]["transactions"], item[0]),
    )
    return pd.DataFrame(
        [{"status": status, "reason": reason, **group} for (status, reason), group in rows],
        columns=columns,
    )


def status_counts(connection: Connection, batch_ids: Iterable[str]) -> dict[str, dict[str, int]]:
    """Per batch id, its lines per status (statuses with no line left out)."""
    wanted = sorted(set(batch_ids))
    if not wanted:
        return {}
    t = TABLES["transactions"]
    counts: dict[str, dict[str, int]] = {batch_id: {} for batch_id in wanted}
    rows = connection.execute(
        sa.select(t.c.batch_id, t.c.status, sa.func.count().label("lines"))
        .where(t.c.batch_id.in_(wanted))
        .group_by(t.c.batch_id, t.c.status)
    )
    for row in rows:
        counts[row.batch_id][row.status] = int(row.lines)
    return counts


def describe_counts(counts: Mapping[str, int]) -> str:
    """`3 accepted, 1 rejected, 1 not eligible`: the statuses with lines, in `_COUNT_WORDS`
    order."""
    order = {s: i for i, s in enumerate(_COUNT_WORDS)}
    parts = [
        f"{count} {_COUNT_WORDS.get(status, str(status))}"
        for status, count in sorted(
            counts.items(), key=lambda item: (order.get(item[0], len(order)), str(item[0]))
        )
        if count
    ]
    return ", ".join(parts) if parts else "no lines"
