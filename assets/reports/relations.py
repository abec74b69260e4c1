"""Where the dbt reports live in the operational database, and how Python reads them.

dbt_reports writes its models beside the operational tables:
- SQLite (embedded default): in the same file, schema `main`, so `rpt_...` is a plain table;
- PostgreSQL: in the schema `reports` (the profile's target schema), apart from `public`.

Python code that reads a report (the terminate export) goes through `read_report`, never a
hand-written schema, so both backends read the same relation.
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

POSTGRES_REPORTS_SCHEMA = "reports"

REPORT_MODELS = (
    "rpt_producer_licensing_with_carrier_appointments",
    "rpt_transactions_by_eligibility_reason",
    "rpt_batch_status",
    "rpt_expiring_licenses",
    "rpt_jit_appointments",
    "rpt_appointment_renewals",
    "rpt_appointments_at_risk",
    "rpt_sales_authorization",
)


class ReportNotBuilt(LookupError):
    """The report's relation does not exist yet: the reports were never materialized here."""


def reports_schema(connection: Connection) -> str | None:
    return POSTGRES_REPORTS_SCHEMA if connection.dialect.name == "postgresql" else None


def report_table(connection: Connection, name: str) -> sa.Table:
    """The report's relation, reflected (its columns are what dbt built)."""
    if name not in REPORT_MODELS:
        raise ValueError(f"{name!r} is not an npnflow report; reports: {', '.join(REPORT_MODELS)}")
    schema = reports_schema(connection)
    if not sa.inspect(connection).has_table(name, schema=schema):
        where = f"{schema}.{name}" if schema else name
        raise ReportNotBuilt(
            f"The report {where} has not been built in this database yet. Materialize the "
            "reports first: `npnflow reports build` (or the `reports` group in the Dagster UI)."
        )
    return sa.Table(name, sa.MetaData(), schema=schema, autoload_with=connection)


def read_report(connection: Connection, name: str) -> pd.DataFrame:
    """The whole report as a frame (reports are small: one row per appointment line)."""
    table = report_table(connection, name)
    result = connection.execute(sa.select(table))
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))
