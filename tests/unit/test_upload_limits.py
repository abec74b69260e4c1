"""Bounded reading: a file's rows, columns and cells are limited while it is read, a hidden first
sheet and a stray quote are refused with a message naming where, and an error report can be
fixed and dropped back.

The memory test measures a fresh process (the resident high-water mark), it does not time.
Big files are generated in tmp_path, never committed.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from assets.reference.loading import load_company_config, load_reference_data
from assets.uploads.error_report import error_report_csv, error_report_xlsx
from assets.uploads.reading import DEFAULT_MAX_BYTES, UploadRejected, read_upload
from assets.uploads.validation import validate_upload
from schemas.uploads import MAX_UPLOAD_COLUMNS, MAX_UPLOAD_ROWS
from support.waiting import scaled

REPO = Path(__file__).resolve().parents[2]
AGENT = (
    "Agency NPN,First Name,Last Name,Agent NPN,Agent Email,Agent SSN,LOA Category,States,"
    "Scorecard Type,Agent Type,CoCodes"
)
APPOINT = (
    "NPN,States,CoCode,LOA Category,Line of Authority,Agent Type,Submit,Submit Just In Time,"
    "Effective Date,County"
)


def _csv(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode()


def _agent_rows(count: int, first: int = 0) -> list[str]:
    return [f"9000001,Name{i},Last{i},{10_000_000 + i},,,,,,," for i in range(first, count)]


def _rejection(data: bytes, name: str, **limits: int) -> str:
    with pytest.raises(UploadRejected) as caught:
        read_upload(data, name, **limits)
    message = caught.value.message
    assert "\n" not in message  # one message, one line
    return message


def _workbook(*sheets: tuple[str, list[list[object]], str]) -> bytes:
    """(title, rows, sheet_state) per sheet, in order."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, rows, state in sheets:
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
        sheet.sheet_state = state
    for sheet in workbook.worksheets:  # the active tab must be a visible one
        if sheet.sheet_state == "visible":
            workbook.active = sheet
            break
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _package(sheet_xml: str) -> bytes:
    """The smallest workbook Excel and openpyxl open around one sheet's XML: for shapes that
    openpyxl would not write (no <dimension>, a dimension that lies, 100,000 far cells fast)."""
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rels = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    package = "http://schemas.openxmlformats.org/package/2006/relationships"
    parts = {
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
        ),
        "_rels/.rels": (
            f'<Relationships xmlns="{package}"><Relationship Id="rId1" '
            f'Type="{rels}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<workbook xmlns="{main}" xmlns:r="{rels}"><sheets>'
            '<sheet name="data" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            f'<Relationships xmlns="{package}"><Relationship Id="rId1" '
            f'Type="{rels}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
        ),
        "xl/worksheets/sheet1.xml": f'<worksheet xmlns="{main}">{sheet_xml}</worksheet>',
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def _text(reference: str, value: str) -> str:
    return f'<c r="{reference}" t="inlineStr"><is><t>{value}</t></is></c>'


def _sheet(rows: list[str], dimension: str | None) -> str:
    """A header NPN | States | CoCode on row 1, then `rows` (each a <row> element's cells)."""
    header = _text("A1", "NPN") + _text("B1", "States") + _text("C1", "CoCode")
    body = "".join(f'<row r="{n}">{cells}</row>' for n, cells in enumerate(rows, start=2))
    claim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return f'{claim}<sheetData><row r="1">{header}</row>{body}</sheetData>'


def _xfd_workbook(rows: int, dimension: bool = True) -> bytes:
    """One cell in column XFD (the last of 16,384) on each of `rows` rows: 0.5 MB for 100,000
    rows, which openpyxl pads to 16,384 cells a row."""
    cells = [f'<c r="XFD{n}"><v>1</v></c>' for n in range(2, rows + 2)]
    return _package(_sheet(cells, f"A1:XFD{rows + 1}" if dimension else None))


