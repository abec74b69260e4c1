"""`run_demo`: the demo's order of steps, and steps 1 to 5 (database, sandbox, reference data,
onboarding an agent file, the daily NIPR sync).

The later steps live beside it (`submissions.py`, `portal.py`); the files dropped are in
`samples.py` and the Dagster plumbing in `dagster_runs.py`.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from typing import TYPE_CHECKING

import click

from npnflow.demo.compliance import at_risk_after_daily, renewals_and_sales
from npnflow.demo.dagster_runs import drop_file, heading, run_job, sync_onboarded
from npnflow.demo.data_folder import ROSTER_FOLDER, ROSTER_PREFIX, DemoRun, demo_run_for
from npnflow.demo.jit_offboarding import jit_and_offboarding
from npnflow.demo.portal import portal_invitations
from npnflow.demo.samples import roster, sample_agent_file
from npnflow.demo.submissions import appointments, build_reports, terminations
from npnflow.instance import clean_dead_runs, ensure_dagster_home
from resources import paths

if TYPE_CHECKING:
    import pandas as pd
    from dagster import DagsterInstance, Definitions

    from npnflow.sandbox.generator import World
    from npnflow.sandbox.world_settings import DataFolderWorld
    from resources.database import OperationalDatabase

REPORT_DAYS = 3
CURRENT_STATE = ("producers", "licenses", "license_loas", "appointments")


def _recent_report_days(today: dt.date, count: int) -> list[dt.date]:
    """The last `count` NIPR alert days before today (no runs on Sundays); today's report may
    not be published yet, so the demo never asks for it."""
    days: list[dt.date] = []
    day = today - dt.timedelta(days=1)
    while len(days) < count:
        if day.weekday() != 6:
            days.append(day)
        day -= dt.timedelta(days=1)
    return sorted(days)


def _reference_data(
    defs: Definitions,
    instance: DagsterInstance,
    database: OperationalDatabase,
    companies: pd.DataFrame,
) -> bool:
    """Step 3: `load_reference_data_job`, the tables it filled and each company's states."""
    if not run_job(defs, "load_reference_data_job", instance).success:
        return False
    from assets.reference.assets import COMPANY_CONFIG_TABLES, REFERENCE_TABLES

    for table, rows in database.count_rows([*REFERENCE_TABLES, *COMPANY_CONFIG_TABLES]).items():
        click.echo(f"   {table:<28} {rows:>7,} rows")
    settings = database.read_table("company_state_settings", ["cocode", "state_code", "jit"])
    for company in companies.itertuples():
        states = settings[settings.cocode == company.cocode]
        jit = sorted(states[states.jit.astype(bool)].state_code)
        click.echo(
            f"   {company.cocode} {company.company_name}: appoints in "
            f"{', '.join(sorted(states.state_code))}"
            + (f" (JIT in {', '.join(jit)})" if jit else "")
        )
    return True


def _drop_and_process(
    defs: Definitions,
    instance: DagsterInstance,
    database: OperationalDatabase,
    world: World,
    npns: list[str],
    day: dt.date,
    run: DemoRun,
) -> bool:
    """Drop the sample agent file into the local bucket and process it."""
    key = run.key(ROSTER_FOLDER, f"{ROSTER_PREFIX}{day.isoformat()}.csv")
    upload_id = drop_file(defs, instance, key, sample_agent_file(world, npns))
    if upload_id is None:
        return False
    counts = database.count_rows(["agencies", "producers", "producer_assignments"])
    ssn = (
        ", full value encrypted"
        if os.environ.get("NPNFLOW_SSN_KEY")
        else " (no NPNFLOW_SSN_KEY: full values discarded)"
    )
    click.echo(
        "   now "
        + ", ".join(f"{n:,} {t}" for t, n in counts.items())
        + "; SSNs: last four kept"
        + ssn
    )
    return True


