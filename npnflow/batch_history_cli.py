"""`npnflow batches history ID`: a batch's audit trail, oldest event first (issue 19).

Every event the batch's changes wrote (`assets/batches/events.py`): when, what, through which
door, who (the name given), the database login beside it (PostgreSQL's session_user; `-` on
SQLite), the approval version and a short detail. Read through the pandas-free path of
`batches list/show` (`npnflow/read_only.py`). Its own module: `batches_cli.py` is full; it adds
this command to the `batches` group.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


def _history(connection: Connection, batch_id: str) -> tuple[bool, list[Any]]:
    import sqlalchemy as sa

    from assets.batches.detail import BatchNotFound
    from assets.batches.events import batch_history
    from schemas.tables import TABLES

    batches = TABLES["transaction_batches"]
    exists = (
        connection.execute(
            sa.select(batches.c.batch_id).where(batches.c.batch_id == batch_id)
        ).first()
        is not None
    )
    events = list(batch_history(connection, batch_id))
    if not exists and not events:
        raise BatchNotFound(batch_id)
    return exists, events


@click.command(
    "history",
    help="A batch's audit trail: every event (created, approved, rejected, retried, released, "
    "submitted, answered) with its door, who, the database login, the approval version.",
)
@click.argument("batch_id")
def batches_history(batch_id: str) -> None:
    from assets.batches.detail import format_timestamp
    from npnflow.display import shown
    from npnflow.read_only import reading

    batch_id = batch_id.strip()
    exists, events = reading(lambda connection: _history(connection, batch_id))
    if not exists:
        click.echo(
            f"{batch_id} no longer exists (its upload was evaluated again and the batch "
            "replaced before anyone approved it); its events are kept:"
        )
    if not events:
        click.echo(
            f"{batch_id}: no event recorded (created before the audit trail, migration 0018)."
        )
        return
    click.echo(f"Batch {batch_id}: {len(events)} event(s), oldest first")
    for e in events:
        click.echo(
            f"  {format_timestamp(e.occurred_at)}  {e.event:<9} door {e.door:<11} "
            f"by {shown(e.actor)} (database login {shown(e.db_session_user)}), "
            f"version {shown(e.approval_version)}" + (f": {shown(e.detail)}" if e.detail else "")
        )
