"""Dropped files as Dagster assets: one dynamic partition of `uploads` per file version.

`inbox_file_sensor` (pipelines/sensors.py) adds the partition and requests `process_upload_job`
with the file's key and ETag as run tags. Thin: the decisions live in `ledger.py` (which file,
which status, report names), `reading.py` / `validation.py` / `error_report.py` (the file) and
`assets/onboarding/onboarding.py` (producers); the writes in `store.py` modules and
`request_rows.py` (the stored request rows).

- `raw_uploads__file` (group `uploads`): finds the partition's file, reads its bytes, and
  records the upload in `uploads` (`upload_id` = partition key, with the object key and the
  content's SHA-256): `Duplicate` when the same content was already processed (nothing else
  happens), `Rejected` when the whole file is refused (one message, in `uploads.error_message`
  and in `<file>.errors.csv` beside the upload; nothing else changes), else `Received`.
- `core_uploads__validated` (group `uploads`) and `core_onboarding__producers` (group
  `onboarding`), one step: every row validated; `<file>.errors.csv` (and `.xlsx` for a
  workbook) written beside the upload when rows were rejected; then, in ONE database
  transaction, the upload's counts and status, its `upload_row_errors` (replaced: a re-run is
  idempotent), the valid request rows of an appoint, terminate or portal_invite file in
  `upload_request_rows` (the later steps read them by upload id, never the file again) and,
  for an agent file, the agencies, producers and producer assignments. They are skipped (not
  materialized) for a Duplicate or Rejected upload.

Nothing here logs or shows an SSN: metadata holds counts, row errors (SSNs masked by the
validator) and producer summaries without SSN digits.
"""

import datetime as dt
from collections.abc import Iterator
from typing import Any

import dagster as dg
import sqlalchemy as sa

from assets.keys import ONBOARDING_KEY, RAW_FILE_KEY, UPLOADS_PARTITIONS, VALIDATED_KEY
from assets.retries import retry_transient_database_errors
from assets.uploads import ledger
from assets.uploads import store as upload_store
from assets.uploads.cells import mask_ssns
from assets.uploads.droppers import record_dropper
from assets.uploads.error_report import error_report_csv, error_report_xlsx
from assets.uploads.inbox import kind_from_key, partition_key_for
from assets.uploads.reading import (
    RawUpload,
    UploadRejected,
    detect_kind,
    read_upload,
    require_columns,
)
from assets.uploads.upload_metadata import onboarding_metadata, report_path, validation_metadata
from assets.uploads.validation import ValidatedUpload, validate_upload
from resources.database import OperationalDatabase
from resources.object_store import ObjectNotFound, ObjectStore
from resources.ssn import SsnVault

# Kept importable here (bench/e2e_appoint_file.py reads it): defined with its read in store.py.
REFERENCE_READS = upload_store.REFERENCE_READS


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ============================================================================================
# Which file is this partition
# ============================================================================================


def _resolve_object(
    context: dg.AssetExecutionContext,
    database: OperationalDatabase,
    object_store: ObjectStore,
    upload_id: str,
) -> ledger.ResolvedObject:
    from_tags = ledger.object_from_tags(context.run.tags, upload_id)
    if from_tags is not None:
        return ledger.ResolvedObject(*from_tags, how="run tags")
    with database.begin() as connection:
        row = upload_store.read_upload_row(connection, upload_id)
    if row is not None:
        key = row["object_key"]
        current = next((o for o in object_store.list_objects(prefix=key) if o.key == key), None)
        if current is None:
            raise dg.Failure(
                description=f"Upload {upload_id}: the file {key} is no longer in the bucket.",
                allow_retries=False,
            )
        if partition_key_for(key, current.etag) != upload_id:
            raise dg.Failure(
                description=(
                    f"Upload {upload_id}: {key} was replaced by a newer version since; that "
                    f"version is its own partition, {partition_key_for(key, current.etag)}."
                ),
                allow_retries=False,
            )
        return ledger.ResolvedObject(key, current.etag, how="uploads table")
    found = ledger.find_partition_object(
        object_store.list_objects(prefix=ledger.listing_prefix(upload_id)), upload_id
    )
    if found is None:
        raise dg.Failure(
            description=(
                f"Upload {upload_id}: no file in the bucket is this version (it was replaced or "
                "removed), and no run recorded it."
            ),
            allow_retries=False,
        )
    return ledger.ResolvedObject(found.key, found.etag, how="inbox listing")


