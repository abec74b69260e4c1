"""The dbt reports (SPEC section 10) built through Dagster on SQLite and on PostgreSQL.

A small operational dataset is written by hand below; every number the tests expect is worked
out from it (see the comments beside the rows). The reports are materialized once per backend
(a module-scoped fixture: one real `dbt build` each), through the same `build_reports_job` a
person launches, with the as-of date pinned to AS_OF so the expiry windows do not move.
"""

import datetime as dt
import json
from decimal import Decimal

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from assets.reports.assets import REPORT_ASSETS, REPORTS_GROUP, with_report_lineage
from assets.reports.relations import REPORT_MODELS, ReportNotBuilt, read_report
from npnflow.reports_cli import reports as reports_cli
from resources.database import OperationalDatabase
from resources.dbt_reports import (
    DBT_REPORTS_DIR,
    DbtTarget,
    ReportsDbt,
    ReportsNotPrepared,
    UnsupportedDatabase,
    dbt_target_for,
    prepared_manifest_path,
)
from schemas import statuses
from schemas.migrate import upgrade
from schemas.tables import TABLES

AS_OF = dt.date(2026, 3, 1)


def days(n: int) -> dt.date:
    return AS_OF + dt.timedelta(days=n)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


ANN, BOB, CY = "1000001", "1000002", "1000003"
REGISTRY_RECORDED = "Registry State: Recorded Without NIPR Filing"  # issue 14's reason
ACME, BUCKEYE, OTHER = "91234", "93456", "55555"

# NIPR's own fee per transaction of the seed below (transactions.estimated_nipr_fee).
NIPR_FEES = {
    "T1": Decimal("5.00"), "T2": Decimal("5.00"), "T3": Decimal("0.00"), "T4": Decimal("5.00"),
    "T5": Decimal("0.00"), "T6": Decimal("0.00"), "T7": Decimal("5.00"),
}  # fmt: skip

