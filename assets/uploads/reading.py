"""Read a dropped CSV or XLSX into text cells exactly as the analyst typed them. Pure: no Dagster.

`read_upload(data, file_name)` returns a `RawUpload`: every cell as text (an NPN stays
`"0012345"`, a CoCode `"01234"`, never a float or `1.2E+07`), the header row, and for every
data row the row number the analyst sees in the spreadsheet (header = row 1). A problem with
the whole file (too big, too many rows, columns or cells, empty, not a CSV or XLSX, an
unreadable encoding, a stray quote that joined rows, a corrupt or password-protected workbook,
a hidden first sheet, no header) raises `UploadRejected` with one plain message.

The work one file may cause is bounded while it is read, not after: bytes before anything
else, then rows, columns and cells (the limits of `schemas/uploads.py`) as each row arrives
(`reading_rows.py`), so a 1 MB CSV with a million columns or a workbook with a cell in column
XFD on every row is refused in a few megabytes of memory. CSV: `reading_csv.py`; XLSX (the
first sheet only): `reading_xlsx.py`. Trailing delimiters (empty columns with an empty header)
are dropped.

`detect_kind(headers, folder_kind)` and `match_columns(headers, kind)` tie a header to a
template of `schemas/uploads.py`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from assets.uploads.reading_csv import read_csv
from assets.uploads.reading_rows import (
    RowLimits,
    Rows,
    UploadRejected,
    column_letter,
    size_text,
)
from assets.uploads.reading_xlsx import read_xlsx
from schemas.uploads import (
    FOLDER_ONLY_KINDS,
    KINDS,
    MAX_CELL_CHARS,
    MAX_UPLOAD_BYTES,
    MAX_UPLOAD_CELLS,
    MAX_UPLOAD_COLUMNS,
    MAX_UPLOAD_ROWS,
    TEMPLATES,
    TemplateColumn,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "ColumnMatch",
    "RawUpload",
    "UploadRejected",
    "detect_kind",
    "match_columns",
    "normalise_header",
    "read_upload",
    "require_columns",
]

DEFAULT_MAX_BYTES = MAX_UPLOAD_BYTES
_OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls, and encrypted .xlsx
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")
_ZIP_SIGNATURE = b"PK\x03\x04"


@dataclass(frozen=True)
class RawUpload:
    """An upload as typed: text cells, header, spreadsheet row numbers.

    `frame` has one text column per header cell (labels made unique: a blank header becomes
    `Column F`, a repeated one `Notes (2)`), and its index is the spreadsheet row number of
    each data row. Blank rows in the middle are kept (validation counts them); blank rows after
    the last filled row are not rows of the upload. `headers` are the header cells as typed.
    """

    file_name: str
    source_format: str  # "csv" or "xlsx"
    headers: tuple[str, ...]
    frame: pd.DataFrame
    encoding: str | None = None  # csv only: utf-8, utf-8-sig, utf-16, cp1252
    delimiter: str | None = None  # csv only
    sheet_name: str | None = None  # xlsx only
    warnings: tuple[str, ...] = ()
    max_cell_chars: int = MAX_CELL_CHARS
    header_row: int = 1

    @property
    def row_numbers(self) -> list[int]:
        return [int(i) for i in self.frame.index]

    @property
    def labels(self) -> list[str]:
        return [str(c) for c in self.frame.columns]


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def read_upload(
    data: bytes,
    file_name: str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_cell_chars: int = MAX_CELL_CHARS,
    max_rows: int = MAX_UPLOAD_ROWS,
    max_columns: int = MAX_UPLOAD_COLUMNS,
    max_cells: int = MAX_UPLOAD_CELLS,
) -> RawUpload:
    """Read an uploaded file's bytes; raise `UploadRejected` for a whole-file problem."""
    if len(data) == 0:
        raise UploadRejected("The file is empty (0 bytes): nothing to read.")
    if len(data) > max_bytes:
        raise UploadRejected(
            f"The file is {size_text(len(data))}, over the {size_text(max_bytes)} limit: split "
            "it into smaller files and drop them one by one."
        )
    limits = RowLimits(rows=max_rows, columns=max_columns, cells=max_cells)
    if data.startswith(_ZIP_SIGNATURE):
        workbook = read_xlsx(data, max_bytes, limits)
        return _build(
            workbook.rows,
            file_name,
            "xlsx",
            workbook.warnings,
            max_cell_chars,
            sheet_name=workbook.sheet_name,
        )
    if data.startswith(_OLE_SIGNATURE):
        if _ENCRYPTED_PACKAGE in data:
            raise UploadRejected(
                "The workbook is password-protected, so it cannot be read: remove the password "
                "(File > Info > Protect Workbook) or save it as CSV, and drop it again."
            )
        raise UploadRejected(
            "This is an old Excel 97-2003 (.xls) workbook, which is not read: save it as "
            "Excel Workbook (.xlsx) or CSV UTF-8 and drop it again."
        )
    text = read_csv(data, file_name, limits)
    return _build(
        text.rows,
        file_name,
        "csv",
        text.warnings,
        max_cell_chars,
        encoding=text.encoding,
        delimiter=text.delimiter,
    )


