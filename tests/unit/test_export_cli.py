"""`npnflow export terminate`, through click's runner, on a temporary SQLite file.

The report `rpt_producer_licensing_with_carrier_appointments` is a dbt model; here a table of
that name with the report's columns stands in for it. What the export writes must pass the
terminate upload's own validation with no row error, and request exactly the Appointed lines.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from assets.reference.loading import load_reference_data
from assets.uploads.reading import read_upload
from assets.uploads.validation import validate_upload
from npnflow.cli import main
from npnflow.export_cli import export
from resources import paths
from schemas.migrate import upgrade

REPORT = "rpt_producer_licensing_with_carrier_appointments"
COLUMNS = (
    "npn", "producer_name", "first_name", "last_name", "agency_name", "state_code",
    "license_number", "loa_code", "loa_name", "cocode", "company_name", "appointment_status",
    "appointment_effective_date",
)  # fmt: skip
# (npn, state, loa_code, loa_name, cocode, status): real lines of config/reference, so the
# export validates against the same tables a dropped file is checked with.
LINES = [
    ("0012345", "CA", "16", "Life", "91234", "Appointed"),
    ("0012345", "CA", "935", "Accident & Health or Sickness", "91234", "Appointed"),
    ("0012345", "TX", "16", "Life", "91234", "Appointed"),
    ("10000002", "AL", "4353", "LIFE, DISABILITY AND ANNUITIES", "91234", "Appointed"),
    ("10000002", "NY", "11", "Casualty", "91234", "Appointed"),
    ("10000002", "NY", "11", "Casualty", "91234", "Appointed"),  # a second license: one line
    ("10000003", "TX", "823", "Accident and Health", "91234", "Terminated"),
    ("10000004", "CA", "16", "Life", "91234", "Not Appointed"),
    ("10000005", "CA", "16", "Life", "05678", "Appointed"),
]
# The requests the exported file validates to: the padded NPN the report holds is read as NIPR
# writes it (schemas/npns.py), the producer migration 0011 keeps.
APPOINTED_91234 = {
    ("12345", "CA", "91234", "16"),
    ("12345", "CA", "91234", "935"),
    ("12345", "TX", "91234", "16"),
    ("10000002", "AL", "91234", "4353"),
    ("10000002", "NY", "91234", "11"),
}


@pytest.fixture(scope="module")
def reference() -> dict[str, pd.DataFrame]:
    return load_reference_data(paths.reference_dir())


@pytest.fixture
def database_url(tmp_path, monkeypatch) -> str:
    """A migrated SQLite file holding the report, as the embedded default's database would."""
    monkeypatch.setenv("NPNFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("NPNFLOW_BUCKET_DIR", raising=False)
    url = f"sqlite:///{tmp_path / 'npnflow.db'}"
    upgrade(url)  # the export also reads transactions and NIPR's sync ledger
    table = sa.Table(REPORT, sa.MetaData(), *(sa.Column(c, sa.String) for c in COLUMNS))
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        table.create(connection)
        connection.execute(
            table.insert(),
            [
                {
                    "npn": npn,
                    "producer_name": f"Producer {npn}",
                    "first_name": "Pat",
                    "last_name": "Smith",
                    "agency_name": None,
                    "state_code": state,
                    "license_number": f"L-{npn}-{state}",
                    "loa_code": code,
                    "loa_name": name,
                    "cocode": cocode,
                    "company_name": "Harborstone Life and Health Insurance Company",
                    "appointment_status": status,
                    "appointment_effective_date": "2024-01-15",
                }
                for npn, state, code, name, cocode, status in LINES
            ],
        )
    engine.dispose()
    return url


def _export(*arguments: str):
    return CliRunner().invoke(export, ["terminate", *arguments])


def _requests(path: Path, reference) -> pd.DataFrame:
    """The file read and validated as the inbox would: no row may be rejected."""
    validated = validate_upload(read_upload(path.read_bytes(), path.name), "terminate", reference)
    assert validated.row_errors.empty, validated.row_errors.to_string()
    return validated.exploded()


def _lines(requests: pd.DataFrame) -> set[tuple[str, str, str, str]]:
    return set(requests[["npn", "state_code", "cocode", "loa_code"]].itertuples(index=False))


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_the_export_validates_and_requests_exactly_the_appointed_lines(
    database_url, tmp_path, reference, suffix
):
    target = tmp_path / f"out.{suffix}"
    result = _export("--cocode", "91234", "--database-url", database_url, "-o", str(target))
    assert result.exit_code == 0, result.output
    assert target.read_bytes().startswith(b"PK") == (suffix == "xlsx")  # format from suffix
    requests = _requests(target, reference)
    assert _lines(requests) == APPOINTED_91234 and len(requests) == len(APPOINTED_91234)
    assert requests["termination_reason_code"].isna().all()  # blank: each state's default
    assert not requests["submit_immediately"].any()
    assert (
        f"Wrote {target}: 5 termination rows for CoCode 91234, 2 producers in 4 states "
        "(AL, CA, NY, TX); the CoCode has 5 Appointed lines in the report." in result.output
    )
    assert "Submit Immediately: FALSE: the batch waits for review" in result.output
    inbox = tmp_path / "data" / "bucket" / "inbox" / "terminate"
    assert f"npnflow drop {target} --kind terminate (it lands in {inbox}/)" in result.output


def test_filters_reason_date_and_submit_reach_the_validated_requests(
    database_url, tmp_path, reference
):
    target = tmp_path / "ca_tx.csv"
    result = _export(
        "--cocode",
        "91234",
        "--states",
        "ca",
        "--states",
        "tx;ny",
        "--loas",
        "life, casualty",
        "--reason",
        "voluntary termination",
        "--effective-date",
        "2026-03-01",
        "--submit-immediately",
        "--database-url",
        database_url,
        "-o",
        str(target),
    )
    assert result.exit_code == 0, result.output
    requests = _requests(target, reference)
    assert _lines(requests) == {
        ("12345", "CA", "91234", "16"),
        ("12345", "TX", "91234", "16"),
        ("10000002", "NY", "91234", "11"),
    }
    assert set(requests["termination_reason_code"]) == {"VOLUNTARY_TERMINATION"}
    assert set(requests["effective_date"]) == {pd.Timestamp("2026-03-01")}
    assert requests["submit_immediately"].all()
    assert "Submit Immediately: TRUE" in result.output


def test_the_default_file_name_is_the_cocode_and_today_here(database_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = _export("--cocode", "91234", "--format", "xlsx", "--database-url", database_url)
    assert result.exit_code == 0, result.output
    expected = tmp_path / f"terminate_91234_{dt.date.today():%Y%m%d}.xlsx"
    assert expected.read_bytes().startswith(b"PK")


def test_the_next_step_drop_puts_the_file_in_the_terminate_inbox(database_url, tmp_path):
    target = tmp_path / "to_drop.csv"
    assert (
        _export("--cocode", "91234", "--database-url", database_url, "-o", str(target)).exit_code
        == 0
    )
    dropped = CliRunner().invoke(main, ["drop", str(target), "--kind", "terminate"])
    assert dropped.exit_code == 0, dropped.output
    landed = tmp_path / "data" / "bucket" / "inbox" / "terminate" / "to_drop.csv"
    assert landed.read_bytes() == target.read_bytes()


def test_a_filter_mistake_exits_1_with_the_message_and_writes_nothing(database_url, tmp_path):
    target = tmp_path / "none.csv"
    # TX 823 is in the report, but Terminated: nothing to terminate.
    result = _export(
        "--cocode",
        "91234",
        "--states",
        "TX",
        "--loas",
        "823",
        "--database-url",
        database_url,
        "-o",
        str(target),
    )
    assert result.exit_code == 1
    assert (
        "No Appointed lines of CoCode 91234 match the filters (applied: states TX; lines of "
        "authority 823). The CoCode has 5 Appointed line(s) in the report in total"
    ) in result.output
    typo = _export(
        "--cocode",
        "91234",
        "--states",
        "NY",
        "--loas",
        "16",
        "--database-url",
        database_url,
        "-o",
        str(target),
    )
    assert typo.exit_code == 1
    assert "'16' (--loas) matches no line in the report for NY" in typo.output
    assert "This CoCode's Appointed lines there: 11 (Casualty)." in typo.output
    assert not target.exists()
    bad = _export("--cocode", "9123", "--database-url", database_url, "-o", str(target))
    assert bad.exit_code == 1 and "CoCode '9123' must be exactly 5 digits" in bad.output
    reason = _export("--cocode", "91234", "--reason", "retired", "--database-url", database_url)
    assert reason.exit_code == 1 and "'retired' (--reason) is not a termination" in reason.output


def test_a_format_that_contradicts_the_file_name_is_a_usage_error(database_url, tmp_path):
    result = _export(
        "--cocode",
        "91234",
        "--format",
        "csv",
        "-o",
        str(tmp_path / "x.xlsx"),
        "--database-url",
        database_url,
    )
    assert result.exit_code == 2 and "ends in .xlsx but --format is csv" in result.output


def test_a_report_not_built_exits_2_with_its_message(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    sa.create_engine(url).connect().close()  # the database exists, the report does not
    result = _export("--cocode", "91234", "--database-url", url, "-o", str(tmp_path / "x.csv"))
    assert result.exit_code == 2
    assert f"The report {REPORT} has not been built in this database yet" in result.output
    assert not (tmp_path / "x.csv").exists()


def test_a_missing_database_file_exits_2_and_is_not_created(tmp_path):
    database = tmp_path / "nowhere" / "npnflow.db"
    result = _export("--cocode", "91234", "--database-url", f"sqlite:///{database}")
    assert result.exit_code == 2
    assert f"There is no database at {database}" in result.output
    assert not database.exists()


# --------------------------------------------------------------------------------------------
# Line names, the report's age, and lines NIPR accepted since the last sync
# --------------------------------------------------------------------------------------------

SYNCED_AT = dt.datetime(2026, 11, 20, 6, 30)
NIPR_AS_OF = dt.datetime(2026, 11, 20, 6, 0)


def _record_sync(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO nipr_scope_reports (npn, state_code, category, data_as_of, "
                "report_date, source, applied_at) VALUES ('0012345', 'CA', 'APPOINTMENTS', "
                ":as_of, NULL, 'alerts', :applied)"
            ),
            {"as_of": NIPR_AS_OF, "applied": SYNCED_AT},
        )
    engine.dispose()


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_the_file_names_each_line_and_the_report_age_and_drops_back_unchanged(
    database_url, tmp_path, reference, suffix
):
    _record_sync(database_url)
    target = tmp_path / f"out.{suffix}"
    result = _export("--cocode", "91234", "--database-url", database_url, "-o", str(target))
    assert result.exit_code == 0, result.output
    # No Dagster instance records this database's builds: said, not guessed.
    assert "Report built: not recorded; NIPR data as of: 2026-11-20 06:00 UTC." in result.output

    raw = read_upload(target.read_bytes(), target.name)
    assert list(raw.frame.columns) == [
        "Agent NPN", "States", "Line of Authority", "CoCode", "Termination Reason Code",
        "Effective Date", "Submit Immediately",
        "Line of Authority Name", "Report Built At", "NIPR Data As Of",
    ]  # fmt: skip
    names = dict(
        zip(raw.frame["Line of Authority"], raw.frame["Line of Authority Name"], strict=True)
    )
    assert names["16"] == "Life" and names["11"] == "Casualty"
    assert set(raw.frame["NIPR Data As Of"]) == {"2026-11-20 06:00 UTC"}
    assert set(raw.frame["Report Built At"]) == {"not recorded"}

    # The same file, dropped unchanged: the template's rows, no warning about the extra columns.
    validated = validate_upload(raw, "terminate", reference)
    assert validated.row_errors.empty and validated.warnings.empty, validated.warnings
    assert _lines(validated.exploded()) == APPOINTED_91234


def test_the_report_build_time_comes_from_the_dagster_instance(database_url, tmp_path, monkeypatch):
    import dagster as dg

    from npnflow.instance import ensure_dagster_home

    monkeypatch.setenv("NPNFLOW_DATABASE_URL", database_url)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    home = ensure_dagster_home()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.report_runless_asset_event(dg.AssetMaterialization(REPORT))
    target = tmp_path / "out.csv"
    result = _export("--cocode", "91234", "-o", str(target))
    assert result.exit_code == 0, result.output
    assert re.search(
        r"Report built: \d{4}-\d\d-\d\d \d\d:\d\d UTC \(0 minutes ago\)", result.output
    )
    built = read_upload(target.read_bytes(), target.name).frame["Report Built At"]
    assert built.str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC").all()


def test_a_line_nipr_accepted_since_the_last_sync_is_exported(database_url, tmp_path, reference):
    """TX 823 reads Terminated in the report; NIPR accepted a new appointment of it after the
    last sync: the export offers it, like any Appointed line."""
    _record_sync(database_url)
    engine = sa.create_engine(database_url)
    accepted_at = SYNCED_AT + dt.timedelta(hours=2)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO transaction_batches (batch_id, kind, cocode, status, "
                "approval_version) VALUES ('B-1', 'appointment', '91234', 'Completed', 1)"
            )
        )
        connection.execute(
            sa.text(
                "INSERT INTO transactions (transaction_id, batch_id, kind, npn, state_code, "
                "cocode, loa_code, status, completed_at) VALUES ('T-1', 'B-1', 'appointment', "
                "'10000003', 'TX', '91234', '823', 'Accepted', :at)"
            ),
            {"at": accepted_at},
        )
    engine.dispose()
    target = tmp_path / "out.csv"
    result = _export("--cocode", "91234", "--database-url", database_url, "-o", str(target))
    assert result.exit_code == 0, result.output
    assert "Includes 1 line NIPR accepted since the last sync, not in the report yet." in (
        result.output
    )
    requests = _requests(target, reference)
    assert _lines(requests) == APPOINTED_91234 | {("10000003", "TX", "91234", "823")}
    raw = read_upload(target.read_bytes(), target.name).frame
    loas = reference["lines_of_authority"]
    (name,) = loas.loc[(loas["state_code"] == "TX") & (loas["loa_code"] == "823"), "loa_name"]
    assert raw.loc[raw["Line of Authority"] == "823", "Line of Authority Name"].tolist() == [name]


def test_missing_values_never_print_as_nan_or_none(database_url, tmp_path):
    """A report line with no name and no company, no sync, no recorded build: every message
    and the file say so in words."""
    engine = sa.create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                f"INSERT INTO {REPORT} (npn, state_code, loa_code, loa_name, cocode, "
                "company_name, appointment_status) VALUES ('10000009', 'CA', '1052', NULL, "
                "'91234', NULL, 'Appointed')"
            )
        )
    engine.dispose()
    target = tmp_path / "out.csv"
    results = [
        _export("--cocode", "91234", "--database-url", database_url, "-o", str(target)),
        _export("--cocode", "91234", "--states", "CA", "--loas", "nope", "--database-url",
                database_url, "-o", str(tmp_path / "x.csv")),
    ]  # fmt: skip
    assert results[0].exit_code == 0 and results[1].exit_code == 1
    for result in results:
        assert not re.search(r"\b(nan|None|NaT)\b", result.output), result.output
    assert "NIPR data as of: unknown (no NIPR sync applied)" in results[0].output
    assert not re.search(r"\b(nan|None|NaT)\b", target.read_text())