# Written as tables, a record per line or two: not reformatted.
# fmt: off
SEED: dict[str, list[dict[str, object]]] = {
    "jurisdictions": [
        {"state_code": "TX", "name": "Texas"},
        {"state_code": "CA", "name": "California"},
        {"state_code": "OH", "name": "Ohio"},
    ],
    "lines_of_authority": [
        {"state_code": "TX", "loa_code": "16", "loa_name": "Life"},
        {"state_code": "TX", "loa_code": "825", "loa_name": "Life Agent"},
        {"state_code": "CA", "loa_code": "16", "loa_name": "Life"},
        {"state_code": "OH", "loa_code": "16", "loa_name": "Life"},
        {"state_code": "OH", "loa_code": "39", "loa_name": "Accident & Health"},
    ],
    "loa_categories": [
        {"state_code": "TX", "loa_code": "16", "loa_category": "Variable Life & Annuity"},
        {"state_code": "TX", "loa_code": "16", "loa_category": "Life"},
        {"state_code": "OH", "loa_code": "39", "loa_category": "Accident & Health"},
    ],
    # OH renews every line yearly ($15 per line, docs/renewals.md): the renewal plan's state.
    "state_appointment_renewals": [
        {"state_code": "OH", "renews": "annual", "renewed_through": "unknown",
         "window_start": None, "window_end": None, "termination_cutoff": "unknown",
         "fee_resident": 15, "fee_nonresident": 15, "fee_basis": "per_line",
         "nipr_processing_fee": False, "source": "test", "is_assumption": False},
    ],
    "companies": [
        {"cocode": ACME, "company_name": "Acme Life"},
        {"cocode": BUCKEYE, "company_name": "Buckeye Mutual"},
    ],
    "agencies": [{"agency_npn": "9000001", "agency_name": "Lone Star Agency"}],
    "producers": [
        {"npn": ANN, "first_name": "Ann", "last_name": "Lee", "agency_npn": "9000001",
         "is_active": True, "sync_status": "Success"},
        {"npn": BOB, "first_name": "Bob", "last_name": None, "is_active": True,
         "sync_status": "Success"},
        {"npn": CY, "first_name": "Cy", "last_name": "Dee", "is_active": False,
         "sync_status": "Success"},
    ],
    # (npn, state, number, class code, class, resident, active, expires): the expiring report's
    # verdict as of AS_OF on the right.
    "licenses": [
        dict(zip(("npn", "state_code", "license_number", "license_class_code", "license_class",
                  "is_resident", "is_active", "expiration_date"), row, strict=True))
        for row in (
            (ANN, "TX", "TX-1", "465", "General Lines Agent", True, True, days(10)),  # 30 days
            (ANN, "TX", "TX-2", "882", "Life Agent", False, False, days(400)),  # inactive
            (ANN, "CA", "CA-1", "3", "Producer", False, True, days(45)),  # 60 days
            (BOB, "OH", "OH-1", "3", "Producer", True, True, days(75)),  # 90 days
            (BOB, "OH", "OH-2", "5", "Producer", True, True, days(30)),  # 30 days (edge)
            (BOB, "OH", "OH-31", "6", "Producer", True, True, days(31)),  # 60 days (edge)
            (BOB, "OH", "OH-90", "7", "Producer", True, True, days(90)),  # 90 days (edge)
            (BOB, "OH", "OH-91", "8", "Producer", True, True, days(91)),  # beyond 90 days
            (CY, "TX", "TX-3", "465", "General Lines Agent", True, True, days(-1)),  # expired
            (CY, "CA", "CA-3", "3", "Producer", False, False, days(5)),  # inactive
            (CY, "OH", "OH-3", "3", "Producer", True, True, AS_OF),  # 30 days: expires today
            # One VA license number under two classes, as NIPR files it (ADR 0023).
            (ANN, "VA", "123", "1", "Class One", True, True, days(200)),
            (ANN, "VA", "123", "2", "Class Two", True, True, days(200)),
            (ANN, "IL", "IL-1", "3", "Producer", False, True, days(300)),  # registry state
        )
    ],
    "license_loas": [
        dict(zip(("npn", "state_code", "license_number", "license_class_code", "loa_code",
                  "loa_name", "is_active"), row, strict=True))
        for row in (
            (ANN, "TX", "TX-1", "465", "16", "Life", True),
            (ANN, "TX", "TX-1", "465", "825", "Life Agent", True),
            # A second TX license with line 16: inactive, expiring later. The appointment on
            # line 16 must show TX-1, the active one.
            (ANN, "TX", "TX-2", "882", "16", "Life", True),
            (ANN, "CA", "CA-1", "3", "16", "Life", True),
            (BOB, "OH", "OH-1", "3", "39", None, True),  # no name on the license: NIPR's name
            (BOB, "OH", "OH-1", "3", "16", "Life", False),
            (CY, "OH", "OH-3", "3", "16", "Life", True),
            # VA 123: line 14 inactive under class 1, active under class 2. Two lines, each
            # with its own class and status.
            (ANN, "VA", "123", "1", "14", "Accident & Health", False),
            (ANN, "VA", "123", "2", "14", "Accident & Health", True),
            (ANN, "IL", "IL-1", "3", "16", "Life", True),
        )
    ],
    "appointments": [
        dict(zip(("npn", "state_code", "cocode", "loa_code", "company_name", "status",
                  "effective_date", "termination_reason"), row, strict=True))
        for row in (
            (ANN, "TX", ACME, "16", "ACME LIFE INS CO", "Appointed", dt.date(2025, 1, 2), None),
            (ANN, "TX", BUCKEYE, "16", "BUCKEYE", "Terminated", dt.date(2024, 5, 1),
             "Company Terminated"),
            (ANN, "CA", ACME, "16", "ACME LIFE INS CO", "Appointed", dt.date(2025, 2, 3), None),
            (BOB, "OH", BUCKEYE, "39", "BUCKEYE", "Appointed", dt.date(2025, 3, 4), None),
            (CY, "OH", ACME, "99", "ACME LIFE INS CO", "Appointed", None, None),  # no license
            (CY, "OH", OTHER, "16", "Other Carrier Co", "Appointed", None, None),  # not ours
        )
    ],
    "uploads": [
        {"upload_id": "U1", "object_key": "inbox/appoint/march.csv", "content_sha256": "a" * 64,
         "kind": "appoint", "received_at": at("2026-02-20 09:00"), "status": "processed"},
        {"upload_id": "U2", "object_key": "inbox/terminate/march.csv",
         "content_sha256": "b" * 64, "kind": "terminate", "received_at": at("2026-02-24 09:00"),
         "status": "processed"},
    ],
    "transaction_batches": [
        dict(zip(("batch_id", "kind", "cocode", "upload_id", "status", "approval_version",
                  "approved_by", "submit_immediately", "estimated_fees", "created_at"),
                 row, strict=True))
        for row in (
            ("B1", "appointment", ACME, "U1", statuses.BATCH_APPROVED, 1, "auto", True,
             Decimal("20.00"), at("2026-02-20 09:05")),
            ("B2", "appointment", ACME, "U1", statuses.BATCH_PENDING_REVIEW, 0, None, False,
             Decimal("7.00"), at("2026-02-20 09:05")),
            ("B3", "appointment", BUCKEYE, "U1", statuses.BATCH_COMPLETED, 0, None, False,
             Decimal("0.00"), at("2026-02-20 09:05")),
            ("B4", "termination", ACME, "U2", statuses.BATCH_SUBMITTED, 1, "Dana", True,
             Decimal("0.00"), at("2026-02-24 09:05")),
            ("B5", "appointment", ACME, "U1", statuses.BATCH_REJECTED, 0, None, False,
             Decimal("0.00"), at("2026-02-20 09:05")),  # no transaction left
            ("B6", "appointment", ACME, "U1", statuses.BATCH_COMPLETED, 0, None, False,
             Decimal("0.00"), at("2026-02-20 09:05")),  # registry-state lines, never sent
        )
    ],
    "transactions": [
        dict(zip(("transaction_id", "batch_id", "kind", "npn", "state_code", "cocode",
                  "loa_code", "eligibility_reason", "status", "estimated_fee", "submitted_at",
                  "completed_at", "created_at"), row, strict=True))
        # NIPR's own fee: on the lines sent or to be sent, 0 on Held and Not Eligible ones.
        | {"estimated_nipr_fee": NIPR_FEES[row[0]]}
        for row in (
            ("T1", "B1", "appointment", ANN, "TX", ACME, "825", "In Good Order",
             statuses.ACCEPTED, Decimal("10.00"), at("2026-02-20 10:00"),
             at("2026-02-21 08:00"), at("2026-02-20 09:05")),
            ("T2", "B1", "appointment", ANN, "TX", ACME, "16", "In Good Order",
             statuses.SUBMITTED, Decimal("10.00"), at("2026-02-20 10:30"), None,
             at("2026-02-20 09:06")),
            ("T3", "B2", "appointment", ANN, "CA", ACME, "16", "In Good Standing",
             statuses.HELD_JIT, Decimal("7.00"), None, None, at("2026-02-20 09:07")),
            ("T4", "B2", "appointment", BOB, "OH", ACME, "16", "In Good Standing",
             statuses.READY_TO_SUBMIT, Decimal("0.00"), None, None, at("2026-02-20 09:08")),
            ("T5", "B3", "appointment", BOB, "OH", BUCKEYE, "39", "Required License Not Found",
             statuses.NOT_ELIGIBLE, Decimal("0.00"), None, None, at("2026-02-20 09:09")),
            ("T6", "B3", "appointment", ANN, "OH", BUCKEYE, "16", "Required License Not Found",
             statuses.NOT_ELIGIBLE, Decimal("0.00"), None, None, at("2026-02-20 09:10")),
            ("T7", "B4", "termination", ANN, "TX", ACME, "16", "In Good Standing",
             statuses.PENDING_STATE_REVIEW, Decimal("0.00"), at("2026-02-25 11:00"), None,
             at("2026-02-24 09:05")),
        )
    ] + [
        # Lines of a registry state (IL) recorded without NIPR filing: the carrier's register
        # holds them. T9's line is also in NIPR's appointments: the report shows NIPR's row.
        {"transaction_id": transaction_id, "batch_id": "B6", "kind": "appointment", "npn": ANN,
         "state_code": state, "cocode": ACME, "loa_code": "16", "license_number": number,
         "license_class_code": class_code, "eligibility_reason": REGISTRY_RECORDED,
         "status": statuses.RECORDED, "estimated_fee": Decimal("0.00"),
         "effective_date": dt.date(2026, 2, 18), "created_at": at("2026-02-20 09:12")}
        for transaction_id, state, number, class_code in (
            ("T8", "IL", "IL-1", "3"), ("T9", "TX", "TX-1", "465")
        )
    ],
    "request_rejections": [
        dict(zip(("upload_id", "kind", "request_row", "npn", "state_code", "cocode",
                  "eligibility_reason", "status", "created_at"), row, strict=True))
        for row in (
            ("U1", "appointment", 5, "2000002", "TX", ACME, "Producer Not Found",
             statuses.REQUEST_REJECTED, at("2026-02-20 09:04")),
            ("U1", "appointment", 6, "2000003", "TX", ACME, "Producer Not Found",
             statuses.REQUEST_REJECTED, at("2026-02-20 09:11")),
            ("U1", "appointment", 7, CY, "CA", BUCKEYE, "Producer Inactive",
             statuses.REQUEST_REJECTED, at("2026-02-20 09:04")),
        )
    ],
}
# fmt: on


