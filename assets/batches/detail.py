"""Reading transaction batches as a reviewer sees them (SPEC section 8): the list with counts
and fees, one batch in detail, and the money and time formats shared with messages and the CLI.

Read only: every function takes a SQLAlchemy `Connection` and leaves the transaction to its
caller. Separate from `approval.py` (which changes batches) so that reading a batch, which
every action starts with, is one thing, and the actions hold only their rules.

Timestamps are stored in UTC (SQLite keeps no offset, so a mixed store could not be read back
unambiguously); naive datetimes read back are therefore UTC.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from schemas import statuses
from schemas.tables import TABLES

if TYPE_CHECKING:
    import pandas as pd

# pandas is imported by the functions that build frames, not here: `npnflow batches show`
# reads a page of lines as rows (`batch_page`) and starts without it.

CENT = Decimal("0.01")
#: The counts' column of NIPR's own fees (`fees_in(counts, status, NIPR_FEES)`).
NIPR_FEES = "estimated_nipr_fees"

# Chosen display orders, not a table's columns: what a reviewer reads, in reading order (a
# subset of `transactions` / `request_rejections`, and for the list, computed counts and fees).

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
    "estimated_nipr_fee",
    "nipr_status",
    "nipr_message",
    # A released JIT line's deadline, and when it went out (`Late JIT Filing`, assets/jit/).
    "jit_due_date",
    "submitted_at",
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
    "nipr_fees_to_send",
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


@dataclass(frozen=True)
class BatchDetail:
    """One batch as an analyst reviews it before approving."""

    batch: dict[str, Any]  # the transaction_batches row, with company_name and upload_object_key
    transactions: pd.DataFrame  # TRANSACTION_COLUMNS, in request order
    # eligibility_reason, status, transactions, estimated_fees, estimated_nipr_fees
    counts: pd.DataFrame
    fees_to_send: Decimal  # over `Ready to Submit`: what approval would send and be billed
    fees_held: Decimal  # over `Held (JIT)`: not sent by approval
    request_rejections: pd.DataFrame  # the upload's rows (this CoCode) that made no transaction
    # NIPR's own fee over `Ready to Submit`, invoiced by NIPR apart from the state fees above.
    nipr_fees_to_send: Decimal = Decimal("0.00")

    @property
    def batch_id(self) -> str:
        return str(self.batch["batch_id"])

    @property
    def status(self) -> str:
        return str(self.batch["status"])

    def count(self, status: str) -> int:
        """How many of the batch's transactions have this status."""
        return count_in(self.counts, status)


# ============================================================================================
# Formatting shared by messages and the CLI
# ============================================================================================


def is_missing_value(value: object) -> bool:
    """pandas' isna of one value (None, NaN, NaT, NA), without importing pandas: a value can
    be one of pandas' own missing values only when pandas is loaded."""
    if value is None:
        return True
    pandas = sys.modules.get("pandas")
    if pandas is not None:
        return bool(pandas.isna(value))
    return isinstance(value, float | Decimal) and value != value  # NaN: unequal to itself


def money(value: Decimal | float | int | None) -> Decimal:
    """A fee as exact cents: SQLite hands back sums as floats, PostgreSQL as Decimal."""
    if is_missing_value(value):
        return Decimal("0.00")
    return Decimal(str(value)).quantize(CENT)


def format_money(value: Decimal | float | int | None) -> str:
    """$1,234.50"""
    return f"${money(value):,.2f}"


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    # NaT too: a frame column of timestamps and blanks comes back as datetime64 with NaT.
    if value is None or is_missing_value(value):
        return None
    if value.tzinfo is None:  # stored in UTC, read back from SQLite without an offset
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def format_timestamp(value: dt.datetime | None) -> str:
    """2026-11-24 10:02 UTC"""
    moment = as_utc(value)
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else "-"


# ============================================================================================
# Reading
# ============================================================================================