# --------------------------------------------------------------------------------------------
# Rows to frame
# --------------------------------------------------------------------------------------------


def _build(
    rows: Rows,
    file_name: str,
    source_format: str,
    warnings: list[str],
    max_cell_chars: int,
    **details: str | None,
) -> RawUpload:
    header_cells = rows.header
    width = len(header_cells)
    if all(re.fullmatch(r"[\d.,/\- ]*", cell) for cell in header_cells):
        raise UploadRejected(
            "The first row holds values, not column names: the file has no header. Start "
            "from the template (npnflow template KIND) and keep its header row."
        )
    if rows.beyond_count:
        shown = ", ".join(str(r) for r in rows.beyond) + (
            " ..." if rows.beyond_count > len(rows.beyond) else ""
        )
        warnings.append(
            f"{rows.beyond_count} row(s) have values right of the last header column "
            f"({column_letter(width - 1)}); they were ignored (rows {shown})."
        )
    labels: list[str] = []
    seen: dict[str, int] = {}
    for position, cell in enumerate(header_cells):
        label = cell or f"Column {column_letter(position)}"
        seen[label] = seen.get(label, 0) + 1
        labels.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    first = rows.header_row + 1
    index = pd.RangeIndex(first, first + len(rows.body), name="row_number")
    frame = pd.DataFrame(rows.body, columns=labels, index=index, dtype="str")
    if frame.empty:  # header only: keep text columns all the same
        frame = frame.astype("str")
    return RawUpload(
        file_name=file_name,
        source_format=source_format,
        headers=tuple(header_cells),
        frame=frame,
        warnings=tuple(warnings),
        max_cell_chars=max_cell_chars,
        header_row=rows.header_row,
        encoding=details.get("encoding"),
        delimiter=details.get("delimiter"),
        sheet_name=details.get("sheet_name"),
    )


# --------------------------------------------------------------------------------------------
# Kinds and columns
# --------------------------------------------------------------------------------------------


def normalise_header(text: str) -> str:
    """A header compared without case, spaces or punctuation: 'agent npn' == 'Agent_NPN*'."""
    return re.sub(r"[^0-9a-z]", "", str(text).casefold().replace("&", "and"))


def _names(column: TemplateColumn) -> set[str]:
    return {normalise_header(n) for n in (column.header, *column.aliases)}


@dataclass(frozen=True)
class ColumnMatch:
    """How a header maps to a kind's template: field -> frame label, and what is left over."""

    kind: str
    fields: dict[str, str]  # template field -> the upload's column label
    missing_required: tuple[str, ...]  # template headers
    unknown: tuple[str, ...] = field(default=())  # labels of columns not in the template

    @property
    def complete(self) -> bool:
        return not self.missing_required


def match_columns(labels: Sequence[str], kind: str) -> ColumnMatch:
    """Map an upload's column labels to `kind`'s template columns.

    Raises `UploadRejected` when two columns mean the same template column (say `State` and
    `States`): which one to read would be a guess.
    """
    columns = TEMPLATES[kind]
    found: dict[str, str] = {}
    unknown: list[str] = []
    for label in labels:
        key = normalise_header(re.sub(r" \(\d+\)$", "", label))
        match = next((c for c in columns if key and key in _names(c)), None)
        if match is None:
            unknown.append(label)
        elif match.field in found:
            raise UploadRejected(
                f"Columns '{found[match.field]}' and '{label}' both mean '{match.header}' in "
                f"the {kind} template: delete one of them and drop the file again."
            )
        else:
            found[match.field] = label
    missing = tuple(c.header for c in columns if c.required and c.field not in found)
    return ColumnMatch(kind, found, missing, tuple(unknown))