def _wide_csv(columns: int) -> bytes:
    """A header of `columns` columns, named only in the first and the last: ~1 byte a column."""
    return ("NPN" + "," * (columns - 1) + "Notes\r\n10000001\r\n").encode()


# --------------------------------------------------------------------------------------------
# Columns, rows and cells
# --------------------------------------------------------------------------------------------


def test_a_header_wider_than_the_limit_is_refused_with_its_width() -> None:
    message = _rejection(_wide_csv(1_000_001), "wide.csv")
    assert message.startswith(
        f"The file has 1,000,001 columns; an upload may have at most {MAX_UPLOAD_COLUMNS}:"
    )
    assert "delete the columns right of your data" in message
    assert read_upload(_wide_csv(MAX_UPLOAD_COLUMNS), "a.csv").frame.shape == (1, 200)


def test_a_few_trailing_delimiters_are_dropped_but_a_million_are_refused() -> None:
    raw = read_upload(_csv("NPN,Portal" + "," * 150, "10000001,Agency Portal"), "portal.csv")
    assert raw.labels == ["NPN", "Portal"]
    # The attack of issue 13: a 1 MB header of delimiters is refused, not trimmed.
    message = _rejection(_csv("NPN,Portal" + "," * 1_000_000, "10000001,Agency Portal"), "p.csv")
    assert message.startswith("The file has 1,000,002 columns; an upload may have at most 200")


def test_data_rows_over_the_limit_are_refused_and_trailing_blank_rows_are_free() -> None:
    data = _csv(AGENT, *_agent_rows(5), *[",,,,,,,,,,"] * 50, "")
    assert len(read_upload(data, "a.csv", max_rows=5).frame) == 5
    message = _rejection(_csv(AGENT, *_agent_rows(6)), "a.csv", max_rows=5)
    assert message == (
        "The file has more than 5 rows; an upload may have at most 5: split it into smaller "
        "files and drop them one by one."
    )


def test_blank_rows_between_filled_rows_count_as_rows() -> None:
    data = _csv(AGENT, *_agent_rows(1), *[""] * 10, *_agent_rows(2, first=1))
    assert len(read_upload(data, "a.csv", max_rows=12).frame) == 12
    assert "more than 11 rows" in _rejection(data, "a.csv", max_rows=11)


def test_cells_over_the_limit_are_refused_naming_rows_and_columns() -> None:
    data = _csv(AGENT, *_agent_rows(10))
    assert len(read_upload(data, "a.csv", max_cells=110).frame) == 10
    message = _rejection(data, "a.csv", max_cells=109)
    assert message.startswith(
        "The file has more than 109 cells (10 rows of 11 columns so far); an upload may have "
        "at most 109:"
    )


def test_a_file_going_on_past_the_last_spreadsheet_row_is_refused() -> None:
    data = _csv(AGENT, *_agent_rows(2)) + b"\r\n" * (1_048_576 - 3)  # blank to the last row
    assert len(read_upload(data, "a.csv").frame) == 2
    message = _rejection(data + b"\r\n", "a.csv")
    assert "goes on past row 1,048,576, the last row a spreadsheet has" in message


def test_the_default_limits_admit_a_large_carrier_s_file() -> None:
    assert MAX_UPLOAD_ROWS >= 250_000
    rows = [f"{10_000_000 + i},CA,91234,Life,,,,,," for i in range(MAX_UPLOAD_ROWS)]
    raw = read_upload(_csv(APPOINT, *rows), "appoint.csv")
    assert len(raw.frame) == MAX_UPLOAD_ROWS and len(raw.frame.columns) == 10


# --------------------------------------------------------------------------------------------
# XLSX: the sheet's claimed size, then every row
# --------------------------------------------------------------------------------------------


def test_a_sheet_whose_dimension_reaches_column_xfd_is_refused_before_reading_rows() -> None:
    message = _rejection(_xfd_workbook(100_000), "far.xlsx")
    assert message.startswith(
        "The sheet 'data' reaches column XFD (16,384 columns; its used range is A1:XFD100001); "
        f"an upload may have at most {MAX_UPLOAD_COLUMNS} columns:"
    )


