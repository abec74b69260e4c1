"""Portal invitations in Dagster: the portal setup, portal_invite uploads, the Launchpad op.

- `core_config__portals` (group `company_config`, so `load_reference_data_job` loads it with
  the company setup): `config/portals.yaml` checked (`portal_config.py`) and applied to
  `portals` as an upsert (`store.apply_portal_setup`): producers' seats survive a reload.
- `core_portal__invitations` (group `portal`, one partition per upload like the appointment
  and termination assets): a validated `portal_invite` upload's rows invited
  (`service.invite_to_portals`); other kinds skip.
- `invite_producers_to_portal`, the op of `invite_to_portal_job` (pipelines/jobs.py): the same
  for NPNs and a portal typed on the Launchpad.

Thin: the rules are in `invitations.py`, the SQL in `store.py`, the run in `service.py`. What
an analyst reads (metadata, logs) is counts, NPNs, outcomes and seats: never a token, an SSN or
an email address. When the mail server fails the step fails after recording what it could:
the invitations keep their seats and the next run (a retry) sends their emails, once.

No `from __future__ import annotations` here: Dagster reads the annotations of what it wraps.
"""

import datetime as dt
from collections.abc import Iterator
from typing import Any

import dagster as dg
from pydantic import Field

from assets.keys import INVITATIONS_KEY, PORTALS_CONFIG_KEY, UPLOADS_PARTITIONS, VALIDATED_KEY
from assets.metadata import markdown_preview
from assets.portal import invitations as rules
from assets.portal import outcomes
from assets.portal import store as portal_store
from assets.portal.portal_config import PORTALS_FILE, load_portal_config
from assets.portal.service import InvitationRun, invite_to_portals
from assets.reference.config_files import ConfigError
from assets.retries import retry_transient_database_errors
from assets.uploads import ledger
from assets.uploads import store as upload_store
from assets.uploads.acting import upload_to_act_on
from resources import paths
from resources.database import OperationalDatabase
from resources.mailer import Mailer

UPLOAD_KIND = "portal_invite"
SHOWN_ROWS = 50
LOGGED_ERRORS = 20
# Always shown, 0 included: the SPEC's three errors are what an analyst looks for first.
ALWAYS_COUNTED = (rules.NO_ASSOCIATED_AGENCY, rules.NO_EMAIL_ON_RECORD, rules.NO_PORTAL_SEATS_LEFT)


def _metadata_name(outcome: str) -> str:
    return outcome.lower().replace(" ", "_")


# ============================================================================ the portal setup
@dg.asset(
    key=PORTALS_CONFIG_KEY,
    group_name="company_config",
    kinds={"yaml", "sql"},
    metadata={"table": "portals"},
    description=(
        "The customer's portals and their seats, from config/portals.yaml, in `portals`. "
        "Applied as an upsert: producers' seats survive a reload; a portal dropped from the "
        "file is removed only when nobody holds one of its seats."
    ),
)
def core_config__portals(
    context: dg.AssetExecutionContext, database: OperationalDatabase
) -> dg.MaterializeResult[Any]:
    source = paths.config_dir()
    try:
        configured = load_portal_config(source)
    except ConfigError as error:
        raise dg.Failure(description=str(error), allow_retries=False) from None
    if configured is None:
        note = f"No {PORTALS_FILE} in {source}: the portals were left as they are."
        context.log.info(note)
        with database.begin() as connection:
            seats = portal_store.portal_seats(connection)
        return dg.MaterializeResult(
            metadata={
                "note": note,
                "dagster/row_count": len(seats),
                "seats": markdown_preview(seats, max_rows=SHOWN_ROWS),
            }
        )
    with database.begin() as connection:
        changes = portal_store.apply_portal_setup(connection, configured)
        seats = portal_store.portal_seats(connection)
    notes = [
        f"{portal} is no longer in {PORTALS_FILE} but {count} producer(s) hold its seats: kept."
        for portal, count in changes.kept_with_users.items()
    ] + [
        f"{portal}: {used} seats in use, more than seats_total {total}: no new invitation is "
        "sent until seats free up."
        for portal, (used, total) in changes.over_capacity.items()
    ]
    for note in notes:
        context.log.warning(note)
    metadata: dict[str, Any] = {
        "table": "portals",
        "source": dg.MetadataValue.path(str(source / PORTALS_FILE)),
        "dagster/row_count": len(seats),
        "added": ", ".join(changes.added) or "none",
        "updated": ", ".join(changes.updated) or "none",
        "removed": ", ".join(changes.removed) or "none",
        "seats": markdown_preview(ledger.markdown_safe(seats), max_rows=SHOWN_ROWS),
    }
    if notes:
        metadata["warnings"] = "\n".join(notes)
    return dg.MaterializeResult(metadata=metadata)


