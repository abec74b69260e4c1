"""`npnflow producers`: one producer's story, and the removal of one NIPR never knew.

- `show NPN`: sync status and what it means, how new NIPR's data is, agency, producer
  assignments, licenses with their lines, appointments, open transactions, portal seats
  (`assets/onboarding/producer_view.py`);
- `remove NPN --by NAME`: removes a producer NIPR does not know and for which nothing was ever
  sent to NIPR, in one database transaction (`assets/onboarding/removal.py`), prints the rows
  removed per table, and keeps an audit record in the bucket
  (`audit/producer_removals/<npn>-<time>.json`).

An NPN is read as NIPR writes it (npnflow/arguments.py NPN); a note on stderr says when the
typed one was changed. Registered on `npnflow` by `npnflow/cli.py`; product imports happen
inside the commands, so `npnflow --help` stays instant.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import TYPE_CHECKING, Any

import click

from npnflow.arguments import NPN
from npnflow.uploads_cli import read_database, text, when
from resources import paths

if TYPE_CHECKING:
    import pandas as pd

    from assets.onboarding.removal import Removal

AUDIT_PREFIX = "audit/producer_removals"


@click.group(help="One producer's sync status, licenses, appointments and open work; removal.")
def producers() -> None:
    pass


def _yes_no(value: Any) -> str:
    cell = text(value)
    return "" if cell == "" else ("yes" if value else "no")


def _table(frame: pd.DataFrame, columns: dict[str, str]) -> None:
    """Print `frame`'s `columns` (name -> header), blanks for missing values."""
    # No types-tabulate installed; mypy flags only the first importer (so: unused-ignore too).
    from tabulate import tabulate  # type: ignore[import-untyped, unused-ignore]

    rows = [
        [
            _yes_no(v)
            if isinstance(v, bool)
            else text(v)[:10]
            if name.endswith("_date")
            else text(v)
            for name, v in zip(columns, row, strict=True)
        ]
        for row in frame[list(columns)].itertuples(index=False)
    ]
    table = tabulate(rows, headers=list(columns.values()), tablefmt="simple", disable_numparse=True)
    click.echo("\n".join("  " + line for line in table.splitlines()))


@producers.command(
    "show",
    help="A producer's sync status, licenses and lines, appointments, open transactions and "
    "portal seats.",
)
@click.argument("npn", type=NPN)
def producers_show(npn: str) -> None:
    from assets.onboarding.producer_view import ProducerNotFound, producer_view

    try:
        view = read_database(lambda connection: producer_view(connection, npn))
    except ProducerNotFound as missing:
        click.echo(str(missing), err=True)
        sys.exit(1)
    p = view.producer
    name = " ".join(text(v) for v in (p["first_name"], p["last_name"]) if text(v)) or "(no name)"
    click.echo(f"Producer {view.npn}: {name}" + (f" <{p['email']}>" if text(p["email"]) else ""))
    click.echo(
        f"Sync status: {p['sync_status']}" + (f": {view.sync_meaning}" if view.sync_meaning else "")
    )
    click.echo(
        f"NIPR data as of {when(view.data_as_of)}; last synced {when(p['last_synced_at'])}; "
        f"PDB Alerts target: {'yes' if view.is_alerts_target else 'no'}"
    )
    if text(p["offboarded_at"]):
        click.echo(f"Offboarded {when(p['offboarded_at'])} by {text(p['offboarded_by'], '?')}")
    else:
        click.echo("Offboarded: no")
    agency = text(p["agency_npn"])
    click.echo(
        "Agency: "
        + (f"{text(view.agency_name, '(name unknown)')} ({agency})" if agency else "none")
        + (f"; agent type {p['agent_type']}" if text(p["agent_type"]) else "")
    )

    sections: list[tuple[str, pd.DataFrame, dict[str, str]]] = [
        (
            "Producer assignments",
            view.assignments,
            {
                "cocode": "cocode",
                "state_code": "state",
                "loa_category": "category",
                "agent_type": "agent type",
            },
        ),
        (
            "Licenses",
            view.licenses,
            {
                "state_code": "state",
                "license_number": "number",
                "license_class": "class",
                "is_resident": "resident",
                "is_active": "active",
                "expiration_date": "expires",
                "lines": "lines of authority",
            },
        ),
        (
            "Appointments",
            view.appointments,
            {
                "state_code": "state",
                "cocode": "cocode",
                "company_name": "company",
                "loa_code": "loa",
                "status": "status",
                "effective_date": "effective",
            },
        ),
        (
            "Open transactions (not final)",
            view.open_transactions,
            {
                "transaction_id": "transaction",
                "kind": "kind",
                "batch_id": "batch",
                "batch_status": "batch status",
                "state_code": "state",
                "loa_code": "loa",
                "status": "status",
                "eligibility_reason": "reason",
            },
        ),
        (
            "Portal seats and invitations",
            view.portal_seats,
            {
                "portal_id": "portal",
                "status": "status",
                "email": "email",
                "invited_at": "invited",
                "invitation_sent_at": "email sent",
                "registered_at": "registered",
            },
        ),
    ]
    for heading, frame, columns in sections:
        if frame.empty:
            click.echo(f"\n{heading}: none")
            continue
        if "license_class" in columns:
            # The class name, else its code: NIPR may send a code our reference lacks.
            frame = frame.assign(
                license_class=[
                    text(name) or text(code)
                    for name, code in zip(
                        frame["license_class"], frame["license_class_code"], strict=True
                    )
                ]
            )
        for column in ("invited_at", "invitation_sent_at", "registered_at"):
            if column in columns:
                frame = frame.assign(
                    **{column: [when(v) if text(v) else "" for v in frame[column]]}
                )
        click.echo(f"\n{heading} ({len(frame)}):")
        _table(frame, columns)


