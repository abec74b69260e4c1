"""The start every upload kind that acts on its rows shares (portal invitations, offboarding,
JIT releases): find the upload the partition works for, decide whether it still needs acting
on, and read its stored request rows. Dagster wiring, so a failure is a `dg.Failure`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg
import pandas as pd

from assets.uploads import ledger, request_rows
from assets.uploads import store as upload_store
from resources.database import OperationalDatabase


@dataclass(frozen=True)
class UploadToActOn:
    """An upload of the expected kind that still needs acting on, and its valid rows."""

    upload_id: str
    row: Mapping[str, Any]  # its `uploads` row (object_key, status, ...)
    rows: pd.DataFrame


def upload_to_act_on(
    database: OperationalDatabase, partition_key: str, kind: str, log: Any, nothing: str
) -> UploadToActOn | None:
    """The upload `partition_key` works for (its own, or the unfinished one a drop of the same
    content continues) with its request rows; None, logged with `nothing` ("nobody to
    invite"), when it is another kind's or needs nothing more."""
    with database.begin() as connection:
        row = upload_store.work_target(connection, partition_key)
    upload_id = row["upload_id"] if row else partition_key
    if row is None or row["kind"] != kind or not ledger.should_process(row["status"]):
        article = "an" if kind[:1] in "aeiou" else "a"
        why = (
            f"upload is {row['status']}"
            if row is not None and row["kind"] == kind
            else f"not {article} {kind} upload ({row['kind'] if row else 'not recorded'})"
        )
        log.info(f"Upload {upload_id}: {why}: {nothing}.")
        return None
    try:
        with database.begin() as connection:
            rows = request_rows.read_request_rows(connection, upload_id, kind)
    except request_rows.RequestRowsMissing as missing:
        raise dg.Failure(description=str(missing), allow_retries=False) from None
    return UploadToActOn(upload_id=upload_id, row=row, rows=rows)
