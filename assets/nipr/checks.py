"""Great Expectations suites as Dagster asset checks on the NIPR current-state tables.

One check per table, named for what it guards (`<table>_meets_expectations`). It runs the
table's suite (`schemas/expectations.py`) against the reference codes read from the database,
and shows every expectation's result as check metadata, so a person sees in the UI which rule
failed, on how many rows, with a sample of the bad values.

Which rows (`check_scope.py`):
- in a run that applied PDB Alerts days to the table (the daily sync), the rows of the scopes
  those days applied: the checks cost what the day changed, not the book;
- in a run of the checks alone (`check_nipr_current_state_job`, on demand or on the weekly
  schedule), the whole table.
The metadata says which (`checked_scope`). Either way, key uniqueness and the row count are
answered by the database and the rows reach Great Expectations in bounded parts.

The day-over-day row-count bound compares the table's row count (SELECT count(*)) with the
one this check saw last time (kept in its own metadata). An error-severity failure fails the
check with ERROR; when only warning-severity expectations fail (codes newer than our copy of
NIPR's workbook), the check fails with WARN so the sync is not blocked.
"""

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import dagster as dg
import pandas as pd

# Not exported by `dagster`; the execution history is the only place a check's earlier
# metadata lives. dagster is pinned, and tests/dagster/test_nipr_checks.py covers this path.
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from assets.nipr.check_scope import CheckScope, scoped_rows
from assets.nipr.quality import SuiteOutcome, row_level_columns, run_suite_in_parts
from resources.database import OperationalDatabase

if TYPE_CHECKING:  # great_expectations is imported lazily (slow to import)
    from great_expectations.core import ExpectationSuite

CURRENT_STATE_TABLES = ("producers", "licenses", "license_loas", "appointments")


def current_state_asset_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(f"core_nipr__{table}")


def _codes_by_state(frame: pd.DataFrame, code_column: str) -> dict[str, list[str]]:
    return {state: group[code_column].tolist() for state, group in frame.groupby("state_code")}


def _previous_row_count(
    context: dg.AssetCheckExecutionContext, check_key: dg.AssetCheckKey
) -> int | None:
    """The row count this check saw at its last completed evaluation (this run's own planned
    evaluation is already in the history, without metadata, so it is passed over)."""
    history = context.instance.event_log_storage.get_asset_check_execution_history(
        check_key,
        limit=5,
        status={
            AssetCheckExecutionRecordStatus.SUCCEEDED,
            AssetCheckExecutionRecordStatus.FAILED,
        },
    )
    for record in history:
        evaluation = record.evaluation
        metadata = getattr(evaluation, "metadata", None) or {}
        if "row_count" in metadata:
            return int(metadata["row_count"].value)
    return None


def _days_applied_in_this_run(
    context: dg.AssetCheckExecutionContext, asset_key: dg.AssetKey
) -> list[dt.date] | None:
    """The report days (partitions) this run materialized `asset_key` for; None when this run
    did not materialize it for any day (a run of the checks alone)."""
    records = context.instance.all_logs(
        context.run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    )
    partitions = [
        record.dagster_event.partition
        for record in records
        if record.dagster_event is not None and record.dagster_event.asset_key == asset_key
    ]
    days = [dt.date.fromisoformat(partition) for partition in partitions if partition]
    return days or None


def check_scope_for(context: dg.AssetCheckExecutionContext, asset_key: dg.AssetKey) -> CheckScope:
    days = _days_applied_in_this_run(context, asset_key)
    return CheckScope.whole_table() if days is None else CheckScope.of_days(days)


def _suite_for(
    table: str, database: OperationalDatabase, previous_row_count: int | None
) -> "ExpectationSuite":
    from schemas import expectations

    states = database.read_table("jurisdictions", ["state_code"]).state_code.tolist()
    if table == "producers":
        return expectations.producers_suite(previous_row_count=previous_row_count)
    if table == "licenses":
        classes = database.read_table("license_classes", ["state_code", "license_class_code"])
        return expectations.licenses_suite(
            states,
            _codes_by_state(classes, "license_class_code"),
            previous_row_count=previous_row_count,
        )
    lines = database.read_table("lines_of_authority", ["state_code", "loa_code"])
    if table == "license_loas":
        return expectations.license_loas_suite(
            states, _codes_by_state(lines, "loa_code"), previous_row_count=previous_row_count
        )
    return expectations.appointments_suite(
        states, _codes_by_state(lines, "loa_code"), previous_row_count=previous_row_count
    )


@dataclass(frozen=True)
class TableCheck:
    outcome: SuiteOutcome  # row_count: the rows checked
    table_row_count: int
    scope_count: int | None  # scopes checked; None: the whole table
    description: str  # which rows, for a person


def check_table(
    database: OperationalDatabase,
    table: str,
    scope: CheckScope,
    previous_row_count: int | None,
) -> TableCheck:
    """The table's suite on the rows of `scope` (the reference tables must be loaded)."""
    suite = _suite_for(table, database, previous_row_count)
    with database.begin() as connection, scoped_rows(connection, table, scope) as rows:
        outcome = run_suite_in_parts(
            rows.parts(row_level_columns(suite)),
            suite,
            table_row_count=rows.table_row_count,
            duplicates=rows.duplicates,
        )
    return TableCheck(
        outcome, rows.table_row_count, rows.scope_count, rows.describe(outcome.row_count)
    )


def build_current_state_check(table: str) -> dg.AssetChecksDefinition:
    asset_key = current_state_asset_key(table)
    check_name = f"{table}_meets_expectations"

    @dg.asset_check(
        asset=asset_key,
        name=check_name,
        description=(
            f"Great Expectations suite on the `{table}` table: keys unique, NPN format, state and "
            "NIPR codes in the reference tables, dates consistent, row count within bounds."
        ),
    )
    def _check(
        context: dg.AssetCheckExecutionContext, database: OperationalDatabase
    ) -> dg.AssetCheckResult:
        previous = _previous_row_count(context, dg.AssetCheckKey(asset_key, check_name))
        if database.count_rows(["jurisdictions"])["jurisdictions"] == 0:
            return dg.AssetCheckResult(
                passed=False,
                description="The reference tables are empty: materialize the `reference` group first.",
                metadata={"row_count": database.count_rows([table])[table]},
            )
        checked = check_table(database, table, check_scope_for(context, asset_key), previous)
        outcome = checked.outcome
        if outcome.success and not outcome.failed_warnings:
            passed, severity = True, dg.AssetCheckSeverity.ERROR
        elif outcome.success:
            passed, severity = False, dg.AssetCheckSeverity.WARN
        else:
            passed, severity = False, dg.AssetCheckSeverity.ERROR
        return dg.AssetCheckResult(
            passed=passed,
            severity=severity,
            metadata={
                "row_count": checked.table_row_count,
                "checked_scope": checked.description,
                "rows_checked": outcome.row_count,
                "changed_scopes": "all" if checked.scope_count is None else checked.scope_count,
                "previous_row_count": previous if previous is not None else "none",
                "failed_errors": ", ".join(outcome.failed_errors) or "none",
                "failed_warnings": ", ".join(outcome.failed_warnings) or "none",
                "expectations": dg.MetadataValue.md(outcome.to_markdown()),
            },
        )

    return _check


current_state_checks = [build_current_state_check(table) for table in CURRENT_STATE_TABLES]
