"""The `npnflow` command: set-up, the NIPR sandbox, the demo and the UI.

Every command works on the embedded default with no set-up; production differs only by
environment variables (see the README).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import click

from npnflow import paths


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@click.group(help="npnflow: producer licensing, appointments and terminations on Dagster.")
def main() -> None:
    pass


@main.group(help="The operational database.")
def db() -> None:
    pass


@db.command("upgrade", help="Create or upgrade every table to the code's schema (Alembic).")
@click.option(
    "--url",
    default=None,
    help="Database URL (default: NPNFLOW_DATABASE_URL or the local SQLite file).",
)
def db_upgrade(url: str | None) -> None:
    from resources.database import OperationalDatabase
    from schemas.migrate import current_revision, upgrade

    url = url or paths.database_url()
    display = OperationalDatabase(url=url).display_url
    before = current_revision(url)
    upgrade(url)
    after = current_revision(url)
    if before == after:
        click.echo(f"Database {display} is up to date (migration {after}).")
    else:
        click.echo(f"Database {display} upgraded from {before or 'empty'} to {after}.")


@db.command("current", help="Print the database's migration revision.")
@click.option("--url", default=None)
def db_current(url: str | None) -> None:
    from schemas.migrate import current_revision, head_revision

    url = url or paths.database_url()
    click.echo(f"current: {current_revision(url) or 'empty'}  head: {head_revision()}")


@main.command(
    "sandbox-nipr", help="Run the NIPR sandbox (Entity Info, PDB Alerts, Gateway) on loopback."
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8790, show_default=True, type=int)
@click.option(
    "--seed", default=7, show_default=True, type=int, help="Seed of the generated producers."
)
@click.option(
    "--producers", default=500, show_default=True, type=int, help="How many producers NIPR knows."
)
def sandbox_nipr(host: str, port: int, seed: int, producers: int) -> None:
    from npnflow.sandbox.server import run_sandbox_from_cli

    run_sandbox_from_cli(host=host, port=port, seed=seed, producers=producers)


@main.command(help="Run the product end to end on the embedded default and print what happened.")
@click.option(
    "--producers", default=200, show_default=True, type=int, help="Producers in the sandbox's NIPR."
)
def demo(producers: int) -> None:
    from npnflow.demo import run_demo

    sys.exit(run_demo(producers=producers))


@main.command(
    help="Open the Dagster UI on this code location (dagster dev, persistent local instance)."
)
@click.option("--port", default=3000, show_default=True, type=int)
@click.option("--no-sandbox", is_flag=True, help="Do not start the NIPR sandbox alongside the UI.")
def ui(port: int, no_sandbox: bool) -> None:
    from npnflow.instance import ensure_dagster_home
    from pipelines.environments import SANDBOX_DEFAULT_URL, current_environment
    from schemas.migrate import upgrade

    home = ensure_dagster_home()
    upgrade(paths.database_url())
    sandbox = None
    if (
        not no_sandbox
        and current_environment() == "local"
        and not os.environ.get("NPNFLOW_NIPR_SANDBOX_URL")
    ):
        from npnflow.sandbox.server import NiprSandbox

        sandbox = NiprSandbox(port=int(SANDBOX_DEFAULT_URL.rsplit(":", 1)[1]))
        sandbox.start()
        click.echo(f"NIPR sandbox on {sandbox.base_url}")
    click.echo(f"Dagster UI on http://127.0.0.1:{port} (DAGSTER_HOME={home}); Ctrl-C stops it.")
    command = [
        sys.executable,
        "-m",
        "dagster",
        "dev",
        "-w",
        str(paths.PROJECT_ROOT / "workspace.yaml"),
        "-p",
        str(port),
    ]
    # Own process group: `dagster dev` may ignore SIGTERM, so it is stopped with SIGINT.
    process = subprocess.Popen(command, cwd=paths.PROJECT_ROOT, start_new_session=True)
    # SIGTERM (a service manager, a test) stops it the same way as Ctrl-C.
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        process.wait()
    except KeyboardInterrupt:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    finally:
        if sandbox is not None:
            sandbox.stop()


if __name__ == "__main__":
    main()
