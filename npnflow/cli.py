"""The `npnflow` command: set-up, the NIPR sandbox, the demo and the UI. The command groups
(`batches`, `export`, `reports`, `portal`) live in their own `*_cli.py` modules, registered here.

Every command works on the embedded default with no set-up; production differs only by
environment variables (see the README).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import click

from npnflow.batches_cli import batches
from npnflow.export_cli import export
from npnflow.portal_cli import portal
from npnflow.reports_cli import reports
from resources import paths


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


UPLOAD_KINDS = ("agent", "appoint", "terminate", "portal_invite")


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


@main.command(
    help="Copy a file into the local bucket's inbox (inbox/<kind>/), as a person drops one. "
    "In production, put files in the S3 bucket's inbox/<kind>/ with any S3 tool."
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--kind",
    type=click.Choice(UPLOAD_KINDS),
    default=None,
    help="The folder to drop it in (default: recognised from the header).",
)
def drop(file: str, kind: str | None) -> None:
    from pathlib import Path

    from resources.object_store import LocalFolderObjectStore

    path = Path(file)
    data = path.read_bytes()
    if kind is None:
        from assets.uploads.reading import UploadRejected, detect_kind, read_upload

        try:
            kind = detect_kind(read_upload(data, path.name).headers)
        except UploadRejected as rejection:
            click.echo(f"Kind not recognised ({rejection.message}); dropped in inbox/ itself.")
    key = f"inbox/{kind}/{path.name}" if kind else f"inbox/{path.name}"
    store = LocalFolderObjectStore(root=str(paths.bucket_dir()))
    stored = store.put_bytes(key, data)
    click.echo(f"Dropped {path.name} as {key} in {store.root} (ETag {stored.etag}).")
    click.echo(
        "inbox_file_sensor picks it up within 30 s when it is on (npnflow ui, Automation); "
        f"the error report, if any, appears beside it as {key}.errors.csv."
    )


@main.command("ssn-key", help="Print a new key for NPNFLOW_SSN_KEY (SSN encryption, Fernet).")
def ssn_key() -> None:
    from resources.ssn import generate_key

    click.echo(generate_key())


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


main.add_command(batches)
main.add_command(export)
main.add_command(reports)
main.add_command(portal)

if __name__ == "__main__":
    main()
