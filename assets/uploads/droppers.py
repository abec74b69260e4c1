"""Who dropped a file's bytes (issue 19): `upload_droppers`, keyed by content hash.

Recorded by `npnflow drop --by NAME` before the file lands in the inbox, and by the upload step
when the bucket's object carries a `dropped-by` metadata entry (S3 user metadata,
`x-amz-meta-dropped-by`, set by whatever put the file there). The upload's batches read it: their
`created` events name the dropper, and with `four_eyes: true` in config/approvers.yaml the
dropper may not approve them (docs/security.md).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from schemas.tables import TABLES


def droppers_of_upload(connection: Connection, upload_id: str | None) -> list[str]:
    """Who dropped the bytes of this upload (`npnflow drop --by`), sorted; [] when not known."""
    if not upload_id:
        return []
    uploads, droppers = TABLES["uploads"], TABLES["upload_droppers"]
    return list(
        connection.execute(
            sa.select(droppers.c.dropped_by)
            .join(uploads, uploads.c.content_sha256 == droppers.c.content_sha256)
            .where(uploads.c.upload_id == upload_id)
            .order_by(droppers.c.dropped_by)
        ).scalars()
    )


def record_dropper(
    connection: Connection, *, content_sha256: str, object_key: str, by: str, now: dt.datetime
) -> None:
    """Remember who dropped these bytes (once per person and content)."""
    droppers = TABLES["upload_droppers"]
    exists = connection.execute(
        sa.select(sa.func.count())
        .select_from(droppers)
        .where(droppers.c.content_sha256 == content_sha256, droppers.c.dropped_by == by)
    ).scalar_one()
    if not exists:
        connection.execute(
            droppers.insert().values(
                content_sha256=content_sha256, dropped_by=by, object_key=object_key, dropped_at=now
            )
        )