def _status_sum(
    column: sa.ColumnElement[Any], wanted: str | frozenset[str]
) -> sa.ColumnElement[Any]:
    statuses_wanted = [wanted] if isinstance(wanted, str) else sorted(wanted)
    return sa.func.coalesce(sa.func.sum(sa.case((column.in_(statuses_wanted), 1), else_=0)), 0)


def _fee_sum(
    transactions: sa.Table, status: str, column: str = "estimated_fee"
) -> sa.ColumnElement[Any]:
    return sa.func.sum(
        sa.case((transactions.c.status == status, transactions.c[column]), else_=None)
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
            _fee_sum(t, statuses.READY_TO_SUBMIT, "estimated_nipr_fee").label("nipr_fees_to_send"),
            _fee_sum(t, statuses.HELD_JIT).label("fees_held"),
        )
        .group_by(t.c.batch_id)
        .subquery("counts")
    )


def _batch_select() -> sa.Select[Any]:
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
    `nipr_fees_to_send` NIPR's own fee over the same lines (invoiced by NIPR apart from the
    state fees), `fees_held` over Held (JIT) (no NIPR fee: nothing held is sent).
    """
    import pandas as pd

    rows = _listed_rows(connection, status, kind, upload_id)
    frame = pd.DataFrame(
        [{name: row[name] for name in LIST_COLUMNS} for row in rows], columns=list(LIST_COLUMNS)
    )
    for name in [*_COUNT_COLUMNS, "approval_version"]:
        frame[name] = frame[name].astype("int64")
    for name in _FEE_COLUMNS:
        frame[name] = [
            None if name == "estimated_fees" and v is None else money(v) for v in frame[name]
        ]
    for name in _LISTED_TIMES:
        frame[name] = [as_utc(v) for v in frame[name]]
    return frame


_COUNT_COLUMNS = (
    "transactions",
    "ready_to_submit",
    "held_jit",
    "not_eligible",
    "submitted",
    "final",
)
_FEE_COLUMNS = ("estimated_fees", "fees_to_send", "nipr_fees_to_send", "fees_held")
_LISTED_TIMES = ("approved_at", "created_at")


def list_batch_rows(
    connection: Connection,
    *,
    status: str | None = None,
    kind: str | None = None,
    upload_id: str | None = None,
) -> list[dict[str, Any]]:
    """`list_batches` as plain rows (LIST_COLUMNS), the values converted alike (counts as
    int, fees as cents, times in UTC), without pandas: what `npnflow batches list` prints."""

    def value(name: str, raw: Any) -> Any:
        if name in _COUNT_COLUMNS or name == "approval_version":
            return int(raw)
        if name in _FEE_COLUMNS:
            return None if name == "estimated_fees" and raw is None else money(raw)
        return as_utc(raw) if name in _LISTED_TIMES else raw

    return [
        {name: value(name, row[name]) for name in LIST_COLUMNS}
        for row in _listed_rows(connection, status, kind, upload_id)
    ]


def _listed_rows(
    connection: Connection, status: str | None, kind: str | None, upload_id: str | None
) -> list[Any]:
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
    statement = (
        _batch_select()
        .add_columns(
            *(sa.func.coalesce(counts.c[name], 0).label(name) for name in _COUNT_COLUMNS),
            counts.c.fees_to_send,
            counts.c.nipr_fees_to_send,
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
    return [row._mapping for row in connection.execute(statement)]


def read_batch(connection: Connection, batch_id: str) -> dict[str, Any]:
    batches = TABLES["transaction_batches"]
    row = connection.execute(_batch_select().where(batches.c.batch_id == batch_id)).first()
    if row is None:
        raise BatchNotFound(batch_id)
    batch = dict(row._mapping)
    for name in ("approved_at", "rejected_at", "created_at"):
        batch[name] = as_utc(batch[name])
    return batch


def transaction_counts(connection: Connection, batch_id: str) -> pd.DataFrame:
    import pandas as pd

    t = TABLES["transactions"]
    rows = connection.execute(
        sa.select(
            t.c.eligibility_reason,
            t.c.status,
            sa.func.count().label("transactions"),
            sa.func.sum(t.c.estimated_fee).label("estimated_fees"),
            sa.func.sum(t.c.estimated_nipr_fee).label("estimated_nipr_fees"),
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
                None if r.estimated_nipr_fees is None else money(r.estimated_nipr_fees),
            )
            for r in rows
        ],
        columns=[
            "eligibility_reason",
            "status",
            "transactions",
            "estimated_fees",
            "estimated_nipr_fees",
        ],
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


def count_in(counts: pd.DataFrame, *wanted: str) -> int:
    """Transactions in any of these statuses, from the (reason, status) counts."""
    return int(counts.loc[counts["status"].isin(wanted), "transactions"].sum())


def fees_in(counts: pd.DataFrame, status: str, column: str = "estimated_fees") -> Decimal:
    """The fees of the transactions in this status: the state's (`estimated_fees`) or NIPR's
    own (`estimated_nipr_fees`)."""
    fees = counts.loc[counts["status"] == status, column]
    return money(sum((f for f in fees if f is not None), Decimal(0)))


def batch_detail(connection: Connection, batch_id: str) -> BatchDetail:
    """The batch, its transactions, its counts and fees, and its upload's rejected rows."""
    import pandas as pd

    batch = read_batch(connection, batch_id)
    t = TABLES["transactions"]
    transactions = pd.DataFrame(
        connection.execute(
            sa.select(*(t.c[name] for name in TRANSACTION_COLUMNS))
            .where(t.c.batch_id == batch_id)
            .order_by(t.c.request_row, t.c.state_code, t.c.loa_code, t.c.transaction_id)
        ).all(),
        columns=list(TRANSACTION_COLUMNS),
    )
    counts = transaction_counts(connection, batch_id)
    return BatchDetail(
        batch=batch,
        transactions=transactions,
        counts=counts,
        fees_to_send=fees_in(counts, statuses.READY_TO_SUBMIT),
        fees_held=fees_in(counts, statuses.HELD_JIT),
        request_rejections=_request_rejections(connection, batch),
        nipr_fees_to_send=fees_in(counts, statuses.READY_TO_SUBMIT, NIPR_FEES),
    )


