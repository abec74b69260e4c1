"""The current-state checks in the daily sync run: they check the scopes the day applied, and
only those; a run of the checks alone (the weekly job) checks the whole tables.

The daily sync runs for real through `dg.materialize`, against an in-process NIPR sandbox, with
a migrated SQLite database holding the reference tables the checks compare codes with.
"""

from __future__ import annotations

import datetime as dt
import shutil
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

import assets.nipr.daily_sync as daily_sync
import assets.nipr.sync_common as nipr_assets
from assets.nipr.assets import NIPR_ASSETS
from assets.nipr.checks import current_state_checks
from assets.nipr.daily_sync import core_nipr__current_state, raw_nipr__pdb_alerts
from assets.nipr.initial_sync import core_nipr__initial_sync
from assets.reference.assets import company_config_tables, reference_tables
from pipelines.jobs import check_nipr_current_state_job
from resources.database import OperationalDatabase
from resources.nipr import NiprClient
from resources.object_store import LocalFolderObjectStore
from schemas.migrate import upgrade
from schemas.tables import licenses, producers
from support.sandbox import client_settings, sandbox_fixture

CENTRAL = ZoneInfo("America/Chicago")
ONBOARDED = dt.date(2026, 3, 6)
SATURDAY = dt.date(2026, 3, 7)
TABLES = ("producers", "licenses", "license_loas", "appointments")

sandbox = sandbox_fixture(seed=7, producers=80, today=ONBOARDED)


def _follow_sandbox_clock(patcher, sandbox) -> None:
    patcher.setattr(
        nipr_assets, "_now", lambda: sandbox.now().replace(tzinfo=CENTRAL).astimezone(dt.UTC)
    )


def _client(sandbox) -> NiprClient:
    return NiprClient(
        **client_settings(sandbox), timeout_seconds=5, read_retries=1, backoff_seconds=0.01
    )


@pytest.fixture(scope="module")
def synced(sandbox, tmp_path_factory):
    """Reference data loaded, producers onboarded and synced on Friday: Saturday's changers
    and as many who do not change that day (their scopes are the untouched ones)."""
    world = sandbox.world
    changed = sorted({c.npn for c in world.changes_on(SATURDAY)})
    quiet = [n for n in world.individual_npns() if n not in changed][: len(changed)]
    path = tmp_path_factory.mktemp("synced")
    url = f"sqlite:///{path / 'npnflow.db'}"
    upgrade(url)
    database = OperationalDatabase(url=url)
    assert dg.materialize(
        [reference_tables, company_config_tables], resources={"database": database}
    ).success
    with database.begin() as connection:
        connection.execute(
            producers.insert(),
            [{"npn": npn, "last_name": npn, "is_active": True} for npn in changed + quiet],
        )
    with pytest.MonkeyPatch.context() as patcher:
        sandbox.reset()
        sandbox.set_clock(ONBOARDED)
        _follow_sandbox_clock(patcher, sandbox)
        assert dg.materialize(
            [core_nipr__initial_sync],
            resources={"database": database, "nipr": _client(sandbox)},
        ).success
    database.engine.dispose()
    return path / "npnflow.db", changed, quiet


class Day:
    def __init__(self, sandbox, database, tmp_path, tracked):
        self.sandbox = sandbox
        self.database = database
        self.resources = {
            "database": database,
            "object_store": LocalFolderObjectStore(root=str(tmp_path / "bucket")),
            "nipr": _client(sandbox),
        }
        self.resources["nipr"].add_subscription("npnflow-0001", "nipr-alerts@example.com")
        self.resources["nipr"].add_targets("npnflow-0001", tracked)

    def daily_with_checks(self) -> dict[str, dg.AssetCheckEvaluation]:
        """The daily sync job's selection: the day's assets and their checks, one run."""
        self.sandbox.set_clock(SATURDAY)
        result = dg.materialize(
            [raw_nipr__pdb_alerts, core_nipr__current_state, *current_state_checks],
            resources=self.resources,
            partition_key=SATURDAY.isoformat(),
            raise_on_error=False,
        )
        assert result.success
        return {e.check_name: e for e in result.get_asset_check_evaluations()}

    def checks_alone(self) -> dict[str, dg.AssetCheckEvaluation]:
        defs = dg.Definitions(
            assets=NIPR_ASSETS,
            asset_checks=current_state_checks,
            jobs=[check_nipr_current_state_job],
            resources=self.resources,
        )
        result = defs.resolve_job_def("check_nipr_current_state_job").execute_in_process(
            raise_on_error=False
        )
        return {e.check_name: e for e in result.get_asset_check_evaluations()}


