"""`npnflow drop`'s helpers: which file names it refuses, and who dropped a file (`--by`).

In a module of their own so `npnflow/cli.py` stays small; nothing heavy is imported at the top
(cli.py imports `MAX_DROPPED_NAME_BYTES` for its help text).

`--by NAME` records the dropper against the file's content hash (`upload_droppers`, migration
0018) before the file lands in the inbox, so the upload's batches know who dropped them: their
`created` events name the dropper, and with `four_eyes: true` in config/approvers.yaml the
dropper may not approve them (docs/security.md).
"""

from __future__ import annotations

import sys

import click

# The local bucket is a folder: a file name is at most 255 bytes, and the store writes a hidden
# `.<name>.<8 hex>.partial` before renaming it (18 bytes more), for the upload and for the
# error report beside it, `<name>.errors.xlsx` (12 more): 255 - 12 - 18.
MAX_DROPPED_NAME_BYTES = 225


def record_dropper_or_exit(data: bytes, key: str, by: str) -> None:
    """Record who drops these bytes; a blank name or a database not at head exits 1."""
    import datetime as dt

    from assets.batches.events import record_dropper
    from assets.uploads.ledger import content_sha256
    from resources import paths
    from resources.database import DatabaseNotMigrated, OperationalDatabase

    name = " ".join(by.split())
    if not name:
        click.echo("Say who drops the file: --by NAME (recorded), or leave --by out.", err=True)
        sys.exit(1)
    database = OperationalDatabase(url=paths.database_url())
    try:
        database.ensure_migrated()
        with database.begin() as connection:
            record_dropper(
                connection,
                content_sha256=content_sha256(data),
                object_key=key,
                by=name,
                now=dt.datetime.now(dt.UTC),
            )
    except DatabaseNotMigrated as error:
        click.echo(f"Not dropped: {error}", err=True)
        sys.exit(1)
    finally:
        database.engine.dispose()


def refusal_of_name(name: str) -> str | None:
    """Why `npnflow drop` will not drop a file of this name, in one sentence; None if it may.

    The names inbox_file_sensor ignores (`assets/uploads/inbox.py::is_upload_key`: hidden
    files, Excel's lock files, npnflow's own error reports) would sit in the inbox unprocessed,
    and a name too long for the folder's error report would fail half-way.
    """
    from assets.uploads.inbox import ERROR_REPORT_SUFFIXES, INBOX_PREFIX, is_upload_key

    size = len(name.encode("utf-8"))
    if size > MAX_DROPPED_NAME_BYTES:
        return (
            f"{name[:40]}... was not dropped: its name is {size} bytes long, too long for the "
            "bucket folder once the error report's '.errors.csv' is added beside it (file "
            f"names are at most 255 bytes there); rename it to at most {MAX_DROPPED_NAME_BYTES} "
            "bytes and drop it again."
        )
    if is_upload_key(f"{INBOX_PREFIX}{name}"):
        return None
    if name.startswith("."):
        visible = name.lstrip(".") or "upload.csv"
        return (
            f"{name} was not dropped: inbox_file_sensor ignores names that start with '.' "
            f"(hidden files, partial copies); rename it, e.g. to {visible}, and drop it again."
        )
    if name.startswith("~$"):
        return (
            f"{name} was not dropped: inbox_file_sensor ignores names that start with '~$' "
            f"(the lock files Excel keeps beside an open workbook); drop the workbook itself, "
            f"e.g. {name[2:] or 'upload.xlsx'}, once it is saved and closed."
        )
    suffix = next((s for s in ERROR_REPORT_SUFFIXES if name.lower().endswith(s)), None)
    if suffix is not None:
        stem = name[: -len(suffix)].rsplit(".", 1)[0] or "upload"
        corrected = f"{stem}-corrected.{suffix.rsplit('.', 1)[1]}"
        return (
            f"{name} was not dropped: inbox_file_sensor ignores names ending in "
            f"{' or '.join(ERROR_REPORT_SUFFIXES)} (the error reports npnflow writes beside an "
            f"upload); save the corrected rows under a name of their own, e.g. {corrected}, and "
            "drop that."
        )
    return (
        f"{name} was not dropped: inbox_file_sensor would ignore it; rename the file (letters, "
        "digits, '-', '_' and one extension) and drop it again."
    )