def _request_rejections(connection: Connection, batch: Mapping[str, Any]) -> pd.DataFrame:
    import pandas as pd

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


def _page(statement: sa.Select[Any], limit: int | None, offset: int) -> sa.Select[Any]:
    if offset < 0 or (limit is not None and limit < 0):
        raise ValueError(f"a page starts at 0 or later and holds 0 or more rows, not {offset}")
    if limit is not None:
        statement = statement.limit(limit)
    return statement.offset(offset) if offset else statement


REASON_COUNT_COLUMNS = ("status", "reason", "transactions", "estimated_fees", "estimated_nipr_fees")
#: The statuses of a line NIPR receives, whose NIPR fee is shown (defined once, pandas-free).
NIPR_FEE_STATUSES: frozenset[str] = statuses.NIPR_FEE_STATUSES


def reason_counts_of_batch(connection: Connection, batch_id: str) -> list[dict[str, Any]]:
    """`outcomes.reason_counts` of the whole batch as rows (REASON_COUNT_COLUMNS), counted by
    the database: lines per (status, shown reason) with their fees, without reading the lines.

    Grouped in SQL by status, eligibility reason and, for the statuses whose reason is NIPR's
    message (Rejected, Error), that message; the groups that read alike (a blank message reads
    as the eligibility reason) are merged here, in the order `reason_counts` gives.
    """
    from assets.batches.outcomes import NIPR_REASON_STATUSES, line_reason

    t = TABLES["transactions"]
    message = sa.case(
        (t.c.status.in_(sorted(NIPR_REASON_STATUSES)), t.c.nipr_message), else_=None
    ).label("nipr_message")
    rows = connection.execute(
        sa.select(
            t.c.status,
            t.c.eligibility_reason,
            message,
            sa.func.count().label("transactions"),
            sa.func.sum(t.c.estimated_fee).label("estimated_fees"),
            sa.func.sum(t.c.estimated_nipr_fee).label("estimated_nipr_fees"),
        )
        .where(t.c.batch_id == batch_id)
        .group_by(t.c.status, t.c.eligibility_reason, message)
    ).all()
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        reason = line_reason(row.status, row.eligibility_reason, row.nipr_message)
        group = groups.setdefault(
            (str(row.status), reason or ""),
            {"transactions": 0, "estimated_fees": None, "estimated_nipr_fees": None},
        )
        group["transactions"] += int(row.transactions)
        for total in ("estimated_fees", "estimated_nipr_fees"):
            value = getattr(row, total)
            if value is not None:
                group[total] = money((group[total] or Decimal(0)) + money(value))
    order = {s: i for i, s in enumerate(statuses.TRANSACTION_STATUSES)}
    ordered = sorted(
        groups.items(),
        key=lambda item: (order.get(item[0][0], len(order)), -item[1]["transactions"], item[0]),
    )
    return [{"status": status, "reason": reason, **group} for (status, reason), group in ordered]


