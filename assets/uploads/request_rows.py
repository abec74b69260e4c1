"""The validated request rows of an upload, stored once in `upload_request_rows`.

`core_uploads__validated` validates a dropped file and, in the transaction that records the
upload as Processed (`store.apply_validated_upload`), writes what `ValidatedUpload.exploded()`
holds for an appoint, terminate or portal_invite upload. The appointment, termination and
portal steps read those rows back by upload id (`read_request_rows`) instead of fetching the
file from the bucket and validating it a second time: each upload is read once.

The round trip is exact: the frame read back equals `exploded()` (same columns in the same
order, same rows in the same order, same dtypes: `int64` row numbers, numpy `bool` flags,
`datetime64[ns]` dates with NaT for a blank one, text as pandas' `str`). The column types come
from `schemas/tables.py`, so this module restates no column list of its own.

Agent uploads store nothing here: their valid rows hold SSNs, and onboarding consumes them in
that same transaction. An upload validated before migration 0005 has no stored rows:
`read_request_rows` then raises `RequestRowsMissing`, whose message tells the analyst to
materialize `core_uploads__validated` again for that partition.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assets.uploads.validation import REQUEST_COLUMNS, ValidatedUpload
from resources.bulk_writes import insert_frame
from resources.scoped_reads import read_columns
from schemas.tables import upload_request_rows, uploads

#: The upload kinds whose request rows are stored (agent rows never are: they hold SSNs).
STORED_KINDS = frozenset(REQUEST_COLUMNS)
# A frame column whose table column has another name: a portal_invite, offboard or jit_release
# row's spreadsheet row, an offboard row's `;`-list of CoCodes and a jit_release row's `;`-list
# of states (kept as typed, one row per file row), a jit_release row's business date.
_TABLE_NAME = {
    "row_number": "request_row",
    "cocodes": "cocode",
    "state_codes": "state_code",
    "business_date": "effective_date",
}


class RequestRowsMissing(LookupError):
    """An upload with valid rows whose request rows were never stored (validated before
    migration 0005, or not validated yet)."""

    def __init__(self, upload_id: str):
        self.upload_id = upload_id
        super().__init__(
            f"Upload {upload_id} has no stored request rows: it was validated before they "
            "were stored (migration 0005), or not validated yet. Materialize "
            f"core_uploads__validated again for partition {upload_id} (it reads the file "
            "once more and stores its rows), then this step."
        )


def _table_column(frame_column: str) -> sa.Column[Any]:
    return upload_request_rows.c[_TABLE_NAME.get(frame_column, frame_column)]


def _dtype(column: sa.Column[Any]) -> str:
    """The pandas dtype `exploded()` gives a column of this SQL type."""
    if isinstance(column.type, sa.Integer):
        return "int64"
    if isinstance(column.type, sa.Boolean):
        return "bool"
    if isinstance(column.type, sa.Date):
        return "datetime64[ns]"
    return "str"


def _table_frame(upload_id: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with the table's column names, keyed by upload and position (the bulk write
    converts each column by its SQL type: dates as dates, missing values as NULL)."""
    rows = frame.rename(columns={name: _table_column(name).name for name in frame.columns})
    rows = rows.reset_index(drop=True)
    rows.insert(0, "position", range(len(rows)))
    rows.insert(0, "upload_id", upload_id)
    return rows


def write_request_rows(connection: Connection, upload_id: str, validated: ValidatedUpload) -> int:
    """Replace the upload's stored request rows with `validated.exploded()` (nothing for an
    agent upload). Runs inside the caller's transaction; returns the rows written."""
    delete_request_rows(connection, upload_id)
    if validated.kind not in STORED_KINDS:
        return 0
    frame = validated.exploded()
    if frame.empty:
        return 0
    rows = _table_frame(upload_id, frame[list(REQUEST_COLUMNS[validated.kind])])
    return insert_frame(connection, upload_request_rows, rows)


def request_rows_of(validated: ValidatedUpload) -> pd.DataFrame:
    """The request rows `read_request_rows` would read back once `write_request_rows` stored
    `validated`, without a database: what `npnflow check` evaluates, so a dry run sees the
    very rows the pipeline's later steps read."""
    if validated.kind not in STORED_KINDS:
        raise ValueError(f"Request rows of {validated.kind!r} uploads are not stored.")
    columns = REQUEST_COLUMNS[validated.kind]
    frame = validated.exploded()
    if frame.empty:
        frame = pd.DataFrame({name: pd.Series(dtype=object) for name in columns})
    return _typed(frame.loc[:, list(columns)].reset_index(drop=True), columns)


def delete_request_rows(connection: Connection, upload_id: str) -> None:
    connection.execute(
        upload_request_rows.delete().where(upload_request_rows.c.upload_id == upload_id)
    )


def read_request_rows(connection: Connection, upload_id: str, kind: str) -> pd.DataFrame:
    """The upload's request rows exactly as `validate_upload(...).exploded()` returned them.

    An upload whose every row was rejected reads back as an empty frame of the same columns and
    dtypes. Raises `RequestRowsMissing` when the upload has valid rows but none are stored.
    """
    if kind not in STORED_KINDS:
        raise ValueError(f"Request rows of {kind!r} uploads are not stored.")
    columns = REQUEST_COLUMNS[kind]
    selected = [_table_column(c).label(c) for c in columns]
    statement = (
        sa.select(*selected)
        .where(upload_request_rows.c.upload_id == upload_id)
        .order_by(upload_request_rows.c.position)
    )
    # Column by column: a frame built from SQLAlchemy rows one by one is several times slower.
    values = read_columns(connection, statement, selected)
    frame = pd.DataFrame(
        {
            name: pd.Series(column, dtype=object)
            for name, column in zip(columns, values, strict=True)
        }
    )
    if frame.empty:
        rows_valid = connection.execute(
            sa.select(uploads.c.rows_valid).where(uploads.c.upload_id == upload_id)
        ).scalar_one_or_none()
        if rows_valid is None or rows_valid > 0:
            raise RequestRowsMissing(upload_id)
    return _typed(frame, columns)


def _typed(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    out = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    for name in columns:
        dtype = _dtype(_table_column(name))
        values = frame[name]
        if dtype == "datetime64[ns]":
            out[name] = pd.to_datetime(values.astype(object), errors="raise").astype(dtype)
        elif dtype == "bool":
            out[name] = values.astype(bool)
        elif dtype == "int64":
            out[name] = values.astype("int64")
        else:
            out[name] = values.astype(object).where(values.notna(), None).astype("str")
    return out


__all__ = [
    "STORED_KINDS",
    "RequestRowsMissing",
    "delete_request_rows",
    "read_request_rows",
    "request_rows_of",
    "write_request_rows",
]
