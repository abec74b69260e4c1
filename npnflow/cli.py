"""The `npnflow` command: set-up, the NIPR sandbox, the demo, the UI and the clean-up of dead
runs (`npnflow runs clean-dead`). The command groups (`batches`, `export`, `reports`, `portal`,
`sandbox-nipr`, ...) and `offboard`, `jit` live in their own `*_cli.py` modules, registered
here by name and imported only when invoked (`LazyGroup`): `npnflow --help` and the quick
commands never pay for the imports of the others (Dagster, dbt, Great Expectations).

Every command works on the embedded default with no set-up; production differs only by
environment variables (see the README).
"""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

# Plain click and constants: cheap to import, and `ui`'s options need the port.
from npnflow.sandbox_cli import SANDBOX_DEFAULT_PORT, world_for_command
from resources import paths

if TYPE_CHECKING:
    from dagster import DagsterInstance

    from npnflow.instance import CleanedRun


def _clean_dead_runs_at_start_up() -> None:
    # Runs a killed `npnflow ui` or demo left Started would fill the run queue of the UI
    # about to start: its daemon's run monitoring cannot see that their process is gone.
    from dagster import DagsterInstance

    from npnflow.instance import AT_START_UP

    with DagsterInstance.get() as instance:
        _clean_dead_runs(instance, AT_START_UP)


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@dataclass(frozen=True)
class LazyCommand:
    """A command of its own module: where it is, and its first sentence for `npnflow --help`
    (tests/unit/test_cli_lazy_imports.py checks it is the command's own)."""

    module: str
    attribute: str
    summary: str


LAZY_COMMANDS: dict[str, LazyCommand] = {
    "batches": LazyCommand(
        "npnflow.batches_cli",
        "batches",
        "Review transaction batches and approve, reject or retry them.",
    ),
    "can-sell": LazyCommand(
        "npnflow.can_sell_cli",
        "can_sell",
        "May this producer sell this category for this company in this state? Yes or No "
        "with every line's reasons, live from the database. Exit 0 Yes, 1 No, 2 cannot answer.",
    ),
    "check": LazyCommand(
        "npnflow.check_cli", "check", "Dry run of an appoint or terminate file: nothing written."
    ),
    "explain": LazyCommand(
        "npnflow.evidence_cli",
        "explain",
        "Why a transaction got its reason: the decision in a short paragraph, then the "
        "evidence (the license, line, rules, appointment and NIPR data the engine read).",
    ),
    "export": LazyCommand(
        "npnflow.export_cli",
        "export",
        "Write files from the reports, ready to drop into the inbox.",
    ),
    "jit": LazyCommand(
        "npnflow.jit_cli",
        "jit",
        "Just-in-time appointments: list, release and cancel held lines.",
    ),
    "offboard": LazyCommand(
        "npnflow.offboard_cli",
        "offboard",
        "Offboard producers: terminate every appointment with your companies (one batch per "
        "CoCode, for review), cancel lines never sent, revoke portal seats, stop NIPR tracking.",
    ),
    "portal": LazyCommand(
        "npnflow.portal_cli",
        "portal",
        "Portal invitations: invite producers, see each portal's seats and users.",
    ),
    "producers": LazyCommand(
        "npnflow.producers_cli",
        "producers",
        "One producer's sync status, licenses, appointments and open work; removal.",
    ),
    "renewals": LazyCommand(
        "npnflow.renewals_cli",
        "renewals",
        "Appointment renewals: the plan of fees and terminations before the cut-off.",
    ),
    "reports": LazyCommand(
        "npnflow.reports_cli",
        "reports",
        "The dbt reports: prepare the dbt project, build the reports, read them.",
    ),
    "sandbox-nipr": LazyCommand(
        "npnflow.sandbox_cli",
        "sandbox_nipr",
        "Run the NIPR sandbox (Entity Info, PDB Alerts, Gateway) on loopback, with the data "
        "folder's NIPR world (<data folder>/nipr_world.yaml, written on first use), the one "
        "`npnflow demo` and `npnflow ui` use.",
    ),
    "sync": LazyCommand(
        "npnflow.sync_cli",
        "sync",
        "Sync with NIPR now, through the same Dagster jobs the schedules run.",
    ),
    "uploads": LazyCommand(
        "npnflow.uploads_cli",
        "uploads",
        "What happened to a dropped file: its status, errors, batches and producers.",
    ),
}