# The kinds a header may say a file is (`FOLDER_ONLY_KINDS` need their folder).
_GUESSABLE_KINDS = tuple(kind for kind in KINDS if kind not in FOLDER_ONLY_KINDS)


def _kind_list() -> str:
    return ", ".join(KINDS)


def detect_kind(headers: Sequence[str], folder_kind: str | None = None) -> str:
    """The upload's kind: the folder's (`inbox/<kind>/`) when given, else from the header.

    From the header: the kind whose required columns are all present (the one matching more
    template columns if several are). Raises `UploadRejected` for an unknown folder or an
    unrecognisable header. Missing columns for a folder's kind are reported by
    `require_columns`, which names them.
    """
    if folder_kind is not None:
        kind = folder_kind.strip().lower().replace("-", "_")
        if kind not in KINDS:
            raise UploadRejected(
                f"'{folder_kind}' is not an upload kind: drop the file in one of the inbox "
                f"folders {_kind_list()}."
            )
        return kind
    labels = [h for h in headers if str(h).strip()]
    candidates = _complete_kinds(labels)
    if not candidates:
        # A header that has most of one template is that template with columns missing:
        # name them, rather than call the file unrecognisable.
        partial = []
        for kind in _GUESSABLE_KINDS:
            try:
                match = match_columns(labels, kind)
            except UploadRejected:
                continue
            required = [c for c in TEMPLATES[kind] if c.required]
            present = len(required) - len(match.missing_required)
            if present >= 2 and present * 2 >= len(required):
                partial.append((present, kind))
        if partial:
            require_columns(labels, max(partial)[1])  # raises, naming the missing columns
        raise UploadRejected(
            "This file is not an npnflow template: its header does not have the required "
            f"columns of any kind ({_kind_list()}). Start from `npnflow template KIND` and keep "
            "the header row, or drop the file in inbox/<kind>/."
        )
    candidates.sort(reverse=True)
    if len(candidates) > 1 and candidates[0][:2] == candidates[1][:2]:
        raise UploadRejected(
            f"The header fits both the {candidates[0][2]} and the {candidates[1][2]} template: "
            "drop the file in inbox/<kind>/ to say which."
        )
    return candidates[0][2]


def _complete_kinds(labels: Sequence[str]) -> list[tuple[int, int, str]]:
    """(template columns matched, of them by the template's own header, kind) for every kind
    whose required columns are all there. `Agent NPN` is the terminate header and an alias in
    appoint: the header a template writes itself counts more than an alias."""
    found = []
    keys = {normalise_header(label) for label in labels}
    for kind in _GUESSABLE_KINDS:
        try:
            match = match_columns(labels, kind)
        except UploadRejected:
            continue
        if match.complete:
            own = sum(normalise_header(c.header) in keys for c in TEMPLATES[kind])
            found.append((len(match.fields), own, kind))
    return found


def _complete_kind(labels: Sequence[str]) -> str | None:
    found = sorted(_complete_kinds(labels), reverse=True)
    if not found or (len(found) > 1 and found[0][:2] == found[1][:2]):
        return None
    return found[0][2]


def require_columns(labels: Sequence[str], kind: str) -> ColumnMatch:
    """`match_columns`, rejecting the file when a required column is missing."""
    match = match_columns(labels, kind)
    if match.complete:
        return match
    missing = ", ".join(match.missing_required)
    hint = ""
    other = _complete_kind(labels)
    if other is not None and other != kind:
        hint = f" The header is the {other} template's: drop it in inbox/{other}/ instead."
    raise UploadRejected(
        f"This {kind} file is missing the required column(s) {missing}.{hint}"
        f"{'' if hint else f' Start from `npnflow template {kind}` and keep its header row.'}"
    )