def _onboarding(
    defs: Definitions,
    instance: DagsterInstance,
    database: OperationalDatabase,
    world: World,
    npns: list[str],
    day: dt.date,
    run: DemoRun,
) -> bool:
    """Step 4: the agent file processed, the new producers synced from Entity Info and put on
    the PDB Alerts target list."""
    if not _drop_and_process(defs, instance, database, world, npns, day, run):
        return False
    if not sync_onboarded(defs, instance):
        return False
    statuses = database.read_table("producers", ["sync_status"]).sync_status.value_counts()
    click.echo(
        "   sync status: " + ", ".join(f"{status} {count}" for status, count in statuses.items())
    )
    counts = database.count_rows(CURRENT_STATE)
    click.echo(
        "   " + ", ".join(f"{counts[t]:,} {t}" for t in CURRENT_STATE[1:]) + " from Entity Info"
    )
    targets = database.read_table("nipr_subscriptions", ["subscription_name", "removed_at"])
    active = targets[targets.removed_at.isna() & targets.subscription_name.notna()]
    click.echo(
        f"   {len(active)} producers on the PDB Alerts target list "
        f"{', '.join(sorted(set(active.subscription_name)))}"
    )
    return True


def _daily_sync(
    defs: Definitions,
    instance: DagsterInstance,
    database: OperationalDatabase,
    days: list[dt.date],
) -> bool:
    """Step 5: `daily_nipr_sync_job` for each report day, and what changed."""
    before = database.count_rows(CURRENT_STATE)
    for day in days:
        if not run_job(
            defs, "daily_nipr_sync_job", instance, partition_key=day.isoformat()
        ).success:
            return False
    report_days = database.read_table(
        "nipr_report_days", ["report_date", "status", "producers_reported", "scopes_applied"]
    )
    for row in report_days.sort_values("report_date").itertuples():
        click.echo(
            f"   {row.report_date}: {row.status}, {row.producers_reported or 0} of our "
            f"producers reported, {row.scopes_applied or 0} state categories replaced"
        )
    after = database.count_rows(CURRENT_STATE)
    click.echo(
        "   rows now: "
        + ", ".join(f"{t} {after[t]:,} ({after[t] - before[t]:+,})" for t in CURRENT_STATE[1:])
    )
    if after == before:
        click.echo(
            "   (Alerts resend a changed category whole, with today's data; the initial sync "
            "above fetched today's data already, so the replaced categories match it.)"
        )
    scopes = database.read_table(
        "nipr_scope_reports", ["npn", "state_code", "category", "source", "report_date"]
    )
    changed = scopes[scopes.source == "alerts"].sort_values(["report_date", "npn", "state_code"])
    for row in changed.head(8).itertuples():
        click.echo(
            f"   changed: NPN {row.npn} {row.state_code} {row.category.lower()} "
            f"(report of {row.report_date})"
        )
    if len(changed) > 8:
        click.echo(f"   ... and {len(changed) - 8} more")
    return True


def _say_where(world: DataFolderWorld, run: DemoRun) -> None:
    """Whether this run starts a new world or continues on the data folder's, before anything."""
    folder = paths.data_dir()
    if not run.continuing:
        click.echo(
            f"Starting a new world in the data folder {folder} (demo run 1): NIPR world "
            f"{world.settings.describe()}, in {world.path}."
        )
        return
    click.echo(
        f"Continuing on the data folder {folder} (demo run {run.number}; NIPR world "
        f"{world.settings.describe()}). What the earlier runs did stays: this run drops its "
        "files under new names, and the product says what is already done (a Duplicate "
        "roster, lines Already Appointed, producers already invited or offboarded). "
        "`make reset` deletes the data folder to start afresh."
    )