# ============================================================================ what a run says
def invitation_metadata(run: InvitationRun, mailer: Mailer) -> dict[str, Any]:
    """What an analyst reads about an invitation run: counts per outcome, each request's
    outcome, the seats left, where the emails went. No token, no SSN, no email address."""
    counts = run.counts
    metadata: dict[str, Any] = {
        "requested": len(run.decisions),
        "invited": counts.get(rules.INVITED, 0),
        "emails_sent": run.emails_sent,
        "errors": len(run.errors),
    }
    for outcome in rules.OUTCOMES:
        if outcome != rules.INVITED and (counts.get(outcome) or outcome in ALWAYS_COUNTED):
            metadata[_metadata_name(outcome)] = counts.get(outcome, 0)
    for portal in run.portals_requested():
        metadata[f"seats_left/{portal.portal_id}"] = portal.seats_left
    metadata["requests"] = markdown_preview(
        ledger.markdown_safe(run.outcomes_frame().astype(object).fillna("")), max_rows=SHOWN_ROWS
    )
    metadata["seats"] = markdown_preview(
        ledger.markdown_safe(run.seats_frame(run.portals_requested())), max_rows=SHOWN_ROWS
    )
    metadata["mail"] = mailer.destination
    if run.earlier_sent:
        metadata["earlier_invitations_emailed"] = len(run.earlier_sent)
    if run.earlier_withdrawn:
        metadata["earlier_invitations_withdrawn"] = len(run.earlier_withdrawn)
    if run.stopped:
        metadata["sending_stopped"] = outcomes.without_addresses(run.stopped)
        metadata["invitations_waiting_for_email"] = run.earlier_not_sent + counts.get(
            rules.EMAIL_NOT_SENT, 0
        )
    return metadata


def _log_run(log: dg.DagsterLogManager, run: InvitationRun, what: str) -> None:
    counts = ", ".join(f"{n} {outcome}" for outcome, n in run.counts.items()) or "nothing"
    log.info(f"{what}: {len(run.decisions)} request(s): {counts}; {run.emails_sent} email(s) sent.")
    errors = run.errors
    for decision in errors[:LOGGED_ERRORS]:
        row = f"row {decision.request.row_number}: " if decision.request.row_number else ""
        log.warning(f"{row}{decision.outcome}: {decision.detail}")
    if len(errors) > LOGGED_ERRORS:
        log.warning(f"... and {len(errors) - LOGGED_ERRORS} more; see the `requests` metadata.")
    for npn, portal_id, why in run.earlier_withdrawn:
        log.warning(
            f"An earlier invitation of NPN {npn} to {portal_id} was withdrawn and its seat "
            f"freed: {why}."
        )


def _stopped_failure(run: InvitationRun, metadata: dict[str, Any]) -> dg.Failure:
    waiting = metadata.get("invitations_waiting_for_email", 0)
    why = outcomes.without_addresses(run.stopped or "")
    return dg.Failure(
        description=(
            f"Sending the invitation emails stopped: {why}. "
            f"{run.emails_sent} email(s) "
            f"were sent; {waiting} invitation(s) keep their seats and wait for their email, "
            "which the next invitation run sends (re-execute this run once the mail server "
            "works). Nothing is sent twice."
        ),
        metadata=metadata,
    )


