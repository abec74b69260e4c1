"""`npnflow demo`: the whole product, end to end, on the embedded default.

It grows with every capability, so a newcomer always sees everything work: today it migrates
the database, starts the NIPR sandbox, loads the reference data and the sample company setup
through the same Dagster job the UI launches, and reads producers back from the sandbox.
"""

from __future__ import annotations

import os
import time

import click
from lxml import etree

from npnflow import paths
from npnflow.instance import ensure_dagster_home


def _heading(text: str) -> None:
    click.echo("")
    click.secho(text, bold=True)


def run_demo(producers: int = 200) -> int:
    started = time.monotonic()
    # The demo always runs the embedded default: never the production NIPR, whatever is set.
    os.environ["NPNFLOW_ENV"] = "local"
    home = ensure_dagster_home()

    from schemas.migrate import current_revision, upgrade

    url = paths.database_url()
    _heading("1. Operational database")
    upgrade(url)
    from resources.database import OperationalDatabase

    database = OperationalDatabase(url=url)
    click.echo(f"   {database.display_url} at migration {current_revision(url)}")

    from npnflow.sandbox.server import NiprSandbox

    with NiprSandbox(port=0, producers=producers) as sandbox:
        os.environ["NPNFLOW_NIPR_SANDBOX_URL"] = sandbox.base_url
        _heading("2. NIPR sandbox")
        click.echo(f"   {sandbox.base_url} knows {producers} generated producers")

        from dagster import DagsterInstance

        from pipelines.definitions import build_definitions

        defs = build_definitions("local")
        _heading("3. load_reference_data_job (the same job the UI's Launchpad runs)")
        with DagsterInstance.get() as instance:
            result = defs.resolve_job_def("load_reference_data_job").execute_in_process(
                instance=instance,
                raise_on_error=False,
                # The summary below is what a person reads; the run's event log is in the UI.
                run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            )
        if not result.success:
            for event in result.all_events:
                if event.is_failure and event.event_specific_data is not None:
                    error = getattr(event.event_specific_data, "error", None)
                    click.secho(f"   FAILED: {error.message if error else event.message}", fg="red")
            return 1
        from assets.reference.assets import COMPANY_CONFIG_TABLES, REFERENCE_TABLES

        counts = database.count_rows([*REFERENCE_TABLES, *COMPANY_CONFIG_TABLES])
        for table, rows in counts.items():
            click.echo(f"   {table:<28} {rows:>7,} rows")

        companies = database.read_table("companies", ["cocode", "company_name"])
        settings = database.read_table("company_state_settings", ["cocode", "state_code", "jit"])
        _heading("4. Company setup (config/companies.yaml)")
        for company in companies.itertuples():
            states = settings[settings.cocode == company.cocode]
            jit = sorted(states[states.jit.astype(bool)].state_code)
            click.echo(
                f"   {company.cocode} {company.company_name}: appoints in "
                f"{', '.join(sorted(states.state_code))}"
                + (f" (JIT in {', '.join(jit)})" if jit else "")
            )

        _heading("5. NIPR Entity Info through the NIPR client resource")
        nipr = build_definitions("local").resources["nipr"]
        for npn in [*sandbox.world.individual_npns()[:2], *sandbox.world.firm_npns()[:1]]:
            document = etree.fromstring(nipr.fetch_entity_info(npn))
            licenses = document.findall(".//LICENSE_INFORMATION/STATE/LICENSE")
            states = sorted(
                {s.get("name") for s in document.findall(".//LICENSE_INFORMATION/STATE")}
            )
            appointments = document.findall(".//APPOINTMENT")
            name = " ".join(
                filter(
                    None, [document.findtext(".//NAME_FIRST"), document.findtext(".//NAME_LAST")]
                )
            ) or document.findtext(".//NAME_COMPANY")
            click.echo(
                f"   NPN {npn} {name}: {len(licenses)} licenses in {', '.join(states)}; "
                f"{len(appointments)} appointment lines"
            )

    _heading("Done")
    click.echo(
        f"   in {time.monotonic() - started:.1f} s. Open the UI with `make ui` (DAGSTER_HOME={home})."
    )
    return 0
