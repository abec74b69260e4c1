"""Great Expectations suites as Dagster asset checks on the NIPR current-state tables.

One check per table, named for what it guards (`<table>_meets_expectations`); the four run in
one step (`nipr_current_state_meets_expectations`, a multi-asset check that runs any subset of
them). Each runs its table's suite (`schemas/expectations.py`) against the reference codes read from the database,
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
from collections.abc import Iterator
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


@dataclass(frozen=True)
class AppliedInThisRun:
    """What this run's materializations of the current-state tables say: the report days
    (partitions) applied to each table, and the row count each ended with."""

    days: dict[dg.AssetKey, list[dt.date]]
    row_counts: dict[dg.AssetKey, int]

    @classmethod
    def read(cls, context: dg.AssetCheckExecutionContext) -> "AppliedInThisRun":
        records = context.instance.all_logs(
            context.run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
        )
        days: dict[dg.AssetKey, list[dt.date]] = {}
        row_counts: dict[dg.AssetKey, int] = {}
        for record in records:
            event = record.dagster_event
            if event is None or event.asset_key is None or not event.partition:
                continue
            days.setdefault(event.asset_key, []).append(dt.date.fromisoformat(event.partition))
            metadata = event.step_materialization_data.materialization.metadata
            if "dagster/row_count" in metadata:
                row_counts[event.asset_key] = int(metadata["dagster/row_count"].value)
        return cls(days, row_counts)

    def scope_for(self, asset_key: dg.AssetKey) -> CheckScope:
        """The scopes the run's days applied; the whole table in a run of the checks alone."""
        applied = self.days.get(asset_key)
        return CheckScope.of_days(applied) if applied else CheckScope.whole_table()


@dataclass(frozen=True)
class ReferenceCodes:
    """The codes the suites check against, read once for all four tables."""

    states: list[str]
    license_classes: dict[str, list[str]]  # by state
    lines: dict[str, list[str]]  # by state

    @classmethod
    def read(cls, database: OperationalDatabase) -> "ReferenceCodes":
        classes = database.read_table("license_classes", ["state_code", "license_class_code"])
        lines = database.read_table("lines_of_authority", ["state_code", "loa_code"])
        return cls(
            database.read_table("jurisdictions", ["state_code"]).state_code.tolist(),
            _codes_by_state(classes, "license_class_code"),
            _codes_by_state(lines, "loa_code"),
        )


def _suite_for(
    table: str, codes: ReferenceCodes, previous_row_count: int | None
) -> "ExpectationSuite":
    from schemas import expectations

    if table == "producers":
        return expectations.producers_suite(previous_row_count=previous_row_count)
    if table == "licenses":
        return expectations.licenses_suite(
            codes.states, codes.license_classes, previous_row_count=previous_row_count
        )
    if table == "license_loas":
        return expectations.license_loas_suite(
            codes.states, codes.lines, previous_row_count=previous_row_count
        )
    return expectations.appointments_suite(
        codes.states, codes.lines, previous_row_count=previous_row_count
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
    codes: ReferenceCodes | None = None,
    table_row_count: int | None = None,
) -> TableCheck:
    """The table's suite on the rows of `scope` (the reference tables must be loaded).
    `table_row_count`: the table's rows when already known (else counted)."""
    suite = _suite_for(table, codes or ReferenceCodes.read(database), previous_row_count)
    with (
        database.begin() as connection,
        scoped_rows(connection, table, scope, table_row_count) as rows,
    ):
        outcome = run_suite_in_parts(
            rows.parts(row_level_columns(suite)),
            suite,
            table_row_count=rows.table_row_count,
            duplicates=rows.duplicates,
        )
    return TableCheck(
        outcome, rows.table_row_count, rows.scope_count, rows.describe(outcome.row_count)
    )


def check_key(table: str) -> dg.AssetCheckKey:
    return dg.AssetCheckKey(current_state_asset_key(table), f"{table}_meets_expectations")


def _check_result(table: str, checked: TableCheck, previous: int | None) -> dg.AssetCheckResult:
    outcome = checked.outcome
    if outcome.success and not outcome.failed_warnings:
        passed, severity = True, dg.AssetCheckSeverity.ERROR
    elif outcome.success:
        passed, severity = False, dg.AssetCheckSeverity.WARN
    else:
        passed, severity = False, dg.AssetCheckSeverity.ERROR
    key = check_key(table)
    return dg.AssetCheckResult(
        asset_key=key.asset_key,
        check_name=key.name,
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


@dg.multi_asset_check(
    name="nipr_current_state_meets_expectations",
    specs=[
        dg.AssetCheckSpec(
            name=f"{table}_meets_expectations",
            asset=current_state_asset_key(table),
            description=(
                f"Great Expectations suite on the `{table}` table: keys unique, NPN format, state "
                "and NIPR codes in the reference tables, dates consistent, row count within "
                "bounds."
            ),
        )
        for table in CURRENT_STATE_TABLES
    ],
    can_subset=True,
)
def current_state_meets_expectations(
    context: dg.AssetCheckExecutionContext, database: OperationalDatabase
) -> Iterator[dg.AssetCheckResult]:
    """The four tables' checks in one step: the reference codes and the run's applied days are
    read once, and a daily run pays Dagster's per-step cost once, not four times (issue 17)."""
    tables = [t for t in CURRENT_STATE_TABLES if check_key(t) in context.selected_asset_check_keys]
    previous = {table: _previous_row_count(context, check_key(table)) for table in tables}
    if database.count_rows(["jurisdictions"])["jurisdictions"] == 0:
        counts = database.count_rows(tables)
        for table in tables:
            key = check_key(table)
            yield dg.AssetCheckResult(
                asset_key=key.asset_key,
                check_name=key.name,
                passed=False,
                description="The reference tables are empty: materialize the `reference` group first.",
                metadata={"row_count": counts[table]},
            )
        return
    codes = ReferenceCodes.read(database)
    applied = AppliedInThisRun.read(context)
    for table in tables:
        asset_key = current_state_asset_key(table)
        # The apply step counted the table as it committed, in this run: counted again, a
        # PostgreSQL count(*) would scan the whole table once more (MVCC keeps no count).
        checked = check_table(
            database,
            table,
            applied.scope_for(asset_key),
            previous[table],
            codes,
            applied.row_counts.get(asset_key),
        )
        yield _check_result(table, checked, previous[table])


current_state_checks = [current_state_meets_expectations]