def _write_audit_record(removal: Removal) -> str:
    """The removal's audit record in the environment's bucket; returns where it is."""
    from pipelines.environments import current_environment, resources_for
    from resources.object_store import ObjectStore

    store = resources_for(current_environment())["object_store"]
    if not isinstance(store, ObjectStore):  # every environment maps "object_store" to one
        raise TypeError("the environment's object_store is not an ObjectStore")
    stamp = removal.removed_at.strftime("%Y%m%dT%H%M%S%fZ")
    key = f"{AUDIT_PREFIX}/{removal.npn}-{stamp}.json"
    data = json.dumps(removal.audit_record(), indent=2, sort_keys=True).encode("utf-8")
    with store.process_config_and_initialize_cm() as ready:
        ready.put_bytes(key, data)
    from npnflow.uploads_cli import bucket_location

    return bucket_location(key)


@producers.command(
    "remove",
    help="Remove a producer NIPR does not know (Not Found, never found) for which nothing was "
    "ever sent to NIPR: its portal seats are freed, its assignments removed, its unsent lines "
    "cancelled, in one transaction.",
)
@click.argument("npn", type=NPN)
@click.option("--by", "by", required=True, help="Who removes it (recorded).")
def producers_remove(npn: str, by: str) -> None:
    from assets.onboarding.removal import RemovalRefused, remove_unknown_producer
    from resources.database import DatabaseNotMigrated, OperationalDatabase

    database = OperationalDatabase(url=paths.database_url())
    try:
        database.ensure_migrated()
        with database.begin() as connection:
            removal = remove_unknown_producer(
                connection, npn, removed_by=by, now=dt.datetime.now(dt.UTC)
            )
    except (DatabaseNotMigrated, RemovalRefused) as refusal:
        click.echo(str(refusal), err=True)
        sys.exit(1)
    finally:
        database.engine.dispose()

    p = removal.producer
    name = " ".join(text(v) for v in (p["first_name"], p["last_name"]) if text(v))
    click.echo(
        f"Removed producer {removal.npn}{' (' + name + ')' if name else ''}, sync status "
        f"{p['sync_status']}, by {removal.removed_by} at {when(removal.removed_at)}."
    )
    click.echo(
        "Rows removed: "
        + ", ".join(f"{table} {count}" for table, count in removal.rows_removed.items())
        + "."
    )
    if removal.portal_seats_freed:
        click.echo(
            f"Portal seats freed: {', '.join(removal.portal_seats_freed)} (an emailed invitation "
            "link no longer works)."
        )
    if removal.transactions_cancelled:
        click.echo(
            f"Transactions cancelled, never sent: {', '.join(removal.transactions_cancelled)}."
        )
    try:
        where = _write_audit_record(removal)
    except Exception as error:  # the removal is committed; say the record is missing, loudly
        click.secho(
            f"The removal is done, but its audit record could not be written: {error}. Keep "
            "this output as the record.",
            fg="red",
            err=True,
        )
        sys.exit(1)
    click.echo(f"Audit record: {where}")
