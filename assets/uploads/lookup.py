"""What happened to a dropped file: finding an upload by what a person knows of it, and
reading everything recorded about it (for `npnflow uploads` and `npnflow batches --upload`).

A person knows a file by its name (`x.csv`), sometimes by its bucket key
(`inbox/appoint/x.csv`), and the UI shows the upload id (the partition key). `find_upload`
accepts any of the three; a name dropped several times resolves to the newest upload, the
others listed beside it. Plain reads on the caller's connection, no Dagster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assets.uploads.cells import mask_ssns
from schemas import statuses
from schemas.tables import (
    producers,
    transaction_batches,
    transactions,
    upload_row_errors,
    uploads,
)

LIST_COLUMNS = (
    "upload_id",
    "object_key",
    "kind",
    "status",
    "rows_total",
    "rows_valid",
    "rows_rejected",
    "received_at",
    "completed_at",
)


class UploadNotFound(LookupError):
    """Nothing recorded matches what the person typed."""


@dataclass(frozen=True)
class UploadMatch:
    """The upload a name resolves to (the newest of that name) and the older ones."""

    upload: dict[str, Any]
    others: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class UploadDetail:
    """Everything recorded about one upload."""

    upload: dict[str, Any]
    duplicate_of: dict[str, Any] | None
    row_errors: pd.DataFrame  # row_number, column, message (SSNs masked)
    row_errors_total: int
    batches: pd.DataFrame  # batch_id, kind, cocode, status, transactions, + one column/status
    producers_added: pd.DataFrame  # npn, first_name, last_name, sync_status (agent files)


def file_name(object_key: str) -> str:
    return object_key.rsplit("/", 1)[-1]


def _rows(connection: Connection, statement: sa.Select[Any]) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in connection.execute(statement)]


def _newest_first(statement: sa.Select[Any]) -> sa.Select[Any]:
    return statement.order_by(uploads.c.received_at.desc(), uploads.c.upload_id.desc())


def find_upload(connection: Connection, file_or_id: str) -> UploadMatch:
    """The upload `file_or_id` names: an upload id, a bucket key, a bare file name, or the
    start of an id (the newest upload of that name wins; the others come back in `others`,
    newest first)."""
    wanted = file_or_id.strip()
    if not wanted:
        raise UploadNotFound("Name a file, its bucket key or an upload id.")
    by_id = _rows(connection, sa.select(uploads).where(uploads.c.upload_id == wanted))
    if by_id:
        return UploadMatch(by_id[0])
    by_key = _rows(
        connection, _newest_first(sa.select(uploads).where(uploads.c.object_key == wanted))
    )
    if not by_key and "/" not in wanted:
        # A bare name: the key's last part. LIKE narrows on the database; the exact
        # comparison below drops what LIKE's wildcards (`_`, `%` in a name) let through.
        pattern = "%/" + wanted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        candidates = _rows(
            connection,
            _newest_first(
                sa.select(uploads).where(
                    sa.or_(
                        uploads.c.object_key == wanted,
                        uploads.c.object_key.like(pattern, escape="\\"),
                    )
                )
            ),
        )
        by_key = [u for u in candidates if file_name(u["object_key"]) == wanted]
    if not by_key:
        # The start of an id, as `uploads list` shortens a long one ("…" pasted along).
        prefix = wanted.rstrip("…")
        if len(prefix) >= 8:
            escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            by_key = _rows(
                connection,
                _newest_first(
                    sa.select(uploads).where(uploads.c.upload_id.like(escaped + "%", escape="\\"))
                ),
            )
            names = sorted({file_name(u["object_key"]) for u in by_key})
            if len(names) > 1:
                raise UploadNotFound(
                    f"{len(by_key)} uploads of {len(names)} files have an id starting with "
                    f"{prefix!r} ({', '.join(names[:5])}{', ...' if len(names) > 5 else ''}): "
                    "give the file name or more of the id."
                )
    if not by_key:
        raise UploadNotFound(
            f"No upload is named {wanted!r} (by file name, bucket key or upload id). "
            "`npnflow uploads list` shows every upload."
        )
    return UploadMatch(by_key[0], by_key[1:])


def list_uploads(
    connection: Connection,
    *,
    kind: str | None = None,
    status: str | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """The uploads, newest first (LIST_COLUMNS)."""
    statement = _newest_first(sa.select(*(uploads.c[name] for name in LIST_COLUMNS)))
    if kind is not None:
        statement = statement.where(uploads.c.kind == kind)
    if status is not None:
        statement = statement.where(uploads.c.status == status)
    if limit is not None:
        statement = statement.limit(limit)
    return pd.DataFrame(connection.execute(statement).fetchall(), columns=list(LIST_COLUMNS))


def _batches_of(connection: Connection, upload_id: str) -> pd.DataFrame:
    """The upload's batches, oldest first, with their transactions per status."""
    batch_rows = _rows(
        connection,
        sa.select(
            transaction_batches.c.batch_id,
            transaction_batches.c.kind,
            transaction_batches.c.cocode,
            transaction_batches.c.status,
            transaction_batches.c.approved_by,
        )
        .where(transaction_batches.c.upload_id == upload_id)
        .order_by(transaction_batches.c.created_at, transaction_batches.c.batch_id),
    )
    batches = pd.DataFrame(
        batch_rows, columns=["batch_id", "kind", "cocode", "status", "approved_by"]
    )
    if batches.empty:
        return batches.assign(transactions=pd.Series(dtype=int), by_status=pd.Series(dtype=object))
    counts = pd.DataFrame(
        connection.execute(
            sa.select(transactions.c.batch_id, transactions.c.status, sa.func.count().label("n"))
            .where(transactions.c.batch_id.in_(batches["batch_id"].tolist()))
            .group_by(transactions.c.batch_id, transactions.c.status)
        ).fetchall(),
        columns=["batch_id", "status", "n"],
    )
    order = {name: i for i, name in enumerate(statuses.TRANSACTION_STATUSES)}

    def by_status(batch_id: str) -> str:
        mine = counts[counts["batch_id"] == batch_id]
        ranked = sorted(mine.itertuples(index=False), key=lambda c: order.get(c.status, 99))
        return ", ".join(f"{int(c.n)} {c.status}" for c in ranked)

    totals = counts.groupby("batch_id")["n"].sum()
    return batches.assign(
        transactions=[int(totals.get(b, 0)) for b in batches["batch_id"]],
        by_status=[by_status(b) for b in batches["batch_id"]],
    )


