"""Listing JIT lines (`npnflow jit list`): held and released ones, their state's deadline,
due date and `Late JIT Filing` flag. Read only; the caller owns the connection."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assets.jit.rules import as_date, held_due_date, held_on, is_late, jit_clock
from assets.rules.business_day import nipr_business_date
from schemas import statuses
from schemas.tables import TABLES

__all__ = ["LIST_COLUMNS", "jit_lines", "late_jit_filing"]

transactions = TABLES["transactions"]
KIND = "appointment"


#: The columns `jit_lines` returns (what `npnflow jit list` prints).
LIST_COLUMNS = (
    "transaction_id",
    "batch_id",
    "npn",
    "state_code",
    "cocode",
    "loa_category",
    "loa_code",
    "status",
    "jit_business_date",
    "jit_deadline_days",
    "jit_due_date",
    "submitted_at",
    "released_by",
    "late",
)


def jit_lines(
    connection: Connection,
    *,
    today: dt.date,
    overdue: bool = False,
    cocode: str | None = None,
    state_code: str | None = None,
) -> pd.DataFrame:
    """Held lines and released ones, with their state's deadline, due date and late flag.

    A held line has a due date only where the state's clock starts at contract execution
    (the day it was held + the deadline days); elsewhere the deadline runs from the business
    date, given on the release, and `jit_deadline_days` says how long the state allows. `overdue` keeps the lines
    flagged `Late JIT Filing`."""
    rules_t = TABLES["state_appointment_rules"]
    statement = (
        sa.select(
            *(transactions.c[c] for c in LIST_COLUMNS if c in transactions.c),
            rules_t.c.jit_deadline_days,
            rules_t.c.jit_trigger,
            transactions.c.created_at,
        )
        .select_from(
            transactions.outerjoin(rules_t, rules_t.c.state_code == transactions.c.state_code)
        )
        .where(
            transactions.c.kind == KIND,
            sa.or_(
                transactions.c.status == statuses.HELD_JIT,
                transactions.c.released_at.is_not(None),
            ),
        )
        .order_by(transactions.c.jit_due_date, transactions.c.npn, transactions.c.transaction_id)
    )
    if cocode:
        statement = statement.where(transactions.c.cocode == cocode.strip())
    if state_code:
        statement = statement.where(sa.func.upper(transactions.c.state_code) == state_code.upper())
    result = connection.execute(statement)
    frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    # A held line whose state starts the clock at contract execution is already running late
    # or not: its due date is the day it was held + the deadline days (rules.held_due_date).
    held = frame["status"].eq(statuses.HELD_JIT) & frame["jit_due_date"].isna()
    if held.any():
        frame["jit_due_date"] = frame["jit_due_date"].astype(object)
        frame.loc[held, "jit_due_date"] = [
            held_due_date(
                held_on(row["created_at"]),
                None if pd.isna(row["jit_deadline_days"]) else int(row["jit_deadline_days"]),
                jit_clock(row["jit_trigger"]),
            )
            for _, row in frame[held].iterrows()
        ]
        frame["_due"] = pd.to_datetime(frame["jit_due_date"], errors="coerce")
        frame = frame.sort_values(
            ["_due", "npn", "transaction_id"], na_position="last", kind="stable"
        ).drop(columns="_due")
    frame["late"] = (
        [late_jit_filing(row, today) for row in frame.to_dict("records")]
        if len(frame)
        else pd.Series(dtype=bool)
    )
    if overdue:
        frame = frame[frame["late"]]
    return frame.loc[:, list(LIST_COLUMNS)].reset_index(drop=True)


def late_jit_filing(line: dict[str, object], today: dt.date) -> bool:
    """`Late JIT Filing` for one transaction row (`rules.is_late` on its columns): filed after
    its due date (the filing day is NIPR's business date of `submitted_at`), or still waiting
    to be sent (Held or Ready to Submit) past it. A line cancelled or refused is not late."""
    submitted = line.get("submitted_at")
    sent = isinstance(submitted, dt.datetime) and not pd.isna(submitted)
    if not sent and line.get("status") not in statuses.AWAITING_REVIEW_TRANSACTION_STATUSES:
        return False
    return is_late(
        as_date(line.get("jit_due_date")),
        nipr_business_date(pd.Timestamp(submitted).to_pydatetime()) if sent else None,
        today,
        sent=sent,
    )
