"""`npnflow export`: files written from the reports, ready to drop into the inbox.

`npnflow export terminate --cocode C [--states ..] [--loas ..]` replaces the seed's manual
"Bulk Terminate Appointments" routine (copying the report's Appointed lines into the terminate
template): one export, then one drop. The rules are in `assets/terminations/export.py`; this
module only reads the report, writes the file and says what to do next.

Exit status: 0 written; 1 the filters select nothing or are wrong (the message says which);
2 the report is not built in that database yet.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from resources import paths

if TYPE_CHECKING:
    import pandas as pd

    from assets.terminations.export import ReportAge

REPORT = "rpt_producer_licensing_with_carrier_appointments"
FORMATS = ("csv", "xlsx")


@click.group(help="Write files from the reports, ready to drop into the inbox.")
def export() -> None:
    pass


def _file_format(file_format: str | None, output: str | None) -> str:
    """--format, else the output's suffix, else CSV; a contradiction is a usage error."""
    suffix = Path(output).suffix.lower().lstrip(".") if output else ""
    if file_format and suffix in FORMATS and suffix != file_format:
        raise click.BadParameter(
            f"the output file ends in .{suffix} but --format is {file_format}; make them agree",
            param_hint="--format",
        )
    return file_format or (suffix if suffix in FORMATS else "csv")


def _read_report(url: str) -> tuple[pd.DataFrame, pd.DataFrame, ReportAge]:
    """From the operational database at `url` (ReportNotBuilt when the report is not there):
    the report, the lines NIPR Accepted since the last sync (not in the report yet), and how
    old the report is."""
    import sqlalchemy as sa

    from assets.reports.relations import ReportNotBuilt, read_report
    from assets.terminations.export import ReportAge
    from assets.terminations.store import accepted_appointment_lines, nipr_data_as_of
    from resources.database import create_database_engine

    parsed = sa.make_url(url)
    # Opening a missing SQLite file would create an empty one: say what is missing instead.
    database_file = parsed.database if parsed.get_backend_name() == "sqlite" else None
    if database_file not in (None, "", ":memory:") and not Path(str(database_file)).is_file():
        raise ReportNotBuilt(
            f"There is no database at {database_file}: run `npnflow db upgrade`, sync "
            "and build the reports, or pass --database-url."
        )
    # Dagster records the builds of the environment's own database only.
    built_at = _report_built_at() if url == paths.database_url() else None
    engine = create_database_engine(url)
    try:
        with engine.connect() as connection:
            report = read_report(connection, REPORT)
            accepted = accepted_appointment_lines(connection)
            age = ReportAge(built_at, nipr_data_as_of(connection, built_at))
            return report, accepted, age
    finally:
        engine.dispose()


def _report_built_at() -> dt.datetime | None:
    """When the report was last materialized, as the local Dagster instance recorded it (None:
    no instance here, or no build recorded). Never creates an instance just to ask."""
    home = paths.dagster_home()
    if not (home / "dagster.yaml").is_file():
        return None
    from dagster import AssetKey, DagsterInstance

    with DagsterInstance.from_config(str(home)) as instance:
        event = instance.get_latest_materialization_event(AssetKey(REPORT))
    return None if event is None else dt.datetime.fromtimestamp(event.timestamp, dt.UTC)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