# ============================================================================ portal_invite uploads
@dg.multi_asset(
    name="core_portal__invited",
    partitions_def=UPLOADS_PARTITIONS,
    specs=[
        dg.AssetSpec(
            INVITATIONS_KEY,
            group_name="portal",
            deps=[VALIDATED_KEY, PORTALS_CONFIG_KEY],
            kinds={"sql", "email"},
            skippable=True,
            description=(
                "portal_invite uploads: each valid row's producer invited to the named portal "
                "(SPEC section 9): a seat reserved in `portal_users` and one email with a "
                "single-use link, or the reason not (No Associated Agency, No Email On Record, "
                "No Portal Seats Left, ...). Inviting again sends nothing."
            ),
        )
    ],
)
@retry_transient_database_errors
def core_portal__invited(
    context: dg.AssetExecutionContext,
    database: OperationalDatabase,
    mailer: Mailer,
) -> Iterator[dg.MaterializeResult[Any]]:
    target = upload_to_act_on(
        database, context.partition_key, UPLOAD_KIND, context.log, "nobody to invite"
    )
    if target is None:
        return
    upload_id, rows = target.upload_id, target.rows
    requests = [
        rules.InviteRequest(npn=str(r.npn), portal=str(r.portal_name), row_number=int(r.row_number))
        for r in rows.itertuples(index=False)
    ]
    if not requests:
        with database.begin() as connection:
            upload_store.mark_completed(connection, upload_id, dt.datetime.now(dt.UTC))
        yield dg.MaterializeResult(
            asset_key=INVITATIONS_KEY,
            metadata={
                "requested": 0,
                "note": "No valid rows: nobody invited (see the upload's error report).",
            },
        )
        return
    # The bucket records no person: the file is who asked, as for offboarding and JIT uploads.
    run = invite_to_portals(
        database.engine,
        mailer,
        requests,
        source=f"upload {upload_id}",
        invited_by=f"upload {target.row['object_key']}",
    )
    _log_run(context.log, run, f"Upload {upload_id}")
    metadata = invitation_metadata(run, mailer)
    if run.stopped:
        raise _stopped_failure(run, metadata)
    # Inviting again sends nothing (SPEC 9), so a continuing run may repeat this step safely.
    with database.begin() as connection:
        upload_store.mark_completed(connection, upload_id, dt.datetime.now(dt.UTC))
    yield dg.MaterializeResult(asset_key=INVITATIONS_KEY, metadata=metadata)


# ============================================================================ the Launchpad
class InviteToPortalConfig(dg.Config):
    npns: list[str] = Field(description="The producers' NPNs (digits, up to 10 each).")
    portal: str = Field(description="The portal's name or id, as in config/portals.yaml.")
    invited_by: str = Field(
        description="Who invites (recorded on each invitation; `npnflow portal list` shows it)."
    )
    resend_unconfirmed: bool = Field(
        default=False,
        description=(
            "Send again the invitations of these producers whose earlier email may not have "
            "arrived (its sending was interrupted), with a new link. Nothing else is resent."
        ),
    )


@dg.op(
    description=(
        "Invite producers (config: npns, portal, invited_by) to a portal, as `npnflow portal "
        "invite --by` does: a seat and one email each, or the reason not. Already invited "
        "producers get nothing."
    ),
)
def invite_producers_to_portal(
    context: dg.OpExecutionContext,
    config: InviteToPortalConfig,
    database: OperationalDatabase,
    mailer: Mailer,
) -> None:
    npns = rules.split_npns(config.npns)
    if not npns:
        raise dg.Failure(
            description="No NPNs given: list them in the config's npns.", allow_retries=False
        )
    try:
        invited_by = rules.inviter_name(config.invited_by)
    except rules.InviterMissing as missing:
        raise dg.Failure(description=str(missing), allow_retries=False) from None
    requests = [rules.InviteRequest(npn=npn, portal=config.portal) for npn in npns]
    run = invite_to_portals(
        database.engine,
        mailer,
        requests,
        source=f"run {context.run_id}",
        invited_by=invited_by,
        resend_unconfirmed=config.resend_unconfirmed,
    )
    not_found = [d for d in run.decisions if d.outcome == rules.PORTAL_NOT_FOUND]
    if not_found:
        # One portal for the whole request: nobody can be invited, say so as the run's outcome.
        raise dg.Failure(description=not_found[0].detail, allow_retries=False)
    _log_run(context.log, run, f"Portal {config.portal}")
    metadata = invitation_metadata(run, mailer)
    if run.stopped:
        raise _stopped_failure(run, metadata)
    context.add_output_metadata(metadata)


PORTAL_ASSETS = [core_config__portals, core_portal__invited]
__all__ = [
    "PORTAL_ASSETS",
    "InviteToPortalConfig",
    "core_config__portals",
    "core_portal__invited",
    "invitation_metadata",
    "invite_producers_to_portal",
]