def seed(url: str) -> None:
    """Migrate the database and write SEED, parents before children (foreign keys)."""
    upgrade(url)
    database = OperationalDatabase(url=url)
    try:
        with database.begin() as connection:
            for name, rows in SEED.items():
                # One statement per table: every row names every column it sets.
                columns = {column for row in rows for column in row}
                rows = [{column: row.get(column) for column in columns} for row in rows]
                connection.execute(TABLES[name].insert(), rows)
    finally:
        database.engine.dispose()


# --------------------------------------------------------------------------------------------
# One dbt build per backend, shared by the module's tests
# --------------------------------------------------------------------------------------------

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
RUN_CONFIG = {
    **QUIET,
    "ops": {
        "reports_dbt_models": {"config": {"as_of": AS_OF.isoformat()}},
        "core_renewals__plan": {"config": {"as_of": AS_OF.isoformat()}},
    },
}


@pytest.fixture(scope="module")
def reports_postgres_url(request):
    """A database of its own on the session's PostgreSQL server: the seed's fixed keys must not
    meet another module's rows. Skips or fails (CI=true) as every PostgreSQL test does."""
    session_url = sa.make_url(request.getfixturevalue("postgres_url"))
    name = f"{session_url.database}_reports"
    server = sa.create_engine(session_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with server.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))  # a generated name
    try:
        yield session_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


