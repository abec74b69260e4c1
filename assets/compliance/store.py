"""Reading what the standing rules need from the operational database, and writing the answers.

Scale (SPEC 12: a million appointments): only the columns the rules read; the Appointed lines
of the customer's companies by one SQL filter; licenses and license lines only of the
producers holding such a line (a temporary table of their NPNs joined by the database:
`resources/scoped_reads.py`), the lines only in the states of their appointments; the answers
written with the bulk path (`resources/bulk_writes.py`: COPY on PostgreSQL). One database
transaction: the tables are replaced whole, or not at all.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assets.compliance.authorization import (
    AUTHORIZATION_TABLE_COLUMNS,
    CATEGORY_KEY,
    appointed_lines,
    appointment_standing,
    carry_noticed,
    sales_authorization,
)
from assets.compliance.standing import LICENSE_COLUMNS, LICENSE_LOA_COLUMNS
from assets.rules.accepted_appointments import (
    APPOINTMENTS_SCOPE,
    accepted_unsynced_lines,
)
from resources.bulk_writes import insert_frame
from resources.database import read_table
from resources.scoped_reads import npn_scope, read_columns
from schemas import statuses
from schemas.tables import TABLES

APPOINTED = "Appointed"
STANDING_TABLE = "appointment_standing"
AUTHORIZATION_TABLE = "sales_authorization"
_TRANSACTION_COLUMNS = (
    "transaction_id",
    "kind",
    "npn",
    "state_code",
    "cocode",
    "loa_code",
    "status",
    "completed_at",
    "submitted_at",
    "created_at",
)


@dataclass(frozen=True)
class StandingInputs:
    """What the rules read: the Appointed lines of the customer's companies (with those NIPR
    accepted since the last sync), the registry lines recorded, and the NIPR and config rows."""

    appointed: pd.DataFrame
    recorded: pd.DataFrame
    licenses: pd.DataFrame
    license_loas: pd.DataFrame
    companies: pd.DataFrame
    business_rules: pd.DataFrame
    loa_categories: pd.DataFrame
    company_state_settings: pd.DataFrame
    company_loa_categories: pd.DataFrame
    # The lines at risk at the previous evaluation, with the day each was first found so.
    previous_at_risk: pd.DataFrame


def _select(
    connection: Connection, statement: sa.Select[Any], columns: list[sa.ColumnElement[Any]]
) -> pd.DataFrame:
    values = read_columns(connection, statement, columns)
    return pd.DataFrame(
        dict(zip([c.name for c in columns], values, strict=True)), columns=[c.name for c in columns]
    )


def read_standing_inputs(connection: Connection) -> StandingInputs:
    """Every input of `evaluate_standing`, on the caller's connection."""
    companies = read_table(connection, "companies", ["cocode", "company_name"])
    appointments = TABLES["appointments"]
    company_codes = sa.select(TABLES["companies"].c.cocode)
    columns = [
        appointments.c[c]
        for c in ("npn", "state_code", "cocode", "loa_code", "company_name", "renewal_date")
    ]
    appointed = _select(
        connection,
        sa.select(*columns).where(
            appointments.c.status == APPOINTED, appointments.c.cocode.in_(company_codes)
        ),
        list(columns),
    )
    transactions = TABLES["transactions"]
    tx_columns = [transactions.c[c] for c in _TRANSACTION_COLUMNS]
    # Small: the lines NIPR accepted (some not synced yet) and a registry state's recorded ones.
    tx = _select(
        connection,
        sa.select(*tx_columns).where(
            transactions.c.status.in_([statuses.ACCEPTED, statuses.RECORDED]),
            transactions.c.cocode.in_(company_codes),
        ),
        list(tx_columns),
    )
    accepted = tx[tx["status"] == statuses.ACCEPTED]
    recorded = tx[tx["status"] == statuses.RECORDED].reset_index(drop=True)
    with npn_scope(connection, accepted["npn"]) as scope:
        scope_reports = scope.read(
            "nipr_scope_reports",
            where=TABLES["nipr_scope_reports"].c.category == APPOINTMENTS_SCOPE,
        )
    unsynced = accepted_unsynced_lines(accepted, scope_reports)
    if not unsynced.empty:
        key = ["npn", "state_code", "cocode", "loa_code"]
        new = unsynced[key].merge(appointed[key], how="left", indicator=True)
        new = new[new["_merge"] == "left_only"].drop(columns="_merge")
        new = new.merge(companies, on="cocode", how="left").assign(renewal_date=None)
        appointed = pd.concat([appointed, new[appointed.columns]], ignore_index=True)

    standing = TABLES[STANDING_TABLE]
    previous_columns = [
        standing.c[c] for c in ("npn", "state_code", "cocode", "loa_code", "at_risk_noticed_on")
    ]
    lines = pd.concat([appointed, recorded], ignore_index=True)
    with npn_scope(connection, lines["npn"], lines["state_code"]) as scope:
        licenses = scope.read("licenses", [*LICENSE_COLUMNS, "nipr_updated_at"])
        license_loas = scope.read("license_loas", LICENSE_LOA_COLUMNS, by_state=True)
    return StandingInputs(
        appointed=appointed,
        recorded=recorded,
        licenses=licenses,
        license_loas=license_loas,
        companies=companies,
        business_rules=read_table(connection, "gateway_business_rules"),
        loa_categories=read_table(
            connection, "loa_categories", ["state_code", "loa_code", "loa_category"]
        ),
        company_state_settings=read_table(
            connection, "company_state_settings", ["cocode", "state_code"]
        ),
        company_loa_categories=read_table(connection, "company_loa_categories"),
        previous_at_risk=_select(
            connection,
            sa.select(*previous_columns).where(standing.c.is_at_risk.is_(True)),
            list(previous_columns),
        ),
    )