def run_demo(world: DataFolderWorld | None = None) -> int:
    """The demo on the data folder's NIPR world (`world`: the command's, overrides included)."""
    from npnflow.sandbox.world_settings import data_folder_world, sandbox_for

    started = time.monotonic()
    world = world or data_folder_world()
    run = demo_run_for(paths.bucket_dir())
    _say_where(world, run)
    # The demo always runs the embedded default: never the production NIPR, whatever is set.
    os.environ["NPNFLOW_ENV"] = "local"
    home = ensure_dagster_home()

    from dagster import DagsterInstance

    from pipelines.definitions import build_definitions
    from resources.database import OperationalDatabase
    from schemas.migrate import current_revision, upgrade

    url = paths.database_url()
    heading("1. Operational database")
    upgrade(url)
    database = OperationalDatabase(url=url)
    click.echo(f"   {database.display_url} at migration {current_revision(url)}")

    from assets.reference.loading import load_company_config, load_reference_data

    # NIPR's world holds appointments with the customer's own companies, as it would.
    reference = load_reference_data(paths.reference_dir())
    companies = load_company_config(paths.config_dir(), reference)["companies"]
    with (
        sandbox_for(
            world.settings, port=0, companies=companies, answers_file=world.answers_file
        ) as sandbox,
        DagsterInstance.get() as instance,
    ):
        os.environ["NPNFLOW_NIPR_SANDBOX_URL"] = sandbox.base_url
        # Runs an earlier, killed demo or UI left Started: failed, so they hold no place in
        # the run queue that `make ui` shows afterwards.
        for dead in clean_dead_runs(instance):
            click.echo(
                f"   Run {dead.run_id} of {dead.job_name} was left {dead.status} by process "
                f"{dead.pid}, which is gone: marked failed."
            )
        defs = build_definitions("local")
        heading("2. NIPR sandbox")
        click.echo(
            f"   {sandbox.base_url} knows the {sandbox.world.size} generated producers of the "
            f"data folder's world ({world.path.name}; `npnflow sandbox-nipr npns` lists them)"
        )

        heading("3. load_reference_data_job: reference tables and company setup")
        if not _reference_data(defs, instance, database, companies):
            return 1

        today = sandbox.now().date()
        days = _recent_report_days(today, REPORT_DAYS)
        npns = roster(sandbox.world, days)
        heading(
            f"4. An agent file dropped in the bucket: inbox_file_sensor, process_upload_job, "
            f"then sync_new_producers_job for the {len(npns) + 1} producers"
        )
        if not _onboarding(defs, instance, database, sandbox.world, npns, today, run):
            return 1

        heading(f"5. daily_nipr_sync_job: PDB Alerts for {', '.join(d.isoformat() for d in days)}")
        if not _daily_sync(defs, instance, database, days):
            return 1
        at_risk_after_daily(database)

        heading(
            "6. An appoint file dropped: eligibility, batches, approval, submission to the Gateway"
        )
        if not appointments(defs, instance, database, today, run):
            return 1

        heading(
            "7. Reports (dbt) and a termination round trip: export from the report, drop, "
            "approve, submit"
        )
        if not terminations(defs, instance, database, today, run):
            return 1

        heading("8. A portal_invite file dropped: seats, one email per invitation, errors")
        if not portal_invitations(defs, instance, database, run):
            return 1

        heading(
            "9. Just-in-time: a held line released with its business date and sent; "
            "a producer offboarded"
        )
        if not jit_and_offboarding(defs, instance, database, today, run):
            return 1

        # Steps 8 and 9 change what the reports read (uploads, a released JIT batch sent):
        # built last, the reports include them and the UI shows them up to date, not Unsynced.
        heading("10. The reports rebuilt, with every step above")
        if not build_reports(defs, instance, database):
            return 1

        heading(
            "11. Renewals and who may sell: a renewal plan and its terminate file, can-sell answers"
        )
        if not renewals_and_sales(database, today):
            return 1

    heading("Done")
    click.echo(
        f"   in {time.monotonic() - started:.1f} s. See the runs, assets and checks with `make ui` "
        f"(DAGSTER_HOME={home})."
    )
    click.echo(
        f"   The reports are tables in {database.display_url} (rpt_*): `npnflow reports show "
        "NAME`, the `reports` group in the UI, or any SQL client; docs/reports.md explains them."
    )
    return 0
