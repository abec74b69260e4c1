"""`npnflow sync now [NPN...]`: the NIPR sync now, through the real Dagster jobs.

- with NPNs: `sync_new_producers_job` with its initial sync limited to those producers (config
  `npns`), whatever their status: a new producer gets NIPR's Entity Info, a synced one has its
  picture refreshed; then the PDB Alerts target lists are brought in line;
- without: `daily_nipr_sync_job` for the latest published PDB Alerts day
  (`assets/rules/alerts_day.py`), or the day `--day` names.

Like `npnflow reports build`, the job runs in process on the persistent local Dagster instance
(the run is in `npnflow ui` afterwards) against the environment's NIPR: on the embedded
default that is the NIPR sandbox `npnflow ui` (or `npnflow sandbox-nipr`) serves, so it must
be running. Prints what changed: each producer's status, the rows now.
"""

from __future__ import annotations

import datetime as dt
import socket
import sys
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click

from npnflow.arguments import NPNS, flat_npns
from npnflow.reports_cli import failure_messages
from resources import paths

if TYPE_CHECKING:
    from dagster import ExecuteInProcessResult

    from resources.database import OperationalDatabase

INITIAL_SYNC_JOB = "sync_new_producers_job"
DAILY_SYNC_JOB = "daily_nipr_sync_job"
CURRENT_STATE = ("licenses", "license_loas", "appointments")
SHOWN_CHANGES = 8  # changed state categories printed for an Alerts day; the UI has them all
# What a person reads is the summary below; the run's full event log is in the UI.
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


@click.group(help="Sync with NIPR now, through the same Dagster jobs the schedules run.")
def sync() -> None:
    pass


def _sandbox_answers(environment: str) -> str | None:
    """On the embedded default and in CI, NIPR is the sandbox: None when it answers, else
    why not, naming how to start it (every producer would otherwise end `NIPR Error`)."""
    from pipelines.environments import resources_for

    if environment == "prod":
        return None
    url = str(getattr(resources_for(environment)["nipr"], "pdb_base_url", ""))
    where = urlsplit(url)
    if not where.hostname or where.port is None:
        return None
    try:
        with socket.create_connection((where.hostname, where.port), timeout=2):
            return None
    except OSError:
        return (
            f"The NIPR sandbox does not answer at {url}. Start it first, in another terminal: "
            "`npnflow ui` (it runs the sandbox) or `npnflow sandbox-nipr`; or point "
            "NPNFLOW_NIPR_SANDBOX_URL at a running one."
        )


def _producer_rows(database: OperationalDatabase, npns: list[str]) -> dict[str, dict[str, Any]]:
    """Each producer's sync status and rows per current-state table."""
    import sqlalchemy as sa

    from schemas.tables import TABLES, producers

    found: dict[str, dict[str, Any]] = {}
    with database.engine.connect() as connection:
        for row in connection.execute(
            sa.select(producers.c.npn, producers.c.sync_status).where(producers.c.npn.in_(npns))
        ):
            found[row.npn] = {"sync_status": row.sync_status}
        for name in CURRENT_STATE:
            table = TABLES[name]
            counts: dict[str, int] = dict(
                connection.execute(
                    sa.select(table.c.npn, sa.func.count())
                    .where(table.c.npn.in_(npns))
                    .group_by(table.c.npn)
                ).all()
            )
            for npn, values in found.items():
                values[name] = int(counts.get(npn, 0))
    return found


@sync.command(
    "now",
    help="With NPNs: NIPR's Entity Info for those producers now (new ones synced, synced ones "
    "refreshed). Without: the latest PDB Alerts day (daily_nipr_sync_job). Runs the Dagster job "
    "on the local instance; the run shows in `npnflow ui`.",
)
@click.argument("npns", nargs=-1, type=NPNS)
@click.option(
    "--day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Without NPNs: this PDB Alerts report day instead of the latest published one.",
)
def sync_now(npns: tuple[tuple[str, ...], ...], day: dt.datetime | None) -> None:
    from npnflow.instance import ensure_dagster_home
    from resources.database import DatabaseNotMigrated, OperationalDatabase
    from resources.dbt_reports import ReportsNotPrepared

    wanted = flat_npns(npns)
    if npns and not wanted:
        raise click.BadParameter("no NPN given.", param_hint="NPN")
    if wanted and day is not None:
        raise click.BadParameter("--day is for the Alerts day, without NPNs.", param_hint="--day")
    started = time.monotonic()
    home = ensure_dagster_home()
    from pipelines.definitions import build_definitions
    from pipelines.environments import current_environment

    environment = current_environment()
    database = OperationalDatabase(url=paths.database_url())
    try:
        database.ensure_migrated()
        problem = _sandbox_answers(environment)
        if problem:
            click.echo(problem, err=True)
            sys.exit(1)
        try:
            defs = build_definitions(environment)
        except ReportsNotPrepared as error:  # the code location needs the dbt manifest
            click.echo(str(error), err=True)
            sys.exit(1)
        if wanted:
            ok, all_known = _sync_producers(defs, database, wanted)
        else:
            ok, all_known = _sync_alerts_day(defs, database, day.date() if day else None), True
    except DatabaseNotMigrated as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    finally:
        database.engine.dispose()
    click.echo(
        f"{'Done' if ok else 'Failed'} in {time.monotonic() - started:.1f} s "
        f"(`npnflow ui` shows the run, DAGSTER_HOME={home})."
    )
    # An NPN no producer has is the caller's mistake: said above, and the exit status says so.
    sys.exit(0 if ok and all_known else 1)


