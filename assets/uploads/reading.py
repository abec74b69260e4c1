"""Read a dropped CSV or XLSX into text cells exactly as the analyst typed them. Pure: no Dagster.

`read_upload(data, file_name)` returns a `RawUpload`: every cell as text (an NPN stays
`"0012345"`, a CoCode `"01234"`, never a float or `1.2E+07`), the header row, and for every
data row the row number the analyst sees in the spreadsheet (header = row 1). A problem with
the whole file (too big, empty, not a CSV or XLSX, an unreadable encoding, a corrupt or
password-protected workbook, no header) raises `UploadRejected` with one plain message.

CSV: UTF-8 (with or without BOM), UTF-16 with a BOM, else Windows-1252 (what Excel's plain
"CSV" format writes); delimiter `,`, `;` or tab, detected; quoted line breaks stay inside their
cell; trailing delimiters (empty columns with an empty header) are dropped.
XLSX: the first sheet only (the `accepted_values` / `termination_reason_key` tabs and any other
sheet are ignored); numbers Excel stored as numbers come back as the digits shown
(12345678.0 -> "12345678"), dates as YYYY-MM-DD, booleans as TRUE/FALSE, and formulas as the
value Excel last calculated (never evaluated here).

`detect_kind(headers, folder_kind)` and `match_columns(headers, kind)` tie a header to a
template of `schemas/uploads.py`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from schemas.uploads import KINDS, MAX_CELL_CHARS, TEMPLATES, TemplateColumn

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

DEFAULT_MAX_BYTES = 20_000_000
_DELIMITERS = ",;\t"
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
_OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls, and encrypted .xlsx
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")
_ZIP_SIGNATURE = b"PK\x03\x04"
# A workbook may expand this many times its size when unzipped; more is a zip bomb.
_MAX_UNZIPPED_RATIO = 15
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TEMPLATE_SHEETS = {"accepted_values", "termination_reason_key"}


class UploadRejected(ValueError):
    """The whole file is rejected; `message` says why, in one sentence an analyst acts on."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


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
) -> RawUpload:
    """Read an uploaded file's bytes; raise `UploadRejected` for a whole-file problem."""
    if len(data) == 0:
        raise UploadRejected("The file is empty (0 bytes): nothing to read.")
    if len(data) > max_bytes:
        raise UploadRejected(
            f"The file is {_size(len(data))}, over the {_size(max_bytes)} limit: split it into "
            "smaller files and drop them one by one."
        )
    if data.startswith(_ZIP_SIGNATURE):
        rows, sheet, warnings = _read_xlsx(data, max_bytes)
        return _build(rows, file_name, "xlsx", warnings, max_cell_chars, sheet_name=sheet)
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
    text, encoding, warnings = _decode(data)
    if file_name.lower().endswith((".xlsx", ".xlsm")):
        warnings.append(f"'{file_name}' is named like a workbook but is CSV text; read as CSV.")
    text, delimiter, sep_line = _delimiter(text)
    rows = _csv_rows(text, delimiter)
    if sep_line:  # Excel's "sep=;" hint line is not a row Excel shows
        warnings.append(f"The first line 'sep={delimiter}' (an Excel hint) was skipped.")
    if delimiter != ",":
        warnings.append(f"Read as {_DELIMITER_NAMES[delimiter]}-separated values.")
    return _build(
        rows, file_name, "csv", warnings, max_cell_chars, encoding=encoding, delimiter=delimiter
    )


