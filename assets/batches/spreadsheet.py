"""Spreadsheets a person opens (dry-run previews, batch exports): every cell text, safe.

Each cell is neutralised (`assets/uploads/cells.py`: a value starting with = + - @ is never
run as a formula) and SSN-shaped text masked, whatever the value's origin: a producer's name or
a NIPR message is as untrusted as an uploaded cell. One writer for CSV and one for XLSX, so
every file npnflow hands out is made the same way.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from assets.uploads.cells import mask_ssns, neutralise


def safe_cell(text: str) -> str:
    """The text as a cell: SSN shapes masked, formula starts neutralised."""
    return neutralise(mask_ssns(text))


def safe_csv(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    """CSV (UTF-8 with BOM, Excel line ends), every cell safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in headers])
    writer.writerows([safe_cell(v) for v in row] for row in rows)
    return buffer.getvalue().encode("utf-8-sig")


def safe_xlsx(sheet_title: str, headers: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    """One sheet, header bold and frozen, every cell a safe text cell."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(sheet_title)
    sheet.freeze_panes = "A2"

    def cell(value: str, bold: bool = False) -> WriteOnlyCell:
        # Control characters are not allowed in XLSX XML; a string cell is never a formula.
        made = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", safe_cell(value)))
        made.data_type = "s"
        if bold:
            made.font = Font(bold=True)
        return made

    sheet.append([cell(h, bold=True) for h in headers])
    for row in rows:
        sheet.append([cell(value) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