def test_a_sheet_claiming_more_rows_or_cells_than_allowed_is_refused() -> None:
    rows = [[10_000_000 + i, "CA", "91234"] for i in range(12)]
    data = _workbook(("appoint", [["NPN", "States", "CoCode"], *rows], "visible"))
    assert len(read_upload(data, "a.xlsx", max_rows=12).frame) == 12
    message = _rejection(data, "a.xlsx", max_rows=11)
    assert message.startswith(
        "The sheet 'appoint' reaches row 13 (its used range is A1:C13); an upload may have at "
        "most 11 rows:"
    )
    message = _rejection(data, "a.xlsx", max_cells=35)
    assert message.startswith("The sheet 'appoint' spans 36 cells (its used range is A1:C13)")


@pytest.mark.parametrize("dimension", [None, "A1:C2"], ids=["no dimension", "a lying one"])
def test_rows_are_checked_as_they_stream_whatever_the_dimension_says(
    dimension: str | None,
) -> None:
    rows = ["", _text("A3", "10000001") + _text("GS3", "far")]  # column GS is the 201st
    message = _rejection(_package(_sheet(rows, dimension)), "a.xlsx")
    assert message.startswith(
        "Row 3 of sheet 'data' has cells as far right as column GS; an upload may have at most "
        f"{MAX_UPLOAD_COLUMNS} columns:"
    )
    rows = ["", _text("A3", "10000001") + _text("GR3", "far")]  # the 200th: allowed
    raw = read_upload(_package(_sheet(rows, dimension)), "a.xlsx")
    assert raw.row_numbers == [2, 3] and raw.frame.loc[3, "NPN"] == "10000001"
    assert any("right of the last header column (C)" in w for w in raw.warnings)


def test_a_stale_small_dimension_does_not_hide_rows() -> None:
    rows = [_text(f"A{n}", str(10_000_000 + n)) for n in range(2, 6)]
    raw = read_upload(_package(_sheet(rows, "A1:A1")), "a.xlsx")
    assert raw.row_numbers == [2, 3, 4, 5]


# --------------------------------------------------------------------------------------------
# Memory, measured in a fresh process
# --------------------------------------------------------------------------------------------

MEMORY_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from assets.uploads.reading import UploadRejected, read_upload

    def peak():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024

    files = [Path(p) for p in sys.argv[1:]]
    data = {path: path.read_bytes() for path in files}
    import openpyxl  # imported before the baseline, as a run worker has it
    base = peak()
    figures = {}
    for path in files:
        try:
            read_upload(data[path], path.name)
            figures[path.name] = {"message": None}
        except UploadRejected as rejected:
            figures[path.name] = {"message": rejected.message}
        figures[path.name]["growth"] = peak() - base
    # The measurement can fail: the small workbook's rows kept as openpyxl pads them, as the
    # reader did before (2,000 rows of 16,384 cells).
    import io
    small = next(path for path in files if path.name == "far_20kb.xlsx")
    before = peak()
    workbook = openpyxl.load_workbook(io.BytesIO(data[small]), read_only=True)
    sheet = workbook.worksheets[0]
    sheet.reset_dimensions()
    kept = [list(row) for row in sheet.iter_rows(values_only=True)]
    figures["padded rows kept"] = {"growth": peak() - before}
    print(json.dumps(figures))
    """
)
MEMORY_BOUND = 100_000_000  # measured: 12-16 MB for each file; 1.5 GB and 5.7 GB before


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/status")
def test_wide_files_are_refused_in_bounded_memory(tmp_path: Path) -> None:
    """VmHWM, the resident high-water mark, starts afresh at exec (getrusage's ru_maxrss
    would carry the pytest process's own peak across fork and hide the read)."""
    files = {
        "wide_1mb.csv": _wide_csv(1_000_001),  # 1 MB
        "wide_20kb.csv": _wide_csv(20_000),
        "far_1mb.xlsx": _xfd_workbook(100_000),  # 0.5 MB
        "far_20kb.xlsx": _xfd_workbook(2_000),
        "far_no_dimension.xlsx": _xfd_workbook(100_000, dimension=False),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    result = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, *(str(tmp_path / name) for name in files)],
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=scaled(120),
        check=True,
    )
    figures = json.loads(result.stdout)
    assert "has 1,000,001 columns" in figures["wide_1mb.csv"]["message"]
    assert "has 20,000 columns" in figures["wide_20kb.csv"]["message"]
    assert "reaches column XFD" in figures["far_1mb.xlsx"]["message"]
    assert "reaches column XFD" in figures["far_20kb.xlsx"]["message"]
    assert "Row 2 of sheet 'data'" in figures["far_no_dimension.xlsx"]["message"]
    for name in files:
        assert figures[name]["growth"] < MEMORY_BOUND, figures
    assert figures["padded rows kept"]["growth"] > MEMORY_BOUND, figures