@dataclass(frozen=True)
class Evaluation:
    standing: pd.DataFrame  # the appointment_standing rows
    authorization: pd.DataFrame  # the sales_authorization rows


def evaluate_standing(
    inputs: StandingInputs, as_of: dt.date, evaluated_at: dt.datetime
) -> Evaluation:
    """Both tables' rows: every Appointed line's standing, and the sales authorization of
    every (npn, state, cocode, category) the companies appoint for, for producers with a line
    appointed with the company in the state."""
    standing = carry_noticed(
        appointment_standing(
            inputs.appointed, inputs.licenses, inputs.license_loas, as_of, evaluated_at
        ),
        inputs.previous_at_risk,
    )
    appointed = appointed_lines(inputs.appointed.assign(status=APPOINTED), inputs.recorded)
    keys = (
        appointed[["npn", "state_code", "cocode"]]
        .drop_duplicates()
        .merge(inputs.company_state_settings[["cocode", "state_code"]].drop_duplicates())
        .merge(inputs.company_loa_categories[["cocode", "loa_category"]].drop_duplicates())
        .loc[:, list(CATEGORY_KEY)]
        .reset_index(drop=True)
    )
    per_key, _ = sales_authorization(
        keys,
        inputs.business_rules,
        inputs.loa_categories,
        inputs.licenses,
        inputs.license_loas,
        appointed,
        as_of,
    )
    authorization = per_key.merge(inputs.companies, on="cocode", how="left").assign(
        evaluated_as_of=as_of, evaluated_at=evaluated_at
    )
    return Evaluation(
        standing=standing, authorization=authorization.loc[:, list(AUTHORIZATION_TABLE_COLUMNS)]
    )


def replace_evaluation(connection: Connection, evaluation: Evaluation) -> dict[str, int]:
    """Both tables replaced whole, in the caller's transaction; the rows written per table."""
    written = {}
    for name, frame in (
        (STANDING_TABLE, evaluation.standing),
        (AUTHORIZATION_TABLE, evaluation.authorization),
    ):
        table = TABLES[name]
        connection.execute(table.delete())
        written[name] = insert_frame(connection, table, frame)
    return written
