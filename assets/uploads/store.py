"""The `uploads` and `upload_row_errors` tables, and applying a validated upload.

Every function takes an open connection; `apply_validated_upload` is what the upload assets
(and `bench/upload_validate.py`) run inside one transaction: the upload's counts and status,
its row errors (replaced, so a re-run is idempotent), its request rows for the later steps
(`request_rows.py`, replaced likewise) and, for an agent upload, onboarding.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assets.onboarding import store as onboarding_store
from assets.onboarding.onboarding import Fingerprint, OnboardingPlan, plan_onboarding
from assets.uploads import request_rows
from assets.uploads.ledger import CLAIMING_STATUSES, DUPLICATE, PROCESSED, REJECTED
from assets.uploads.validation import ValidatedUpload
from resources.bulk_writes import insert_frame
from resources.database import read_table
from resources.scoped_reads import npn_scope
from schemas.tables import upload_row_errors, uploads

#: The reference tables an upload is validated against (with `companies`).
REFERENCE_READS = ("jurisdictions", "loa_categories", "lines_of_authority", "termination_reasons")


def read_validation_inputs(
    connection: Connection,
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """What `validate_upload` checks a file against: the reference tables and the companies,
    as the database holds them (the pipeline's step and `npnflow check` read the same)."""
    reference = {table: read_table(connection, table) for table in REFERENCE_READS}
    return reference, read_table(connection, "companies")


def read_upload_row(connection: Connection, upload_id: str) -> dict[str, Any] | None:
    row = connection.execute(sa.select(uploads).where(uploads.c.upload_id == upload_id)).first()
    return dict(row._mapping) if row is not None else None


def claim_holder(connection: Connection, sha256: str, other_than: str) -> dict[str, Any] | None:
    """The other upload holding this content's claim (Received or Processed), if any: at most
    one, by `uq_uploads_content_claim`. Its `completed_at` says whether its steps finished."""
    row = connection.execute(
        sa.select(
            uploads.c.upload_id,
            uploads.c.object_key,
            uploads.c.kind,
            uploads.c.status,
            uploads.c.completed_at,
        )
        .where(uploads.c.content_sha256 == sha256)
        .where(uploads.c.status.in_(CLAIMING_STATUSES))
        .where(uploads.c.upload_id != other_than)
        .order_by(uploads.c.received_at, uploads.c.upload_id)
        .limit(1)
    ).first()
    return dict(row._mapping) if row is not None else None


def work_target(connection: Connection, upload_id: str) -> dict[str, Any] | None:
    """The upload whose steps a run of partition `upload_id` does: its own row, or, for a
    Duplicate whose first copy was cut short (not completed, still holding the claim), that
    first copy's row: a drop of the same content continues the unfinished upload.

    The returned row has `continuing` True in the second case. None when nothing is recorded.
    """
    own = read_upload_row(connection, upload_id)
    if own is None:
        return None
    first_id = own.get("duplicate_of")
    if own["status"] == DUPLICATE and first_id:
        first = read_upload_row(connection, first_id)
        if (
            first is not None
            and first["completed_at"] is None
            and first["status"] in CLAIMING_STATUSES
        ):
            return {**first, "continuing": True, "continued_by": upload_id}
    return {**own, "continuing": False}


def lock_upload_row(connection: Connection, upload_id: str) -> None:
    """Serialise writers of one upload: the first statement of a step's writing transaction.

    An UPDATE that changes nothing still takes the row's lock on PostgreSQL and the database's
    write lock on SQLite (whose pysqlite transaction otherwise begins at the first write, after
    the reads), so two runs working on the same upload (its own, and a drop of the same content
    continuing it) write one after the other, each seeing what the other committed.
    """
    connection.execute(
        uploads.update().where(uploads.c.upload_id == upload_id).values(status=uploads.c.status)
    )


def unfinished_uploads(connection: Connection, limit: int) -> list[tuple[str, dt.datetime, str]]:
    """(upload_id, received_at, object_key) of the uploads holding their claim whose steps have
    not all committed, oldest first."""
    rows = connection.execute(
        sa.select(uploads.c.upload_id, uploads.c.received_at, uploads.c.object_key)
        .where(uploads.c.completed_at.is_(None))
        .where(uploads.c.status.in_(CLAIMING_STATUSES))
        .order_by(uploads.c.received_at, uploads.c.upload_id)
        .limit(limit)
    ).all()
    return [(str(r.upload_id), r.received_at, str(r.object_key)) for r in rows]


def is_completed(connection: Connection, upload_id: str) -> bool:
    return (
        connection.execute(
            sa.select(uploads.c.completed_at).where(uploads.c.upload_id == upload_id)
        ).scalar()
        is not None
    )


def mark_completed(connection: Connection, upload_id: str, now: dt.datetime) -> None:
    """Every step of the upload's kind committed (inside the last step's transaction)."""
    connection.execute(
        uploads.update()
        .where(uploads.c.upload_id == upload_id, uploads.c.completed_at.is_(None))
        .values(completed_at=now)
    )


def save_upload_row(connection: Connection, upload_id: str, values: dict[str, Any]) -> None:
    """Create the upload's row, or update the given columns of it (received_at is kept)."""
    exists = connection.execute(
        sa.select(uploads.c.upload_id).where(uploads.c.upload_id == upload_id)
    ).first()
    if exists is None:
        connection.execute(uploads.insert().values(upload_id=upload_id, **values))
    else:
        values = {k: v for k, v in values.items() if k != "received_at"}
        connection.execute(
            uploads.update().where(uploads.c.upload_id == upload_id).values(**values)
        )


def replace_row_errors(connection: Connection, upload_id: str, validated: ValidatedUpload) -> int:
    connection.execute(upload_row_errors.delete().where(upload_row_errors.c.upload_id == upload_id))
    errors = validated.row_errors
    if errors.empty:
        return 0
    rows = pd.DataFrame(
        {
            "upload_id": upload_id,
            "row_number": errors["row_number"].to_numpy(dtype="int64"),
            "column": errors["column"].to_numpy(dtype=object),
            "message": errors["message"].to_numpy(dtype=object),
        }
    )
    return insert_frame(connection, upload_row_errors, rows)


def mark_rejected(
    connection: Connection, upload_id: str, message: str, report_key: str | None
) -> None:
    """A whole-file rejection: the upload's row says why; nothing else changes."""
    connection.execute(upload_row_errors.delete().where(upload_row_errors.c.upload_id == upload_id))
    request_rows.delete_request_rows(connection, upload_id)
    connection.execute(
        uploads.update()
        .where(uploads.c.upload_id == upload_id)
        .values(
            status=REJECTED,
            error_message=message,
            error_report_key=report_key,
            rows_total=None,
            rows_blank=None,
            rows_valid=None,
            rows_rejected=None,
            completed_at=sa.func.coalesce(uploads.c.completed_at, dt.datetime.now(dt.UTC)),
        )
    )


def apply_validated_upload(
    connection: Connection,
    upload_id: str,
    validated: ValidatedUpload,
    *,
    error_report_key: str | None,
    protect: Callable[[str], tuple[str, str | None]],
    now: dt.datetime,
    fingerprint: Fingerprint | None = None,
) -> OnboardingPlan | None:
    """Record the validation of an upload: its counts, row errors and, for appoint, terminate
    and portal_invite, its request rows (read by the later steps instead of the file); for an
    agent upload, onboard its valid rows (never stored as request rows: they hold SSNs).

    Runs inside the caller's transaction. Returns the onboarding plan (None for other kinds).
    `fingerprint`: the vault's keyed SSN fingerprint (`SsnVault.fingerprinter`), so an SSN
    already stored keeps its token and an unchanged producer is not written again.
    """
    connection.execute(
        uploads.update()
        .where(uploads.c.upload_id == upload_id)
        .values(
            kind=validated.kind,
            status=PROCESSED,
            rows_total=validated.rows_total,
            rows_blank=validated.rows_blank,
            rows_valid=validated.rows_valid,
            rows_rejected=validated.rows_rejected,
            error_message=None,
            error_report_key=error_report_key,
        )
    )
    replace_row_errors(connection, upload_id, validated)
    request_rows.write_request_rows(connection, upload_id, validated)
    if validated.kind != "agent":
        return None  # the kind's own step (appoint, terminate, portal) completes it
    # Onboarding is the agent kind's last step, in this transaction.
    mark_completed(connection, upload_id, now)
    if validated.valid_rows.empty:
        return None
    valid = validated.valid_rows
    # The file's NPNs staged once: its stored producers and their assignments read by a join.
    with npn_scope(connection, valid["npn"].tolist()) as scope:
        existing = onboarding_store.read_existing_producers(scope)
        known_agencies = onboarding_store.read_existing_agencies(
            connection, valid["agency_npn"].dropna().tolist()
        )
        plan = plan_onboarding(
            valid,
            validated.exploded(),
            existing,
            known_agencies,
            protect,
            now,
            fingerprint=fingerprint,
        )
        onboarding_store.write_onboarding(scope, plan)
    return plan
