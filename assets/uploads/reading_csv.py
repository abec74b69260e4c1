"""Read a CSV upload's text into rows of cells, within the limits. Pure: no Dagster.

The encoding is UTF-8 (with or without BOM), UTF-16 with a BOM, else Windows-1252 (what
Excel's plain "CSV" format writes); the delimiter `,`, `;` or tab, detected from the header
(Excel's `sep=;` first line honoured); quoted line breaks stay inside their cell.

The text is handed to the csv module one line at a time, so nothing but the decoded text and
the kept cells is held, and the rows go straight to `collect_rows`, which refuses a file over
a limit as soon as it passes it. A cell that swallowed whole rows behind a stray double quote
(an unclosed quote joins everything up to the next quote into one cell) refuses the file with
the row where the quote is, instead of reading 98 rows as one.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assets.uploads.reading_rows import (
    RowLimits,
    Rows,
    UploadRejected,
    collect_rows,
    column_letter,
    is_blank,
)

if TYPE_CHECKING:
    from _csv import _reader

__all__ = ["CsvRows", "read_csv"]

DELIMITERS = ",;\t"
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# A line as the csv module sees one in a file opened with newline="": up to and including
# "\r\n", "\r" or "\n" (str.splitlines would also break at \v, \f, \x1c-\x1e and \u2028).
_LINE = re.compile(r"[^\r\n]*(?:\r\n?|\n)|[^\r\n]+")
_LINE_BREAK = re.compile(r"\r\n?|\n")


@dataclass(frozen=True)
class CsvRows:
    rows: Rows
    encoding: str
    delimiter: str
    warnings: list[str]


def read_csv(data: bytes, file_name: str, limits: RowLimits) -> CsvRows:
    """The rows of a CSV file's bytes; raises `UploadRejected` for a whole-file problem."""
    text, encoding, warnings = _decode(data)
    if file_name.lower().endswith((".xlsx", ".xlsm")):
        warnings.append(f"'{file_name}' is named like a workbook but is CSV text; read as CSV.")
    text, delimiter, sep_line = _delimiter(text)
    # A huge cell (a pasted document) is a row error later, not a csv.Error now.
    if csv.field_size_limit() < len(text) + 1:
        csv.field_size_limit(len(text) + 1)
    records = csv.reader(_lines(text), delimiter=delimiter)
    try:
        rows = collect_rows(_without_stray_quotes(records, delimiter), limits)
    except csv.Error as error:
        raise UploadRejected(
            f"The file is not a readable CSV ({error}): save it again from the spreadsheet "
            "as CSV UTF-8 and drop it again."
        ) from None
    if sep_line:  # Excel's "sep=;" hint line is not a row Excel shows
        warnings.append(f"The first line 'sep={delimiter}' (an Excel hint) was skipped.")
    if delimiter != ",":
        warnings.append(f"Read as {DELIMITER_NAMES[delimiter]}-separated values.")
    return CsvRows(rows, encoding, delimiter, warnings)


def _lines(text: str) -> Iterator[str]:
    for match in _LINE.finditer(text):
        yield match.group()


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
    if hint and hint.group(1) in DELIMITERS:
        return ("" if first_end < 0 else text[first_end + 1 :]), hint.group(1), True
    lines = [line for line in text[:65536].splitlines() if line.strip(" ,;\t")]
    if not lines:
        return text, ",", False
    header = lines[0]
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(counts.values())
    sniffed = None
    try:
        # Whole lines only: the Sniffer dislikes a sample cut mid-row.
        sample = "\n".join(lines[:50])
        sniffed = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        pass
    # The header row decides when the Sniffer disagrees with it: header cells never hold a
    # delimiter, while data cells hold `;`-lists (CA;TX) that can fool the Sniffer.
    if sniffed is not None and best > 0 and counts[sniffed] == best:
        return text, sniffed, False
    if best > 0:
        return text, max(DELIMITERS, key=lambda d: counts[d]), False
    return text, sniffed or ",", False


# --------------------------------------------------------------------------------------------
# Stray quotes
# --------------------------------------------------------------------------------------------


def _without_stray_quotes(records: _reader, delimiter: str) -> Iterator[Sequence[str]]:
    """The records of a `csv.reader`, refusing the file at the first cell that swallowed rows
    behind a quote. Only a record read from more than one line can hold a line break."""
    header: list[str] | None = None
    lines_read = 0
    for number, record in enumerate(records, start=1):
        spans_lines = records.line_num - lines_read > 1
        lines_read = records.line_num
        if header is None and not is_blank(record):
            header = record
        if header is not None and spans_lines:
            for position, cell in enumerate(record):
                if ("\n" in cell or "\r" in cell) and _swallowed_rows(cell, delimiter, header):
                    raise _stray_quote(number, cell, position, header)
        yield record


def _swallowed_rows(cell: str, delimiter: str, header: Sequence[str]) -> bool:
    """Whether the text after the cell's first line break holds what looks like whole rows.

    A row of the file holds about as many delimiters as the header has columns; a line of a
    note or an address typed with Alt+Enter holds a few at most. A line with at least half as
    many delimiters as the header has columns is taken for a row: one such line is enough in
    a file of four or more columns, two are needed in a narrower one (where a single
    delimiter makes a "row").
    """
    columns = len([c for c in header if c.strip()])
    if columns < 2:
        return False
    needed = max(1, columns // 2)
    row_like = 0
    for line in _LINE_BREAK.split(cell)[1:]:
        if line.count(delimiter) >= needed:
            row_like += 1
            if row_like >= (1 if needed >= 2 else 2):
                return True
    return False


def _stray_quote(number: int, cell: str, position: int, header: Sequence[str]) -> UploadRejected:
    joined = len(_LINE_BREAK.findall(cell.rstrip("\r\n")))
    name = header[position].strip() if position < len(header) else ""
    where = f"column {name}" if name else f"column {column_letter(position)}"
    return UploadRejected(
        f"A stray double quote on row {number} ({where}) joined rows {number} to "
        f"{number + joined} into one cell: remove the quote, or close it, and drop the file "
        "again."
    )
