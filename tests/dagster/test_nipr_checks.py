"""Great Expectations asset checks on the NIPR current-state tables, as a person sees them."""

import datetime as dt

import dagster as dg
import pandas as pd
import pytest

from assets.nipr.assets import NIPR_ASSETS
from assets.nipr.checks import current_state_checks
from assets.reference.assets import company_config_tables, reference_tables
from npnflow.sandbox.generator import generate_world
from pipelines.jobs import check_nipr_current_state_job
from resources.database import OperationalDatabase
from schemas.migrate import upgrade
from schemas.tables import TABLES as TABLES_BY_NAME

TABLES = ("producers", "licenses", "license_loas", "appointments")


@pytest.fixture(scope="module")
def world_frames():
    frames = generate_world(
        seed=11, producers=300, companies=None, today=dt.date(2026, 3, 6)
    ).to_frames()
    # The generator's frames carry a few extra columns (names for display); keep the table's.
    return {
        table: frames[table][[c.name for c in TABLES_BY_NAME[table].c if c.name in frames[table]]]
        for table in TABLES
    }


@pytest.fixture
def database(tmp_path, world_frames):
    url = f"sqlite:///{tmp_path / 'npnflow.db'}"
    upgrade(url)
    database = OperationalDatabase(url=url)
    assert dg.materialize(
        [reference_tables, company_config_tables], resources={"database": database}
    ).success
    database.replace_tables(world_frames)
    return database


def run_checks(database, instance=None):
    """The checks alone, through the job a person launches from the UI."""
    defs = dg.Definitions(
        assets=NIPR_ASSETS,
        asset_checks=current_state_checks,
        jobs=[check_nipr_current_state_job],
        resources={"database": database, "object_store": None, "nipr": None},
    )
    result = defs.resolve_job_def("check_nipr_current_state_job").execute_in_process(
        instance=instance, raise_on_error=False
    )
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_clean_nipr_data_passes_every_check(database):
    evaluations = run_checks(database)
    assert set(evaluations) == {f"{t}_meets_expectations" for t in TABLES}
    for name, evaluation in evaluations.items():
        assert evaluation.passed, (name, evaluation.metadata["expectations"].value)
        assert evaluation.metadata["row_count"].value > 0
        assert "npn" in evaluation.metadata["expectations"].value


def test_a_broken_row_fails_its_check_with_the_rule_named(database, world_frames):
    licenses = world_frames["licenses"].copy()
    first = licenses.index[0]
    licenses.loc[first, "expiration_date"] = licenses.loc[first, "issue_date"] - dt.timedelta(
        days=1
    )
    database.replace_tables({"licenses": licenses, "license_loas": world_frames["license_loas"]})
    evaluation = run_checks(database)["licenses_meets_expectations"]
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert evaluation.metadata["failed_errors"].value == "expiration_on_or_after_issue"


def test_an_unknown_nipr_code_warns_without_blocking(database, world_frames):
    loas = world_frames["license_loas"].copy()
    loas.loc[loas.index[0], "loa_code"] = "999999"
    database.replace_tables({"license_loas": loas})
    evaluation = run_checks(database)["license_loas_meets_expectations"]
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    assert evaluation.metadata["failed_warnings"].value == "loa_code_is_known"


def test_row_count_is_compared_with_the_previous_check(database, world_frames):
    with dg.DagsterInstance.ephemeral() as instance:
        first = run_checks(database, instance)["appointments_meets_expectations"]
        assert first.passed and first.metadata["previous_row_count"].value == "none"
        appointments = world_frames["appointments"]
        database.replace_tables({"appointments": appointments.head(len(appointments) // 2)})
        second = run_checks(database, instance)["appointments_meets_expectations"]
    assert second.metadata["previous_row_count"].value == len(appointments)
    assert not second.passed
    assert "row_count_within_bounds" in second.metadata["failed_errors"].value
    assert isinstance(second.metadata["expectations"].value, str)
    assert pd.notna(second.metadata["row_count"].value)