class LazyGroup(click.Group):
    """A group whose commands of LAZY_COMMANDS are imported when one is invoked (click's
    "lazy loading of subcommands"). Its help lists them from their summaries, importing none."""

    def __init__(self, *args: object, lazy: dict[str, LazyCommand], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy = lazy
        self._listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        lazy = self.lazy.get(cmd_name)
        if lazy is None or cmd_name in self.commands:
            return super().get_command(ctx, cmd_name)
        if self._listing:
            return click.Command(cmd_name, help=lazy.summary)
        command = getattr(importlib.import_module(lazy.module), lazy.attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{lazy.module}.{lazy.attribute} is not a click command")
        self.add_command(command, cmd_name)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_commands(ctx, formatter)
        finally:
            self._listing = False


@click.group(
    cls=LazyGroup,
    lazy=LAZY_COMMANDS,
    help="npnflow: producer licensing, appointments and terminations on Dagster.",
)
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
    help="Run the product end to end on the embedded default and print what happened. Run it "
    "again on the same data folder and it continues there (`make reset` starts afresh)."
)
@click.option(
    "--producers",
    default=None,
    type=int,
    help="Producers in the sandbox's NIPR, instead of the data folder's world's (200 by default).",
)
@click.option(
    "--seed", default=None, type=int, help="Seed of NIPR's producers, instead of the world's."
)
def demo(producers: int | None, seed: int | None) -> None:
    from npnflow.demo import run_demo

    world = world_for_command(seed, producers, say_new=False)
    sys.exit(run_demo(world))


UPLOAD_KINDS = ("agent", "appoint", "terminate", "portal_invite", "offboard", "jit_release")


@main.command(help="Write an empty upload template (CSV header, or XLSX with its accepted values).")
@click.argument("kind", type=click.Choice(UPLOAD_KINDS))
@click.option(
    "--format", "file_format", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Where to write it (default: <kind>_template.<format> here).",
)
def template(kind: str, file_format: str, output: str | None) -> None:
    from pathlib import Path

    from assets.uploads.templates import template_csv, template_xlsx

    if file_format == "xlsx":
        from assets.reference.loading import load_reference_data

        data = template_xlsx(kind, load_reference_data(paths.reference_dir()))
    else:
        data = template_csv(kind)
    target = Path(output or f"{kind}_template.{file_format}")
    target.write_bytes(data)
    click.echo(f"Wrote the {kind} template to {target}")


@main.command(
    help="Validate an upload offline, as the pipeline would (no database). Exit status 0: every "
    "row valid; 1: some rows rejected; 2: the whole file rejected."
)
@click.argument("kind", type=click.Choice(UPLOAD_KINDS))
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable report.")
def validate(kind: str, file: str, as_json: bool) -> None:
    import json
    from pathlib import Path

    from assets.reference.loading import load_company_config, load_reference_data
    from assets.uploads.cells import mask_ssns, masked_frame
    from assets.uploads.reading import UploadRejected, detect_kind, read_upload
    from assets.uploads.validation import validate_upload

    path = Path(file)
    reference = load_reference_data(paths.reference_dir())
    companies = load_company_config(paths.config_dir(), reference)["companies"]
    try:
        raw = read_upload(path.read_bytes(), path.name)
        validated = validate_upload(raw, detect_kind(raw.headers, kind), reference, companies)
    except UploadRejected as rejection:
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "file": path.name,
                        "kind": kind,
                        "status": "file rejected",
                        "message": mask_ssns(rejection.message),
                    },
                    indent=2,
                )
            )
        else:
            click.echo(f"{path.name}: file rejected: {mask_ssns(rejection.message)}")
        sys.exit(2)
    status = "rows rejected" if validated.rows_rejected else "valid"
    # What is printed may be pasted anywhere: every SSN-shaped value masked once more.
    row_errors = masked_frame(validated.row_errors)
    shown_warnings = masked_frame(validated.warnings)
    if as_json:
        errors = row_errors.astype(object).to_dict("records")
        warnings = shown_warnings.astype(object).where(shown_warnings.notna(), None)
        click.echo(
            json.dumps(
                {
                    "file": path.name,
                    "kind": validated.kind,
                    "status": status,
                    "rows_total": validated.rows_total,
                    "rows_blank": validated.rows_blank,
                    "rows_valid": validated.rows_valid,
                    "rows_rejected": validated.rows_rejected,
                    "errors": [{**e, "row_number": int(e["row_number"])} for e in errors],
                    "warnings": warnings.to_dict("records"),
                },
                indent=2,
                default=str,
            )
        )
    else:
        click.echo(
            f"{path.name} ({validated.kind}): {validated.rows_total} rows: "
            f"{validated.rows_valid} valid, {validated.rows_rejected} rejected, "
            f"{validated.rows_blank} blank"
        )
        for error in row_errors.itertuples():
            click.echo(f"row {error.row_number}, {error.column}: {error.message}")
        warnings = shown_warnings.astype(object)
        for warning in warnings.where(warnings.notna(), None).itertuples():
            row = f"row {int(warning.row_number)}, " if warning.row_number is not None else ""
            click.echo(f"warning: {row}{warning.column or 'file'}: {warning.message}")
    sys.exit(1 if validated.rows_rejected else 0)