# --------------------------------------------------------------------------------------------
# The visible sheet
# --------------------------------------------------------------------------------------------

AGENT_ROWS: list[list[object]] = [AGENT.split(","), [9000001, "Ann", "Lee", 10000001]]


@pytest.mark.parametrize("state", ["hidden", "veryHidden"])
def test_a_workbook_whose_first_sheet_is_hidden_is_refused_naming_the_sheets(state: str) -> None:
    data = _workbook(
        ("old agents", [AGENT.split(","), [9000001, "Old", "Row", 10000009]], state),
        ("agent", AGENT_ROWS, "visible"),
        ("accepted_values", [["State code"], ["CA"]], "hidden"),
        ("Notes", [["x"]], "visible"),
    )
    assert _rejection(data, "agents.xlsx") == (
        "The workbook's first sheet, 'old agents', is hidden, and only the first sheet is read "
        "(hidden sheets: 'old agents', 'accepted_values'; visible sheets: 'agent', 'Notes'): "
        "unhide it, or move the sheet with your rows to the front, and drop the file again."
    )


def test_a_visible_first_sheet_is_read_whatever_the_other_sheets_are() -> None:
    data = _workbook(
        ("agent", AGENT_ROWS, "visible"),
        ("old agents", [AGENT.split(","), [9000001, "Old", "Row", 10000009]], "hidden"),
    )
    raw = read_upload(data, "agents.xlsx")
    assert raw.sheet_name == "agent" and raw.frame.loc[2, "First Name"] == "Ann"


# --------------------------------------------------------------------------------------------
# A stray double quote
# --------------------------------------------------------------------------------------------


def test_a_stray_quote_that_swallows_the_rest_of_the_file_is_refused_naming_its_row() -> None:
    rows = _agent_rows(103)
    rows[5] = '9000001,"Name5,Last5,10000005,,,,,,,'  # row 7: the quote is never closed
    message = _rejection(_csv(AGENT, *rows), "a.csv")
    assert message == (
        "A stray double quote on row 7 (column First Name) joined rows 7 to 104 into one "
        "cell: remove the quote, or close it, and drop the file again."
    )


def test_a_stray_quote_closed_by_a_later_quoted_cell_names_the_rows_it_joined() -> None:
    rows = _agent_rows(20)
    rows[2] = '9000001,Name2,"Last2,10000002,,,,,,,'  # row 4
    rows[9] = '9000001,Name9,Last9,10000009,,,Life,"CA;TX",License,Producer,'  # row 11
    message = _rejection(_csv(AGENT, *rows), "a.csv")
    assert message.startswith(
        "A stray double quote on row 4 (column Last Name) joined rows 4 to 11"
    )