def _size(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB" if n >= 100_000 else f"{n:,} bytes"


# --------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------


def _decode(data: bytes) -> tuple[str, str, list[str]]:
    warnings: list[str] = []
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16", warnings
        except UnicodeDecodeError:
            raise UploadRejected(
                "The file starts like UTF-16 text but its contents are not valid UTF-16: save "
                "it again as CSV UTF-8 (or as .xlsx) and drop it again."
            ) from None
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            text, encoding = data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            raise UploadRejected(
                "The file is marked as UTF-8 but is not valid UTF-8 text: save it again as "
                "CSV UTF-8 and drop it again."
            ) from None
    elif b"\x00" in data[:65536]:
        raise UploadRejected(
            "This is not a CSV or XLSX file (it contains binary data): drop the template "
            "saved as .xlsx or CSV UTF-8."
        )
    else:
        try:
            text, encoding = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            try:
                text, encoding = data.decode("cp1252"), "cp1252"
            except UnicodeDecodeError:
                raise UploadRejected(
                    "The file's text encoding cannot be read (it is neither UTF-8 nor "
                    "Windows-1252): save it as CSV UTF-8 or .xlsx and drop it again."
                ) from None
            warnings.append(
                "Read as Windows-1252 text (Excel's plain 'CSV' format), not UTF-8: check "
                "accented names; saving as 'CSV UTF-8' avoids the question."
            )
    sample = text[:65536]
    if sample and len(_CONTROL.findall(sample)) > max(2, len(sample) // 100):
        raise UploadRejected(
            "This is not a CSV or XLSX file (it contains binary data): drop the template "
            "saved as .xlsx or CSV UTF-8."
        )
    return text, encoding, warnings


def _delimiter(text: str) -> tuple[str, str, bool]:
    """(text without Excel's 'sep=' line, the delimiter, whether a 'sep=' line was there)."""
    first_end = text.find("\n")
    first = (text if first_end < 0 else text[:first_end]).strip("\r\n")
    hint = re.fullmatch(r'"?sep=(.)"?,*', first.strip())
    if hint and hint.group(1) in _DELIMITERS:
        return ("" if first_end < 0 else text[first_end + 1 :]), hint.group(1), True
    lines = [line for line in text[:65536].splitlines() if line.strip(" ,;\t")]
    if not lines:
        return text, ",", False
    header = lines[0]
    counts = {d: header.count(d) for d in _DELIMITERS}
    best = max(counts.values())
    sniffed = None
    try:
        # Whole lines only: the Sniffer dislikes a sample cut mid-row.
        sample = "\n".join(lines[:50])
        sniffed = csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        pass
    # The header row decides when the Sniffer disagrees with it: header cells never hold a
    # delimiter, while data cells hold `;`-lists (CA;TX) that can fool the Sniffer.
    if sniffed is not None and best > 0 and counts[sniffed] == best:
        return text, sniffed, False
    if best > 0:
        return text, max(_DELIMITERS, key=lambda d: counts[d]), False
    return text, sniffed or ",", False


def _csv_rows(text: str, delimiter: str) -> list[list[str]]:
    # A huge cell (e.g. a pasted document) is a row error later, not a csv.Error now.
    if csv.field_size_limit() < len(text) + 1:
        csv.field_size_limit(len(text) + 1)
    try:
        return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as error:
        raise UploadRejected(
            f"The file is not a readable CSV ({error}): save it again from the spreadsheet "
            "as CSV UTF-8 and drop it again."
        ) from None


# --------------------------------------------------------------------------------------------
# XLSX
# --------------------------------------------------------------------------------------------


def _read_xlsx(data: bytes, max_bytes: int) -> tuple[list[list[str]], str, list[str]]:
    import openpyxl  # heavy import: only when a workbook arrives

    corrupt = (
        "The workbook cannot be opened (the .xlsx file is damaged or not an Excel workbook): "
        "open it in Excel, save it again as .xlsx or CSV UTF-8, and drop it again."
    )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            unzipped = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        raise UploadRejected(corrupt) from None
    if "xl/workbook.xml" not in names:
        raise UploadRejected(
            "This ZIP file is not an Excel workbook (.ods and .numbers files are not read): "
            "save it as Excel Workbook (.xlsx) or CSV UTF-8 and drop it again."
        )
    if unzipped > _MAX_UNZIPPED_RATIO * max_bytes:
        raise UploadRejected(
            f"The workbook unpacks to {_size(unzipped)}, too much to read safely: split it "
            "into smaller files."
        )
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many types for a damaged workbook
        raise UploadRejected(corrupt) from None
    warnings: list[str] = []
    try:
        sheets = workbook.worksheets
        if not sheets:
            raise UploadRejected("The workbook has no worksheet to read.")
        sheet = sheets[0]
        others = [s.title for s in sheets[1:] if s.title not in _TEMPLATE_SHEETS]
        if others:
            listed = ", ".join(f"'{t}'" for t in others)
            warnings.append(
                f"Only the first sheet, '{sheet.title}', was read; other sheets ({listed}) "
                "were ignored."
            )
        if hasattr(sheet, "reset_dimensions"):
            sheet.reset_dimensions()  # a stale <dimension> tag must not hide rows
        try:
            rows = [[_cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
        except UploadRejected:
            raise
        except Exception:
            raise UploadRejected(corrupt) from None
        return rows, sheet.title, warnings
    finally:
        workbook.close()


def _cell_text(value: object) -> str:
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
        return np.format_float_positional(value, trim="-")
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


# --------------------------------------------------------------------------------------------
# Rows to frame
# --------------------------------------------------------------------------------------------


def _is_blank(row: Sequence[str]) -> bool:
    return all(not cell.strip() for cell in row)


def _column_letter(position: int) -> str:
    letters = ""
    position += 1
    while position:
        position, remainder = divmod(position - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def _build(
    rows: list[list[str]],
    file_name: str,
    source_format: str,
    warnings: list[str],
    max_cell_chars: int,
    **details: str | None,
) -> RawUpload:
    first = next((i for i, row in enumerate(rows) if not _is_blank(row)), None)
    if first is None:
        raise UploadRejected(
            "The file has no rows: the first row must be the template's header, followed by "
            "one row per request."
        )
    header_cells = [cell.strip() for cell in rows[first]]
    width = max(i for i, cell in enumerate(header_cells) if cell) + 1
    header_cells = header_cells[:width]
    if all(re.fullmatch(r"[\d.,/\- ]*", cell) for cell in header_cells):
        raise UploadRejected(
            "The first row holds values, not column names: the file has no header. Start "
            "from the template (npnflow template KIND) and keep its header row."
        )
    last = max(i for i, row in enumerate(rows) if not _is_blank(row))
    body = rows[first + 1 : last + 1]
    beyond: list[int] = []
    cells: list[list[str]] = []
    for offset, row in enumerate(body):
        if len(row) > width:
            if any(cell.strip() for cell in row[width:]):
                beyond.append(first + offset + 2)
            row = row[:width]
        elif len(row) < width:
            row = [*row, *([""] * (width - len(row)))]
        cells.append(row)
    if beyond:
        shown = ", ".join(str(r) for r in beyond[:5]) + (" ..." if len(beyond) > 5 else "")
        warnings.append(
            f"{len(beyond)} row(s) have values right of the last header column "
            f"({_column_letter(width - 1)}); they were ignored (rows {shown})."
        )
    labels: list[str] = []
    seen: dict[str, int] = {}
    for position, cell in enumerate(header_cells):
        label = cell or f"Column {_column_letter(position)}"
        seen[label] = seen.get(label, 0) + 1
        labels.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    index = pd.RangeIndex(first + 2, first + 2 + len(cells), name="row_number")
    frame = pd.DataFrame(cells, columns=labels, index=index, dtype="str")
    if frame.empty:  # header only: keep text columns all the same
        frame = frame.astype("str")
    return RawUpload(
        file_name=file_name,
        source_format=source_format,
        headers=tuple(header_cells),
        frame=frame,
        warnings=tuple(warnings),
        max_cell_chars=max_cell_chars,
        header_row=first + 1,
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
        for kind in KINDS:
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
    for kind in KINDS:
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