@dataclass(frozen=True)
class BatchPage:
    """One batch as `npnflow batches show` prints it: the whole batch's counts and fees, and
    one page of its lines and of its upload's rejected rows, as rows (no pandas)."""

    batch: dict[str, Any]
    reasons: list[dict[str, Any]]  # reason_counts_of_batch
    lines: Sequence[Row[Any]]  # TRANSACTION_COLUMNS, in the order of batch_detail
    lines_total: int
    rejections: Sequence[Row[Any]]  # REJECTION_COLUMNS
    rejections_total: int

    def count(self, status: str) -> int:
        return sum(r["transactions"] for r in self.reasons if r["status"] == status)

    def fees(self, status: str, column: str = "estimated_fees") -> Decimal:
        """As `fees_in` of batch_detail's counts: the state's fees, or NIPR's (NIPR_FEES)."""
        found = (r[column] for r in self.reasons if r["status"] == status)
        return money(sum((f for f in found if f is not None), Decimal(0)))


def batch_page(
    connection: Connection, batch_id: str, *, limit: int | None, offset: int = 0
) -> BatchPage:
    """The batch with `limit` of its lines from `offset` (all with None), read by
    LIMIT/OFFSET: a 50-line look at a 50,000-line batch reads 50 lines, and counts the rest
    in SQL. Raises BatchNotFound."""
    batch = read_batch(connection, batch_id)
    t, r = TABLES["transactions"], TABLES["request_rejections"]
    lines = connection.execute(
        _page(
            sa.select(*(t.c[name] for name in TRANSACTION_COLUMNS))
            .where(t.c.batch_id == batch_id)
            .order_by(t.c.request_row, t.c.state_code, t.c.loa_code, t.c.transaction_id),
            limit,
            offset,
        )
    ).all()
    reasons = reason_counts_of_batch(connection, batch_id)
    rejections: Sequence[Row[Any]] = []
    rejections_total = 0
    if batch["upload_id"] is not None:
        mine = (
            r.c.upload_id == batch["upload_id"],
            r.c.cocode == batch["cocode"],
            r.c.kind == batch["kind"],
        )
        rejections = connection.execute(
            _page(
                sa.select(*(r.c[name] for name in REJECTION_COLUMNS))
                .where(*mine)
                .order_by(r.c.request_row, r.c.state_code, r.c.id),
                limit,
                offset,
            )
        ).all()
        rejections_total = int(
            connection.execute(sa.select(sa.func.count()).select_from(r).where(*mine)).scalar() or 0
        )
    return BatchPage(
        batch=batch,
        reasons=reasons,
        lines=lines,
        lines_total=sum(g["transactions"] for g in reasons),
        rejections=rejections,
        rejections_total=rejections_total,
    )
