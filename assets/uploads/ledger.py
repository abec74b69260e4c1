"""What the upload assets decide without I/O: which file a partition is, statuses, report names.

Pure (no Dagster, no database, no store). The assets in `assets/uploads/assets.py` read the
store and the database, ask these functions, and write.

A partition is one version of one dropped file (`inbox.partition_key_for(key, etag)`: the name
ends with a hash of key and ETag). A run finds its file, in this order:
1. the run's tags (`npnflow/object_key`, `npnflow/etag`, set by `inbox_file_sensor`), when they
   hash to the partition key;
2. the `uploads` row of the partition (`upload_id` = partition key), written by the first run,
   whose `object_key` is checked against the store's current ETag;
3. a listing of the partition's inbox folder, looking for the key whose (key, ETag) hashes to
   the partition key (a partition launched from the UI before any run recorded it).
So a partition re-materialized from the UI still finds its file, and never processes a newer
version of it by mistake: a replaced file is a new partition of its own.

Statuses of an `uploads` row:
- `Received`: read and recognised; validation has not finished yet;
- `Processed`: validated (some rows may have been rejected: see rows_rejected);
- `Rejected`: the whole file was refused (`error_message` says why);
- `Duplicate`: the same content as another upload (`duplicate_of`, and `error_message` names
  it): when that upload finished, nothing is done; when its steps were cut short (a crash
  between steps), this drop's run does them for that upload (`continuing_message`).

The content claim: an upload `Received` or `Processed` holds its content's hash
(`uq_uploads_content_claim`), so of two drops of the same bytes, even started together, one is
processed and the other is `Duplicate`. `Rejected` releases it: a refused file can be fixed and
dropped again. `uploads.completed_at` is set in the transaction of the kind's last step.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

from assets.keys import TAG_ETAG, TAG_KIND, TAG_OBJECT_KEY
from assets.uploads.inbox import INBOX_PREFIX, KINDS, ListedObject, partition_key_for
from assets.uploads.validation import mask_ssns, neutralise

RECEIVED = "Received"
PROCESSED = "Processed"
REJECTED = "Rejected"
DUPLICATE = "Duplicate"
UPLOAD_STATUSES = (RECEIVED, PROCESSED, REJECTED, DUPLICATE)
#: The statuses that hold the content's claim (`uq_uploads_content_claim` in schemas/tables.py).
CLAIMING_STATUSES = (RECEIVED, PROCESSED)
UNKNOWN_KIND = "unknown"

_MD5_ETAG = re.compile(r"^[0-9a-f]{32}$")


def run_tags(key: str, etag: str, kind: str | None) -> dict[str, str]:
    """The tags the sensor puts on a partition's run, read back by `object_from_tags`."""
    return {TAG_OBJECT_KEY: key, TAG_ETAG: etag, TAG_KIND: kind or "from header"}


def object_from_tags(tags: Mapping[str, str], partition_key: str) -> tuple[str, str] | None:
    """(key, etag) from a run's tags when they name this partition's file, else None."""
    key, etag = tags.get(TAG_OBJECT_KEY), tags.get(TAG_ETAG)
    if key and etag and partition_key_for(key, etag) == partition_key:
        return key, etag
    return None


def find_partition_object(
    objects: Iterable[ListedObject], partition_key: str
) -> ListedObject | None:
    """The listed object whose version is this partition, if any."""
    for obj in objects:
        if partition_key_for(obj.key, obj.etag) == partition_key:
            return obj
    return None


def listing_prefix(partition_key: str) -> str:
    """The folder to list when looking for a partition's file: `inbox/<kind>/` when the
    partition key names a kind, else the whole inbox."""
    head = partition_key.split("__", 1)[0]
    return f"{INBOX_PREFIX}{head}/" if head in KINDS else INBOX_PREFIX


def content_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content_matches_etag(data: bytes, etag: str) -> bool:
    """Whether `data` is the version with this ETag. Plain MD5 ETags are checked; others
    (S3 multipart, SSE-KMS) cannot be recomputed from the bytes and are taken as they are."""
    if not _MD5_ETAG.fullmatch(etag):
        return True
    return hashlib.md5(data, usedforsecurity=False).hexdigest() == etag


def file_name(key: str) -> str:
    return key.rsplit("/", 1)[-1]


def error_report_keys(object_key: str, source_format: str | None) -> list[str]:
    """`<file>.errors.csv` beside the upload, and `<file>.errors.xlsx` for a workbook.

    The whole file name is kept (`roster.csv.errors.csv`), so `roster.csv` and `roster.xlsx`
    in the same folder never overwrite each other's report. The inbox sensor ignores both.
    """
    keys = [f"{object_key}.errors.csv"]
    if source_format == "xlsx":
        keys.append(f"{object_key}.errors.xlsx")
    return keys


def file_rejection_report_csv(message: str) -> bytes:
    """The report of a refused file: the header of a row report, and one line saying why."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["Row", "Errors"])
    writer.writerow(["(file)", neutralise(mask_ssns(message))])
    return buffer.getvalue().encode("utf-8-sig")


def superseded_report(report_format: str, upload_id: str, when: dt.datetime) -> bytes:
    """What replaces an earlier version's error report once a version without rejected rows
    was processed: the same shape as a row report, one line saying it no longer applies."""
    message = (
        f"Superseded: the version of this file processed as upload {upload_id} on "
        f"{when:%Y-%m-%d %H:%M} UTC had no rejected rows; this report no longer applies."
    )
    if report_format == "xlsx":
        from openpyxl import Workbook

        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet("errors")
        sheet.append(["Row", "Errors"])
        sheet.append(["(file)", message])
        buffer = io.BytesIO()
        workbook.save(buffer)
        return buffer.getvalue()
    return file_rejection_report_csv(message)


def receipt_status(
    *,
    previous_status: str | None,
    previous_sha256: str | None,
    sha256: str,
    duplicate_of: str | None,
) -> str:
    """The status the raw step records for a readable file.

    A duplicate of another processed upload is `Duplicate`. A re-run of an upload already
    processed with the same bytes keeps `Processed` (the validation step runs again anyway);
    anything else is `Received`.
    """
    if duplicate_of is not None:
        return DUPLICATE
    if previous_status == PROCESSED and previous_sha256 == sha256:
        return PROCESSED
    return RECEIVED


def duplicate_message(first_upload_id: str, first_object_key: str) -> str:
    return (
        f"The same content was already processed as upload {first_upload_id} "
        f"({first_object_key}); this copy was not processed again."
    )


def continuing_message(first_upload_id: str, first_object_key: str) -> str:
    return (
        f"The same content is upload {first_upload_id} ({first_object_key}), whose processing "
        "did not finish; this drop continues it (its steps run for that upload, once)."
    )


def should_process(status: str | None) -> bool:
    """Whether validation (and onboarding) run for an upload in this status."""
    return status in (RECEIVED, PROCESSED)


@dataclass(frozen=True)
class ResolvedObject:
    key: str
    etag: str
    how: str  # "run tags", "uploads table", "inbox listing"


def markdown_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Cells that do not break a Markdown table (pipes escaped, line breaks flattened)."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or str(out[column].dtype) in ("str", "string"):
            out[column] = (
                out[column]
                .astype("str")
                .str.replace("|", "\\|", regex=False)
                .str.replace(r"[\r\n]+", " ", regex=True)
            )
    return out
