"""`npnflow portal`: invite producers to a portal, and see its seats and users.

`npnflow portal invite --portal NAME --by NAME NPN...` does what `invite_to_portal_job` does
from the Launchpad and a `portal_invite` upload does from the inbox (`assets/portal/service.py`):
a seat and one email per producer, or the reason not; already invited producers get nothing.
Each invitation records who invited (`--by`); `portal list` shows it. The emails go through the environment's mailer (`NPNFLOW_ENV`): the outbox folder in the embedded
default, the SMTP server of `NPNFLOW_SMTP_*` in production.

Exit status of `invite`: 0 every producer is invited (or already was); 1 some requests have an
error (each is printed with what to do); 2 nothing could be done (database not migrated, mailer
not configured) or the mail server failed: the invitations recorded keep their seats and the
next invitation run sends their emails.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from npnflow.arguments import NPNS, flat_npns
from resources import paths

if TYPE_CHECKING:
    from resources.database import OperationalDatabase
    from resources.mailer import Mailer


@click.group(help="Portal invitations: invite producers, see each portal's seats and users.")
def portal() -> None:
    pass


def _database() -> OperationalDatabase:
    from resources.database import DatabaseNotMigrated, OperationalDatabase

    database = OperationalDatabase(url=paths.database_url())
    try:
        database.ensure_migrated()
    except DatabaseNotMigrated as error:
        database.engine.dispose()
        click.echo(str(error), err=True)
        sys.exit(2)
    return database


@contextmanager
def _environment_mailer() -> Iterator[Mailer]:
    """The mailer of the current environment, its EnvVars read now (as a run would)."""
    from dagster import DagsterInvalidConfigError

    from pipelines.environments import current_environment, resources_for
    from resources.mailer import Mailer

    environment = current_environment()
    try:
        mailer = resources_for(environment)["mailer"]
        if not isinstance(mailer, Mailer):  # every environment maps "mailer" to a Mailer
            raise TypeError(f"the mailer of environment {environment} is not a Mailer")
        with mailer.process_config_and_initialize_cm() as ready:
            yield ready
    except DagsterInvalidConfigError as error:
        missing = sorted(set(re.findall(r"NPNFLOW_SMTP_[A-Z]+", str(error))))
        names = ", ".join(missing) or "the NPNFLOW_SMTP_* variables"
        click.echo(
            f"The mailer of environment {environment} is not configured: set {names} "
            "(docs/portal.md).",
            err=True,
        )
        sys.exit(2)


def _echo_table(rows: list[list[object]], headers: list[str]) -> None:
    # No types-tabulate installed; mypy flags only the first importer (so: unused-ignore too).
    from tabulate import tabulate  # type: ignore[import-untyped, unused-ignore]

    click.echo(tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True))


def _stamp(value: object) -> str:
    import pandas as pd

    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    stamp: str = pd.Timestamp(value).strftime("%Y-%m-%d %H:%M")
    return stamp


@portal.command(
    "invite",
    help="Invite producers (NPNs) to a portal: a seat and one email each, or the reason not "
    "(No Associated Agency, No Email On Record, No Portal Seats Left, ...). Already invited "
    "producers get nothing. Exit status 0: all invited; 1: some errors; 2: nothing could be "
    "done, or the mail server failed (the next run sends what is left).",
)
@click.option("--portal", "portal_name", required=True, help="The portal's name or id.")
@click.option(
    "--by", "by", required=True, help="Who invites (recorded on each invitation; portal list)."
)
@click.option(
    "--resend-unconfirmed",
    is_flag=True,
    help="Send again, with a new link, the invitations of these producers whose earlier email "
    "may not have arrived (its sending was interrupted). Nothing else is ever resent.",
)
@click.argument("npns", nargs=-1, required=True, type=NPNS)
def invite(
    portal_name: str, by: str, resend_unconfirmed: bool, npns: tuple[tuple[str, ...], ...]
) -> None:
    from assets.portal import invitations as rules
    from assets.portal.service import invite_to_portals

    requested = flat_npns(npns)  # read as NIPR writes them (npnflow/arguments.py)
    if not requested:
        raise click.BadParameter("give at least one NPN", param_hint="NPN")
    try:
        invited_by = rules.inviter_name(by)
    except rules.InviterMissing as missing:
        raise click.BadParameter(str(missing), param_hint="--by") from None
    database = _database()
    try:
        with _environment_mailer() as mailer:
            run = invite_to_portals(
                database.engine,
                mailer,
                [rules.InviteRequest(npn=npn, portal=portal_name) for npn in requested],
                source="npnflow portal invite",
                invited_by=invited_by,
                resend_unconfirmed=resend_unconfirmed,
            )
            destination = mailer.destination
    finally:
        database.engine.dispose()

    addresses = {(d.npn, d.portal_id): d.email for d in run.decisions}
    _echo_table(
        [[d.npn, d.outcome, "yes" if d.email_sent else "", d.detail] for d in run.decisions],
        ["npn", "outcome", "emailed", "detail"],
    )
    counts = ", ".join(f"{n} {outcome}" for outcome, n in run.counts.items())
    click.echo(f"\n{counts}. {run.emails_sent} email(s) sent to the {destination}.")
    sent_to = [addresses[(d.npn, d.portal_id)] for d in run.decisions if d.email_sent]
    if sent_to and any(sent_to):
        click.echo("Sent to: " + ", ".join(a for a in sent_to if a))
    if run.earlier_sent:
        click.echo(
            f"Also sent {len(run.earlier_sent)} email(s) of invitations earlier runs recorded "
            "but could not send."
        )
    for portal_row in run.portals_requested():
        click.echo(
            f"{portal_row.label}: {portal_row.seats_left} of {portal_row.seats_total} seats left."
        )
    if run.stopped:
        click.echo(
            f"Sending stopped: {run.stopped}. The invitations recorded keep their seats; the next "
            "invitation run (this command again, any upload or Launchpad run) sends their emails, "
            "once.",
            err=True,
        )
        sys.exit(2)
    if run.errors:
        sys.exit(1)


@portal.command("seats", help="Each portal's seats: total, invited, registered, left.")
def seats() -> None:
    from assets.portal.views import portal_seats
    from npnflow.display import shown

    database = _database()
    try:
        with database.engine.connect() as connection:
            frame = portal_seats(connection)
    finally:
        database.engine.dispose()
    if frame.empty:
        click.echo(
            "No portals are set up: list them in config/portals.yaml and run "
            "load_reference_data_job (npnflow ui, Launchpad)."
        )
        return
    _echo_table(
        [
            [
                shown(value)  # `-` for a missing value, never nan
                for value in (
                    r.portal_id,
                    r.portal_name,
                    r.seats_total,
                    r.invited,
                    r.registered,
                    r.seats_left,
                    r.emails_not_sent,
                    r.emails_unconfirmed,
                )
            ]
            for r in frame.itertuples(index=False)
        ],
        [
            "portal",
            "name",
            "seats",
            "invited",
            "registered",
            "left",
            "emails waiting",
            "emails unconfirmed",
        ],
    )


def _invited_by(row: Any) -> str:  # a row of portal_user_list(...).itertuples()
    """Who invited, and who revoked the seat. An invitation older than migration 0012 recorded
    no person: its door (`upload <id>`, `run <id>`, the CLI) is shown instead, in brackets."""
    from npnflow.display import shown

    source = shown(row.invitation_source, "")
    by = shown(row.invited_by, "") or (f"({source})" if source else "")
    if row.status == "Revoked" and shown(row.revoked_by, ""):
        revoked_by = shown(row.revoked_by, "")
        by += f"; revoked by {revoked_by} {_stamp(row.revoked_at)}".rstrip()
    return by


@portal.command("list", help="The producers invited to (or registered on) the portals.")
@click.option("--portal", "portal_name", default=None, help="Only this portal (name or id).")
def list_users(portal_name: str | None) -> None:
    from assets.portal.invitations import find_portal
    from assets.portal.store import read_portals
    from assets.portal.views import portal_user_list
    from npnflow.display import shown

    database = _database()
    try:
        with database.engine.connect() as connection:
            portal_id = None
            if portal_name is not None:
                found = find_portal(read_portals(connection), portal_name)
                if found is None:
                    click.echo(f"There is no portal named '{portal_name}'.", err=True)
                    sys.exit(1)
                portal_id = found.portal_id
            frame = portal_user_list(connection, portal_id)
    finally:
        database.engine.dispose()
    if frame.empty:
        click.echo("Nobody is invited yet.")
        return

    def email_state(row: Any) -> str:  # a row of frame.itertuples()
        if row.status == "Registered":
            return "registered"
        if _stamp(row.invitation_sent_at):
            return f"sent {_stamp(row.invitation_sent_at)}"
        if _stamp(row.invitation_send_started_at):
            return "unconfirmed"
        return "waiting"

    _echo_table(
        [
            [
                shown(r.portal_id),
                shown(r.npn),
                # A name read from a frame may be NaN (truthy): only real names are joined.
                " ".join(shown(p) for p in (r.first_name, r.last_name) if shown(p, "") != "")
                or "-",
                shown(r.email, "no email"),
                shown(r.status),
                _stamp(r.invited_at) or "-",
                email_state(r),
                _stamp(r.registered_at) or "-",
                _invited_by(r) or "-",
            ]
            for r in frame.itertuples(index=False)
        ],
        ["portal", "npn", "name", "email", "status", "invited", "email", "registered", "by"],
    )
    click.echo(f"{len(frame)} portal user(s).")