class Built:
    """The seeded database after one run of build_reports_job, and what the run reported."""

    def __init__(self, url: str, result: dg.ExecuteInProcessResult, seconds: float):
        self.url = url
        self.result = result
        self.seconds = seconds
        engine = sa.create_engine(url, poolclass=sa.NullPool)
        with engine.connect() as connection:
            self.reports = {name: read_report(connection, name) for name in REPORT_MODELS}
        engine.dispose()

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.reports[name]


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def built(request, tmp_path_factory) -> Built:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('reports') / 'npnflow.db'}"
    else:
        url = request.getfixturevalue("reports_postgres_url")
    seed(url)
    from pipelines.definitions import build_definitions

    job = build_definitions("local").resolve_job_def("build_reports_job")
    started = dt.datetime.now()
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(
            instance=instance,
            resources={"database": OperationalDatabase(url=url), "reports_dbt": ReportsDbt()},
            run_config=RUN_CONFIG,
            raise_on_error=False,
        )
    return Built(url, result, (dt.datetime.now() - started).total_seconds())


def _as_dates(series: pd.Series) -> list[dt.date | None]:
    """Dates as the backend hands them back: date objects (PostgreSQL) or ISO text (SQLite)."""
    return [None if pd.isna(v) else dt.date.fromisoformat(str(v)[:10]) for v in series]


def _as_utc(value: object) -> pd.Timestamp | None:
    if value is None or pd.isna(value):
        return None
    stamp = pd.Timestamp(value)  # SQLite: naive UTC text; PostgreSQL: aware datetime
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


# --------------------------------------------------------------------------------------------
# The build and its checks
# --------------------------------------------------------------------------------------------


def test_the_build_materializes_the_four_reports_and_every_check_passes(built):
    assert built.result.success
    materialized = {
        event.asset_key.to_user_string(): event.event_specific_data.materialization.metadata
        for event in built.result.get_asset_materialization_events()
    }
    # The renewal plan table the renewals report reads is computed first, in the same run.
    assert set(materialized) == {*REPORT_MODELS, "core_renewals__plan"}
    assert materialized.pop("core_renewals__plan")["as_of"].value == AS_OF.isoformat()
    for name, metadata in materialized.items():
        assert metadata["dagster/row_count"].value == len(built[name]), name
        assert metadata["as_of"].value == AS_OF.isoformat()

    evaluations = built.result.get_asset_check_evaluations()
    expected_checks = {spec.key for spec in REPORT_ASSETS[0].check_specs}
    assert {(e.asset_key, e.check_name) for e in evaluations} == {
        (key.asset_key, key.name) for key in expected_checks
    }
    assert [e.check_name for e in evaluations if not e.passed] == []
    # The checks are the dbt tests of dbt_reports/models/reports/_reports.yml, named for what
    # they assert.
    names = {e.check_name for e in evaluations}
    assert {"batch_status_counts_add_up_to_total", "expiry_window_is_30_60_or_90_days",
            "licensing_appointment_status_is_known",
            "unique_rpt_producer_licensing_with_carrier_appointments_report_key"} <= names  # fmt: skip
    print(f"\ndbt build through Dagster on {built.url.split(':')[0]}: {built.seconds:.1f} s")


# --------------------------------------------------------------------------------------------
# The numbers, against the seed
# --------------------------------------------------------------------------------------------

LICENSING = "rpt_producer_licensing_with_carrier_appointments"
# What `npnflow export terminate` and the docs rely on (SPEC section 7).
LICENSING_COLUMNS = [
    "report_key", "npn", "first_name", "last_name", "producer_name", "agency_npn",
    "agency_name", "state_code", "license_number", "license_class", "is_resident",
    "license_is_active", "license_expiration_date", "loa_code", "loa_name", "loa_is_active",
    "cocode", "company_name", "appointment_status", "appointment_effective_date",
    "termination_reason", "renewal_date",
]  # fmt: skip


