"""`npnflow offboard NPN... --by NAME`: offboard producers in one step (docs/operations.md).

For each producer, in one database transaction (`assets/offboarding/service.py`): every
Appointed line with the customer's companies (or `--cocode`) becomes a termination request
through the termination engine, one batch per CoCode, Pending Review unless
`--submit-immediately`; its lines never sent are Cancelled; its portal seats Revoked; it is
marked offboarded. Prints per producer what was terminated, cancelled and revoked, and the
batches to approve. Exits 1 when a producer could not be offboarded (it was rolled back whole),
or when the request is refused before anything changes (a CoCode not of the customer's).

Registered on `npnflow` by `npnflow/cli.py`; product imports happen inside the command, so
`npnflow --help` stays instant.
"""

from __future__ import annotations

import datetime as dt
import sys

import click

from npnflow.arguments import NPNS, flat_npns
from resources import paths

DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y")


def _effective_date(value: str | None) -> dt.date | None:
    if value is None or not value.strip():
        return None
    for layout in DATE_FORMATS:
        try:
            return dt.datetime.strptime(value.strip(), layout).date()
        except ValueError:
            continue
    raise click.BadParameter(
        f"{value!r} is not a date: write YYYY-MM-DD or MM/DD/YYYY.", param_hint="--effective-date"
    )


@click.command(
    "offboard",
    help=(
        "Offboard producers: terminate every appointment with your companies (one batch per "
        "CoCode, for review), cancel lines never sent, revoke portal seats, stop NIPR tracking."
    ),
)
@click.argument("npns", nargs=-1, required=True, type=NPNS)
@click.option("--by", "by", required=True, help="Who offboards (recorded).")
@click.option(
    "--reason",
    default=None,
    help="Termination reason code for every termination (default: each state's default).",
)
@click.option(
    "--effective-date",
    default=None,
    help="Effective date of the terminations, YYYY-MM-DD (default: the state's processing date).",
)
@click.option(
    "--cocode",
    "cocodes",
    multiple=True,
    help="Only this company's appointments (repeat for several; default: every company).",
)
@click.option(
    "--submit-immediately",
    is_flag=True,
    default=False,
    help="Approve the termination batches now (approved by --by); the sensor submits them.",
)
def offboard(
    npns: tuple[tuple[str, ...], ...],
    by: str,
    reason: str | None,
    effective_date: str | None,
    cocodes: tuple[str, ...],
    submit_immediately: bool,
) -> None:
    from assets.offboarding.rules import (
        OFFBOARDED,
        OffboardingRefused,
        OffboardRequest,
        describe,
        parse_cocodes,
    )
    from assets.offboarding.service import offboard_producers
    from resources.database import DatabaseNotMigrated, OperationalDatabase

    effective = _effective_date(effective_date)
    wanted = flat_npns(npns)  # read as NIPR writes them (npnflow/arguments.py)
    requests = [
        OffboardRequest(
            npn=npn,
            reason_code=(reason or "").strip() or None,
            effective_date=effective,
            cocodes=parse_cocodes(cocodes),
        )
        for npn in wanted
        if npn
    ]
    database = OperationalDatabase(url=paths.database_url())
    try:
        database.ensure_migrated()
        run = offboard_producers(
            database, requests, offboarded_by=by, submit_immediately=submit_immediately
        )
    except (DatabaseNotMigrated, OffboardingRefused) as refusal:
        click.echo(str(refusal), err=True)
        sys.exit(1)
    finally:
        database.engine.dispose()
    for outcome in run.outcomes:
        click.echo("\n".join(describe(outcome)))
    to_approve = [b for o in run.outcomes for b in o.batches_to_approve]
    click.echo(
        f"\n{run.count(OFFBOARDED)} of {len(run.outcomes)} producer(s) offboarded."
        + (f" Batches to approve: {', '.join(to_approve)}." if to_approve else "")
    )
    if run.failed:
        sys.exit(1)
