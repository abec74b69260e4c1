"""The error report written beside a rejected-rows upload. Pure: no Dagster, no I/O.

`error_report_csv(raw, validated)` and `error_report_xlsx(raw, validated)` return the bytes
of `<file>.errors.csv` / `<file>.errors.xlsx` (the caller names and writes them): one row per
rejected spreadsheet row, as the analyst typed it, with two columns in front, `Row` (the
spreadsheet row number) and `Errors` (every message of the row, joined with " | "). The
analyst can fix the cells in the report itself and drop it back: `Row` and `Errors` are not
template columns, so they are ignored with a warning.

Dropping it back must work, so the report stays under the upload byte limit
(`DEFAULT_MAX_BYTES`, 100 MB) whenever it can: it holds the rejected rows only, and when the
rows with every message written out would not fit (a 250,000-row file rejected row by row),
each row's `Errors` cell keeps its first message and names the columns of the others
("... | and 6 more problems, in Agent Email, Agent SSN, ..."). Every message stays in
`upload_row_errors`. (A fully rejected 100,000-row agent file with seven problems a row
writes a 69 MB report in full.)

Every cell is made safe to open: a cell starting with `=`, `+`, `-`, `@`, tab or CR gets a
leading `'` (so no spreadsheet runs it as a formula), the `Agent SSN` column keeps only its
last four digits (so does any other column whose header names SSNs), and anything shaped like
an SSN elsewhere (9 digits, or 3-2-4 with dashes, spaces or dots) is masked the same way.
"""

from __future__ import annotations

import io

import pandas as pd

from assets.uploads.cells import map_distinct
from assets.uploads.reading import DEFAULT_MAX_BYTES, RawUpload
from assets.uploads.validation import (
    ValidatedUpload,
    mask_ssn_value,
    mask_ssns,
    neutralise,
)

__all__ = ["ERROR_SEPARATOR", "error_report_csv", "error_report_frame", "error_report_xlsx"]

ERROR_SEPARATOR = " | "
_EXCEL_CELL_LIMIT = 32_767
_TRUNCATED = " …[truncated]"


def _safe(text: str) -> str:
    text = neutralise(mask_ssns(text))
    if len(text) > _EXCEL_CELL_LIMIT:
        text = text[: _EXCEL_CELL_LIMIT - len(_TRUNCATED)] + _TRUNCATED
    return text


def error_report_frame(
    raw: RawUpload, validated: ValidatedUpload, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> pd.DataFrame:
    """The report as a frame of safe text: Row, Errors, then the upload's own columns.

    Each row's messages are written out in full unless the report would then be over
    `max_bytes` as CSV; then each row keeps its first message and names the other columns.
    """
    errors = validated.row_errors
    rows = validated.rejected_row_numbers
    data = raw.frame.loc[rows].copy()
    for ssn_label in validated.ssn_labels:  # the SSN column, and any other that names SSNs
        data[ssn_label] = data[ssn_label].map(mask_ssn_value)
    for label in data.columns:
        data[label] = map_distinct(data[label], _safe)
    numbers = [str(r) for r in rows]
    problems = _problems_by_row(errors)
    messages = [_safe(ERROR_SEPARATOR.join(m for _, m in problems.get(r, []))) for r in rows]
    if _csv_bytes_at_most(numbers, messages, data) > max_bytes:
        messages = [_safe(_compact(problems.get(r, []))) for r in rows]
    report = pd.DataFrame({"Row": numbers, "Errors": messages})
    headers = [_safe(h) for h in ["Row", "Errors", *raw.labels]]
    body = pd.concat([report, data.reset_index(drop=True)], axis=1)
    body.columns = _unique(headers)
    return body.astype("str")


def _problems_by_row(errors: pd.DataFrame) -> dict[int, list[tuple[str, str]]]:
    """(column, message) of each row's errors, in the order validation gave them."""
    problems: dict[int, list[tuple[str, str]]] = {}
    for row, column, message in zip(
        errors["row_number"].tolist(),
        errors["column"].tolist(),
        errors["message"].tolist(),
        strict=True,
    ):
        problems.setdefault(int(row), []).append((str(column), str(message)))
    return problems


def _compact(problems: list[tuple[str, str]]) -> str:
    """A row's first message, then how many more problems it has and in which columns."""
    if len(problems) <= 1:
        return problems[0][1] if problems else ""
    more = len(problems) - 1
    columns = ", ".join(dict.fromkeys(column for column, _ in problems[1:]))
    plural = "" if more == 1 else "s"
    return f"{problems[0][1]}{ERROR_SEPARATOR}and {more} more problem{plural}, in {columns}"


def _csv_bytes_at_most(numbers: list[str], messages: list[str], data: pd.DataFrame) -> int:
    """An upper bound of the report's CSV size: every cell's UTF-8 bytes, each cell quoted
    (2 bytes) and delimited (1 byte), a quote inside a cell doubled, CRLF per row, BOM."""
    columns = [numbers, messages, *(data[label].tolist() for label in data.columns)]
    columns.append(["Row", "Errors", *(str(label) for label in data.columns)])  # the header
    total = 3 + 2 * (len(numbers) + 1)
    for cells in columns:
        text = "".join(cells)
        total += len(text.encode("utf-8")) + text.count('"') + 3 * len(cells)
    return total


def _unique(headers: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for header in headers:
        seen[header] = seen.get(header, 0) + 1
        out.append(header if seen[header] == 1 else f"{header} ({seen[header]})")
    return out


def error_report_csv(
    raw: RawUpload, validated: ValidatedUpload, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> bytes:
    """`<file>.errors.csv`: UTF-8 with a BOM, so Excel shows accented names right."""
    frame = error_report_frame(raw, validated, max_bytes=max_bytes)
    text: str = frame.to_csv(index=False, lineterminator="\r\n")
    return text.encode("utf-8-sig")


def error_report_xlsx(
    raw: RawUpload, validated: ValidatedUpload, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> bytes:
    """`<file>.errors.xlsx`: the same data on one sheet, header bold and frozen (the same
    messages as the CSV report, compact or not, so the two never disagree)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Alignment, Font

    frame = error_report_frame(raw, validated, max_bytes=max_bytes)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("errors")
    sheet.freeze_panes = "C2"
    widths = [6, 60] + [min(40, max(12, len(str(c)) + 2)) for c in frame.columns[2:]]
    for position, width in enumerate(widths, start=1):
        sheet.column_dimensions[_letter(position)].width = width

    def cell(value: str, **style: object) -> WriteOnlyCell:
        # Control characters are not allowed in XLSX XML; the text is already neutralised.
        made = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
        made.data_type = "s"
        for name, setting in style.items():
            setattr(made, name, setting)
        return made

    bold = Font(bold=True)
    sheet.append([cell(str(c), font=bold) for c in frame.columns])
    wrap = Alignment(wrap_text=True, vertical="top")
    for values in frame.itertuples(index=False, name=None):
        row = [cell(str(v)) for v in values]
        row[1].alignment = wrap
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _letter(position: int) -> str:
    letters = ""
    while position:
        position, remainder = divmod(position - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters
