"""`npnflow reports`: prepare, build and read the dbt reports (SPEC section 10).

- `prepare`: parse dbt_reports into its manifest, which the code location loads (the build step;
  `make install` runs it). Needed again after editing the dbt project.
- `build`: materialize the `reports` group (`build_reports_job`) on the persistent local Dagster
  instance, as the UI would, in the environment's operational database; print each report's
  rows and every check's outcome. Exit status 1 when the build or an error-level check fails.
- `show NAME`: print a built report's first rows.

Also runnable as `python -m npnflow.reports_cli` (the Makefile prepares the reports that way).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import sys
import time
from typing import TYPE_CHECKING

import click

from assets.reports.relations import REPORT_MODELS
from resources import paths

if TYPE_CHECKING:
    from dagster import ExecuteInProcessResult

JOB_NAME = "build_reports_job"
OP_NAME = "reports_dbt_models"
RENEWAL_PLAN_OP = "core_renewals__plan"  # assets/renewals/assets.py
# What a person reads is the summary below (failures included); the run's full event log is
# in the UI.
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


@click.group(help="The dbt reports: prepare the dbt project, build the reports, read them.")
def reports() -> None:
    pass


@reports.command(
    "prepare",
    help="Parse dbt_reports into dbt_reports/target/manifest.json, which Dagster loads the report "
    "assets from (make install runs it). Run it again after editing the dbt project.",
)
def prepare() -> None:
    from dagster_dbt.errors import DagsterDbtError

    from resources.dbt_reports import ReportsNotPrepared, prepare_reports_project

    try:
        manifest = prepare_reports_project()
    except (DagsterDbtError, ReportsNotPrepared) as error:
        click.echo(f"dbt could not parse dbt_reports: {error}", err=True)
        sys.exit(1)
    click.echo(f"dbt_reports prepared: {manifest}")


def failure_messages(result: ExecuteInProcessResult) -> list[str]:
    """Why each failed step failed: the innermost error, the one that names the problem
    (e.g. "Run `npnflow db upgrade`"), not Dagster's "error occurred while executing op"."""
    messages: list[str] = []
    for event in result.all_events:
        if event.is_step_failure:
            error = getattr(event.event_specific_data, "error", None)
            while error is not None and error.cause is not None:
                error = error.cause
            messages.append(error.message.strip() if error else str(event.message))
    return messages


def _row_counts(database_url: str) -> dict[str, int | None]:
    """Rows of each report as the database holds them now (None: not built there)."""
    import sqlalchemy as sa

    from assets.reports.relations import ReportNotBuilt, report_table
    from resources.database import create_database_engine

    engine = create_database_engine(database_url)
    counts: dict[str, int | None] = {}
    try:
        with engine.connect() as connection:
            for name in REPORT_MODELS:
                try:
                    table = report_table(connection, name)
                except ReportNotBuilt:
                    counts[name] = None
                    continue
                counts[name] = connection.execute(
                    sa.select(sa.func.count()).select_from(table)
                ).scalar_one()
    finally:
        engine.dispose()
    return counts


@reports.command(
    "build",
    help="Build every report and run its checks through Dagster (build_reports_job) on the "
    "local Dagster instance, in the operational database of the environment (NPNFLOW_ENV); "
    "the run shows in `npnflow ui` afterwards.",
)
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The date the expiring-licenses report counts from and the renewal plan judges its "
    "cut-offs on (default: today, UTC).",
)
def build(as_of: dt.datetime | None) -> None:
    from npnflow.instance import ensure_dagster_home
    from resources.dbt_reports import ReportsNotPrepared

    started = time.monotonic()
    home = ensure_dagster_home()
    try:
        from pipelines.definitions import build_definitions
        from pipelines.environments import current_environment

        environment = current_environment()
        defs = build_definitions(environment)
    except ReportsNotPrepared as error:
        click.echo(str(error), err=True)
        sys.exit(1)

    from dagster import DagsterInstance, EnvVar

    from resources.database import OperationalDatabase

    # The run resolves an EnvVar URL by itself; the summary below needs it too.
    url = (defs.resources or {})["database"].url
    if isinstance(url, EnvVar):
        if not url.get_value():
            click.echo(
                f"{url.env_var_name} is not set: no operational database to build in.", err=True
            )
            sys.exit(1)
        url = url.get_value()
    database_url = str(url)
    click.echo(
        f"Building the reports in {OperationalDatabase(url=database_url).display_url} "
        f"(environment {environment}), as of {as_of.date() if as_of else 'today (UTC)'}."
    )
    run_config: dict[str, object] = dict(QUIET)
    if as_of is not None:
        # The renewal plan the renewals report reads judges its cut-offs on the same day.
        pinned = {"config": {"as_of": as_of.date().isoformat()}}
        run_config["ops"] = {OP_NAME: pinned, RENEWAL_PLAN_OP: pinned}
    # dbt's own log goes to stdout, for the run's logs in the UI; the failures it reports are
    # in the step's error, printed below.
    with DagsterInstance.get() as instance, contextlib.redirect_stdout(io.StringIO()):
        result = defs.resolve_job_def(JOB_NAME).execute_in_process(
            instance=instance, run_config=run_config, raise_on_error=False
        )

    counts = _row_counts(database_url)
    built = {
        event.asset_key.to_user_string()
        for event in result.get_asset_materialization_events()
        if event.asset_key is not None
    }
    width = max(map(len, REPORT_MODELS))
    for name in REPORT_MODELS:
        rows = counts.get(name)
        state = "built" if name in built else "NOT built"
        shown = "not in the database" if rows is None else f"{rows:,} rows"
        click.echo(f"  {name:<{width}}  {shown:>20}  ({state})")

    evaluations = sorted(
        result.get_asset_check_evaluations(),
        key=lambda e: (e.asset_key.to_user_string(), e.check_name),
    )
    failed = [e for e in evaluations if not e.passed]
    click.echo(
        f"Checks: {len(evaluations)} run, {len(evaluations) - len(failed)} passed, "
        f"{len(failed)} failed."
    )
    for evaluation in failed:
        failing_rows = evaluation.metadata.get("dagster_dbt/failed_row_count")
        count = failing_rows.value if failing_rows is not None else None
        detail = f", {count} failing row{'' if count == 1 else 's'}" if count is not None else ""
        click.secho(
            f"  FAILED ({evaluation.severity.value}) {evaluation.check_name} on "
            f"{evaluation.asset_key.to_user_string()}{detail}",
            fg="red",
        )
    for message in failure_messages(result):
        click.secho(f"The build failed: {message}", fg="red", err=True)

    click.echo(
        f"{'Done' if result.success else 'Failed'} in {time.monotonic() - started:.1f} s "
        f"(run {result.run_id}; `npnflow ui` shows it, DAGSTER_HOME={home}). "
        "Read a report with `npnflow reports show NAME`."
    )
    sys.exit(0 if result.success else 1)


@reports.command("show", help="Print a report's first rows, from the operational database.")
@click.argument("name", type=click.Choice(REPORT_MODELS))
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1))
def show(name: str, limit: int) -> None:
    import sqlalchemy as sa

    # No types-tabulate installed; mypy flags only the first importer (so: unused-ignore too).
    from tabulate import tabulate  # type: ignore[import-untyped, unused-ignore]

    from assets.reports.relations import ReportNotBuilt, report_table
    from npnflow.display import shown
    from resources.database import OperationalDatabase

    database = OperationalDatabase(url=paths.database_url())
    try:
        with database.engine.connect() as connection:
            table = report_table(connection, name)
            total = connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            result = connection.execute(sa.select(table).limit(limit))
            rows, columns = result.fetchall(), list(result.keys())
    except ReportNotBuilt as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    finally:
        database.engine.dispose()
    click.echo(f"{name}: {total:,} rows in {database.display_url} (first {min(limit, total)})")
    click.echo(
        tabulate(
            # `-` for a missing value: a person reads `-`, not None or nan.
            [[shown(v) for v in row] for row in rows],
            headers=columns,
            tablefmt="simple",
            disable_numparse=True,
        )
    )


if __name__ == "__main__":
    reports()
