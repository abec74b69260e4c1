"""Read an XLSX upload's first sheet into rows of text cells, within the limits. Pure: no Dagster.

The first sheet only (the `accepted_values` / `termination_reason_key` tabs and any other sheet
are ignored, with a warning for the others); a workbook whose first sheet is hidden is refused,
naming the sheets, rather than reading rows the analyst cannot see. Numbers Excel stored as
numbers come back as the digits shown (12345678.0 -> "12345678"), dates as YYYY-MM-DD,
booleans as TRUE/FALSE, and formulas as the value Excel last calculated (never evaluated here).

Bounded work: a workbook over the byte limit, or one that would unpack to more than
`_MAX_UNZIPPED_RATIO` times that (a zip bomb), is refused before it is opened. The sheet is
read with openpyxl's streaming reader, which takes the sheet's `<dimension ref="A1:K200">`
from the start of the sheet's XML: a sheet claiming more columns, rows or cells than an upload
may have is refused before its first row is read. The claim is not trusted beyond that: each
row is checked again as it streams, because openpyxl pads a row to its last cell, so one cell
in column XFD turns a row into 16,384 cells.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from assets.uploads.reading_rows import (
    RowLimits,
    Rows,
    UploadRejected,
    collect_rows,
    column_letter,
    size_text,
)

__all__ = ["XlsxRows", "read_xlsx"]

# A workbook may expand this many times its size when unzipped; more is a zip bomb. Never more
# than 300 MB of XML in all, whatever the byte limit: openpyxl holds the shared strings whole.
_MAX_UNZIPPED_RATIO = 15
_MAX_UNZIPPED_BYTES = 300_000_000
_TEMPLATE_SHEETS = {"accepted_values", "termination_reason_key"}
_CORRUPT = (
    "The workbook cannot be opened (the .xlsx file is damaged or not an Excel workbook): "
    "open it in Excel, save it again as .xlsx or CSV UTF-8, and drop it again."
)


@dataclass(frozen=True)
class XlsxRows:
    rows: Rows
    sheet_name: str
    warnings: list[str]


def read_xlsx(data: bytes, max_bytes: int, limits: RowLimits) -> XlsxRows:
    """The rows of a workbook's first sheet; raises `UploadRejected` for a whole-file problem."""
    import openpyxl  # heavy import: only when a workbook arrives

    _check_package(data, max_bytes)
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many types for a damaged workbook
        raise UploadRejected(_CORRUPT) from None
    try:
        sheets = workbook.worksheets
        if not sheets:
            raise UploadRejected("The workbook has no worksheet to read.")
        sheet = sheets[0]
        _check_first_sheet_visible(sheets)
        warnings: list[str] = []
        others = [s.title for s in sheets[1:] if s.title not in _TEMPLATE_SHEETS]
        if others:
            listed = ", ".join(f"'{t}'" for t in others)
            warnings.append(
                f"Only the first sheet, '{sheet.title}', was read; other sheets ({listed}) "
                "were ignored."
            )
        _check_claimed_size(sheet, limits)
        sheet.reset_dimensions()  # a stale (too small) <dimension> must not hide rows
        try:
            rows = collect_rows(_sheet_rows(sheet, limits), limits)
        except UploadRejected:
            raise
        except Exception:
            raise UploadRejected(_CORRUPT) from None
        return XlsxRows(rows, sheet.title, warnings)
    finally:
        workbook.close()


def _check_package(data: bytes, max_bytes: int) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            unzipped = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        raise UploadRejected(_CORRUPT) from None
    if "xl/workbook.xml" not in names:
        raise UploadRejected(
            "This ZIP file is not an Excel workbook (.ods and .numbers files are not read): "
            "save it as Excel Workbook (.xlsx) or CSV UTF-8 and drop it again."
        )
    if unzipped > min(_MAX_UNZIPPED_RATIO * max_bytes, _MAX_UNZIPPED_BYTES):
        raise UploadRejected(
            f"The workbook unpacks to {size_text(unzipped)}, too much to read safely: split it "
            "into smaller files."
        )


def _check_first_sheet_visible(sheets: list[Any]) -> None:
    """Refuse a workbook whose first sheet is hidden: its rows are not the ones the analyst
    sees and fills, and reading them would silently ignore the visible sheet."""
    first = sheets[0]
    if first.sheet_state == "visible":
        return
    hidden = ", ".join(f"'{s.title}'" for s in sheets if s.sheet_state != "visible")
    visible = ", ".join(f"'{s.title}'" for s in sheets if s.sheet_state == "visible") or "none"
    raise UploadRejected(
        f"The workbook's first sheet, '{first.title}', is hidden, and only the first sheet is "
        f"read (hidden sheets: {hidden}; visible sheets: {visible}): unhide it, or move the "
        "sheet with your rows to the front, and drop the file again."
    )


def _check_claimed_size(sheet: Any, limits: RowLimits) -> None:
    """Refuse a sheet whose own `<dimension>` claims more than an upload may have."""
    last_column, last_row = sheet.max_column, sheet.max_row
    if not last_column or not last_row:
        return  # no claim: the rows are checked as they stream
    used = f"its used range is {sheet.calculate_dimension()}"
    if last_column > limits.columns:
        raise UploadRejected(
            f"The sheet '{sheet.title}' reaches column {column_letter(last_column - 1)} "
            f"({last_column:,} columns; {used}); an upload may have at most "
            f"{limits.columns:,} columns: delete the columns right of your data, save, and "
            "drop the file again."
        )
    data_rows = last_row - 1  # under the header
    if data_rows > limits.rows:
        raise UploadRejected(
            f"The sheet '{sheet.title}' reaches row {last_row:,} ({used}); an upload may have "
            f"at most {limits.rows:,} rows: delete the rows under your data, or split it into "
            "smaller files, and drop them again."
        )
    if data_rows * last_column > limits.cells:
        raise UploadRejected(
            f"The sheet '{sheet.title}' spans {data_rows * last_column:,} cells ({used}); an "
            f"upload may have at most {limits.cells:,}: delete the rows and columns you do "
            "not need, or split it into smaller files, and drop them again."
        )


def _sheet_rows(sheet: Any, limits: RowLimits) -> Iterator[list[str]]:
    for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
        # openpyxl pads a row to its last cell, so the row's length is how far right it goes.
        if len(values) > limits.columns:
            raise UploadRejected(
                f"Row {number} of sheet '{sheet.title}' has cells as far right as column "
                f"{column_letter(len(values) - 1)}; an upload may have at most "
                f"{limits.columns:,} columns: delete the columns right of your data, save, "
                "and drop the file again."
            )
        yield [cell_text(value) for value in values]


def cell_text(value: object) -> str:
    """A cell as the text Excel shows for it, without float or exponent artefacts."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return ""
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))  # 12345678.0 and 1.2345678E7 -> "12345678"
        return str(np.format_float_positional(value, trim="-"))
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)