# ============================================================================================
# raw_uploads__file
# ============================================================================================


@dg.asset(
    key=RAW_FILE_KEY,
    group_name="uploads",
    kinds={"csv", "xlsx"},
    partitions_def=UPLOADS_PARTITIONS,
    description=(
        "A dropped file (one partition per file version): read, recognised, recorded in "
        "`uploads`. Duplicate content and whole-file rejections stop here."
    ),
)
@retry_transient_database_errors
def raw_uploads__file(
    context: dg.AssetExecutionContext,
    database: OperationalDatabase,
    object_store: ObjectStore,
) -> dg.MaterializeResult[Any]:
    upload_id = context.partition_key
    resolved = _resolve_object(context, database, object_store, upload_id)
    try:
        data = object_store.get_bytes(resolved.key)
    except ObjectNotFound:
        raise dg.Failure(
            description=f"Upload {upload_id}: {resolved.key} is no longer in the bucket.",
            allow_retries=False,
        ) from None
    if not ledger.content_matches_etag(data, resolved.etag):
        raise dg.Failure(
            description=(
                f"Upload {upload_id}: {resolved.key} was replaced after it was dropped; the new "
                "version is processed as its own partition."
            ),
            allow_retries=False,
        )
    sha256 = ledger.content_sha256(data)
    name = ledger.file_name(resolved.key)
    folder_kind = kind_from_key(resolved.key)
    metadata: dict[str, Any] = {
        "object_key": dg.MetadataValue.path(resolved.key),
        "etag": resolved.etag,
        "bytes": len(data),
        "content_sha256": sha256,
        "found_by": resolved.how,
    }
    base = {
        "object_key": resolved.key,
        "content_sha256": sha256,
        "received_at": _now(),
    }

    # Who dropped it, when the bucket's object says (S3 metadata `dropped-by`): recorded like
    # `npnflow drop --by`, so the four-eyes rule knows them (docs/security.md).
    dropper = object_store.dropped_by(resolved.key)
    if dropper is not None:
        metadata["dropped_by"] = dropper
    with database.begin() as connection:
        if dropper is not None:
            record_dropper(
                connection,
                content_sha256=sha256,
                object_key=resolved.key,
                by=dropper,
                now=_now(),
            )
        previous = upload_store.read_upload_row(connection, upload_id)
        holder = upload_store.claim_holder(connection, sha256, upload_id)
    if holder is not None and holder["completed_at"] is not None:
        # The common case, decided before reading the file: the same bytes were done already.
        return _duplicate(context, database, upload_id, base, holder, metadata)

    try:
        raw = read_upload(data, name)
        kind = detect_kind(raw.headers, folder_kind)
        require_columns(raw.labels, kind)
    except UploadRejected as rejection:
        rejection.message = mask_ssns(rejection.message)
        report_key = _reject(
            database,
            object_store,
            upload_id,
            resolved.key,
            rejection.message,
            {**base, "kind": folder_kind or ledger.UNKNOWN_KIND},
        )
        context.log.warning(f"Upload {upload_id} rejected: {rejection.message}")
        return dg.MaterializeResult(
            metadata={
                **metadata,
                "status": ledger.REJECTED,
                "message": rejection.message,
                "error_report": report_path(report_key),
            }
        )

    status = ledger.receipt_status(
        previous_status=previous["status"] if previous else None,
        previous_sha256=previous["content_sha256"] if previous else None,
        sha256=sha256,
        duplicate_of=None,
    )
    holder = _claim(database, upload_id, sha256, {**base, "kind": kind, "status": status})
    if holder is not None:
        return _duplicate(context, database, upload_id, base, holder, metadata)
    metadata |= {
        "status": status,
        "kind": kind,
        "kind_from": "folder" if folder_kind else "header",
        "format": raw.source_format,
        "data_rows": len(raw.frame),
        "columns": ", ".join(raw.labels),
    }
    if raw.encoding:
        metadata["encoding"] = raw.encoding
    if raw.sheet_name:
        metadata["sheet"] = raw.sheet_name
    return dg.MaterializeResult(metadata=metadata)