def test_licensing_has_a_row_per_appointment_line_and_per_unappointed_license_line(built):
    report = built[LICENSING]
    assert set(LICENSING_COLUMNS) <= set(report.columns)
    assert report["report_key"].is_unique
    # 6 appointment rows of NIPR, 1 recorded (IL); TX-1/825, OH-1/16 and VA 123/14 under each
    # of its two classes are the license lines with no appointment.
    assert report["appointment_status"].value_counts().to_dict() == {
        "Appointed": 5,
        "Terminated": 1,
        "Recorded": 1,
        "Not Appointed": 4,
    }
    not_appointed = report[report["appointment_status"] == "Not Appointed"]
    assert set(zip(not_appointed["npn"], not_appointed["license_number"],
                   not_appointed["license_class_code"], not_appointed["loa_code"],
                   strict=True)) == {
        (ANN, "TX-1", "465", "825"), (BOB, "OH-1", "3", "16"),
        (ANN, "123", "1", "14"), (ANN, "123", "2", "14"),
    }  # fmt: skip
    assert not_appointed["cocode"].isna().all() and not_appointed["company_name"].isna().all()
    assert not_appointed["filed_through_nipr"].isna().all()

    rows = report.set_index("report_key")
    ann_tx = rows.loc[f"{ANN}|TX|16|cocode={ACME}"]
    # Two TX licenses carry line 16: the active TX-1 wins over the inactive, later TX-2.
    assert ann_tx["license_number"] == "TX-1"
    assert (ann_tx["license_class_code"], ann_tx["license_class"]) == ("465", "General Lines Agent")
    assert bool(ann_tx["license_is_active"]) and bool(ann_tx["is_resident"])
    assert _as_dates(pd.Series([ann_tx["license_expiration_date"]])) == [days(10)]
    assert ann_tx["company_name"] == "Acme Life"  # our name, not NIPR's "ACME LIFE INS CO"
    assert (ann_tx["producer_name"], ann_tx["agency_name"]) == ("Ann Lee", "Lone Star Agency")
    assert ann_tx["loa_categories"] == "Life, Variable Life & Annuity"
    terminated = rows.loc[f"{ANN}|TX|16|cocode={BUCKEYE}"]
    assert terminated["appointment_status"] == "Terminated"
    assert terminated["termination_reason"] == "Company Terminated"
    # No name on the license: NIPR's name of OH line 39.
    assert rows.loc[f"{BOB}|OH|39|cocode={BUCKEYE}", "loa_name"] == "Accident & Health"
    assert rows.loc[f"{BOB}|OH|16|license=OH-1|class=3", "producer_name"] == "Bob"
    assert not bool(rows.loc[f"{BOB}|OH|16|license=OH-1|class=3", "loa_is_active"])
    # Not one of our companies: the name NIPR reported.
    assert rows.loc[f"{CY}|OH|16|cocode={OTHER}", "company_name"] == "Other Carrier Co"
    # An appointment on a line no license carries keeps its row, without a license.
    orphan = rows.loc[f"{CY}|OH|99|cocode={ACME}"]
    assert pd.isna(orphan["license_number"]) and orphan["appointment_status"] == "Appointed"


def test_one_license_number_keeps_a_line_per_class_with_its_own_status(built):
    """NIPR files VA license 123 under two classes; line 14 is inactive under one, active
    under the other. The report keeps both lines apart, each with its class's license."""
    rows = built[LICENSING].set_index("report_key")

    inactive = rows.loc[f"{ANN}|VA|14|license=123|class=1"]
    active = rows.loc[f"{ANN}|VA|14|license=123|class=2"]

    assert (inactive["license_class"], bool(inactive["loa_is_active"])) == ("Class One", False)
    assert (active["license_class"], bool(active["loa_is_active"])) == ("Class Two", True)


def test_a_registry_states_recorded_line_is_an_appointment_not_filed_through_nipr(built):
    rows = built[LICENSING].set_index("report_key")

    recorded = rows.loc[f"{ANN}|IL|16|cocode={ACME}"]

    assert recorded["appointment_status"] == "Recorded"
    assert not bool(recorded["filed_through_nipr"])
    assert recorded["company_name"] == "Acme Life"
    # The license line it rests on, and the date the request asked for.
    assert (recorded["license_number"], recorded["license_class_code"]) == ("IL-1", "3")
    assert recorded["license_class"] == "Producer" and bool(recorded["loa_is_active"])
    assert _as_dates(pd.Series([recorded["appointment_effective_date"]])) == [dt.date(2026, 2, 18)]
    # The IL line is appointed (recorded), so it is no Not Appointed row.
    assert f"{ANN}|IL|16|license=IL-1|class=3" not in rows.index
    # A line both recorded and in NIPR's appointments shows once: NIPR's row.
    nipr = rows.loc[f"{ANN}|TX|16|cocode={ACME}"]
    assert nipr["appointment_status"] == "Appointed" and bool(nipr["filed_through_nipr"])
    assert (rows["npn"] + rows["state_code"] + rows["loa_code"] + rows["cocode"].fillna("")).eq(
        f"{ANN}TX16{ACME}"
    ).sum() == 1


def test_expiring_licenses_fall_in_the_smallest_window_as_of_the_pinned_date(built):
    report = built["rpt_expiring_licenses"]
    assert report["expiry_window"].value_counts().to_dict() == {
        "30 days": 3,  # TX-1 (10 days), OH-2 (30), OH-3 (0: expires on the as-of date)
        "60 days": 2,  # CA-1 (45), OH-31 (31)
        "90 days": 2,  # OH-1 (75), OH-90 (90)
    }  # not OH-91 (91 days), TX-3 (expired), TX-2 and CA-3 (inactive)
    by_license = report.set_index("license_number")
    assert by_license["days_to_expiry"].astype(int).to_dict() == {
        "TX-1": 10, "OH-2": 30, "OH-3": 0, "CA-1": 45, "OH-31": 31, "OH-1": 75, "OH-90": 90
    }  # fmt: skip
    assert _as_dates(report["as_of_date"]) == [AS_OF] * len(report)
    # Cy is Appointed twice in OH (Acme line 99, Other Carrier line 16); Ann once in TX (the
    # Buckeye appointment is Terminated).
    assert int(by_license.loc["OH-3", "appointed_appointments"]) == 2
    assert int(by_license.loc["OH-3", "appointed_companies"]) == 2
    assert int(by_license.loc["TX-1", "appointed_appointments"]) == 1
    assert by_license.loc["TX-1", "agency_name"] == "Lone Star Agency"