# The longest name `npnflow drop` accepts: npnflow/drop_support.py says why.
from npnflow.drop_support import MAX_DROPPED_NAME_BYTES  # noqa: E402


@main.command(
    help="Copy a file into the local bucket's inbox (inbox/<kind>/), as a person drops one. "
    "A name inbox_file_sensor would ignore (starting with '.' or '~$', ending in .errors.csv or "
    f".errors.xlsx) or longer than {MAX_DROPPED_NAME_BYTES} bytes is refused. In production, put "
    "files in the S3 bucket's inbox/<kind>/ with any S3 tool."
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--kind",
    type=click.Choice(UPLOAD_KINDS),
    default=None,
    help="The folder to drop it in (default: recognised from the header).",
)
@click.option("--by", "by", default=None, help="Who drops it (recorded; config/approvers.yaml).")
def drop(file: str, kind: str | None, by: str | None) -> None:
    from pathlib import Path

    from npnflow.drop_support import record_dropper_or_exit, refusal_of_name
    from resources.object_store import LocalFolderObjectStore

    path = Path(file)
    refusal = refusal_of_name(path.name)
    if refusal:
        click.echo(refusal, err=True)
        sys.exit(1)
    data = path.read_bytes()
    if kind is None:
        from assets.uploads.reading import UploadRejected, detect_kind, read_upload

        try:
            kind = detect_kind(read_upload(data, path.name).headers)
        except UploadRejected as rejection:
            click.echo(f"Kind not recognised ({rejection.message}); dropped in inbox/ itself.")
    key = f"inbox/{kind}/{path.name}" if kind else f"inbox/{path.name}"
    if by is not None:
        record_dropper_or_exit(data, key, by)  # before the sensor can see the file
    store = LocalFolderObjectStore(root=str(paths.bucket_dir()))
    try:
        stored = store.put_bytes(key, data)
    except (OSError, ValueError) as error:
        click.echo(
            f"{path.name} was not dropped: the bucket folder refused it ({error}).", err=True
        )
        sys.exit(1)
    click.echo(f"Dropped {path.name} as {key} in {store.root} (ETag {stored.etag}).")
    click.echo(
        "inbox_file_sensor picks it up when it ticks: `npnflow ui` runs it every few seconds "
        "(in production every 30 s). `npnflow uploads show "
        f"{path.name}` says what became of it; the error report, if any, appears beside it as "
        f"{key}.errors.csv."
    )


@main.command("ssn-key", help="Print a new key for NPNFLOW_SSN_KEY (SSN encryption, Fernet).")
def ssn_key() -> None:
    from resources.ssn import generate_key

    click.echo(generate_key())


@main.group(help="Runs of the Dagster instance (DAGSTER_HOME).")
def runs() -> None:
    pass


@runs.command(
    "clean-dead",
    help="Mark failed the runs left Started, Starting or Canceling whose process is gone (a "
    "killed `npnflow ui` or demo, a reboot), so they no longer hold places in the run queue. "
    "Runs whose process is alive are left alone. `npnflow ui` and `npnflow demo` do this at "
    "start-up. Run it on the machine that runs the runs (the default run launcher).",
)
def runs_clean_dead() -> None:
    from dagster import DagsterInstance

    from npnflow.instance import ensure_dagster_home

    home = ensure_dagster_home()
    with DagsterInstance.get() as instance:
        cleaned = _clean_dead_runs(instance, "cleaned up by `npnflow runs clean-dead`")
    if not cleaned:
        click.echo(f"No run of the instance in {home} is left over from a process that is gone.")


def _clean_dead_runs(instance: DagsterInstance, cleaned_by: str) -> list[CleanedRun]:
    """Fail the runs whose process is gone, saying each one (npnflow/instance.py)."""
    from dagster import DefaultRunLauncher

    from npnflow.instance import clean_dead_runs

    if not isinstance(instance.run_launcher, DefaultRunLauncher):
        click.echo(
            f"This instance launches runs with {type(instance.run_launcher).__name__}, whose "
            "runs are not processes of this machine: run monitoring fails its dead runs."
        )
        return []
    cleaned = clean_dead_runs(instance, cleaned_by=cleaned_by)
    for run in cleaned:
        click.echo(
            f"Run {run.run_id} of {run.job_name} was left {run.status} by process {run.pid}, "
            "which is gone: marked failed."
        )
    return cleaned