def _claim(
    database: OperationalDatabase, upload_id: str, sha256: str, row: dict[str, Any]
) -> dict[str, Any] | None:
    """Take the content's claim for this upload, or return the upload that holds it.

    The look-up and the write are one transaction, and `uq_uploads_content_claim` refuses a
    second holder: when two drops of the same bytes race, one write fails, and its second try
    finds the winner.
    """
    for attempt in range(3):
        try:
            with database.begin() as connection:
                holder = upload_store.claim_holder(connection, sha256, upload_id)
                if holder is not None:
                    return holder
                upload_store.save_upload_row(connection, upload_id, {**row, "error_message": None})
            return None
        except sa.exc.IntegrityError:
            if attempt == 2:
                raise
    return None


def _duplicate(
    context: dg.AssetExecutionContext,
    database: OperationalDatabase,
    upload_id: str,
    base: dict[str, Any],
    holder: dict[str, Any],
    metadata: dict[str, Any],
) -> dg.MaterializeResult[Any]:
    """Record this upload as a Duplicate of the claim's holder. When the holder's steps were
    cut short, the later steps of this run continue them (`_work_target`)."""
    finished = holder["completed_at"] is not None
    message = (
        ledger.duplicate_message(holder["upload_id"], holder["object_key"])
        if finished
        else ledger.continuing_message(holder["upload_id"], holder["object_key"])
    )
    with database.begin() as connection:
        upload_store.save_upload_row(
            connection,
            upload_id,
            {
                **base,
                "kind": holder["kind"],
                "status": ledger.DUPLICATE,
                "duplicate_of": holder["upload_id"],
                "error_message": message,
                "error_report_key": None,
                "completed_at": _now(),
            },
        )
    context.log.info(f"Upload {upload_id}: {message}")
    return dg.MaterializeResult(
        metadata={
            **metadata,
            "status": ledger.DUPLICATE,
            "duplicate_of": holder["upload_id"],
            "continues": not finished,
            "message": message,
        }
    )


def _reject(
    database: OperationalDatabase,
    object_store: ObjectStore,
    upload_id: str,
    object_key: str,
    message: str,
    row: dict[str, Any],
) -> str:
    """Record a whole-file rejection: the one-line report beside the file, then the row.

    The message is masked here too: a rejection may one day quote a cell, and the row, the log
    and the metadata must never show an SSN (the report masks it as well)."""
    report_key = ledger.error_report_keys(object_key, None)[0]
    object_store.put_bytes(report_key, ledger.file_rejection_report_csv(message))
    with database.begin() as connection:
        upload_store.save_upload_row(
            connection,
            upload_id,
            {
                **row,
                "status": ledger.REJECTED,
                "error_message": message,
                "error_report_key": report_key,
                "completed_at": _now(),
            },
        )
        upload_store.mark_rejected(connection, upload_id, message, report_key)
    return report_key


# ============================================================================================
# core_uploads__validated + core_onboarding__producers
# ============================================================================================


def _read_and_validate(
    database: OperationalDatabase,
    object_store: ObjectStore,
    upload_id: str,
    row: dict[str, Any],
) -> tuple[RawUpload, ValidatedUpload]:
    """Read the recorded upload's file from the bucket and validate it: the one read of the
    file after `raw_uploads__file`. Its request rows are then stored (`request_rows.py`) for
    the later steps. Raises UploadRejected for a refused file."""
    key = row["object_key"]
    data = object_store.get_bytes(key)
    if ledger.content_sha256(data) != row["content_sha256"]:
        raise dg.Failure(
            description=(
                f"Upload {upload_id}: {key} changed since it was read; materialize "
                "raw_uploads__file again for this partition (or process the new version's)."
            ),
            allow_retries=False,
        )
    with database.begin() as connection:
        reference, companies = upload_store.read_validation_inputs(connection)
    if reference["jurisdictions"].empty:
        raise dg.Failure(
            description="The reference tables are empty: run load_reference_data_job first.",
            allow_retries=False,
        )
    raw = read_upload(data, ledger.file_name(key))
    return raw, validate_upload(raw, row["kind"], reference, companies)


