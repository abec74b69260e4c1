"""`npnflow sandbox-nipr`: the NIPR sandbox of the data folder's world on loopback, and
`npnflow sandbox-nipr npns`, the producers that world knows; `world_for_command`, the world
`npnflow demo` and `npnflow ui` start their sandbox with (npnflow/sandbox/world_settings.py).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from resources import paths

if TYPE_CHECKING:
    from npnflow.sandbox.world_settings import DataFolderWorld

# The sandbox's port when `npnflow ui` or `npnflow sandbox-nipr` start it: where the local
# environment's NIPR resources look (pipelines/environments.py, SANDBOX_DEFAULT_URL).
SANDBOX_DEFAULT_PORT = 8790


def world_for_command(
    seed: int | None, producers: int | None, *, say_new: bool = True
) -> DataFolderWorld:
    """The data folder's NIPR world, saying any option that overrides it, and (`say_new`) that
    it was just written (the demo says so in its own first line)."""
    from npnflow.sandbox.world_settings import WorldFileError, data_folder_world

    try:
        world = data_folder_world(seed=seed, producers=producers)
    except WorldFileError as error:
        click.echo(str(error), err=True)
        sys.exit(2)
    if world.created and say_new:
        click.echo(
            f"New NIPR world for {paths.data_dir()}: {world.settings.describe()} ({world.path})"
        )
    for override in world.overrides:
        click.echo(
            f"Note: this command's sandbox uses {override}, given on the command line; the "
            f"data folder's producers were onboarded from the world in {world.path}, which "
            "this option does not change."
        )
    return world


@click.group(
    "sandbox-nipr",
    invoke_without_command=True,
    help="Run the NIPR sandbox (Entity Info, PDB Alerts, Gateway) on loopback, with the data "
    "folder's NIPR world (<data folder>/nipr_world.yaml, written on first use), the one "
    "`npnflow demo` and `npnflow ui` use. `npnflow sandbox-nipr npns` lists its producers.",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=SANDBOX_DEFAULT_PORT, show_default=True, type=int)
@click.option(
    "--seed",
    default=None,
    type=int,
    help="Seed of the generated producers, instead of the data folder's world's.",
)
@click.option(
    "--producers",
    default=None,
    type=int,
    help="How many producers NIPR knows, instead of the data folder's world's.",
)
@click.pass_context
def sandbox_nipr(
    context: click.Context, host: str, port: int, seed: int | None, producers: int | None
) -> None:
    context.obj = {"seed": seed, "producers": producers}
    if context.invoked_subcommand is not None:
        return
    from npnflow.sandbox.server import run_sandbox_from_cli
    from npnflow.sandbox.world_settings import sandbox_for

    world = world_for_command(seed, producers)
    sandbox = sandbox_for(world.settings, host=host, port=port, answers_file=world.answers_file)
    try:
        run_sandbox_from_cli(host=host, port=port, sandbox=sandbox)
    except OSError as error:
        click.echo(
            f"The sandbox cannot listen on {host}:{port} ({error}); choose --port.", err=True
        )
        sys.exit(1)


@sandbox_nipr.command(
    "npns",
    help="The producers the data folder's NIPR world knows: NPN, name, resident state and the "
    "states where the producer holds an active license. Use these NPNs in the files you drop.",
)
@click.option("--limit", default=20, show_default=True, type=int, help="How many to list (0: all).")
@click.pass_context
def sandbox_nipr_npns(context: click.Context, limit: int) -> None:
    from npnflow.sandbox.world_settings import generate, world_npns

    options = context.obj or {}
    world = world_for_command(options.get("seed"), options.get("producers"))
    generated = generate(world.settings)
    listed = world_npns(generated, limit or None)
    total = len(generated.individual_npns())
    click.echo(
        f"The NIPR world of {paths.data_dir()} ({world.settings.describe()}) knows {total} "
        f"individual producers and {len(generated.firm_npns())} firms"
        + (f"; the first {len(listed)}:" if len(listed) < total else ":")
    )
    ours = _onboarded_npns()
    click.echo(f"{'NPN':<10} {'name':<30} {'resident':<8} {'ours':<4} licensed in")
    for producer in listed:
        shown = ", ".join(producer.licensed_states[:6])
        more = len(producer.licensed_states) - 6
        click.echo(
            f"{producer.npn:<10} {producer.name[:30]:<30} {producer.resident_state:<8} "
            f"{'yes' if producer.npn in ours else '':<4} "
            + shown
            + (f" (+{more})" if more > 0 else "")
        )
    if ours:
        click.echo(
            f"ours: yes = onboarded in {paths.database_url().rsplit('/', 1)[-1]} "
            f"({len(ours)} producers; `npnflow batches list` shows their work)."
        )


def _onboarded_npns() -> set[str]:
    """The NPNs of the producers in the operational database; none when it does not exist yet
    (the embedded default's file is never created just to be read)."""
    import sqlalchemy as sa

    from resources.database import OperationalDatabase

    url = paths.database_url()
    if url == paths.default_database_url() and not (paths.data_dir() / "npnflow.db").exists():
        return set()
    try:
        producers = OperationalDatabase(url=url).read_table("producers", ["npn"])
    except sa.exc.SQLAlchemyError:
        return set()  # not migrated yet: nothing onboarded
    return set(producers.npn.astype(str))