@export.command(
    "terminate",
    help="Write the terminate template filled with a company's Appointed lines from the "
    "report rpt_producer_licensing_with_carrier_appointments, ready to drop into "
    "inbox/terminate/. Exit status 0: written; 1: the filters are wrong or select nothing; "
    "2: the report is not built yet.",
)
@click.option("--cocode", required=True, help="The company's 5-digit NAIC CoCode.")
@click.option(
    "--states",
    multiple=True,
    metavar="CODES",
    help="Only these states, separated by ',' or ';' (repeatable). Default: all.",
)
@click.option(
    "--loas",
    multiple=True,
    metavar="LINES",
    help="Only these lines of authority: NIPR loa codes or names, separated by ',' or "
    "';' (repeatable). Default: all.",
)
@click.option(
    "--reason",
    default=None,
    help="Termination reason code for every row (default: blank, each state's "
    "default; see the termination_reason_key sheet).",
)
@click.option(
    "--effective-date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="YYYY-MM-DD for every row (default: blank: the state's own processing date).",
)
@click.option(
    "--submit-immediately/--review",
    default=False,
    show_default=True,
    help="Submit Immediately TRUE approves and submits the batch at once; --review "
    "leaves it Pending Review.",
)
@click.option(
    "--format",
    "file_format",
    type=click.Choice(FORMATS),
    default=None,
    help="csv or xlsx (default: from the output's suffix, else csv).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Where to write it (default: terminate_<cocode>_<YYYYMMDD>.<format> here).",
)
@click.option(
    "--database-url",
    default=None,
    help="Database URL (default: NPNFLOW_DATABASE_URL or the local SQLite file).",
)
def export_terminate(
    cocode: str,
    states: tuple[str, ...],
    loas: tuple[str, ...],
    reason: str | None,
    effective_date: dt.datetime | None,
    submit_immediately: bool,
    file_format: str | None,
    output: str | None,
    database_url: str | None,
) -> None:
    import sqlalchemy as sa

    from assets.reference.loading import load_reference_data
    from assets.reports.relations import ReportNotBuilt
    from assets.terminations.export import (
        TERMINATE_HEADERS,
        TerminateExportError,
        terminate_csv,
        terminate_rows_from_report,
        terminate_xlsx,
    )
    from assets.terminations.export_accepted import with_accepted_lines
    from assets.uploads.inbox import INBOX_PREFIX

    file_format = _file_format(file_format, output)
    url = database_url or paths.database_url()
    reference = load_reference_data(paths.reference_dir())
    try:
        report, accepted, age = _read_report(url)
    except ReportNotBuilt as missing:
        click.echo(str(missing), err=True)
        sys.exit(2)
    except sa.exc.OperationalError as error:
        shown = sa.make_url(url).render_as_string(hide_password=True)
        click.echo(f"Could not read the database {shown}: {error.orig}", err=True)
        sys.exit(1)

    # Lines NIPR Accepted since the last sync are Appointed at NIPR, not yet in the report.
    report = with_accepted_lines(report, accepted, reference["lines_of_authority"])
    try:
        rows = terminate_rows_from_report(
            report,
            cocode,
            # An option not given is no filter; given (even empty) it must name something.
            states=states or None,
            loas=loas or None,
            termination_reason_code=reason,
            effective_date=effective_date.date() if effective_date else None,
            submit_immediately=submit_immediately,
            reason_codes=reference["termination_reasons"]["reason_code"].astype(str),
        )
    except TerminateExportError as error:
        click.echo(error.message, err=True)
        sys.exit(1)

    cocode = rows[TERMINATE_HEADERS["cocode"]].iloc[0]
    data = (
        terminate_xlsx(rows, reference, age) if file_format == "xlsx" else terminate_csv(rows, age)
    )
    target = Path(output or f"terminate_{cocode}_{dt.date.today():%Y%m%d}.{file_format}")
    try:
        target.write_bytes(data)
    except OSError as error:
        click.echo(f"Could not write {target}: {error.strerror or error}", err=True)
        sys.exit(1)

    producers = rows[TERMINATE_HEADERS["npn"]].nunique()
    state_codes = sorted(rows[TERMINATE_HEADERS["state_codes"]].unique())
    click.echo(
        f"Wrote {target}: {_plural(len(rows), 'termination row')} for CoCode {cocode}, "
        f"{_plural(producers, 'producer')} in {_plural(len(state_codes), 'state')} "
        f"({', '.join(state_codes)}); the CoCode has "
        f"{_plural(rows.attrs['appointed_lines_of_cocode'], 'Appointed line')} in the report."
    )
    accepted_keys = report.attrs.get("accepted_lines", set())
    added = sum(
        (r.npn, r.state, r.line, r.cocode) in accepted_keys
        for r in rows[
            [TERMINATE_HEADERS[f] for f in ("npn", "state_codes", "line_of_authority", "cocode")]
        ]
        .set_axis(["npn", "state", "line", "cocode"], axis=1)
        .itertuples(index=False)
    )
    if added:
        click.echo(
            f"Includes {_plural(added, 'line')} NIPR accepted since the last sync, not in the "
            "report yet."
        )
    click.echo(
        age.describe(dt.datetime.now(dt.UTC))
        + " The file says so too (informational columns after the template's, ignored when "
        "it is dropped); rebuild the reports (npnflow reports build) for newer data."
    )
    incomplete = rows.attrs["incomplete_lines"]
    if incomplete:
        click.echo(
            f"warning: {_plural(incomplete, 'Appointed line')} selected by the filters "
            f"{'lacks' if incomplete == 1 else 'lack'} an NPN, a state or a line of authority "
            "in the report and could not be written.",
            err=True,
        )
    reason_text = (
        rows[TERMINATE_HEADERS["termination_reason_code"]].iloc[0] or "blank (each state's default)"
    )
    date_text = (
        rows[TERMINATE_HEADERS["effective_date"]].iloc[0]
        or "blank (the state's own processing date)"
    )
    review = (
        "TRUE: the batch is approved and submitted at once"
        if submit_immediately
        else "FALSE: the batch waits for review (npnflow batches list)"
    )
    click.echo(f"Reason: {reason_text}. Effective date: {date_text}. Submit Immediately: {review}.")
    click.echo(
        f"Next: check the file, then drop it into the inbox: npnflow drop {target} --kind "
        f"terminate (it lands in {paths.bucket_dir() / INBOX_PREFIX / 'terminate'}/). In "
        "production, put it in the S3 bucket's inbox/terminate/ instead."
    )