# The sensors the README's walkthrough relies on, started by themselves on the UI's local
# instance (docs/decisions/0027): files dropped are processed, onboarded producers synced,
# approved batches sent; unfinished uploads are continued after a crash, batches waiting
# for a state's review are polled, and the compliance reports follow each daily sync. A sensor switched off in the UI stays off.
UI_SENSORS_RUNNING = (
    "inbox_file_sensor",
    "onboarded_producers_sensor",
    "approved_batch_sensor",
    "unfinished_uploads_sensor",
    "submitted_batches_poll_sensor",
    "compliance_reports_sensor",
)
# The UI's daemon evaluates each sensor this often (production: 30 s, 2 and 15 minutes): a file
# dropped locally starts its run in seconds (docs/operations.md, "The data folder").
UI_SENSOR_INTERVAL_SECONDS = 5


def ui_environment(environ: dict[str, str], sandbox_url: str | None) -> dict[str, str]:
    """The environment `dagster dev` runs with: the sandbox's address, the walkthrough's sensors
    running and quick sensor ticks, unless the caller set them."""
    child = dict(environ)
    if sandbox_url:
        child["NPNFLOW_NIPR_SANDBOX_URL"] = sandbox_url
    child.setdefault("NPNFLOW_SENSORS_RUNNING", ",".join(UI_SENSORS_RUNNING))
    child.setdefault("NPNFLOW_SENSOR_INTERVAL_SECONDS", str(UI_SENSOR_INTERVAL_SECONDS))
    return child


@main.command(
    help="Open the Dagster UI on this code location (dagster dev, persistent local instance), "
    "with the NIPR sandbox of the data folder's world and the walkthrough's sensors running."
)
@click.option("--port", default=3000, show_default=True, type=int)
@click.option("--no-sandbox", is_flag=True, help="Do not start the NIPR sandbox alongside the UI.")
@click.option(
    "--sandbox-port",
    default=SANDBOX_DEFAULT_PORT,
    show_default=True,
    type=int,
    help="Where the NIPR sandbox listens.",
)
def ui(port: int, no_sandbox: bool, sandbox_port: int) -> None:
    from npnflow.instance import ensure_dagster_home
    from pipelines.environments import current_environment
    from schemas.migrate import upgrade

    home = ensure_dagster_home()
    _clean_dead_runs_at_start_up()
    upgrade(paths.database_url())
    sandbox = None
    if (
        not no_sandbox
        and current_environment() == "local"
        and not os.environ.get("NPNFLOW_NIPR_SANDBOX_URL")
    ):
        from npnflow.sandbox.world_settings import sandbox_for

        world = world_for_command(None, None)
        sandbox = sandbox_for(world.settings, port=sandbox_port, answers_file=world.answers_file)
        try:
            sandbox.start()
        except OSError as error:
            click.echo(
                f"The NIPR sandbox cannot listen on 127.0.0.1:{sandbox_port} ({error}): is "
                "another `npnflow ui` or `npnflow sandbox-nipr` running? Stop it, or choose "
                "--sandbox-port.",
                err=True,
            )
            sys.exit(1)
        click.echo(
            f"NIPR sandbox on {sandbox.base_url}, the data folder's world: "
            f"{world.settings.describe()} (`npnflow sandbox-nipr npns` lists its producers)"
        )
    environment = ui_environment(dict(os.environ), sandbox.base_url if sandbox else None)
    click.echo(
        f"Sensors running unless switched off in the UI: {environment['NPNFLOW_SENSORS_RUNNING']}"
        f" (every {environment['NPNFLOW_SENSOR_INTERVAL_SECONDS']} s)"
    )
    click.echo(f"Dagster UI on http://127.0.0.1:{port} (DAGSTER_HOME={home}); Ctrl-C stops it.")
    command = [
        sys.executable,
        # `dagster dev` warns on every start that `dg dev` supersedes it; `dg dev` needs a dg
        # project layout this repository does not have, so that one warning is silenced.
        "-W",
        "ignore:Function `dev_command` is superseded",
        "-m",
        "dagster",
        "dev",
        "-w",
        str(paths.PROJECT_ROOT / "workspace.yaml"),
        "-p",
        str(port),
    ]
    # Own process group: `dagster dev` may ignore SIGTERM, so it is stopped with SIGINT.
    process = subprocess.Popen(
        command, cwd=paths.PROJECT_ROOT, env=environment, start_new_session=True
    )
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