@pytest.fixture
def day(sandbox, synced, tmp_path, monkeypatch) -> Day:
    source, changed, quiet = synced
    shutil.copyfile(source, tmp_path / "npnflow.db")
    sandbox.reset()
    sandbox.set_clock(ONBOARDED)
    _follow_sandbox_clock(monkeypatch, sandbox)
    database = OperationalDatabase(url=f"sqlite:///{tmp_path / 'npnflow.db'}")
    result = Day(sandbox, database, tmp_path, changed + quiet)
    result.changed, result.quiet = changed, quiet
    return result


def _value(evaluation, name):
    return evaluation.metadata[name].value


def test_the_daily_run_checks_the_scopes_its_day_applied(day, monkeypatch):
    real_read_table = OperationalDatabase.read_table

    def refuse_whole_tables(self, name, columns=None):
        # The reference tables are small and read whole; the current-state tables never are.
        assert name not in TABLES, f"a check read the whole {name} table"
        return real_read_table(self, name, columns)

    monkeypatch.setattr(OperationalDatabase, "read_table", refuse_whole_tables)
    evaluations = day.daily_with_checks()
    assert set(evaluations) == {f"{t}_meets_expectations" for t in TABLES}
    for name, evaluation in evaluations.items():
        assert evaluation.passed, (name, _value(evaluation, "expectations"))
        assert _value(evaluation, "checked_scope").startswith("changed scopes: ")
    licensing = evaluations["licenses_meets_expectations"]
    assert _value(licensing, "changed_scopes") > 0
    # The quiet producers' licenses are in the table, not in what the day checked.
    assert 0 < _value(licensing, "rows_checked") < _value(licensing, "row_count")
    assert _value(licensing, "row_count") == day.database.count_rows(["licenses"])["licenses"]


def _plant_bad_date(database, npns) -> tuple:
    """One license of these producers expiring before it was issued."""
    with database.begin() as connection:
        row = connection.execute(
            licenses.select()
            .where(licenses.c.npn.in_(npns), licenses.c.issue_date.is_not(None))
            .order_by(licenses.c.npn)
            .limit(1)
        ).one()
        connection.execute(
            licenses.update()
            .where(
                licenses.c.npn == row.npn,
                licenses.c.state_code == row.state_code,
                licenses.c.license_number == row.license_number,
                licenses.c.license_class_code == row.license_class_code,
            )
            .values(expiration_date=row.issue_date - dt.timedelta(days=1))
        )
    return row


def test_a_bad_row_in_an_untouched_scope_is_left_to_the_weekly_checks(day):
    planted = _plant_bad_date(day.database, day.quiet)
    daily = day.daily_with_checks()["licenses_meets_expectations"]
    assert daily.passed, _value(daily, "expectations")
    weekly = day.checks_alone()["licenses_meets_expectations"]
    assert not weekly.passed
    assert _value(weekly, "failed_errors") == "expiration_on_or_after_issue"
    assert _value(weekly, "checked_scope").startswith("whole table")
    assert _value(weekly, "rows_checked") == _value(weekly, "row_count")
    assert planted.issue_date.isoformat() in _value(weekly, "expectations")


def test_a_bad_row_the_day_writes_fails_the_daily_check(day, monkeypatch):
    real_apply = daily_sync.apply_report

    def apply_with_a_bad_code(*args, **kwargs):
        application = real_apply(*args, **kwargs)
        # Planted in rows the day writes: those of the scopes that changed (`rewrites`).
        inserted = application.inserted["license_loas"]
        written = application.rewrites("license_loas")[1]
        if len(written):
            inserted.loc[written.index[0], "loa_code"] = "999999"
        inserted = application.inserted["licenses"]
        written = application.rewrites("licenses")[1]
        dated = written.index[written["issue_date"].notna()]
        if len(dated):
            first = dated[0]
            inserted.loc[first, "expiration_date"] = inserted.loc[
                first, "issue_date"
            ] - dt.timedelta(days=1)
        return application

    monkeypatch.setattr(daily_sync, "apply_report", apply_with_a_bad_code)
    evaluations = day.daily_with_checks()
    dates = evaluations["licenses_meets_expectations"]
    assert not dates.passed and dates.severity == dg.AssetCheckSeverity.ERROR
    assert _value(dates, "failed_errors") == "expiration_on_or_after_issue"
    codes = evaluations["license_loas_meets_expectations"]
    assert not codes.passed and codes.severity == dg.AssetCheckSeverity.WARN
    assert _value(codes, "failed_warnings") == "loa_code_is_known"
    assert "999999" in _value(codes, "expectations")
