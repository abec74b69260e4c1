"""Step 8 of the demo: a portal_invite file dropped. Seats are taken, one email per invitation
lands in the local outbox (only the token's hash is stored), a full portal and an unknown NPN
are reported, and the same requests again send nothing.

Its own module because the portal is a capability of its own, with its own outcome (the
invitations asset's metadata, the outbox) to print.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from npnflow.demo.dagster_runs import drop_file, duplicate_of
from npnflow.demo.data_folder import DemoRun
from resources import paths

if TYPE_CHECKING:
    from dagster import DagsterInstance, Definitions

    from resources.database import OperationalDatabase

HARBORSTONE_PORTAL, GRANITE_PORTAL = "Harborstone Agent Portal", "Granite Shield Producer Portal"
NEVER_ONBOARDED_NPN = "99999998"


def _invitation_outcome(instance: DagsterInstance) -> dict[str, object]:
    from dagster import AssetKey

    event = instance.get_latest_materialization_event(AssetKey("core_portal__invitations"))
    materialization = event.asset_materialization if event else None
    metadata = materialization.metadata if materialization else {}
    return {name: getattr(value, "value", value) for name, value in metadata.items()}


def portal_invitations(
    defs: Definitions, instance: DagsterInstance, database: OperationalDatabase, run: DemoRun
) -> bool:
    """Step 8: a portal_invite file dropped: seats taken, one email each into the outbox, the
    errors an analyst acts on; the same requests again send nothing."""
    producers = database.read_table("producers", ["npn", "email", "agency_npn", "sync_status"])
    ready = producers[producers.email.notna() & producers.agency_npn.notna()].npn.sort_values()
    # Granite Shield has 3 seats: the fourth request shows what happens when none is left.
    rows = [f"{npn},{HARBORSTONE_PORTAL}" for npn in ready.head(3)]
    rows += [f"{npn},{GRANITE_PORTAL}" for npn in ready.iloc[3:7]]
    rows.append(f"{NEVER_ONBOARDED_NPN},{HARBORSTONE_PORTAL}")
    # A later run on the same data folder asks again, in another order (other bytes, so not
    # skipped as a duplicate file): the product answers "already invited", no email.
    turn = (run.number - 1) % len(rows)
    rows = rows[turn:] + rows[:turn]
    key = run.key("inbox/portal_invite", "demo-new-hires.csv")
    upload_id = drop_file(defs, instance, key, ("NPN,Portal\r\n" + "\r\n".join(rows)).encode())
    if upload_id is None:
        return False
    if duplicate_of(upload_id):
        return True
    outcome = _invitation_outcome(instance)
    counted = ", ".join(
        f"{name.replace('_', ' ')} {value}"
        for name, value in outcome.items()
        if isinstance(value, int) and name not in ("requested",)
    )
    click.echo(f"   core_portal__invitations: {outcome.get('requested', 0)} request(s): {counted}")
    outbox = sorted(paths.outbox_dir().glob("*.eml"), key=lambda f: f.stat().st_mtime)
    if outbox:
        message = outbox[-1].read_text(encoding="utf-8", errors="replace")
        to = next((line for line in message.splitlines() if line.startswith("To:")), "To: ?")
        subject = next((line for line in message.splitlines() if line.startswith("Subject:")), "")
        click.echo(
            f"   {len(outbox)} email(s) in {paths.outbox_dir()}; the newest: {to}; {subject}"
        )
    users = database.read_table(
        "portal_users", ["npn", "portal_id", "invitation_token_hash", "invited_by"]
    )
    if len(users):
        first = users.iloc[0]
        click.echo(
            f"   portal_users keeps only the token's SHA-256 (NPN {first.npn}: "
            f"{str(first.invitation_token_hash)[:12]}...); the link itself is only in the email"
        )
        # A dropped file names no person: the file is recorded as who invited.
        click.echo(
            f"   invited by: {first.invited_by} (npnflow portal invite --by NAME records a person)"
        )
    # The same requests in another order (other bytes, so not skipped as a duplicate file).
    again = "NPN,Portal\r\n" + "\r\n".join(reversed(rows))
    again_id = drop_file(
        defs, instance, run.key("inbox/portal_invite", "demo-new-hires-again.csv"), again.encode()
    )
    if again_id is None:
        return False
    if duplicate_of(again_id):
        return True
    repeat = _invitation_outcome(instance)
    click.echo(
        f"   invited again: {repeat.get('emails_sent', 0)} email(s) sent, "
        f"{repeat.get('already_invited', 0)} already invited"
    )
    return True