def _run(defs: Any, job_name: str, **kwargs: Any) -> ExecuteInProcessResult:
    from dagster import DagsterInstance

    run_config = {**QUIET, **kwargs.pop("run_config", {})}
    with DagsterInstance.get() as instance:
        result: ExecuteInProcessResult = defs.resolve_job_def(job_name).execute_in_process(
            instance=instance, run_config=run_config, raise_on_error=False, **kwargs
        )
    for message in failure_messages(result):
        click.secho(f"{job_name} failed: {message}", fg="red", err=True)
    return result


def _sync_producers(defs: Any, database: OperationalDatabase, npns: list[str]) -> tuple[bool, bool]:
    """Sync `npns`; returns whether the run succeeded and whether every NPN was a producer."""
    from assets.keys import INITIAL_SYNC_KEY
    from assets.onboarding.producer_view import SYNC_STATUS_MEANINGS

    before = _producer_rows(database, npns)
    unknown = [n for n in npns if n not in before]
    for npn in unknown:
        click.echo(
            f"NPN {npn}: no such producer, not synced (producers come in with an agent file; "
            "`npnflow producers show NPN` finds one)."
        )
    known = [n for n in npns if n in before]
    if not known:
        return True, False
    click.echo(f"{INITIAL_SYNC_JOB}: Entity Info for {', '.join(known)} ...")
    op = INITIAL_SYNC_KEY.to_python_identifier()
    result = _run(defs, INITIAL_SYNC_JOB, run_config={"ops": {op: {"config": {"npns": known}}}})
    after = _producer_rows(database, known)
    for npn in known:
        was, now = before[npn], after.get(npn, {})
        status = str(now.get("sync_status", "?"))
        change = status if was["sync_status"] == status else f"{was['sync_status']} -> {status}"
        rows = ", ".join(
            f"{table} {now.get(table, 0)} ({now.get(table, 0) - was[table]:+})"
            for table in CURRENT_STATE
        )
        click.echo(f"  {npn}: {change}; rows now: {rows}")
        meaning = SYNC_STATUS_MEANINGS.get(status)
        if meaning and status != "Success":
            click.echo(f"    {status}: {meaning}")
    return bool(result.success), not unknown


def _sync_alerts_day(defs: Any, database: OperationalDatabase, day: dt.date | None) -> bool:
    import sqlalchemy as sa

    from assets.rules.alerts_day import latest_alerts_day
    from schemas.tables import nipr_report_days, nipr_scope_reports

    report_day = day or latest_alerts_day()
    before = database.count_rows(("producers", *CURRENT_STATE))
    click.echo(f"{DAILY_SYNC_JOB}: the PDB Alerts report of {report_day.isoformat()} ...")
    result = _run(defs, DAILY_SYNC_JOB, partition_key=report_day.isoformat())
    after = database.count_rows(("producers", *CURRENT_STATE))
    with database.engine.connect() as connection:
        recorded = connection.execute(
            sa.select(nipr_report_days).where(nipr_report_days.c.report_date == report_day)
        ).first()
    if recorded is not None:
        click.echo(
            f"  {report_day}: {recorded.status}, {recorded.producers_reported or 0} of our "
            f"producers reported, {recorded.scopes_applied or 0} state categories replaced, "
            f"{recorded.scopes_skipped_as_older or 0} skipped as older than what we hold"
        )
    click.echo(
        "  rows now: "
        + ", ".join(f"{t} {after[t]:,} ({after[t] - before[t]:+,})" for t in CURRENT_STATE)
    )
    with database.engine.connect() as connection:
        changed = connection.execute(
            sa.select(
                nipr_scope_reports.c.npn,
                nipr_scope_reports.c.state_code,
                nipr_scope_reports.c.category,
            )
            .where(
                nipr_scope_reports.c.report_date == report_day,
                nipr_scope_reports.c.source == "alerts",
            )
            .order_by(nipr_scope_reports.c.npn, nipr_scope_reports.c.state_code)
        ).all()
    for scope in changed[:SHOWN_CHANGES]:
        click.echo(f"  changed: NPN {scope.npn} {scope.state_code} {scope.category.lower()}")
    if len(changed) > SHOWN_CHANGES:
        click.echo(f"  ... and {len(changed) - SHOWN_CHANGES} more")
    return bool(result.success)
