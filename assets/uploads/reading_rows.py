"""An upload's rows gathered into a grid of text cells, within its limits. Pure: no Dagster.

Both readers (`reading_csv.py`, `reading_xlsx.py`) hand their rows over one at a time, and
`collect_rows` checks the limits of `schemas/uploads.py` as each row arrives: the header's
width before any label is made, the data rows and cells before a row is kept or padded. A file
over a limit is refused with one sentence the moment it passes it, so a million-column header
or a hundred thousand rows reaching column XFD never grow into a frame (or a MemoryError).

Blank rows between filled rows are kept (validation counts them); blank rows after the last
filled row are not rows of the upload (Excel carries thousands of formatted empty rows), so
they are counted only while they wait, never stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from schemas.uploads import MAX_UPLOAD_CELLS, MAX_UPLOAD_COLUMNS, MAX_UPLOAD_ROWS

__all__ = [
    "EXCEL_LAST_ROW",
    "RowLimits",
    "Rows",
    "UploadRejected",
    "collect_rows",
    "column_letter",
    "is_blank",
    "size_text",
]

# No spreadsheet shows a row below this one; a file going on past it (even with blank rows)
# is not a sheet an analyst filled, and reading on would only spend time.
EXCEL_LAST_ROW = 1_048_576


class UploadRejected(ValueError):
    """The whole file is rejected; `message` says why, in one sentence an analyst acts on."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class RowLimits:
    """The most data rows, columns and cells (data rows x header columns) a file may have."""

    rows: int = MAX_UPLOAD_ROWS
    columns: int = MAX_UPLOAD_COLUMNS
    cells: int = MAX_UPLOAD_CELLS


@dataclass(frozen=True)
class Rows:
    """The header and the data rows of an upload, every data row exactly as wide as the header.

    `header_row` is the spreadsheet row of the header (1 when the file starts with it); data
    row `i` of `body` is spreadsheet row `header_row + 1 + i`. `beyond` holds the first few
    rows with values right of the header's last named column, `beyond_count` how many there
    are in all: those values are not read.
    """

    header_row: int
    header: list[str]
    body: list[list[str]]
    beyond: tuple[int, ...] = ()
    beyond_count: int = 0


def is_blank(row: Sequence[str]) -> bool:
    """Every cell empty or spaces (joined first: one C call per row, not one per cell)."""
    return not "".join(row).strip()


def column_letter(position: int) -> str:
    """The spreadsheet letter of a 0-based column position: 0 -> A, 16383 -> XFD."""
    letters = ""
    position += 1
    while position:
        position, remainder = divmod(position - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def size_text(n: int) -> str:
    """A byte count as a person reads it: '2,439 bytes', '20.0 MB'."""
    return f"{n / 1_000_000:.1f} MB" if n >= 100_000 else f"{n:,} bytes"


def too_many_columns(columns: int, limits: RowLimits) -> UploadRejected:
    return UploadRejected(
        f"The file has {columns:,} columns; an upload may have at most {limits.columns:,}: "
        "delete the columns right of your data (or start again from `npnflow template "
        "KIND`) and drop the file again."
    )


def too_many_rows(limits: RowLimits) -> UploadRejected:
    return UploadRejected(
        f"The file has more than {limits.rows:,} rows; an upload may have at most "
        f"{limits.rows:,}: split it into smaller files and drop them one by one."
    )


def too_many_cells(rows: int, columns: int, limits: RowLimits) -> UploadRejected:
    return UploadRejected(
        f"The file has more than {limits.cells:,} cells ({rows:,} rows of {columns:,} "
        f"columns so far); an upload may have at most {limits.cells:,}: delete the columns "
        "you do not need, or split it into smaller files, and drop them again."
    )


def _width(cells: Sequence[str]) -> int:
    """How many cells up to the last one that is not blank (trailing delimiters dropped)."""
    for position in range(len(cells) - 1, -1, -1):
        if cells[position].strip():
            return position + 1
    return 0


def collect_rows(records: Iterable[Sequence[str]], limits: RowLimits) -> Rows:
    """The header (the first row that is not blank) and the data rows under it, checked
    against `limits` as they come. Raises `UploadRejected` for a file with no rows or over a
    limit."""
    header: list[str] | None = None
    header_row = 0
    width = 0
    body: list[list[str]] = []
    waiting_blank = 0  # blank rows seen since the last filled one, not stored yet
    blank_row: list[str] = []
    beyond: list[int] = []
    beyond_count = 0
    for number, record in enumerate(records, start=1):
        if number > EXCEL_LAST_ROW:
            raise UploadRejected(
                f"The file goes on past row {EXCEL_LAST_ROW:,}, the last row a spreadsheet "
                "has: delete the rows under your data and drop the file again."
            )
        if header is None:
            # The header's cells as written, trailing empty ones included: a header of a
            # million delimiters is not a template an analyst filled (and the issue 13 attack
            # file), so it is refused rather than trimmed down to its few named columns.
            if len(record) > limits.columns:
                raise too_many_columns(len(record), limits)
            width = _width(record)
            if width == 0:
                continue
            header = [cell.strip() for cell in record[:width]]
            header_row = number
            blank_row = [""] * width
            continue
        if is_blank(record):
            waiting_blank += 1
            continue
        kept = len(body) + waiting_blank + 1
        if kept > limits.rows:
            raise too_many_rows(limits)
        if kept * width > limits.cells:
            raise too_many_cells(kept, width, limits)
        # The same empty list for every blank row: rows are never changed once kept.
        body.extend([blank_row] * waiting_blank)
        waiting_blank = 0
        if len(record) > width:
            if not is_blank(record[width:]):
                beyond_count += 1
                if len(beyond) < 5:
                    beyond.append(number)
            body.append(list(record[:width]))
        elif len(record) < width:
            body.append([*record, *([""] * (width - len(record)))])
        else:
            body.append(list(record))
    if header is None:
        raise UploadRejected(
            "The file has no rows: the first row must be the template's header, followed by "
            "one row per request."
        )
    return Rows(header_row, header, body, tuple(beyond), beyond_count)