def test_a_stray_quote_in_a_two_column_file_is_found_once_it_joins_two_rows() -> None:
    rows = ["10000601,Agency Portal", '10000602,"Agency Portal', "10000603,Agency Portal"]
    assert "stray double quote on row 3" in _rejection(
        _csv("NPN,Portal", *rows, "10000604,Agency Portal"), "p.csv"
    )


def test_line_breaks_and_delimiters_typed_inside_a_cell_are_kept() -> None:
    data = _csv(
        AGENT + ",Notes",
        '9000001,"Ann\r\nMarie",Lee,10000001,,,,,,,,"1 Main St, Apt 4\r\nSpringfield, IL"',
        '9000001,Bob,"Ray\nJr",10000002,,,,,,,,"a,b\nc,d\ne,f"',
    )
    raw = read_upload(data, "a.csv")
    assert raw.frame.loc[2, "First Name"] == "Ann\r\nMarie"
    assert raw.frame.loc[2, "Notes"] == "1 Main St, Apt 4\r\nSpringfield, IL"
    assert raw.frame.loc[3, "Notes"] == "a,b\nc,d\ne,f"


# --------------------------------------------------------------------------------------------
# The error report goes back in
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference():
    return load_reference_data(REPO / "config" / "reference")


@pytest.fixture(scope="module")
def companies(reference):
    return load_company_config(REPO / "config", reference)["companies"]


def test_the_report_of_a_fully_rejected_100k_row_file_can_be_dropped_back(
    reference, companies
) -> None:
    """Each row: an NPN with a letter in it, and a long County cell (a few columns only, to
    keep the test fast; a wide file with more problems a row only makes the report bigger)."""
    county = "c" * 200
    rows = [f"1{i:07d}X,CA,91234,Life,{county}" for i in range(100_000)]
    raw = read_upload(_csv("NPN,States,CoCode,LOA Category,County", *rows), "appoint.csv")
    validated = validate_upload(raw, "appoint", reference, companies)
    assert validated.rows_rejected == 100_000
    report = error_report_csv(raw, validated)
    assert len(report) > 20_000_000  # over the old limit: dropping it back was refused
    back = read_upload(report, "appoint-fixed.csv")
    assert len(back.frame) == 100_000
    assert back.labels[:3] == ["Row", "Errors", "NPN"]
    assert back.frame.loc[2, "Errors"] == "NPN '10000000X' must be digits only (up to 10)"
    assert back.frame.loc[100_001, "County"] == county


def test_a_report_that_would_pass_the_limit_keeps_each_row_s_first_message(
    reference, companies
) -> None:
    rows = [f"1{i:07d}X,CA,1234,Life,,Broker,maybe,,,x" for i in range(200)]
    rows.append("10000999X,CA,91234,Life,,,,,,")  # one problem only
    raw = read_upload(_csv(APPOINT, *rows), "appoint.csv")
    validated = validate_upload(raw, "appoint", reference, companies)
    full = error_report_csv(raw, validated)
    assert full == error_report_csv(raw, validated, max_bytes=DEFAULT_MAX_BYTES)
    limit = len(full) - 1
    compact = error_report_csv(raw, validated, max_bytes=limit)
    assert len(compact) <= limit
    lines = list(csv.reader(io.StringIO(compact.decode("utf-8-sig"))))
    assert lines[1][:2] == [
        "2",
        "NPN '10000000X' must be digits only (up to 10) | and 3 more problems, in CoCode, "
        "Agent Type, Submit",
    ]
    assert lines[-1][:2] == ["202", "NPN '10000999X' must be digits only (up to 10)"]
    assert len(read_upload(compact, "fixed.csv", max_bytes=limit).frame) == 201
    workbook = load_workbook(
        io.BytesIO(error_report_xlsx(raw, validated, max_bytes=limit)), read_only=True
    )
    errors = [row[1] for row in workbook.worksheets[0].iter_rows(values_only=True)]
    workbook.close()
    assert errors == [line[1] for line in lines]  # the workbook says the same
