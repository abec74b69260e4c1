"""Great Expectations suites as Dagster asset checks on the NIPR current-state tables.

One check per table, named for what it guards (`<table>_meets_expectations`). It reads the
whole current-state table and the reference codes from the database, runs the table's suite
(`schemas/expectations.py`) and shows every expectation's result as check metadata, so a person
sees in the UI which rule failed, on how many rows, with a sample of the bad values.

The day-over-day row-count bound compares with the row count this check saw last time (kept in
its own metadata). An error-severity failure fails the check with ERROR; when only
warning-severity expectations fail (codes newer than our copy of NIPR's workbook), the check
fails with WARN so the sync is not blocked.
"""

from typing import TYPE_CHECKING

import dagster as dg
import pandas as pd

# Not exported by `dagster`; the execution history is the only place a check's earlier
# metadata lives. dagster is pinned, and tests/dagster/test_nipr_checks.py covers this path.
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from assets.nipr.quality import run_suite
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
        outcome = run_suite(database.read_table(table), _suite_for(table, database, previous))
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
                "row_count": outcome.row_count,
                "previous_row_count": previous if previous is not None else "none",
                "failed_errors": ", ".join(outcome.failed_errors) or "none",
                "failed_warnings": ", ".join(outcome.failed_warnings) or "none",
                "expectations": dg.MetadataValue.md(outcome.to_markdown()),
            },
        )

    return _check


current_state_checks = [build_current_state_check(table) for table in CURRENT_STATE_TABLES]
