"""The `npnflow` command: set-up, the NIPR sandbox, the demo and the UI.

Every command works on the embedded default with no set-up; production differs only by
environment variables (see the README).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys

import click

from npnflow.export_cli import export
from npnflow.portal_cli import portal
from npnflow.reports_cli import reports
from resources import paths

# Plain string constants (no I/O, no Dagster): the batch commands' choices come from them.
from schemas import statuses


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
@click.option("--format", "file_format", type=click.Choice(["csv", "xlsx"]), default="csv",
              show_default=True)  # fmt: skip
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Where to write it (default: <kind>_template.<format> here).")  # fmt: skip
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
            click.echo(json.dumps({"file": path.name, "kind": kind, "status": "file rejected",
                                   "message": rejection.message}, indent=2))  # fmt: skip
        else:
            click.echo(f"{path.name}: file rejected: {rejection.message}")
        sys.exit(2)
    status = "rows rejected" if validated.rows_rejected else "valid"
    if as_json:
        errors = validated.row_errors.astype(object).to_dict("records")
        warnings = validated.warnings.astype(object).where(validated.warnings.notna(), None)
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
        for error in validated.row_errors.itertuples():
            click.echo(f"row {error.row_number}, {error.column}: {error.message}")
        warnings = validated.warnings.astype(object)
        for warning in warnings.where(warnings.notna(), None).itertuples():
            row = f"row {int(warning.row_number)}, " if warning.row_number is not None else ""
            click.echo(f"warning: {row}{warning.column or 'file'}: {warning.message}")
    sys.exit(1 if validated.rows_rejected else 0)


@main.command(
    help="Copy a file into the local bucket's inbox (inbox/<kind>/), as a person drops one. "
    "In production, put files in the S3 bucket's inbox/<kind>/ with any S3 tool."
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--kind", type=click.Choice(UPLOAD_KINDS), default=None,
              help="The folder to drop it in (default: recognised from the header).")  # fmt: skip
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


# --------------------------------------------------------------------------------------------
# npnflow batches: review and approval (SPEC section 8)
# --------------------------------------------------------------------------------------------


@main.group(help="Review transaction batches and approve, reject or retry them.")
def batches() -> None:
    pass


def _in_one_transaction(work):
    """Run `work(connection)` in one database transaction; a refusal rolls it back and exits 1.

    The database must be at the code's migration: a batch command on an older schema could
    write half a change, so it stops first and names `npnflow db upgrade`.
    """
    from assets.appointments.approval import BatchActionRefused, BatchNotFound
    from resources.database import DatabaseNotMigrated, OperationalDatabase

    database = OperationalDatabase(url=paths.database_url())
    try:
        database.ensure_migrated()
        with database.begin() as connection:
            return work(connection)
    except DatabaseNotMigrated as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    except (BatchNotFound, BatchActionRefused) as refusal:
        click.echo(str(refusal), err=True)
        sys.exit(1)
    finally:
        database.engine.dispose()


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else plural or word + 's'}"


def _cell(value: object) -> object:
    """Table cells: blanks for missing values, yes/no for flags."""
    import pandas as pd

    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return int(value)  # request rows come back as floats when some are missing
    return value


def _fee_cell(value: object) -> str:
    from assets.appointments.approval import format_money

    return "" if _cell(value) == "" else format_money(value)  # blank: no fee estimated


def _echo_table(rows: list[list[object]], headers: list[str]) -> None:
    from tabulate import tabulate

    click.echo(
        tabulate(
            [[_cell(v) for v in row] for row in rows],
            headers=headers,
            tablefmt="simple",
            disable_numparse=True,
        )
    )


def _sensor_hint(batch_id: str) -> str:
    from assets.keys import APPROVED_BATCH_SENSOR_NAME, TAG_BATCH_ID

    return (
        f"The {APPROVED_BATCH_SENSOR_NAME} will submit it; follow it in the Dagster UI "
        f"(Runs, tag {TAG_BATCH_ID}={batch_id})."
    )


@batches.command("list", help="The batches, newest first, with their counts and fees.")
@click.option(
    "--status",
    type=click.Choice(statuses.BATCH_STATUSES, case_sensitive=False),
    default=None,
    help="Only batches with this status.",
)
@click.option("--kind", type=click.Choice(statuses.TRANSACTION_KINDS), default=None)
@click.option("--upload", "upload_id", default=None, help="Only the batches of this upload id.")
def batches_list(status: str | None, kind: str | None, upload_id: str | None) -> None:
    from assets.appointments.approval import format_money, format_timestamp, list_batches

    frame = _in_one_transaction(
        lambda connection: list_batches(connection, status=status, kind=kind, upload_id=upload_id)
    )
    if frame.empty:
        filters = [
            f"{name} {value}"
            for name, value in (("status", status), ("kind", kind), ("upload", upload_id))
            if value
        ]
        click.echo("No batches" + (f" with {', '.join(filters)}." if filters else " yet."))
        return
    rows = [
        [
            b.batch_id,
            b.kind,
            f"{b.company_name or '?'} ({b.cocode})",
            b.upload_object_key or b.upload_id,
            b.status,
            b.approval_version,
            b.transactions,
            b.ready_to_submit,
            b.held_jit,
            b.not_eligible,
            b.submitted,
            b.final,
            format_money(b.fees_to_send),
            format_money(b.fees_held),
            f"{b.approved_by} {format_timestamp(b.approved_at)}" if b.approved_by else "",
            format_timestamp(b.created_at),
        ]
        for b in frame.itertuples(index=False)
    ]
    _echo_table(
        rows,
        [
            "batch",
            "kind",
            "company",
            "upload",
            "status",
            "version",
            "total",
            "ready",
            "held",
            "not eligible",
            "submitted",
            "final",
            "to send",
            "held fees",
            "approved",
            "created",
        ],
    )
    click.echo(
        f"{_plural(len(frame), 'batch', 'batches')}. `npnflow batches show ID` lists a batch's "
        "transactions before you approve it."
    )


@batches.command("show", help="A batch's transactions, reasons and fees, before approval.")
@click.argument("batch_id")
@click.option("--all", "show_all", is_flag=True, help="Every transaction, however many.")
@click.option(
    "--limit",
    default=50,
    show_default=True,
    type=click.IntRange(min=1),
    help="How many transactions to print.",
)
def batches_show(batch_id: str, show_all: bool, limit: int) -> None:
    from assets.appointments.approval import batch_detail, format_money, format_timestamp

    detail = _in_one_transaction(lambda connection: batch_detail(connection, batch_id))
    b = detail.batch
    upload = b["upload_object_key"] or b["upload_id"] or "no upload"
    click.echo(
        f"Batch {b['batch_id']} ({b['kind']}): {b['company_name'] or 'unknown company'} "
        f"({b['cocode']}), from {upload} (upload {b['upload_id'] or '-'})"
    )
    click.echo(
        f"Status: {b['status']}, approval version {b['approval_version']}, submit immediately "
        f"{'yes' if b['submit_immediately'] else 'no'}, created {format_timestamp(b['created_at'])}"
    )
    if b["approved_by"]:
        click.echo(f"Approved by {b['approved_by']} at {format_timestamp(b['approved_at'])}")
    if b["rejected_by"]:
        click.echo(f"Rejected by {b['rejected_by']} at {format_timestamp(b['rejected_at'])}")

    click.echo("\nTransactions by status and reason:")
    _echo_table(
        [
            [
                c.status,
                c.eligibility_reason,
                c.transactions,
                _fee_cell(c.estimated_fees),
            ]
            for c in detail.counts.itertuples(index=False)
        ],
        ["status", "reason", "transactions", "estimated fees"],
    )

    transactions = detail.transactions
    shown = transactions if show_all else transactions.head(limit)
    heading = f"\nTransactions ({len(transactions)})"
    if len(shown) < len(transactions):
        heading += f", the first {len(shown)}; --all prints every one"
    click.echo(heading + ":")
    # A termination has no category, license or JIT hold; it has a reason code and a date.
    termination = b["kind"] == "termination"
    rows = []
    for t in shown.itertuples(index=False):
        line = (
            [t.loa_code, t.termination_reason_code, t.effective_date]
            if termination
            else [t.loa_category, t.loa_code, t.license_number, t.is_jit]
        )
        nipr = ": ".join(str(v) for v in (t.nipr_status, t.nipr_message) if _cell(v) != "")
        rows.append(
            [t.request_row, t.transaction_id, t.npn, t.state_code, *line, t.status,
             t.eligibility_reason, _fee_cell(t.estimated_fee), nipr]
        )  # fmt: skip
    line_headers = (
        ["loa", "reason code", "effective"]
        if termination
        else ["category", "loa", "license", "jit"]
    )
    _echo_table(
        rows,
        ["row", "transaction", "npn", "state", *line_headers, "status", "reason", "fee", "nipr"],
    )

    rejections = detail.request_rejections
    if len(rejections):
        shown_rejections = rejections if show_all else rejections.head(limit)
        click.echo(
            f"\nRequest rows of this upload for CoCode {b['cocode']} that created no "
            f"transaction ({len(rejections)}"
            + (
                f", the first {len(shown_rejections)}"
                if len(shown_rejections) < len(rejections)
                else ""
            )
            + "):"
        )
        _echo_table(
            [
                [r.request_row, r.npn, r.state_code, r.loa_category, r.eligibility_reason, r.status]
                for r in shown_rejections.itertuples(index=False)
            ],
            ["row", "npn", "state", "category", "reason", "status"],
        )

    ready, held = detail.count(statuses.READY_TO_SUBMIT), detail.count(statuses.HELD_JIT)
    # Before approval this is the bill to approve; afterwards, what the run has yet to send.
    to_send = (
        "To send on approval"
        if b["status"] == statuses.BATCH_PENDING_REVIEW
        else "Ready to Submit, not sent yet"
    )
    click.echo(
        f"\n{to_send}: {format_money(detail.fees_to_send)} "
        f"({_plural(ready, 'transaction')} Ready to Submit). "
        f"Held (JIT): {format_money(detail.fees_held)} ({_plural(held, 'transaction')}), "
        "not sent by approval."
    )
    if b["status"] == statuses.BATCH_PENDING_REVIEW:
        click.echo(
            f"Approve: npnflow batches approve {b['batch_id']} --by NAME   "
            f"Reject: npnflow batches reject {b['batch_id']} --by NAME"
        )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@batches.command("approve", help="Approve a Pending Review batch; the sensor then submits it.")
@click.argument("batch_id")
@click.option("--by", "by", required=True, help="Who approves (recorded).")
def batches_approve(batch_id: str, by: str) -> None:
    from assets.appointments.approval import approve_batch, format_money, format_timestamp

    result = _in_one_transaction(
        lambda connection: approve_batch(connection, batch_id, approved_by=by, now=_now())
    )
    held = (
        f" {_plural(result.transactions_held, 'transaction')} Held (JIT) "
        f"({format_money(result.fees_held)}) "
        f"{'stays' if result.transactions_held == 1 else 'stay'} held, not sent."
        if result.transactions_held
        else ""
    )
    click.echo(
        f"Approved {result.batch_id} (version {result.approval_version}) by {result.by} at "
        f"{format_timestamp(result.at)}: {_plural(result.transactions_to_send, 'transaction')}, "
        f"{format_money(result.fees_to_send)} to send.{held} {_sensor_hint(result.batch_id)}"
    )


@batches.command("reject", help="Reject a Pending Review batch and cancel its open transactions.")
@click.argument("batch_id")
@click.option("--by", "by", required=True, help="Who rejects (recorded).")
def batches_reject(batch_id: str, by: str) -> None:
    from assets.appointments.approval import format_money, format_timestamp, reject_batch

    result = _in_one_transaction(
        lambda connection: reject_batch(connection, batch_id, rejected_by=by, now=_now())
    )
    click.echo(
        f"Rejected {result.batch_id} by {result.rejected_by} at "
        f"{format_timestamp(result.rejected_at)}: "
        f"{_plural(result.transactions_cancelled, 'open transaction')} cancelled "
        f"({format_money(result.fees_not_sent)} not sent); "
        f"{result.transactions_not_eligible} Not Eligible kept for audit. Nothing of this batch "
        "will be submitted; the cancelled lines can be requested again with a new upload."
    )


@batches.command(
    "retry",
    help="Start a new submission run of an approved batch whose run failed (e.g. NIPR was down).",
)
@click.argument("batch_id")
@click.option("--by", "by", required=True, help="Who asks for the retry.")
def batches_retry(batch_id: str, by: str) -> None:
    from assets.appointments.approval import format_money, format_timestamp, retry_batch

    result = _in_one_transaction(
        lambda connection: retry_batch(connection, batch_id, requested_by=by, now=_now())
    )
    click.echo(
        f"Retry of {result.batch_id} (version {result.approval_version}) requested by "
        f"{result.by} at {format_timestamp(result.at)}: "
        f"{_plural(result.transactions_to_send, 'transaction')} Ready to Submit "
        f"({format_money(result.fees_to_send)}) and {result.transactions_in_flight} awaiting "
        "NIPR's answer. The new run first asks NIPR what it already has, so nothing is sent "
        f"twice; the approval stays {result.approved_by}'s of "
        f"{format_timestamp(result.approved_at)}. {_sensor_hint(result.batch_id)}"
    )


main.add_command(export)
main.add_command(reports)
main.add_command(portal)

if __name__ == "__main__":
    main()
