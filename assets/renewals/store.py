"""Reading the renewal plan's inputs from the operational database, and writing the plan.

`plan_inputs(connection, cocode)` returns the frames `plan.renewal_plan` takes, with the
tables' columns: the appointments of the customer's companies (`companies`; of one CoCode, or
of every company), the renewal rules,
`appointment_standing` (filled by the at-risk evaluation: never recomputed here), the
producers, their licenses' residency, and the appointment transactions that tell a JIT line
never released. `write_plan` replaces `appointment_renewal_plan` (read by the report
`rpt_appointment_renewals`). The caller owns the connection and its transaction.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assets.renewals.plan import PLAN_COLUMNS
from schemas.tables import TABLES

_READS: dict[str, tuple[str, ...]] = {
    "appointments": (
        "npn", "state_code", "cocode", "loa_code", "company_name", "status", "renewal_date",
    ),
    "state_appointment_renewals": (
        "state_code", "renews", "renewed_through", "window_start", "window_end",
        "termination_cutoff", "fee_resident", "fee_nonresident", "fee_basis",
        "nipr_processing_fee", "source", "is_assumption",
    ),
    "appointment_standing": (
        "npn", "state_code", "cocode", "loa_code", "license_ok", "resident_ok", "line_ok",
        "is_at_risk", "risk_reason",
    ),
    "producers": ("npn", "first_name", "last_name", "is_active", "offboarded_at"),
    "licenses": ("npn", "state_code", "is_resident"),
    "transactions": (
        "npn", "state_code", "cocode", "loa_code", "kind", "is_jit", "status", "released_at",
        "cancelled_by", "created_at",
    ),
}  # fmt: skip
#: The tables keyed by CoCode, read for one company only when one is asked.
_BY_COCODE = ("appointments", "appointment_standing", "transactions")
#: The table columns of `appointment_renewal_plan` (the plan's, less the window's start).
STORED_COLUMNS = tuple(c for c in PLAN_COLUMNS if c != "window_start_date")


def _read(connection: Connection, table: str, cocode: str | None) -> pd.DataFrame:
    source = TABLES[table]
    statement = sa.select(*(source.c[c] for c in _READS[table]))
    if cocode is not None and table in _BY_COCODE:
        statement = statement.where(source.c.cocode == cocode)
    if table == "transactions":
        statement = statement.where(source.c.kind == "appointment")
    if table == "appointments":  # NIPR lists other carriers' too: the customer's companies only
        companies = TABLES["companies"]
        statement = statement.where(source.c.cocode.in_(sa.select(companies.c.cocode)))
    rows = connection.execute(statement).mappings().all()
    return pd.DataFrame([dict(r) for r in rows], columns=list(_READS[table]))


def plan_inputs(connection: Connection, cocode: str | None = None) -> dict[str, pd.DataFrame]:
    """The frames the plan reads (of `cocode` only, or of every company)."""
    return {table: _read(connection, table, cocode) for table in _READS}


def line_names(connection: Connection) -> dict[tuple[str, str], str]:
    """Each (state, loa code)'s name in NIPR's workbook, for the terminate export."""
    lines = TABLES["lines_of_authority"]
    rows = connection.execute(sa.select(lines.c.state_code, lines.c.loa_code, lines.c.loa_name))
    return {(r.state_code, r.loa_code): r.loa_name for r in rows if r.loa_name}


def write_plan(connection: Connection, plan: pd.DataFrame, as_of: dt.date, now: dt.datetime) -> int:
    """Replace `appointment_renewal_plan` with `plan`; the number of rows written."""
    table = TABLES["appointment_renewal_plan"]
    connection.execute(table.delete())
    records = []
    for row in plan[list(STORED_COLUMNS)].to_dict("records"):
        record = {k: (None if _missing(v) else v) for k, v in row.items()}
        record |= {"planned_as_of": as_of, "planned_at": now}
        records.append(record)
    if records:
        connection.execute(table.insert(), records)
    return len(records)


def _missing(value: object) -> bool:
    return value is None or (not isinstance(value, str | bool | dt.date) and bool(pd.isna(value)))