def test_batch_status_counts_each_batch_transactions_per_status(built):
    report = built["rpt_batch_status"].set_index("batch_id")
    # One count column per transaction status (a missing one is a KeyError here), and total.
    counts = report[[
        "ready_to_submit", "held_jit", "not_eligible", "submitted", "pending_state_review",
        "accepted", "rejected", "error", "cancelled", "recorded", "total",
    ]].astype(int)  # fmt: skip
    nonzero = {batch: {c: n for c, n in row.items() if n} for batch, row in counts.iterrows()}
    assert nonzero == {
        "B1": {"accepted": 1, "submitted": 1, "total": 2},
        "B2": {"held_jit": 1, "ready_to_submit": 1, "total": 2},
        "B3": {"not_eligible": 2, "total": 2},
        "B4": {"pending_state_review": 1, "total": 1},
        "B5": {},  # rejected batch with no transaction left: every count 0
        "B6": {"recorded": 2, "total": 2},
    }
    assert report["status"].to_dict() == {
        "B1": "Approved", "B2": "Pending Review", "B3": "Completed", "B4": "Submitted",
        "B5": "Rejected", "B6": "Completed",
    }  # fmt: skip
    assert report["estimated_fees"].astype(float).to_dict() == {
        "B1": 20.0, "B2": 7.0, "B3": 0.0, "B4": 0.0, "B5": 0.0, "B6": 0.0
    }  # fmt: skip
    # Beside the state fees, NIPR's own: B2's Held line and B6's Recorded ones add nothing, B5
    # has no line left.
    assert report["estimated_nipr_fees"].astype(float).to_dict() == {
        "B1": 10.0, "B2": 5.0, "B3": 0.0, "B4": 5.0, "B5": 0.0, "B6": 0.0
    }  # fmt: skip
    assert report.loc["B4", "kind"] == "termination" and report.loc["B4", "approved_by"] == "Dana"
    assert bool(report.loc["B1", "submit_immediately"]) and not bool(
        report.loc["B2", "submit_immediately"]
    )
    assert report.loc["B1", "upload_object_key"] == "inbox/appoint/march.csv"
    assert report.loc["B1", "company_name"] == "Acme Life"
    assert _as_utc(report.loc["B1", "last_submitted_at"]) == pd.Timestamp("2026-02-20 10:30Z")
    assert _as_utc(report.loc["B1", "last_completed_at"]) == pd.Timestamp("2026-02-21 08:00Z")
    assert _as_utc(report.loc["B2", "last_submitted_at"]) is None


def test_transactions_by_eligibility_reason_count_fees_and_rejected_requests(built):
    report = built["rpt_transactions_by_eligibility_reason"]
    groups = {
        (r.kind, r.cocode, r.eligibility_reason, r.status): (
            int(r.transactions),
            float(r.estimated_fees),
        )
        for r in report.itertuples()
    }
    assert groups == {
        ("appointment", ACME, "In Good Order", "Accepted"): (1, 10.0),
        ("appointment", ACME, "In Good Order", "Submitted"): (1, 10.0),
        ("appointment", ACME, "In Good Standing", "Held (JIT)"): (1, 7.0),
        ("appointment", ACME, "In Good Standing", "Ready to Submit"): (1, 0.0),
        ("appointment", BUCKEYE, "Required License Not Found", "Not Eligible"): (2, 0.0),
        ("termination", ACME, "In Good Standing", "Pending State Review"): (1, 0.0),
        ("appointment", ACME, "Producer Not Found", "Request Rejected"): (2, 0.0),
        ("appointment", BUCKEYE, "Producer Inactive", "Request Rejected"): (1, 0.0),
        ("appointment", ACME, REGISTRY_RECORDED, "Recorded"): (2, 0.0),
    }
    # Every transaction and every rejected request row is counted once; fees add up.
    assert report["transactions"].sum() == len(SEED["transactions"]) + len(
        SEED["request_rejections"]
    )
    assert report["estimated_fees"].astype(float).sum() == pytest.approx(27.0)
    rejected = report[report["eligibility_reason"] == "Producer Not Found"].iloc[0]
    assert rejected["company_name"] == "Acme Life"
    assert _as_utc(rejected["first_created_at"]) == pd.Timestamp("2026-02-20 09:04Z")
    assert _as_utc(rejected["last_created_at"]) == pd.Timestamp("2026-02-20 09:11Z")


# --------------------------------------------------------------------------------------------
# The code location: assets, lineage, checks, job
# --------------------------------------------------------------------------------------------