def _producers_added(connection: Connection, upload: dict[str, Any]) -> pd.DataFrame:
    """Producers an agent file created. Agent rows are never stored (they hold SSNs), but the
    onboarding writes `producers.created_at` with the upload's completion time in the same
    transaction, so the pair identifies them without a link column. Producers the file only
    updated (already onboarded) are not told apart this way."""
    columns = ["npn", "first_name", "last_name", "sync_status", "last_synced_at"]
    if upload["kind"] != "agent" or upload["completed_at"] is None:
        return pd.DataFrame(columns=columns)
    return pd.DataFrame(
        connection.execute(
            sa.select(*(producers.c[name] for name in columns))
            .where(producers.c.created_at == upload["completed_at"])
            .order_by(producers.c.npn)
        ).fetchall(),
        columns=columns,
    )


def upload_detail(connection: Connection, upload_id: str, *, error_limit: int) -> UploadDetail:
    """Everything recorded about upload `upload_id` (see `find_upload` to resolve a name)."""
    found = _rows(connection, sa.select(uploads).where(uploads.c.upload_id == upload_id))
    if not found:
        raise UploadNotFound(f"No upload {upload_id!r}. `npnflow uploads list` shows every upload.")
    upload = found[0]
    duplicate_of = None
    if upload["duplicate_of"]:
        original = _rows(
            connection, sa.select(uploads).where(uploads.c.upload_id == upload["duplicate_of"])
        )
        duplicate_of = original[0] if original else {"upload_id": upload["duplicate_of"]}
    errors_where = upload_row_errors.c.upload_id == upload_id
    total = connection.execute(
        sa.select(sa.func.count()).select_from(upload_row_errors).where(errors_where)
    ).scalar_one()
    errors = pd.DataFrame(
        connection.execute(
            sa.select(
                upload_row_errors.c.row_number,
                upload_row_errors.c.column,
                upload_row_errors.c.message,
            )
            .where(errors_where)
            .order_by(upload_row_errors.c.row_number, upload_row_errors.c.id)
            .limit(error_limit)
        ).fetchall(),
        columns=["row_number", "column", "message"],
    )
    # Stored messages are masked when written; masked again because this is where they are
    # read by a person, whatever wrote them.
    errors["message"] = [mask_ssns(str(m)) for m in errors["message"]]
    return UploadDetail(
        upload=upload,
        duplicate_of=duplicate_of,
        row_errors=errors,
        row_errors_total=int(total),
        batches=_batches_of(connection, upload_id),
        producers_added=_producers_added(connection, upload),
    )
