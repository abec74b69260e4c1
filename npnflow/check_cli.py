"""`npnflow check appoint|terminate FILE`: a dry run of a file against the current database.

The file is read, validated, evaluated and planned into batches by the pipeline's own
functions (`assets/batches/dry_run.py`), in one database transaction that is rolled back:
nothing is written (no upload, no request rows, no transaction, no batch, nothing in the
bucket, no Dagster run). Printed: the rows read, valid and rejected (with the row errors as
`npnflow validate` prints them), the lines per reason and status, per CoCode the batches the
drop would create, the fees to send and the fees avoided (docs/uploads.md, "Dry run").

- `--preview FILE.xlsx|FILE.csv`: every line with its reason, status and fees;
- `--config DIR`: evaluate with another company setup folder (companies.yaml,
  gateway_business_rules.csv) instead of the database's; `--compare` (with it) prints the
  lines whose reason, status or fee change between today's setup and that one.

Exit code: 0 evaluated, every row valid; 1 evaluated, some rows rejected (the valid rows were
evaluated, as a drop would); 2 the file is rejected whole, or it cannot be evaluated (no
database, a database not migrated or without reference data, a --config folder refused, a
preview that cannot be written). Registered on `npnflow` by `npnflow/cli.py`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from resources import paths

if TYPE_CHECKING:
    import pandas as pd

    from assets.batches.dry_run import CheckedFile, Evaluation

EXIT_EVALUATED, EXIT_ROWS_REJECTED, EXIT_CANNOT_EVALUATE = 0, 1, 2
PREVIEW_SUFFIXES = (".xlsx", ".csv")


@click.group(
    help="Dry run of an appoint or terminate file: nothing written. It is validated and "
    "evaluated against the current database; its reasons, batches and fees are printed."
)
def check() -> None:
    pass


def _options(command: Callable[..., None]) -> Callable[..., None]:
    """The argument and options `appoint` and `terminate` share."""
    for option in reversed(
        [
            click.argument("file", type=click.Path(exists=True, dir_okay=False)),
            click.option(
                "--preview",
                type=click.Path(dir_okay=False, writable=True),
                default=None,
                help="Write every line with its reason, status and fees to this .xlsx or .csv.",
            ),
            click.option(
                "--config",
                "config_dir",
                type=click.Path(file_okay=False),
                default=None,
                help="Evaluate with this company setup folder (companies.yaml, "
                "gateway_business_rules.csv) instead of the database's.",
            ),
            click.option(
                "--compare",
                is_flag=True,
                help="With --config: print the lines whose reason, status or fee change "
                "between today's company setup and --config's.",
            ),
        ]
    ):
        command = option(command)
    return command


def _refuse(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(EXIT_CANNOT_EVALUATE)


def _money(amount: float) -> str:
    return f"${amount:,.2f}"


def _table(frame: pd.DataFrame, headers: dict[str, str]) -> None:
    # No types-tabulate installed; mypy flags only the first importer (so: unused-ignore too).
    from tabulate import tabulate  # type: ignore[import-untyped, unused-ignore]

    from assets.batches.dry_run_summary import cell_text

    rows = [[cell_text(frame.iloc[i][c]) for c in headers] for i in range(len(frame))]
    text = tabulate(rows, headers=list(headers.values()), tablefmt="simple", disable_numparse=True)
    click.echo("\n".join("  " + line for line in text.splitlines()))


def _print_validation(name: str, checked: CheckedFile) -> None:
    from assets.uploads.cells import masked_frame

    v = checked.validated
    click.echo(
        f"{name} ({v.kind}): {v.rows_total} rows read: {v.rows_valid} valid, "
        f"{v.rows_rejected} rejected, {v.rows_blank} blank"
    )
    for error in masked_frame(v.row_errors).itertuples():
        click.echo(f"row {error.row_number}, {error.column}: {error.message}")
    warnings = masked_frame(v.warnings).astype(object)
    for warning in warnings.where(warnings.notna(), None).itertuples():
        row = f"row {int(warning.row_number)}, " if warning.row_number is not None else ""
        click.echo(f"warning: {row}{warning.column or 'file'}: {warning.message}")


def _print_evaluation(evaluation: Evaluation, line_frame: pd.DataFrame, label: str) -> None:
    from assets.batches import dry_run_summary as summary

    click.echo(
        f"\nEvaluated as of {evaluation.as_of.isoformat()} ({label}): {len(line_frame)} line(s)"
    )
    if line_frame.empty:
        click.echo("  No line to evaluate.")
        return
    click.echo("\nLines per reason and status:")
    _table(
        summary.by_reason_and_status(line_frame),
        {"eligibility_reason": "Reason", "status": "Status", "lines": "Lines"},
    )
    click.echo("\nLines per status:")
    for status, count in summary.status_counts(line_frame).items():
        click.echo(f"  {status}: {count}")
    batches = summary.batches(evaluation)
    click.echo(f"\nBatches a drop would create ({len(batches)}):")
    if batches.empty:
        click.echo("  none")
    else:
        shown = batches.assign(
            state_fees=batches["state_fees"].map(_money),
            nipr_fees=batches["nipr_fees"].map(_money),
        )
        _table(
            shown,
            {
                "cocode": "CoCode",
                "mode": "Mode",
                "batch_status": "Batch status",
                "lines": "Lines",
                "ready": "Ready",
                "held": "Held (JIT)",
                "not_eligible": "Not Eligible",
                "state_fees": "State fees",
                "nipr_fees": "NIPR fees",
            },
        )
    fees = summary.fees(evaluation, line_frame)
    click.echo("\nFees:")
    click.echo(
        f"  to send: {_money(float(fees['state_fees_to_send']))} state, "
        f"{_money(float(fees['nipr_fees_to_send']))} NIPR"
    )
    if fees["lines_held"]:
        click.echo(
            f"  held (JIT, paid only when released): {fees['lines_held']} line(s), "
            f"{_money(float(fees['state_fees_held']))} state"
        )
    click.echo(
        f"  avoided: {_money(float(fees['nipr_fees_avoided']))} NIPR "
        f"({fees['lines_avoided']} Not Eligible or repeated line(s) at "
        f"{_money(float(fees['nipr_fee_per_line']))}; state fees of those lines not counted)"
    )


def _print_comparison(changes: pd.DataFrame, config_dir: str) -> None:
    click.echo(f"\nLines that change with --config {config_dir}: {len(changes)}")
    if changes.empty:
        click.echo("  none: every line has the same reason, status and fees.")
        return
    shown = changes.copy()
    for column in ("estimated_fee", "estimated_nipr_fee"):
        for side in ("today", "other"):
            name = f"{column}_{side}"
            shown[name] = shown[name].map(lambda v: "" if v != v or v is None else _money(v))
    _table(
        shown,
        {
            "request_row": "Row",
            "npn": "NPN",
            "state_code": "State",
            "cocode": "CoCode",
            "loa_code": "LOA",
            "status_today": "Status today",
            "status_other": "Status with --config",
            "eligibility_reason_today": "Reason today",
            "eligibility_reason_other": "Reason with --config",
            "estimated_fee_today": "State fee today",
            "estimated_fee_other": "State fee with --config",
        },
    )


def _run(kind: str, file: str, preview: str | None, config_dir: str | None, compare: bool) -> None:
    import datetime as dt

    from assets.batches import dry_run_summary as summary
    from assets.batches.dry_run import (
        DryRunRefused,
        check_file,
        evaluate_requests,
        read_company_setup,
    )
    from assets.batches.upload_step import RequestKind
    from assets.rules.business_day import nipr_business_date
    from assets.uploads.reading import UploadRejected
    from resources.database import DatabaseNotMigrated, OperationalDatabase

    if compare and not config_dir:
        _refuse("--compare needs --config DIR: the company setup to compare today's with.")
    if preview and Path(preview).suffix.lower() not in PREVIEW_SUFFIXES:
        _refuse(f"--preview {preview}: name a .xlsx or .csv file.")
    rk: RequestKind
    if kind == "appoint":
        from assets.appointments.assets import APPOINT_REQUESTS as rk
    else:
        from assets.terminations.assets import TERMINATE_REQUESTS as rk

    url = paths.database_url()
    if url.startswith("sqlite"):
        import sqlalchemy as sa

        database_file = sa.make_url(url).database
        if not database_file or not Path(database_file).exists():
            _refuse(
                f"No database at {database_file}: a dry run evaluates against the current data. "
                "Run `npnflow db upgrade` and load the data (`npnflow demo`), or set "
                "NPNFLOW_DATABASE_URL."
            )
    path = Path(file)
    database = OperationalDatabase(url=url)
    try:
        database.ensure_migrated()
        with database.engine.connect() as connection:
            # One transaction, rolled back whatever happens: the reads' temporary tables go
            # with it, and nothing of the dry run can ever be committed.
            transaction = connection.begin()
            try:
                setup = read_company_setup(connection, Path(config_dir)) if config_dir else None
                try:
                    checked = check_file(connection, path.read_bytes(), path.name, kind, setup)
                except UploadRejected as rejection:
                    click.echo(f"{path.name}: file rejected: {rejection.message}")
                    sys.exit(EXIT_CANNOT_EVALUATE)
                now = dt.datetime.now(dt.UTC)
                as_of = nipr_business_date(now)
                evaluation = evaluate_requests(connection, rk, checked.requests, now, as_of, setup)
                today = (
                    evaluate_requests(connection, rk, checked.requests, now, as_of)
                    if compare
                    else None
                )
            finally:
                transaction.rollback()
    except (DatabaseNotMigrated, DryRunRefused) as refusal:
        _refuse(str(refusal))
    finally:
        database.engine.dispose()

    _print_validation(path.name, checked)
    line_frame = summary.lines(evaluation)
    label = f"company setup of {config_dir}" if config_dir else "today's data and company setup"
    _print_evaluation(evaluation, line_frame, label)
    if today is not None and config_dir:
        _print_comparison(summary.compare(summary.lines(today), line_frame), config_dir)
    if preview:
        target = Path(preview)
        data = (
            summary.preview_xlsx(line_frame)
            if target.suffix.lower() == ".xlsx"
            else summary.preview_csv(line_frame)
        )
        try:
            target.write_bytes(data)
        except OSError as error:
            _refuse(f"--preview {target}: cannot write it ({error.strerror}).")
        click.echo(f"\nPreview of {len(line_frame)} line(s) written to {target}")
    click.echo("\nNothing was written to the database or the bucket (a dry run).")
    sys.exit(EXIT_ROWS_REJECTED if checked.validated.rows_rejected else EXIT_EVALUATED)


@check.command(
    "appoint",
    help="Dry run of an appoint file: validated and evaluated against the current database, "
    "nothing written. Exit 0 evaluated, 1 some rows rejected, 2 file rejected or cannot "
    "evaluate.",
)
@_options
def check_appoint(file: str, preview: str | None, config_dir: str | None, compare: bool) -> None:
    _run("appoint", file, preview, config_dir, compare)


@check.command(
    "terminate",
    help="Dry run of a terminate file: validated and evaluated against the current database, "
    "nothing written. Exit 0 evaluated, 1 some rows rejected, 2 file rejected or cannot "
    "evaluate.",
)
@_options
def check_terminate(file: str, preview: str | None, config_dir: str | None, compare: bool) -> None:
    _run("terminate", file, preview, config_dir, compare)
