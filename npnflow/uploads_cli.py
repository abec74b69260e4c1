"""`npnflow uploads`: what happened to a dropped file.

- `list [--kind K] [--status S] [--limit N]`: the uploads, newest first, one line each;
- `show FILE_OR_ID`: one upload (by upload id, bucket key or bare file name; the newest of a
  name, the others listed): its status and counts, the first rejected rows, the batches it
  made or the producers it onboarded, and where its error report is.

The reads are `assets/uploads/lookup.py`; this module only prints. Registered on `npnflow` by
`npnflow/cli.py`; product imports happen inside the commands, so `npnflow --help` stays
instant.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from resources import paths

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

T = TypeVar("T")

#: `uploads list` fits a terminal this wide.
WIDTH = 120
KINDS = ("agent", "appoint", "terminate", "portal_invite", "offboard", "jit_release")
UPLOAD_STATUSES = ("Received", "Processed", "Rejected", "Duplicate")


@click.group(help="What happened to a dropped file: its status, errors, batches and producers.")
def uploads() -> None:
    pass


def read_database(work: Callable[[Connection], T]) -> T:
    """Run `work(connection)` on the operational database (migrated first: a read of an older
    schema would fail on a missing column); a refusal prints why and exits 1."""
    from assets.uploads.lookup import UploadNotFound
    from resources.database import DatabaseNotMigrated, OperationalDatabase

    database = OperationalDatabase(url=paths.database_url())
    try:
        database.ensure_migrated()
        with database.engine.connect() as connection:
            return work(connection)
    except (DatabaseNotMigrated, UploadNotFound) as refusal:
        click.echo(str(refusal), err=True)
        sys.exit(1)
    finally:
        database.engine.dispose()


def text(value: object, blank: str = "") -> str:
    """A cell a person reads: missing values (None, NaN, NaT) as `blank`, never `nan`."""
    import pandas as pd

    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return blank
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def when(value: Any) -> str:
    from assets.batches.detail import format_timestamp

    return format_timestamp(None if text(value) == "" else value)


def counts(upload: Any) -> str:
    """valid/rejected, or `-` when the file was never read row by row (Rejected, Duplicate)."""
    if text(upload.rows_valid) == "" and text(upload.rows_rejected) == "":
        return "-"
    return f"{text(upload.rows_valid, '0')}/{text(upload.rows_rejected, '0')}"


def shorten(value: str, width: int) -> str:
    return value if len(value) <= width else value[: max(1, width - 1)] + "…"


def bucket_location(key: str) -> str:
    """Where a bucket key lives: a path in the embedded default's local folder, the s3:// URI
    in production (`NPNFLOW_S3_BUCKET`, `NPNFLOW_S3_PREFIX`)."""
    from dagster import EnvVar

    from pipelines.environments import current_environment, resources_for
    from resources.object_store import LocalFolderObjectStore, S3ObjectStore

    store = resources_for(current_environment())["object_store"]
    if isinstance(store, LocalFolderObjectStore):
        return str(Path(store.root) / key)
    if isinstance(store, S3ObjectStore):
        bucket = store.bucket.get_value() if isinstance(store.bucket, EnvVar) else store.bucket
        prefix = store.prefix.strip("/")
        return f"s3://{bucket}/{prefix + '/' if prefix else ''}{key}"
    return key


@uploads.command("list", help="The uploads, newest first, one line each.")
@click.option("--kind", type=click.Choice(KINDS), default=None, help="Only uploads of this kind.")
@click.option(
    "--status",
    type=click.Choice(UPLOAD_STATUSES, case_sensitive=False),
    default=None,
    help="Only uploads with this status.",
)
@click.option("--limit", default=30, show_default=True, type=click.IntRange(min=1))
def uploads_list(kind: str | None, status: str | None, limit: int) -> None:
    from assets.uploads.lookup import file_name, list_uploads

    wanted = next((s for s in UPLOAD_STATUSES if status and s.lower() == status.lower()), None)
    frame = read_database(
        lambda connection: list_uploads(connection, kind=kind, status=wanted, limit=limit + 1)
    )
    more = len(frame) > limit
    frame = frame.head(limit)
    if frame.empty:
        filters = [
            f"{name} {value}" for name, value in (("kind", kind), ("status", wanted)) if value
        ]
        click.echo("No uploads" + (f" with {', '.join(filters)}." if filters else " yet."))
        return
    rows = [
        [
            file_name(u.object_key),
            text(u.kind),
            text(u.status),
            counts(u),
            when(u.received_at)[:16],
            text(u.upload_id),
        ]
        for u in frame.itertuples(index=False)
    ]
    headers = ["file", "kind", "status", "valid/rej", "received (UTC)", "upload id"]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    # Two spaces between columns; the id gives way first (it repeats the file name, and
    # `uploads show` takes the start of an id), then the file name a person looks for.
    overflow = sum(widths) + 2 * (len(widths) - 1) - WIDTH
    for column, floor in ((5, 20), (0, 16)):
        if overflow > 0:
            cut = min(overflow, widths[column] - floor)
            if cut > 0:
                widths[column] -= cut
                overflow -= cut
    click.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    click.echo("  ".join("-" * w for w in widths))
    for row in rows:
        cells = [
            shorten(value, width).ljust(width) for value, width in zip(row, widths, strict=True)
        ]
        click.echo("  ".join(cells).rstrip())
    click.echo(
        f"{len(frame)} upload(s)"
        + (f", the newest {limit}; --limit shows more" if more else "")
        + ". `npnflow uploads show FILE_OR_ID` tells what happened to one."
    )


def _echo_match_others(others: list[dict[str, Any]]) -> None:
    if not others:
        return
    click.echo(f"Older uploads of this name ({len(others)}): show one by its upload id.")
    for other in others:
        click.echo(
            f"  {other['upload_id']}  {other['status']}  received {when(other['received_at'])}"
        )


@uploads.command(
    "show",
    help="One upload, by upload id, bucket key (inbox/appoint/x.csv) or file name (x.csv): "
    "status, counts, rejected rows, batches or producers, and its error report.",
)
@click.argument("file_or_id")
@click.option(
    "--errors",
    "error_limit",
    default=20,
    show_default=True,
    type=click.IntRange(min=0),
    help="How many rejected rows to print.",
)
def uploads_show(file_or_id: str, error_limit: int) -> None:
    from assets.uploads.lookup import UploadDetail, find_upload, upload_detail

    def read(connection: Connection) -> tuple[UploadDetail, list[dict[str, Any]]]:
        match = find_upload(connection, file_or_id)
        detail = upload_detail(connection, match.upload["upload_id"], error_limit=error_limit)
        return detail, match.others

    detail, others = read_database(read)
    u = detail.upload
    click.echo(f"Upload {u['upload_id']}")
    click.echo(f"File: {u['object_key']} ({u['kind']})")
    click.echo(f"Status: {u['status']}")
    click.echo(
        f"Received {when(u['received_at'])}; "
        + (f"completed {when(u['completed_at'])}" if text(u["completed_at"]) else "not completed")
    )
    if text(u["rows_total"]):
        click.echo(
            f"Rows: {text(u['rows_total'], '0')} total, {text(u['rows_valid'], '0')} valid, "
            f"{text(u['rows_rejected'], '0')} rejected, {text(u['rows_blank'], '0')} blank"
        )
    if detail.duplicate_of is not None:
        original = detail.duplicate_of
        click.echo(
            f"Duplicate of {original['upload_id']}"
            + (
                f" ({original['object_key']}, {original['status']})"
                if "object_key" in original
                else ""
            )
            + ": the same content; nothing of this drop was processed again."
        )
    if text(u["error_message"]):
        click.echo(f"Why: {u['error_message']}")
    if text(u["error_report_key"]):
        click.echo(f"Error report: {bucket_location(u['error_report_key'])}")
    elif u["status"] == "Processed":
        click.echo("Error report: none (no row was rejected).")
    elif u["status"] == "Duplicate":
        click.echo("Error report: none (a Duplicate is not read again; see the upload it repeats).")

    if detail.row_errors_total:
        shown = len(detail.row_errors)
        click.echo(
            f"\nRejected rows and notes ({detail.row_errors_total}"
            + (
                f", the first {shown}; --errors N prints more"
                if shown < detail.row_errors_total
                else ""
            )
            + "):"
        )
        for e in detail.row_errors.itertuples(index=False):
            column = f" {e.column}" if text(e.column) else ""
            click.echo(f"  row {text(e.row_number)}{column}: {e.message}")

    if not detail.batches.empty:
        click.echo(f"\nBatches ({len(detail.batches)}):")
        for b in detail.batches.itertuples(index=False):
            click.echo(
                f"  {b.batch_id}  {b.kind} {text(b.cocode)}  {b.status}: "
                f"{b.transactions} transaction(s)" + (f" ({b.by_status})" if b.by_status else "")
            )
        click.echo("`npnflow batches show ID` lists a batch's lines.")
    elif u["kind"] in ("appoint", "terminate") and u["status"] == "Processed":
        click.echo("\nBatches: none (no request row made a transaction).")

    if not detail.producers_added.empty:
        # No types-tabulate installed; mypy flags only the first importer (so: unused-ignore).
        from tabulate import tabulate  # type: ignore[import-untyped, unused-ignore]

        click.echo(f"\nProducers this file onboarded ({len(detail.producers_added)}):")
        table = tabulate(
            [
                [
                    p.npn,
                    " ".join(text(v) for v in (p.first_name, p.last_name) if text(v)),
                    text(p.sync_status),
                    when(p.last_synced_at) if text(p.last_synced_at) else "",
                ]
                for p in detail.producers_added.itertuples(index=False)
            ],
            headers=["npn", "name", "sync status", "last synced"],
            tablefmt="simple",
            disable_numparse=True,
        )
        click.echo("\n".join("  " + line for line in table.splitlines()))
        not_found = int((detail.producers_added["sync_status"] == "Not Found").sum())
        if not_found:
            click.echo(
                f"{not_found} of them Not Found at NIPR: check the NPN in the file; "
                "`npnflow producers remove NPN --by NAME` removes one nothing was sent for."
            )
        click.echo("`npnflow producers show NPN` tells one producer's whole story.")
    _echo_match_others(others)
