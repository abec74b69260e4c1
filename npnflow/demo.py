"""`npnflow demo`: the whole product, end to end, on the embedded default.

It grows with every capability, so a newcomer always sees everything work. Today it:
1. migrates the operational database;
2. starts the NIPR sandbox, whose producers hold appointments with the customer's companies;
3. loads the reference data and the company setup (`load_reference_data_job`);
4. onboards a roster of producers and syncs them with NIPR (`sync_new_producers_job`): Entity
   Info for each, then the PDB Alerts target list;
5. runs the daily sync (`daily_nipr_sync_job`) for the last few NIPR report days and prints
   what changed.
Every step runs the same Dagster job a person launches from the UI, on the persistent local
instance, so `npnflow ui` shows these runs afterwards.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from zoneinfo import ZoneInfo

import click
import sqlalchemy as sa

from npnflow import paths
from npnflow.instance import ensure_dagster_home

CENTRAL = ZoneInfo("America/Chicago")
# What a person reads is the summary below; each run's full event log is in the UI.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
ROSTER_SIZE = 40
REPORT_DAYS = 3
# An NPN NIPR does not know, so the roster shows the `Not Found` status too.
UNKNOWN_NPN = "99999999"
CURRENT_STATE = ("producers", "licenses", "license_loas", "appointments")


def _heading(text: str) -> None:
    click.echo("")
    click.secho(text, bold=True)


def _recent_report_days(today: dt.date, count: int) -> list[dt.date]:
    """The last `count` NIPR alert days before today (no runs on Sundays); today's report may
    not be published yet, so the demo never asks for it."""
    days, day = [], today - dt.timedelta(days=1)
    while len(days) < count:
        if day.weekday() != 6:
            days.append(day)
        day -= dt.timedelta(days=1)
    return sorted(days)


def _run(defs, job_name: str, instance, **kwargs):
    result = defs.resolve_job_def(job_name).execute_in_process(
        instance=instance, raise_on_error=False, run_config=QUIET, **kwargs
    )
    if not result.success:
        for event in result.all_events:
            if event.is_step_failure:
                error = getattr(event.event_specific_data, "error", None)
                click.secho(
                    f"   FAILED {event.step_key}: {error.message if error else event.message}",
                    fg="red",
                )
    return result


def _roster(world, days: list[dt.date]) -> list[str]:
    """Producers who change on the report days, so the daily sync has something to show, and
    some who do not."""
    changing = sorted({c.npn for day in days for c in world.changes_on(day)})
    quiet = [npn for npn in world.individual_npns() if npn not in changing]
    half = ROSTER_SIZE // 2
    return changing[:half] + quiet[: ROSTER_SIZE - min(half, len(changing))]


def _onboard(database, npns: list[str]) -> None:
    """Stands in for the agent-file upload (the uploads capability) until it lands."""
    from schemas.tables import producers

    with database.begin() as connection:
        known = set(connection.execute(sa.select(producers.c.npn)).scalars())
        rows = [
            {
                "npn": npn,
                "first_name": "",
                "last_name": f"Onboarded {npn}",
                "is_active": True,
                "sync_status": "Not Started",
            }
            for npn in npns
            if npn not in known
        ]
        if rows:
            connection.execute(producers.insert(), rows)


def run_demo(producers: int = 200) -> int:
    started = time.monotonic()
    # The demo always runs the embedded default: never the production NIPR, whatever is set.
    os.environ["NPNFLOW_ENV"] = "local"
    home = ensure_dagster_home()

    from dagster import DagsterInstance

    from pipelines.definitions import build_definitions
    from resources.database import OperationalDatabase
    from schemas.migrate import current_revision, upgrade

    url = paths.database_url()
    _heading("1. Operational database")
    upgrade(url)
    database = OperationalDatabase(url=url)
    click.echo(f"   {database.display_url} at migration {current_revision(url)}")

    from assets.reference.loading import load_company_config, load_reference_data
    from npnflow.sandbox.server import NiprSandbox

    # NIPR's world holds appointments with the customer's own companies, as it would.
    reference = load_reference_data(paths.reference_dir())
    companies = load_company_config(paths.config_dir(), reference)["companies"]
    with (
        NiprSandbox(port=0, producers=producers, companies=companies) as sandbox,
        DagsterInstance.get() as instance,
    ):
        os.environ["NPNFLOW_NIPR_SANDBOX_URL"] = sandbox.base_url
        defs = build_definitions("local")
        _heading("2. NIPR sandbox")
        click.echo(f"   {sandbox.base_url} knows {producers} generated producers")

        _heading("3. load_reference_data_job: reference tables and company setup")
        if not _run(defs, "load_reference_data_job", instance).success:
            return 1
        from assets.reference.assets import COMPANY_CONFIG_TABLES, REFERENCE_TABLES

        for table, rows in database.count_rows([*REFERENCE_TABLES, *COMPANY_CONFIG_TABLES]).items():
            click.echo(f"   {table:<28} {rows:>7,} rows")
        settings = database.read_table("company_state_settings", ["cocode", "state_code", "jit"])
        for company in companies.itertuples():
            states = settings[settings.cocode == company.cocode]
            jit = sorted(states[states.jit.astype(bool)].state_code)
            click.echo(
                f"   {company.cocode} {company.company_name}: appoints in {', '.join(sorted(states.state_code))}"
                + (f" (JIT in {', '.join(jit)})" if jit else "")
            )

        today = sandbox.now().date()
        days = _recent_report_days(today, REPORT_DAYS)
        roster = _roster(sandbox.world, days)
        _heading(
            f"4. sync_new_producers_job: {len(roster) + 1} producers onboarded, synced with NIPR"
        )
        _onboard(database, [*roster, UNKNOWN_NPN])
        if not _run(defs, "sync_new_producers_job", instance).success:
            return 1
        statuses = database.read_table("producers", ["sync_status"]).sync_status.value_counts()
        click.echo(
            "   sync status: "
            + ", ".join(f"{status} {count}" for status, count in statuses.items())
        )
        counts = database.count_rows(CURRENT_STATE)
        click.echo(
            "   " + ", ".join(f"{counts[t]:,} {t}" for t in CURRENT_STATE[1:]) + " from Entity Info"
        )
        targets = database.read_table("nipr_subscriptions", ["subscription_name", "removed_at"])
        active = targets[targets.removed_at.isna() & targets.subscription_name.notna()]
        click.echo(
            f"   {len(active)} producers on the PDB Alerts target list {', '.join(sorted(set(active.subscription_name)))}"
        )

        _heading(f"5. daily_nipr_sync_job: PDB Alerts for {', '.join(d.isoformat() for d in days)}")
        before = database.count_rows(CURRENT_STATE)
        for day in days:
            if not _run(
                defs, "daily_nipr_sync_job", instance, partition_key=day.isoformat()
            ).success:
                return 1
        report_days = database.read_table(
            "nipr_report_days", ["report_date", "status", "producers_reported", "scopes_applied"]
        )
        for row in report_days.sort_values("report_date").itertuples():
            click.echo(
                f"   {row.report_date}: {row.status}, {row.producers_reported or 0} of our producers reported, "
                f"{row.scopes_applied or 0} state categories replaced"
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
        changed = scopes[scopes.source == "alerts"].sort_values(
            ["report_date", "npn", "state_code"]
        )
        for row in changed.head(8).itertuples():
            click.echo(
                f"   changed: NPN {row.npn} {row.state_code} {row.category.lower()} (report of {row.report_date})"
            )
        if len(changed) > 8:
            click.echo(f"   ... and {len(changed) - 8} more")

    _heading("Done")
    click.echo(
        f"   in {time.monotonic() - started:.1f} s. See the runs, assets and checks with `make ui` "
        f"(DAGSTER_HOME={home})."
    )
    return 0