def test_the_renewals_report_is_the_plan_of_the_customers_appointed_lines(built):
    report = built["rpt_appointment_renewals"].sort_values("npn")
    # OH's Appointed lines of Acme and Buckeye; Other Carrier Co is not the customer's.
    assert report["report_key"].tolist() == [f"{BUCKEYE}|OH|{BOB}|39", f"{ACME}|OH|{CY}|99"]
    assert report["company_name"].tolist() == ["Buckeye Mutual", "Acme Life"]
    assert report["loa_name"].tolist()[0] == "Accident & Health"
    assert [float(f) for f in report["fee"]] == [15.0, 15.0]
    assert report["recommendation"].tolist() == ["Renew", "Terminate Before Cut-Off"]
    assert report["reason"].tolist()[1] == "Producer offboarded or inactive"  # Cy is inactive
    assert [int(c) for c in report["cycle"]] == [AS_OF.year, AS_OF.year]
    assert _as_dates(report["renewal_date"]) == [None, None]  # OH publishes no window


def test_definitions_list_the_reports_downstream_of_the_python_assets():
    from pipelines.definitions import build_definitions

    defs = build_definitions("local")
    graph = defs.get_repository_def().asset_graph
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert set(REPORT_MODELS) <= keys
    parents = {}
    for name in REPORT_MODELS:
        node = graph.get(dg.AssetKey(name))
        assert node.group_name == REPORTS_GROUP
        assert graph.get_check_keys_for_assets({node.key}), f"{name} has no checks"
        parents[name] = {key.to_user_string() for key in node.parent_keys}
    assert parents[LICENSING] >= {
        "core_nipr__producers", "core_nipr__licenses", "core_nipr__license_loas",
        "core_nipr__appointments", "core_config__companies", "core_reference__lines_of_authority",
        "core_onboarding__producers",  # agencies
        "core_appointments__transactions",  # the lines a registry state recorded
    }  # fmt: skip
    assert parents["rpt_expiring_licenses"] >= {"core_nipr__licenses", "core_nipr__appointments"}
    assert parents["rpt_batch_status"] >= {
        "core_appointments__batches", "core_appointments__transactions", "core_uploads__validated"
    }  # fmt: skip
    assert parents["rpt_transactions_by_eligibility_reason"] >= {"core_appointments__transactions"}
    # Staging models are ephemeral: no asset, no relation in the operational database.
    assert not any(key.startswith(("stg_", "int_")) for key in keys)
    # Every other writer of a table the batch report reads, when the code location defines it.
    for writer in ("core_terminations__batches", "out_nipr__gateway_submissions"):
        assert (writer in parents["rpt_batch_status"]) == (writer in keys)
    # Nothing upstream of a report is a key that no asset defines.
    assert all(
        parent in keys and graph.get(dg.AssetKey(parent)).is_executable
        for names in parents.values()
        for parent in names
    )

    job = defs.resolve_job_def("build_reports_job")
    assert {key.to_user_string() for key in job.asset_layer.executable_asset_keys} == {
        *REPORT_MODELS,
        "core_renewals__plan",
    }
    assert "reports_dbt" in defs.resources


def test_other_writers_are_linked_only_when_the_code_location_defines_them():
    terminations = dg.AssetSpec("core_terminations__transactions")
    linked = with_report_lineage(*REPORT_ASSETS, terminations)
    assert linked[1] is terminations
    deps = {
        spec.key.to_user_string(): {d.asset_key.to_user_string() for d in spec.deps}
        for spec in linked[0].specs
    }
    assert "core_terminations__transactions" in deps["rpt_transactions_by_eligibility_reason"]
    assert "core_terminations__transactions" in deps["rpt_batch_status"]
    # Not defined here: not linked (it would show as an asset nothing materializes).
    assert "core_terminations__batches" not in deps["rpt_batch_status"]
    assert "core_terminations__transactions" not in deps["rpt_expiring_licenses"]
    # The licensing report reads `transactions` (its Recorded lines), so it is linked too.
    assert "core_terminations__transactions" in deps[LICENSING]

    alone = with_report_lineage(*REPORT_ASSETS)
    assert list(alone[0].specs) == list(REPORT_ASSETS[0].specs)


def test_status_vocabularies_in_dbt_match_the_python_owner():
    """dbt cannot import statuses.py, so its lists are spelled out; a change to one side
    without the other fails here, before a check fails in production."""
    manifest = json.loads(prepared_manifest_path().read_text())
    accepted = {
        test["name"]: set(test["test_metadata"]["kwargs"]["values"])
        for test in manifest["nodes"].values()
        if test["resource_type"] == "test"
        and test.get("test_metadata", {}).get("name") == "accepted_values"
    }
    transaction_statuses = set(statuses.TRANSACTION_STATUSES)
    assert accepted["eligibility_status_is_known"] == transaction_statuses | {
        statuses.REQUEST_REJECTED
    }
    assert accepted["batch_status_is_known"] == set(statuses.BATCH_STATUSES)
    assert accepted["batch_kind_is_known"] == set(statuses.TRANSACTION_KINDS)
    assert accepted["eligibility_kind_is_known"] == set(statuses.TRANSACTION_KINDS)
    # The count columns of rpt_batch_status, one per transaction status, in order.
    import yaml

    project = yaml.safe_load((DBT_REPORTS_DIR / "dbt_project.yml").read_text())
    status_columns = project["vars"]["transaction_status_columns"]
    assert list(status_columns.values()) == list(statuses.TRANSACTION_STATUSES)


