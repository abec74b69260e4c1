"""The compliance assets on SQLite and PostgreSQL: the daily sync job's last step judges every
Appointed line and replaces `appointment_standing` and `sales_authorization` whole."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from assets.compliance.assets import compliance__appointment_standing
from assets.keys import APPOINTMENT_STANDING_KEY, SALES_AUTHORIZATION_KEY
from assets.reports.relations import read_report
from assets.rules.line_standing import RISK_LICENSE, RISK_LINE, RISK_RESIDENT
from pipelines.definitions import build_definitions
from resources.database import OperationalDatabase
from support import compliance as c
from support import seed

PARTITION = "2026-06-01"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'npnflow.db'}"
    return request.getfixturevalue("fresh_postgres_url")


def _read(database: OperationalDatabase, table: str) -> pd.DataFrame:
    with database.engine.connect() as connection:
        result = connection.execute(sa.text(f"SELECT * FROM {table}"))  # a fixed table name
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def test_the_asset_replaces_both_tables_with_every_appointed_line(database_url):
    database = seed.seeded_database(database_url, c.book())
    # A line of a company that is not the customer's is not judged.
    with database.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO appointments (npn, state_code, cocode, loa_code, status) "
                "VALUES ('1001', 'TX', '99999', '16', 'Appointed')"
            )
        )
    for run in range(2):  # a second run replaces, never adds
        result = dg.materialize(
            [compliance__appointment_standing],
            partition_key=PARTITION,
            resources={"database": database},
        )
        assert result.success
        if run == 0:  # as if the expired license had been found at risk on an earlier day
            with database.begin() as connection:
                connection.execute(
                    sa.text(
                        "UPDATE appointment_standing SET at_risk_noticed_on = :day WHERE npn = :npn"
                    ),
                    {"day": dt.date(2026, 1, 5), "npn": c.LICENSE_EXPIRED},
                )
    standing = _read(database, "appointment_standing").set_index("npn")
    assert sorted(standing.index) == sorted(c.book()["appointments"]["npn"])
    assert set(standing["cocode"]) == {c.COCODE}
    reasons = {n: (r if isinstance(r, str) else None) for n, r in standing["risk_reason"].items()}
    assert reasons == {
        c.STANDS: None,
        c.LICENSE_INACTIVE: RISK_LICENSE,
        c.LICENSE_EXPIRED: RISK_LICENSE,
        c.LINE_INACTIVE: RISK_LINE,
        c.NO_RESIDENT: RISK_RESIDENT,
        c.NO_LICENSE: RISK_LICENSE,
    }
    assert str(standing.loc[c.LICENSE_EXPIRED, "at_risk_since"])[:10] == c.EXPIRED_ON.isoformat()
    # The day first found at risk is carried over; a standing line has none.
    noticed = {
        n: (str(v)[:10] if v is not None and v == v else None)
        for n, v in standing["at_risk_noticed_on"].items()
    }
    assert noticed[c.LICENSE_EXPIRED] == "2026-01-05"
    assert noticed[c.STANDS] is None
    assert noticed[c.LINE_INACTIVE] == str(standing.loc[c.LINE_INACTIVE, "evaluated_as_of"])[:10]

    authorization = _read(database, "sales_authorization")
    # One row per category 91234 appoints for in TX (Life, A&H, Variable Life & Annuity)
    # per producer appointed with it there.
    assert len(authorization) == 6 * 3
    yes = authorization[authorization["can_sell"].astype(bool)]
    assert set(zip(yes["npn"], yes["loa_category"], strict=True)) == {(c.STANDS, c.CATEGORY)}
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert materialized == {APPOINTMENT_STANDING_KEY, SALES_AUTHORIZATION_KEY}


def test_the_daily_sync_job_runs_the_standing_after_the_current_state_tables():
    job = build_definitions("local").resolve_job_def("daily_nipr_sync_job")
    selected = set(job.asset_layer.executable_asset_keys)
    assert {APPOINTMENT_STANDING_KEY, SALES_AUTHORIZATION_KEY} <= selected


def test_the_reports_list_the_at_risk_lines_and_the_sales_authorization(database_url):
    from resources.dbt_reports import ReportsDbt

    database = seed.seeded_database(database_url, c.book())
    assert dg.materialize(
        [compliance__appointment_standing],
        partition_key=PARTITION,
        resources={"database": database},
    ).success
    job = build_definitions("local").resolve_job_def("build_reports_job")
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(
            instance=instance,
            resources={"database": database, "reports_dbt": ReportsDbt()},
            raise_on_error=False,
        )
    assert result.success
    checks = result.get_asset_check_evaluations()
    ours = [
        check
        for check in checks
        if check.asset_key.path[-1] in {"rpt_appointments_at_risk", "rpt_sales_authorization"}
    ]
    assert len(ours) >= 8 and all(check.passed for check in ours)
    with database.engine.connect() as connection:
        at_risk = read_report(connection, "rpt_appointments_at_risk").set_index("npn")
        authorization = read_report(connection, "rpt_sales_authorization")
    assert sorted(at_risk.index) == sorted(
        [c.LICENSE_INACTIVE, c.LICENSE_EXPIRED, c.LINE_INACTIVE, c.NO_RESIDENT, c.NO_LICENSE]
    )
    assert at_risk.loc[c.LINE_INACTIVE, "risk_reason"] == RISK_LINE
    assert at_risk.loc[c.LINE_INACTIVE, "producer_name"] == f"Pat Producer {c.LINE_INACTIVE}"
    assert (
        str(at_risk.loc[c.NO_RESIDENT, "at_risk_since"])[:10] == c.RESIDENT_EXPIRED_ON.isoformat()
    )
    yes = authorization[authorization["can_sell"] == "Yes"]
    assert list(zip(yes["npn"], yes["loa_category"], yes["selling_lines"], strict=True)) == [
        (c.STANDS, c.CATEGORY, c.LINE)
    ]