@dg.multi_asset(
    name="core_uploads__processed",
    partitions_def=UPLOADS_PARTITIONS,
    specs=[
        dg.AssetSpec(
            VALIDATED_KEY,
            group_name="uploads",
            deps=[RAW_FILE_KEY],
            kinds={"pandera", "sql"},
            skippable=True,
            description=(
                "Every row of the upload validated: counts in `uploads`, problems in "
                "`upload_row_errors` and in `<file>.errors.csv` beside the upload."
            ),
        ),
        dg.AssetSpec(
            ONBOARDING_KEY,
            group_name="onboarding",
            deps=[VALIDATED_KEY],
            kinds={"sql"},
            skippable=True,
            description=(
                "Agent uploads: agencies and producers upserted (new ones `Not Started`, for "
                "the next NIPR initial sync), producer assignments replaced, SSNs protected."
            ),
        ),
    ],
)
@retry_transient_database_errors
def core_uploads__processed(
    context: dg.AssetExecutionContext,
    database: OperationalDatabase,
    object_store: ObjectStore,
    ssn_vault: SsnVault,
) -> Iterator[dg.MaterializeResult[Any]]:
    partition_id = context.partition_key
    with database.begin() as connection:
        row = upload_store.work_target(connection, partition_id)
    if row is None:
        raise dg.Failure(
            description=(
                f"Upload {partition_id} is not recorded: materialize raw_uploads__file first."
            ),
            allow_retries=False,
        )
    upload_id = row["upload_id"]
    if not ledger.should_process(row["status"]):
        context.log.info(
            f"Upload {upload_id} is {row['status']}: nothing to validate ({row['error_message']})"
        )
        return
    if row["continuing"]:
        context.log.info(
            f"Upload {partition_id} continues upload {upload_id}, whose steps did not finish."
        )
        # The same content, in the file this run was asked for (the first may be gone).
        with database.begin() as connection:
            own = upload_store.read_upload_row(connection, partition_id)
        row = {**row, "object_key": own["object_key"] if own else row["object_key"]}
    key = row["object_key"]
    try:
        raw, validated = _read_and_validate(database, object_store, upload_id, row)
    except UploadRejected as rejection:
        rejection.message = mask_ssns(rejection.message)
        report_key = _reject(database, object_store, upload_id, key, rejection.message, {})
        context.log.warning(f"Upload {upload_id} rejected: {rejection.message}")
        yield dg.MaterializeResult(
            asset_key=VALIDATED_KEY,
            metadata={
                "status": ledger.REJECTED,
                "message": rejection.message,
                "error_report": report_path(report_key),
            },
        )
        return

    # The reports first: if the transaction then fails, a re-run rewrites them.
    report_keys: list[str] = []
    if validated.rows_rejected:
        report_keys = ledger.error_report_keys(key, raw.source_format)
        object_store.put_bytes(report_keys[0], error_report_csv(raw, validated))
        if len(report_keys) > 1:
            object_store.put_bytes(report_keys[1], error_report_xlsx(raw, validated))
    else:
        _supersede_old_reports(object_store, key, upload_id)
    with database.begin() as connection:
        upload_store.lock_upload_row(connection, upload_id)
        if row["completed_at"] is None and upload_store.is_completed(connection, upload_id):
            # Another run (its own, or a drop of the same content continuing it) finished it.
            context.log.info(f"Upload {upload_id} was finished by another run meanwhile.")
            return
        plan = upload_store.apply_validated_upload(
            connection,
            upload_id,
            validated,
            error_report_key=report_keys[0] if report_keys else None,
            protect=ssn_vault.protector(),
            now=_now(),
            fingerprint=ssn_vault.fingerprinter(),
        )
    context.log.info(
        f"Upload {upload_id}: {validated.rows_valid} valid, {validated.rows_rejected} rejected, "
        f"{validated.rows_blank} blank rows"
    )
    yield dg.MaterializeResult(
        asset_key=VALIDATED_KEY,
        metadata=validation_metadata(validated, report_keys, ledger.PROCESSED),
    )
    yield dg.MaterializeResult(
        asset_key=ONBOARDING_KEY,
        metadata=onboarding_metadata(validated, plan, ssn_encrypted=ssn_vault.encrypts),
    )


def _supersede_old_reports(object_store: ObjectStore, key: str, upload_id: str) -> None:
    """A clean version of a file replaces the error report an earlier version left beside it:
    an analyst must never read an old `.errors.csv` as this version's (the store has no delete;
    the report says it is superseded)."""
    for report_key in ledger.error_report_keys(key, "xlsx"):
        if object_store.exists(report_key):
            object_store.put_bytes(
                report_key,
                ledger.superseded_report(report_key.rsplit(".", 1)[-1], upload_id, _now()),
            )


UPLOAD_ASSETS = [raw_uploads__file, core_uploads__processed]
__all__ = [
    "UPLOAD_ASSETS",
    "core_uploads__processed",
    "raw_uploads__file",
]