def test_a_missing_manifest_names_the_command_that_prepares_it(monkeypatch, tmp_path):
    import resources.dbt_reports as dbt_reports

    class Unprepared:
        manifest_path = tmp_path / "target" / "manifest.json"

    monkeypatch.setattr(dbt_reports, "reports_project", lambda: Unprepared())
    with pytest.raises(ReportsNotPrepared, match="npnflow reports prepare"):
        prepared_manifest_path()


# --------------------------------------------------------------------------------------------
# Where dbt writes: the database of the `database` resource
# --------------------------------------------------------------------------------------------


def test_a_sqlite_url_points_dbt_at_the_same_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    target = dbt_target_for("sqlite:///data/npnflow.db")
    assert target.name == "sqlite"
    # Relative to this process's directory, as SQLAlchemy opens it; dbt runs in dbt_reports/.
    assert target.env["NPNFLOW_DBT_SQLITE_PATH"] == str(tmp_path / "data" / "npnflow.db")
    assert target.env["NPNFLOW_DBT_SQLITE_SCHEMA_DIR"] == str(tmp_path / "data" / "dbt_schemas")
    assert target.env["NPNFLOW_DBT_TARGET"] == "sqlite"


def test_a_postgres_url_points_dbt_at_the_same_database_and_keeps_the_password_secret():
    target = dbt_target_for(
        "postgresql+psycopg2://ops:s3cr%40t@db.internal:6543/npnflow?sslmode=require"
    )
    assert isinstance(target, DbtTarget) and target.name == "postgres"
    assert dict(target.env) == {
        "NPNFLOW_DBT_TARGET": "postgres",
        "NPNFLOW_DBT_PG_HOST": "db.internal",
        "NPNFLOW_DBT_PG_PORT": "6543",
        "NPNFLOW_DBT_PG_USER": "ops",
        "NPNFLOW_DBT_PG_DBNAME": "npnflow",
        "DBT_ENV_SECRET_NPNFLOW_DBT_PG_PASSWORD": "s3cr@t",  # dbt scrubs DBT_ENV_SECRET_ values
        "NPNFLOW_DBT_PG_SSLMODE": "require",
    }
    assert "s3cr" not in repr(target) and "s3cr" not in target.where


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sqlite://", "in-memory|no file"),
        ("sqlite:///:memory:", "in-memory"),
        ("postgresql+psycopg2://ops@/npnflow", "no host"),
        ("mysql+pymysql://ops@db/npnflow", "SQLite or PostgreSQL"),
    ],
)
def test_a_database_dbt_cannot_reach_is_refused_with_the_reason(url, message):
    with pytest.raises(UnsupportedDatabase, match=message):
        dbt_target_for(url)


# --------------------------------------------------------------------------------------------
# npnflow reports
# --------------------------------------------------------------------------------------------


def test_reports_build_and_show_on_the_embedded_default(tmp_path, monkeypatch):
    from click.testing import CliRunner

    monkeypatch.setenv("NPNFLOW_ENV", "local")
    monkeypatch.setenv("NPNFLOW_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.delenv("NPNFLOW_DATABASE_URL", raising=False)
    url = f"sqlite:///{tmp_path / 'npnflow.db'}"
    runner = CliRunner()

    before = runner.invoke(reports_cli, ["show", "rpt_batch_status"])
    assert before.exit_code == 1
    assert "npnflow reports build" in before.output  # not built yet: says how to build it

    seed(url)
    built = runner.invoke(reports_cli, ["build", "--as-of", AS_OF.isoformat()])
    assert built.exit_code == 0, built.output
    assert "rpt_expiring_licenses" in built.output and "7 rows" in built.output
    checks = len(list(REPORT_ASSETS[0].check_specs))
    assert f"Checks: {checks} run, {checks} passed, 0 failed." in built.output
    assert "Running with dbt" not in built.output  # dbt's log only when the build fails

    shown = runner.invoke(reports_cli, ["show", "rpt_batch_status", "--limit", "2"])
    assert shown.exit_code == 0, shown.output
    assert "rpt_batch_status: 6 rows" in shown.output and "(first 2)" in shown.output
    assert "Pending Review" in shown.output or "Approved" in shown.output


def test_reading_a_report_that_was_never_built_says_how_to_build_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'npnflow.db'}"
    upgrade(url)
    engine = sa.create_engine(url)
    with engine.connect() as connection, pytest.raises(ReportNotBuilt, match="reports build"):
        read_report(connection, LICENSING)
    engine.dispose()
